"""Forecast schema and exceedance probabilities."""

import numpy as np
import pandas as pd
import pytest

from forecasting.schema import QUANTILES, cdf_at, exceedance_probability, make_forecast


def _fc(values):
    init = pd.date_range("2024-05-10", periods=1, freq="h")
    lead = pd.to_timedelta([1, 2], unit="h")
    arr = np.array(values, dtype=float).reshape(1, 2, len(QUANTILES))
    return make_forecast({"kp": arr}, init_time=init, lead_time=lead, model="m", model_version="1")


def test_schema_dims_coords_attrs():
    fc = _fc([[1, 2, 3, 4, 5, 6, 7]] * 2)
    assert fc["kp"].dims == ("init_time", "lead_time", "quantile")
    assert fc["valid_time"].values[0, 1] == np.datetime64("2024-05-10T02:00")
    assert fc.attrs["model"] == "m" and fc.attrs["data_cutoff"] == "2024-05-10T00:00:00Z"
    assert fc["kp"].attrs["units"] == "1"


def test_wrong_shape_is_rejected_with_expected_shape():
    with pytest.raises(ValueError, match=r"expected \(init_time, lead_time, quantile\)"):
        make_forecast(
            {"dst": np.zeros((2, 2))},
            init_time=["2024-01-01"],
            lead_time=["1h"],
            model="m",
            model_version="1",
        )


def test_unknown_target_is_rejected():
    with pytest.raises(KeyError, match="canonical"):
        make_forecast(
            {"dstt": np.zeros((1, 1, 7))},
            init_time=["2024-01-01"],
            lead_time=["1h"],
            model="m",
            model_version="1",
        )


def test_exceedance_interpolates_between_quantiles():
    # quantile values 1..7 at levels .05 .1 .25 .5 .75 .9 .95; Kp >= 4 -> 1 - 0.5
    fc = _fc([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 3.5, 4, 6, 7]])
    p = exceedance_probability(fc, "kp", 4.0).values[0]
    assert p[0] == pytest.approx(0.5)
    assert p[1] == pytest.approx(0.25)


def test_exceedance_tails_are_small_but_not_zero():
    q = np.array(QUANTILES)
    vals = np.array([1, 2, 3, 4, 5, 6, 7.0])
    # 7.2 is above the 0.95 quantile: slope of top pair is 0.05/1 per unit
    assert cdf_at(vals, q, 7.2) == pytest.approx(0.96)
    assert cdf_at(vals, q, 100.0) == 1.0
    assert cdf_at(vals, q, 0.5) == pytest.approx(0.05 - 0.5 * 0.05)


def test_dst_probability_is_below_threshold():
    init = pd.DatetimeIndex(["2024-05-10"])
    arr = np.array([-300, -250, -200, -150, -100, -50, 0.0]).reshape(1, 1, 7)
    fc = make_forecast({"dst": arr}, init_time=init, lead_time=["1h"], model="m", model_version="1")
    assert exceedance_probability(fc, "dst", -100.0).item() == pytest.approx(0.75)


def test_exceeds_follows_each_index_storm_direction():
    from forecasting.schema import exceeds, most_severe, storm_direction

    dst = np.array([-20.0, -100.0, -150.0, np.nan])
    assert exceeds("dst", dst, -100.0).tolist() == [False, True, True, False]
    kp = np.array([4.667, 5.0, np.float32(23 / 3), np.nan], dtype="float32")
    assert exceeds("kp", kp, 5.0).tolist() == [False, True, True, False]
    assert bool(exceeds("kp", kp[2], 23 / 3))  # 8- stored as float32 is G4
    assert most_severe("dst", dst) == 2 and most_severe("kp", kp) == 2
    with pytest.raises(ValueError, match="not a storm index"):
        storm_direction("v_sw")
