"""Event-probability recalibration: Platt fit, per-lead maps, applied where probabilities are made."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from forecasting import schema
from forecasting.models import event_calibration as ec
from forecasting.verification import scores

LEVELS = np.asarray(schema.QUANTILES)
Z = np.array([-1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645])
KP_G1 = scores.Event("kp", schema.G_SCALE["G1"])
DST100 = scores.Event("dst", -100.0)


def test_fit_platt_recovers_a_known_map():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, 20000)
    truth = schema.platt(p, 0.5, -1.0)
    o = (rng.uniform(size=p.size) < truth).astype(float)
    a, b = ec.fit_platt(p, o, l2=0.0)
    assert a == pytest.approx(0.5, abs=0.05) and b == pytest.approx(-1.0, abs=0.08)
    # a calibrated input gives (nearly) the identity; the penalty pulls toward it
    o2 = (rng.uniform(size=p.size) < p).astype(float)
    a2, b2 = ec.fit_platt(p, o2)
    assert a2 == pytest.approx(1.0, abs=0.05) and b2 == pytest.approx(0.0, abs=0.05)
    a3, _ = ec.fit_platt(p[:30], o[:30], l2=1e6)
    assert a3 == pytest.approx(1.0, abs=1e-3)


def _case(seed: int = 0, n: int = 6000) -> tuple[xr.Dataset, xr.Dataset]:
    """Kp observations and an overconfident Kp forecast at leads 1-4 h (worse with lead)."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2013-01-01", periods=n + 10, freq="1h")
    kp = np.clip(2.0 + 1.5 * rng.standard_normal(time.size), 0, 9)
    obs = xr.Dataset({"kp": ("time", kp)}, coords={"time": time})
    init = time[1:n]
    lead = pd.to_timedelta(np.arange(1, 5), "h")
    stub = schema.make_forecast(
        {"kp": np.zeros((len(init), len(lead), len(LEVELS)))},
        init_time=init,
        lead_time=lead,
        model="tft",
        model_version="synthetic",
    )
    truth = timeconv.observed_for(stub, obs, "kp").values
    noise = np.array([0.3, 0.8, 1.2, 1.5])[None, :]
    median = truth + noise * rng.standard_normal(truth.shape)
    values = np.clip(median[..., None] + 0.3 * Z, 0, 9)  # spread 0.3: too narrow
    fc = schema.make_forecast(
        {"kp": values}, init_time=init, lead_time=lead, model="tft", model_version="synthetic"
    )
    return fc, obs


def _brier(fc: xr.Dataset, obs: xr.Dataset, event: scores.Event, **kw) -> np.ndarray:
    p = schema.exceedance_probability(fc, event.target, event.threshold, **kw)
    truth = timeconv.observed_for(fc, obs, event.target)
    o = event.occurred(truth).astype(float).where(np.isfinite(truth))
    return scores.brier_score(p, o).values


def test_recalibration_lowers_the_brier_score_out_of_sample():
    fc, obs = _case(0)
    table = ec.fit_event_calibration(fc, obs, events=(KP_G1,), fitted_on="years 2013")
    assert table["format"] == ec.FORMAT and table["fitted_on"] == "years 2013"
    entry = table["events"][KP_G1.name]
    assert entry["lead_hours"] == [1, 2, 3, 4] and min(entry["n_events"]) >= ec.MIN_EVENTS
    # on a fresh sample from the same process (a later year) the map helps at every lead
    test, obs2 = _case(1)
    cal = ec.attach_event_calibration(test, table)
    before = _brier(test, obs2, KP_G1)
    after = _brier(cal, obs2, KP_G1)
    assert (after < before).all(), (before, after)
    raw = _brier(cal, obs2, KP_G1, recalibrate=False)
    np.testing.assert_allclose(raw, before)
    p = schema.exceedance_probability(cal, "kp", KP_G1.threshold)
    assert p.attrs["recalibrated"] == "yes"
    assert float(p.min()) > 0 and float(p.max()) < 1
    # no table: raw
    assert schema.exceedance_probability(test, "kp", 7.0).attrs["recalibrated"] == "no"


