"""Every metric against a small hand-computed case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting import schema
from forecasting.verification import scores as V

INIT = pd.date_range("2020-01-01 01:00", periods=4, freq="1h")
LEAD = pd.to_timedelta([1], unit="h")


def _da(values):
    return xr.DataArray(
        np.asarray(values, float).reshape(4, 1),
        dims=("init_time", "lead_time"),
        coords={"init_time": INIT, "lead_time": LEAD},
    )


PRED = _da([1, 2, 3, 4])
OBS = _da([2, 2, 5, 0])  # errors -1, 0, -2, 4


def test_point_metrics():
    assert float(V.mae(PRED, OBS)[0]) == pytest.approx(7 / 4)
    assert float(V.mse(PRED, OBS)[0]) == pytest.approx(21 / 4)
    assert float(V.rmse(PRED, OBS)[0]) == pytest.approx(np.sqrt(21 / 4))
    assert float(V.pearson_r(PRED, OBS)[0]) == pytest.approx(
        np.corrcoef([1, 2, 3, 4], [2, 2, 5, 0])[0, 1]
    )
    var = np.var([2, 2, 5, 0])
    assert float(V.prediction_efficiency(PRED, OBS)[0]) == pytest.approx(1 - (21 / 4) / var)


def test_nan_pairs_are_dropped():
    pred = _da([1, np.nan, 3, 4])
    assert float(V.mae(pred, OBS)[0]) == pytest.approx(7 / 3)
    # r uses only the paired samples too
    assert float(V.pearson_r(pred, OBS)[0]) == pytest.approx(
        np.corrcoef([1, 3, 4], [2, 5, 0])[0, 1]
    )


def test_skill_vs_persistence_uses_common_samples():
    pers = _da([2, 0, np.nan, 1])  # errors 0, -2, nan, 1 -> MSE on 0,1,3 = 5/3
    model_mse = (1 + 0 + 16) / 3
    assert float(V.skill_vs_persistence(PRED, OBS, pers)[0]) == pytest.approx(
        1 - model_mse / (5 / 3)
    )


def _quantile_da(rows, levels):
    return xr.DataArray(
        np.asarray(rows, float).reshape(4, 1, len(levels)),
        dims=("init_time", "lead_time", "quantile"),
        coords={"init_time": INIT, "lead_time": LEAD, "quantile": list(levels)},
    )


def test_pinball_crps_and_coverage():
    levels = (0.1, 0.5, 0.9)
    q = _quantile_da([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], levels)

    # obs 2, 2, 5, 0. pinball(tau, q, y) = max(tau (y-q), (tau-1)(y-q))
    def pin(t, qq, y):
        return max(t * (y - qq), (t - 1) * (y - qq))

    rows = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]
    ys = [2, 2, 5, 0]
    expect = [
        np.mean([pin(t, r[k], y) for r, y in zip(rows, ys, strict=True)])
        for k, t in enumerate(levels)
    ]
    got = V.pinball_loss(q, OBS).sel(lead_time=LEAD[0]).values
    np.testing.assert_allclose(got, expect)
    assert float(V.crps_quantile(q, OBS)[0]) == pytest.approx(2 * np.mean(expect))
    # inside [q0.1, q0.9]: 2 in [0,2] yes; 2 in [1,3] yes; 5 in [2,4] no; 0 in [3,5] no
    assert float(V.interval_coverage(q, OBS)[0]) == pytest.approx(0.5)


def test_crps_of_dense_quantiles_matches_normal_closed_form():
    """With many quantile levels the approximation converges to the exact Gaussian CRPS."""
    from scipy.stats import norm

    levels = np.linspace(0.005, 0.995, 199)
    y = 0.7
    qv = norm.ppf(levels)
    da = xr.DataArray(
        qv[None, None, :],
        dims=("init_time", "lead_time", "quantile"),
        coords={"init_time": INIT[:1], "lead_time": LEAD, "quantile": levels},
    )
    ob = xr.DataArray(
        [[y]], dims=("init_time", "lead_time"), coords={"init_time": INIT[:1], "lead_time": LEAD}
    )
    exact = y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / np.sqrt(np.pi)
    assert float(V.crps_quantile(da, ob)[0]) == pytest.approx(exact, rel=0.02)


def test_contingency_scores():
    # 10 samples: a=3 hits, b=1 false alarm, c=2 misses, d=4 correct negatives
    fc = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    ob = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], bool)
    dims = ("init_time",)
    t = V.contingency(
        xr.DataArray(fc, dims=dims),
        xr.DataArray(ob, dims=dims),
        xr.DataArray(np.ones(10, bool), dims=dims),
    )
    a, b, c, d = 3, 1, 2, 4
    assert (float(t.hits), float(t.false_alarms), float(t.misses), float(t.correct_negatives)) == (
        a,
        b,
        c,
        d,
    )
    assert float(V.pod(t)) == pytest.approx(3 / 5)
    assert float(V.far(t)) == pytest.approx(1 / 4)
    assert float(V.hss(t)) == pytest.approx(
        2 * (a * d - b * c) / ((a + c) * (c + d) + (a + b) * (b + d))
    )
    assert float(V.tss(t)) == pytest.approx(3 / 5 - 1 / 5)


def test_event_scores_directions():
    pred, obs = _da([-120, -40, -60, -10]), _da([-110, -60, -70, -5])
    dst = V.event_scores(pred, obs, -50, below=True)
    assert (float(dst.hits[0]), float(dst.misses[0]), float(dst.false_alarms[0])) == (2, 1, 0)
    kp = V.event_scores(_da([5, 4.67, 6, 2]), _da([5.33, 5, 4, 1]), 5, below=False)
    assert (float(kp.hits[0]), float(kp.misses[0]), float(kp.false_alarms[0])) == (1, 1, 1)


def _forecast(med_values, init, lead):
    arr = np.repeat(np.asarray(med_values, float)[..., None], len(schema.QUANTILES), axis=-1)
    arr = arr + np.linspace(-1, 1, len(schema.QUANTILES))
    return schema.make_forecast(
        {"dst": arr}, init_time=init, lead_time=lead, model="m", model_version="1"
    )


def test_score_aligns_with_timeconv_and_uses_persistence():
    hours = pd.date_range("2020-01-01", periods=12, freq="1h")
    obs = xr.DataArray(np.arange(12.0) * -10, dims="time", coords={"time": hours}, name="dst")
    init = hours[2:6]
    lead = pd.to_timedelta([1, 2], unit="h")
    # perfect median: target label init + lead - 1 h -> value -10 * index
    idx = np.arange(2, 6)[:, None] + np.array([0, 1])[None, :]
    fc = _forecast(-10.0 * idx, init, lead)
    pers = _forecast(np.repeat((-10.0 * (np.arange(2, 6) - 1))[:, None], 2, axis=1), init, lead)
    s = V.score(fc, obs.to_dataset(), "dst", persistence=pers)
    np.testing.assert_allclose(s.rmse.values, [0, 0])
    np.testing.assert_allclose(s.skill_vs_persistence.values, [1, 1])
    np.testing.assert_allclose(s.coverage_80.values, [1, 1])
    assert set(s.threshold.values) == {-50.0, -100.0}
    assert s.n.values.tolist() == [4, 4]
    # persistence itself has RMSE 10 at lead 1 and 20 at lead 2
    sp = V.score(pers, obs.to_dataset(), "dst")
    np.testing.assert_allclose(sp.rmse.values, [10, 20])
    assert np.isnan(sp.skill_vs_persistence.values).all()


def test_storm_peak_errors():
    hours = pd.date_range("2020-01-01", periods=48, freq="1h")
    dst = np.zeros(48)
    dst[20] = -150
    obs = xr.DataArray(dst, dims="time", coords={"time": hours})
    init = hours[1:40]
    lead = pd.to_timedelta([1, 3], unit="h")
    # forecast = observation shifted 2 h late and 20 nT too weak at every lead
    labels = init.values[:, None] + lead.values[None, :] - np.timedelta64(1, "h")
    pos = ((labels - hours.values[0]) // np.timedelta64(1, "h")).astype(int)
    med = np.where(pos - 2 == 20, -130.0, 0.0)
    fc = _forecast(med, init, lead)
    storms = pd.DataFrame(
        dict(
            name=["s"], start=[hours[20]], end=[hours[20]], peak_time=[hours[20]], peak_dst=[-150.0]
        )
    )
    out = V.storm_peak_errors(fc, obs, storms, pad="12h")
    np.testing.assert_allclose(out.peak_error.values, [[20, 20]])
    np.testing.assert_allclose(out.timing_error.values, [[2, 2]])
