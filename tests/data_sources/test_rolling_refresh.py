"""`ingest --source swpc_plasma` a week later downloads the new rolling window."""

from __future__ import annotations

import json

import pandas as pd

from data_sources.ingest import ingest
from data_sources.store import Store

PLASMA = "services.swpc.noaa.gov/products/solar-wind/plasma-7-day.json"


def _week_later(raw: bytes) -> bytes:
    rows = json.loads(raw)
    for row in rows[1:]:
        t = pd.Timestamp(row[0]) + pd.Timedelta("7D")
        row[0] = t.strftime("%Y-%m-%d %H:%M:%S.000")
    return json.dumps(rows).encode()


def test_rolling_product_refreshed_without_refresh_flag(mirrored_home, fresh_mirror, data_dir):
    paths = [p for p in fresh_mirror.files if p.endswith("plasma-7-day.json")]
    assert paths == [PLASMA], paths
    ingest("swpc_plasma", "2024-05-01", "2024-05-20", refresh=False)
    first = Store().read("swpc").indexes["time"].max()
    raw = (data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json").read_bytes()
    fresh_mirror.faults.replace[PLASMA] = _week_later(raw)
    ingest("swpc_plasma", "2024-05-01", "2024-05-20", refresh=False)  # the CLI's default
    assert fresh_mirror.faults.requests.count(PLASMA) == 2
    last = Store().read("swpc").indexes["time"].max()
    assert last - first == pd.Timedelta("7D")
