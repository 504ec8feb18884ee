"""Append-only forecast archive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import archive
from forecasting.schema import QUANTILES, make_forecast

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


def fc(t, offset=0.0, model="persistence"):
    base = np.linspace(-10, -30, 24)[None, :, None] + np.linspace(-20, 20, 7)[None, None, :]
    return make_forecast(
        {"dst": base + offset, "kp": np.clip(base / -10 + offset, 0, 9)},
        init_time=[t],
        lead_time=LEADS,
        quantiles=QUANTILES,
        model=model,
        model_version="1",
    )


def test_layout_roundtrip_and_listing(home):
    t = pd.Timestamp("2015-03-17 09:00")
    path = archive.save(fc(t))
    assert path == home / "archive" / "persistence" / "2015" / "persistence_20150317T0900.nc"
    back = archive.load(t, "persistence")
    np.testing.assert_allclose(back["dst"].values, fc(t)["dst"].values)
    assert back.attrs["model_version"] == "1"
    for h in (1, 2):
        archive.save(fc(t + pd.Timedelta(hours=h)))
    archive.save(fc(t, model="burton"))
    issues = archive.list_issues("persistence")
    assert list(issues["issue_time"]) == [t + pd.Timedelta(hours=h) for h in (0, 1, 2)]
    assert archive.models() == ["burton", "persistence"]
    rng = archive.load_range(t, t + pd.Timedelta("2h"), "persistence")
    assert rng.sizes["init_time"] == 2
    assert not list((home / "archive").rglob("*.tmp"))


def test_same_content_is_a_noop_different_content_raises(home):
    t = pd.Timestamp("2024-05-10 18:00")
    p1 = archive.save(fc(t))
    mtime = p1.stat().st_mtime_ns
    assert archive.save(fc(t)) == p1  # recomputed ('created' differs) but same values
    assert p1.stat().st_mtime_ns == mtime
    with pytest.raises(archive.ArchiveConflict, match="append-only"):
        archive.save(fc(t, offset=1.0))
    np.testing.assert_allclose(archive.load(t, "persistence")["dst"].values, fc(t)["dst"].values)


def test_bad_requests(home):
    t = pd.Timestamp("2024-05-10 18:00")
    two = make_forecast(
        {"dst": np.zeros((2, 24, 7))},
        init_time=[t, t + pd.Timedelta("1h")],
        lead_time=LEADS,
        model="persistence",
        model_version="1",
    )
    with pytest.raises(ValueError, match="one issue time per file"):
        archive.save(two)
    with pytest.raises(FileNotFoundError, match="list_issues"):
        archive.load(t, "persistence")
    with pytest.raises(ValueError, match="not usable in a file name"):
        archive.path_for("../evil", t)