def test_recalibrated_probabilities_never_rise_with_severity():
    """Maps per event differ; the probabilities stay coherent across every threshold."""
    fc, obs = _case(0)
    rng = np.random.default_rng(3)
    table = ec.fit_event_calibration(
        fc, obs, events=(scores.Event("kp", 3.0), KP_G1, scores.Event("kp", 17 / 3)), min_events=5
    )
    assert len(table["events"]) == 3
    # make the G2 map generous and the G1 map harsh: unconstrained, P(G2) would exceed P(G1)
    table["events"]["kp>=4.67"]["b"] = [-4.0] * 4
    table["events"]["kp>=5.67"]["b"] = [3.0] * 4
    cal = ec.attach_event_calibration(fc, table)
    thresholds = np.sort(rng.uniform(0.5, 8.5, 25).tolist() + [3.0, 14 / 3, 17 / 3, 7.0])
    probs = np.stack([schema.exceedance_probability(cal, "kp", t).values for t in thresholds])
    assert (np.diff(probs, axis=0) <= 1e-12).all()
    # a recalibrated event keeps its own map where the chain does not cap it
    own = schema.exceedance_probability(cal, "kp", 3.0).values
    raw = schema.exceedance_probability(fc, "kp", 3.0).values
    e = table["events"]["kp>=3"]
    want = schema.platt(raw, np.array(e["a"])[None, :], np.array(e["b"])[None, :])
    np.testing.assert_allclose(own, want)
    # and the capped G2 equals the harsh G1 wherever its own map would have exceeded it
    g1 = schema.exceedance_probability(cal, "kp", KP_G1.threshold).values
    g2 = schema.exceedance_probability(cal, "kp", 17 / 3).values
    assert (g2 <= g1 + 1e-12).all() and np.isclose(g2, g1).mean() > 0.5


def test_rare_event_leads_keep_the_raw_probability_and_absent_events_are_left_out():
    fc, obs = _case(0, n=600)
    table = ec.fit_event_calibration(fc, obs, events=(KP_G1, DST100), min_events=15)
    assert DST100.name not in table["events"]  # no dst in the data at all
    entry = table["events"].get(KP_G1.name)
    assert entry is not None
    for a, b, k in zip(entry["a"], entry["b"], entry["n_events"], strict=True):
        if k < 15:
            assert (a, b) == (1.0, 0.0)
    never = ec.fit_event_calibration(fc, obs, events=(scores.Event("kp", 9.0),))
    assert never["events"] == {}


def test_recalibration_survives_netcdf_and_selection(tmp_path):
    fc, obs = _case(0)
    table = ec.fit_event_calibration(fc, obs, events=(KP_G1,))
    cal = ec.attach_event_calibration(fc, table)
    path = tmp_path / "fc.nc"
    cal.to_netcdf(path)
    back = xr.load_dataset(path)
    one = back.isel(init_time=[5]).sel(lead_time=pd.to_timedelta([2, 4], "h"))
    expect = schema.exceedance_probability(cal, "kp", KP_G1.threshold).isel(init_time=[5])
    got = schema.exceedance_probability(one, "kp", KP_G1.threshold)
    np.testing.assert_allclose(got.values, expect.sel(lead_time=one.lead_time).values)
    assert back.attrs["event_calibration"].startswith(ec.FORMAT)


def test_bad_tables_and_attributes_are_refused():
    fc, _ = _case(0, n=50)
    with pytest.raises(ValueError, match="format"):
        ec.attach_event_calibration(fc, {"format": "old", "events": {}})
    bad = fc.copy()
    bad["kp"].attrs[schema.EVENT_CALIBRATION_ATTR] = "{not json"
    with pytest.raises(ValueError, match="event_calibration.*fit_event_calibration"):
        schema.exceedance_probability(bad, "kp", 5.0)


def test_the_stored_table_is_json():
    fc, obs = _case(0, n=2000)
    table = ec.fit_event_calibration(fc, obs, events=(KP_G1,))
    assert json.loads(json.dumps(table)) == table
