"""The time convention: availability at issue time and forecast target alignment."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources.omni2 import parse_omni2
from data_sources.timeconv import interval_end, known_at, observed_for, target_labels
from forecasting.schema import make_forecast


def test_interval_end_by_cadence():
    labels = pd.DatetimeIndex(["2024-05-10 04:00"])
    assert interval_end("dst", labels)[0] == pd.Timestamp("2024-05-10 05:00")
    assert interval_end("kp", labels)[0] == pd.Timestamp("2024-05-10 06:00")
    assert interval_end("f107", labels)[0] == pd.Timestamp("2024-05-11 00:00")


def test_known_at_masks_incomplete_kp_block():
    t = pd.date_range("2024-01-01", periods=12, freq="h")
    ds = xr.Dataset(
        {"dst": ("time", np.arange(12.0)), "kp": ("time", np.repeat([1.0, 2, 3, 4], 3))},
        coords={"time": t},
    )
    k = known_at(ds, "2024-01-01 05:00")
    assert k.dst.values.tolist() == [0, 1, 2, 3, 4]
    assert np.isnan(k.kp.values[3:]).all() and (k.kp.values[:3] == 1).all()


def test_known_at_on_real_data_never_shows_the_future(data_dir):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")
    t = pd.Timestamp("2024-05-10 17:00")
    k = known_at(ds, t)
    assert k.indexes["time"].max() == t - pd.Timedelta("1h")
    # the Kp block 15-18 UT is not complete at 17:00
    assert np.isnan(k.kp.sel(time="2024-05-10 16:00").item())
    assert k.kp.sel(time="2024-05-10 14:00").item() == ds.kp.sel(time="2024-05-10 14:00").item()


def test_observed_for_aligns_target_hour_end():
    obs = xr.Dataset(
        {"dst": ("time", np.arange(48.0))},
        coords={"time": pd.date_range("2024-01-01", periods=48, freq="h")},
    )
    fc = make_forecast(
        {"dst": np.zeros((2, 3, 7))},
        init_time=pd.DatetimeIndex(["2024-01-01 10:00", "2024-01-01 11:00"]),
        lead_time=pd.to_timedelta([1, 2, 3], unit="h"),
        model="m",
        model_version="1",
    )
    aligned = observed_for(fc, obs, "dst")
    # lead 1 h from 10:00 targets the hour labelled 10:00
    assert aligned.values.tolist() == [[10, 11, 12], [11, 12, 13]]
    assert target_labels(fc.init_time.values, fc.lead_time.values)[0, 0] == np.datetime64(
        "2024-01-01T10:00"
    )


@pytest.mark.parametrize("t", ["2024-05-10 00:00", "2024-05-11 02:00"])
def test_perturbing_after_t_leaves_known_at_unchanged(data_dir, t):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")
    t = pd.Timestamp(t)
    perturbed = ds.copy(deep=True)
    late = ds.indexes["time"] >= t
    for v in perturbed.data_vars:
        perturbed[v].values[late] += 1000.0
    xr.testing.assert_identical(known_at(ds, t), known_at(perturbed, t))
    early = ds.copy(deep=True)
    early["dst"].values[ds.indexes["time"] == t - pd.Timedelta("1h")] += 1000.0
    assert not known_at(early, t).identical(known_at(ds, t))


def test_to_utc_converts_aware_and_keeps_naive():
    from datetime import UTC, datetime

    from data_sources.timeconv import to_utc

    assert to_utc("2024-05-10T20:00+02:00") == pd.Timestamp("2024-05-10 18:00")
    assert to_utc(datetime(2024, 5, 10, 18, tzinfo=UTC)) == pd.Timestamp("2024-05-10 18:00")
    assert to_utc(np.datetime64("2024-05-10T18:00")) == pd.Timestamp("2024-05-10 18:00")
    assert to_utc("2024-05-10T18:00").tzinfo is None


@pytest.mark.parametrize("bad", ["05/10/2024", "5.10.24", "not a time"])
def test_to_utc_refuses_ambiguous_or_bad_strings(bad):
    from data_sources.timeconv import to_utc

    with pytest.raises(ValueError, match="ISO 8601"):
        to_utc(bad)


def test_to_utc_index_converts_aware_values():
    from data_sources.timeconv import to_utc_index

    idx = to_utc_index(["2024-05-10T20:00+02:00", "2024-05-10T19:00Z"])
    assert list(idx) == [pd.Timestamp("2024-05-10 18:00"), pd.Timestamp("2024-05-10 19:00")]


def test_latest_known_waits_for_the_end_of_the_kp_block():
    from data_sources.timeconv import latest_known

    t = pd.date_range("2024-01-01", periods=9, freq="h")
    kp = pd.Series(np.repeat([1.0, 2.0, 3.0], 3), index=t)
    assert latest_known(kp, "kp", "2024-01-01 05:00") == (1.0, pd.Timestamp("2024-01-01 03:00"))
    assert latest_known(kp, "kp", "2024-01-01 06:00") == (2.0, pd.Timestamp("2024-01-01 06:00"))
    dst = pd.Series([-10.0, np.nan, np.nan], index=t[:3])
    assert latest_known(dst, "dst", "2024-01-01 05:00") == (-10.0, pd.Timestamp("2024-01-01 01:00"))
    value, end = latest_known(dst, "dst", "2024-01-01 00:30")
    assert np.isnan(value) and end is None
