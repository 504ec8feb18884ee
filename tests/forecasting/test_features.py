"""Feature table: availability rules, derived quantities and the no-look-ahead property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources import timeconv
from data_sources.omni2 import parse_omni2
from forecasting.features import build_features, feature_metadata


@pytest.fixture(scope="module")
def ds2015(data_dir):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")
    return ds.sel(time=slice("2015-03-10", "2015-03-24"))


def test_hourly_values_are_the_label_and_kp_the_last_complete_block(ds2015):
    df = build_features(ds2015, fill_limit=0)
    t = pd.Timestamp("2015-03-17 04:00")
    assert df.loc[t, "dst"] == float(ds2015.dst.sel(time=t))
    assert df.loc[t, "bz_gsm"] == pytest.approx(float(ds2015.bz_gsm.sel(time=t)))
    # known at 05:00: the complete Kp interval is 00-03 UT (03-06 ends at 06:00)
    assert df.loc[t, "kp"] == pytest.approx(float(ds2015.kp.sel(time="2015-03-17 00:00")))
    t5 = pd.Timestamp("2015-03-17 05:00")  # known at 06:00: 03-06 UT is complete
    assert df.loc[t5, "kp"] == pytest.approx(float(ds2015.kp.sel(time="2015-03-17 03:00")))
    # f107 is daily: row 23:00 of a day (known at midnight) has that day; 22:00 the day before
    assert df.loc["2015-03-17 23:00", "f107"] == float(ds2015.f107.sel(time="2015-03-17 12:00"))
    assert df.loc["2015-03-17 22:00", "f107"] == float(ds2015.f107.sel(time="2015-03-16 12:00"))


def test_derived_quantities_hand_computed(ds2015):
    df = build_features(ds2015)
    row = df.loc["2015-03-17 12:00"]
    v, bz, by, n = row["v_sw"], row["bz_gsm"], row["by_gsm"], row["n_p"]
    assert row["e_y"] == pytest.approx(-v * bz * 1e-3)
    assert row["vbs"] == pytest.approx(v * max(-bz, 0) * 1e-3)
    theta = np.arctan2(by, bz)
    newell = v ** (4 / 3) * np.hypot(by, bz) ** (2 / 3) * abs(np.sin(theta / 2)) ** (8 / 3)
    assert row["newell"] == pytest.approx(newell, rel=1e-6)
    # derived p_dyn when the dataset lacks it: OMNI2's 2e-6 n V^2 agrees with OMNI's own value
    df2 = build_features(ds2015.drop_vars("p_dyn"))
    assert df2.loc["2015-03-17 12:00", "p_dyn"] == pytest.approx(2e-6 * n * v**2)
    both = pd.concat([df2["p_dyn"], df["p_dyn"]], axis=1).dropna()
    assert np.median(np.abs(both.iloc[:, 0] / both.iloc[:, 1] - 1)) < 0.1
    assert "2e-6" in feature_metadata(df2)["derived"]["p_dyn"]


def test_without_by_uses_bz_only_newell(ds2015):
    df = build_features(ds2015.drop_vars("by_gsm"))
    meta = feature_metadata(df)
    assert meta["newell_form"] == "bz_only"
    assert "clock_sin" not in df
    row = df.loc["2015-03-17 12:00"]
    assert row["newell"] == pytest.approx(
        row["v_sw"] ** (4 / 3) * max(-row["bz_gsm"], 0) ** (2 / 3)
    )


def test_fill_is_limited_and_flagged(ds2015):
    ds = ds2015.copy(deep=True)
    ds["v_sw"][100:106] = np.nan  # 6-hour gap
    df = build_features(ds, fill_limit=3)
    v = df["v_sw"].to_numpy()
    assert np.all(v[100:103] == v[99]) and np.isnan(v[103:106]).all()
    assert df["v_sw_isnan"].to_numpy()[100:106].tolist() == [1.0] * 6
    assert df["v_sw_isnan"].to_numpy()[99] == 0.0


@pytest.mark.parametrize("t", ["2015-03-17 14:00", "2015-03-17 16:00", "2015-03-18 00:00"])
def test_no_look_ahead(ds2015, t):
    """Rows < t equal those built from known_at(ds, t) and ignore any change at labels >= t."""
    t = pd.Timestamp(t)
    full = build_features(ds2015)
    before = full.loc[: t - pd.Timedelta("1h")]
    seen = build_features(timeconv.known_at(ds2015, t)).loc[: t - pd.Timedelta("1h")]
    pd.testing.assert_frame_equal(before, seen, check_freq=False)
    pert = ds2015.copy(deep=True)
    late = pert.time >= t
    for name in pert.data_vars:
        pert[name] = pert[name].where(~late, pert[name] * 3 + 50)
    changed = build_features(pert)
    pd.testing.assert_frame_equal(changed.loc[before.index], before, check_freq=False)
    # ...and the perturbation did change later rows, so the test can fail
    assert not changed.loc[t:].equals(full.loc[t:])


def test_rejects_dataset_without_inputs(ds2015):
    with pytest.raises(ValueError, match="none of the feature inputs"):
        build_features(ds2015[["t_p"]])
