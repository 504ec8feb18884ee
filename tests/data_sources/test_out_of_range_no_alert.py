"""One Dst value of -99998 nT in an upstream file: ingested, stored, never an ALERT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.base import OutOfRangeWarning
from data_sources.ingest import ingest
from data_sources.store import Store
from forecasting.alerting import rules
from tests.data_sources.test_valid_range import _corrupt_dst_line

OMNI = "spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/omni2_2023.dat"


def test_minus_99998_never_becomes_a_superstorm_alert(mirrored_home, fresh_mirror, data_dir):
    raw = (data_dir / "omni2_low_res" / "omni2_2023.dat").read_bytes()
    # 2023-07-01 12:00 (day 182): a quiet hour
    fresh_mirror.faults.replace[OMNI] = _corrupt_dst_line(raw, day=182, hour=12, new=b"-99998")
    with pytest.warns(OutOfRangeWarning, match="-99998"):
        ingest("omni2", "2023-06-01", "2023-08-01")
    obs = Store().read("omni2", "2023-06-29", "2023-07-01T13:00")
    assert np.isnan(obs["dst"].sel(time="2023-07-01T12:00").item())
    assert float(obs["dst"].min()) > -100
    now = pd.Timestamp("2023-07-01T13:00")
    actions = rules.evaluate_rules(None, obs, now)
    fired = [a for a in actions if getattr(a, "kind", None) == rules.ALERT]
    assert not [a for a in fired if "DST" in str(getattr(a, "level", ""))], fired
