"""Storm detection and catalog on hand-made and real Dst."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.omni2 import parse_omni2
from forecasting.storms import common_name, find_storms, storm_catalog


def _series(values, start="2020-01-01"):
    return pd.Series(
        values, index=pd.date_range(start, periods=len(values), freq="1h"), dtype=float
    )


def test_runs_merge_within_min_separation():
    v = np.zeros(200)
    v[10:13] = [-120, -150, -110]  # storm 1: 10..12, peak 11
    v[30] = -101  # 18 h after the end of storm 1: merged with min_separation 48 h
    v[150:152] = [-90, -300]  # storm 2, peak -300 at 151
    kp = _series(np.r_[np.full(100, 3.0), np.full(100, 8.0)])
    out = find_storms(_series(v), -100, min_separation="48h", kp=kp)
    assert len(out) == 2
    assert out.loc[0, "start"] == pd.Timestamp("2020-01-01 10:00")
    assert out.loc[0, "end"] == pd.Timestamp("2020-01-02 06:00")
    assert out.loc[0, "peak_dst"] == -150 and out.loc[0, "hours"] == 4
    assert out.loc[0, "peak_kp"] == 3.0
    assert out.loc[1, "peak_time"] == pd.Timestamp("2020-01-01") + pd.Timedelta(hours=151)
    assert out.loc[1, "peak_kp"] == 8.0
    split = find_storms(_series(v), -100, min_separation="12h")
    assert len(split) == 3


def test_no_storm_gives_empty_frame():
    out = find_storms(_series(np.full(50, -20.0)))
    assert out.empty and "peak_dst" in out.columns


def test_common_names():
    assert common_name(pd.Timestamp("2015-03-17 22:00")) == "St. Patrick's Day 2015"
    assert common_name(pd.Timestamp("2024-05-10 23:00")).startswith("Gannon")
    assert common_name(pd.Timestamp("2019-01-01")) == ""


def test_catalog_on_real_2015(data_dir):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")
    cat = storm_catalog(ds, -100)
    assert list(cat.index) == ["2015-03-17", "2015-06-23", "2015-10-07", "2015-12-20"]
    st = cat.loc["2015-03-17"]
    assert st["common_name"] == "St. Patrick's Day 2015"
    assert st["peak_dst"] == -223 and st["peak_time"] == pd.Timestamp("2015-03-17 22:00")
    assert st["peak_kp"] >= 7
    assert len(storm_catalog(ds, -50)) > len(cat)


def test_bad_input():
    with pytest.raises(ValueError, match="DatetimeIndex"):
        find_storms(pd.Series([1.0, 2.0]))
