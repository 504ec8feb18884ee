"""Conformal quantile calibration: causal regime, coverage, monotone, stored with the model."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from forecasting import schema
from forecasting.models import calibration as cal
from forecasting.models import event_calibration, registry
from forecasting.models.predict import predict_many
from forecasting.models.train import train
from forecasting.splits import YearSplit
from forecasting.verification import scores

warnings.filterwarnings("ignore")

LEVELS = np.asarray(schema.QUANTILES)
Z = {0.05: -1.645, 0.1: -1.2816, 0.25: -0.6745, 0.5: 0.0, 0.75: 0.6745, 0.9: 1.2816, 0.95: 1.645}


def _observed(n_hours: int = 24 * 400, seed: int = 0) -> xr.Dataset:
    """Hourly Dst with quiet stretches and storms, and Kp (3-h blocks), labelled by start."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2001-01-01", periods=n_hours, freq="1h")
    dst = -10 + 5 * rng.standard_normal(n_hours)
    for start in rng.choice(n_hours - 96, size=n_hours // 400, replace=False):
        depth = rng.uniform(60, 250)
        hours = np.arange(96)
        dst[start : start + 96] += -depth * np.exp(-hours / 20.0) * (1 - np.exp(-hours / 3.0))
    kp_block = np.clip(np.round(3 * (1.5 - dst.reshape(-1, 3).mean(1) / 40)) / 3, 0, 9)
    kp = np.repeat(kp_block, 3)
    return xr.Dataset({"dst": ("time", dst), "kp": ("time", kp)}, coords={"time": time})


def _forecast(obs: xr.Dataset, init: pd.DatetimeIndex, seed: int = 1) -> xr.Dataset:
    """Quantiles centred near the truth but too narrow, worst in disturbed regimes."""
    rng = np.random.default_rng(seed)
    lead = pd.to_timedelta(np.arange(1, 7), "h")
    stub = schema.make_forecast(
        {"dst": np.zeros((len(init), len(lead), len(LEVELS)))},
        init_time=init,
        lead_time=lead,
        model="tft",
        model_version="synthetic",
    )
    truth = timeconv.observed_for(stub, obs, "dst").values
    regime = cal.issue_regime(obs, init)
    sigma_true = np.where(regime[:, None] >= 1, 25.0, 4.0) * np.sqrt(np.arange(1, 7))[None, :]
    median = truth + sigma_true * rng.standard_normal(truth.shape)
    spread = 0.4 * sigma_true  # the model is overconfident by 2.5x
    values = median[..., None] + spread[..., None] * np.array([Z[q] for q in LEVELS])
    return schema.make_forecast(
        {"dst": values}, init_time=init, lead_time=lead, model="tft", model_version="synthetic"
    )


def test_regime_is_causal_dst_and_kp_block():
    obs = _observed(24 * 20)
    t = pd.Timestamp("2001-01-10T01:00")  # mid-block: Kp 00-03 is in progress
    base = cal.issue_regime(obs, [t])
    # everything not yet known at t may change without changing the regime
    late = obs.copy(deep=True)
    labels = pd.DatetimeIndex(late.indexes["time"])
    for name in ("dst", "kp"):
        unknown = np.asarray(timeconv.interval_end(name, labels) > t)
        late[name].values[unknown] = -500.0 if name == "dst" else 9.0
    assert (cal.issue_regime(late, [t]) == base).all()
    # the hour labelled t - 1 h is known at t: a storm there is seen
    known = obs.copy(deep=True)
    known["dst"].loc[t - pd.Timedelta("1h")] = -150.0
    assert cal.issue_regime(known, [t])[0] == 2 and base[0] < 2
    # the last COMPLETE Kp block (21-24 UT) is known: a G1 (Kp 5-) there raises the regime
    # by one, a G2 (Kp 6-) by two, with Kp in thirds stored as float32 as the store holds it
    kp = obs.copy(deep=True)
    kp["dst"].values[:] = -5.0
    kp["kp"].values[:] = 1.0
    assert cal.issue_regime(kp, [t])[0] == 0
    for kp_block, regime in ((4.333, 0), (14 / 3, 1), (17 / 3, 2), (9.0, 2)):
        kp["kp"].loc["2001-01-09T21:00":"2001-01-09T23:00"] = np.float32(kp_block)
        assert cal.issue_regime(kp, [t])[0] == regime, kp_block
    # nothing known in the window: -1 (the pooled offsets are used)
    empty = obs.copy(deep=True)
    empty["dst"].values[:] = np.nan
    empty["kp"].values[:] = np.nan
    assert cal.issue_regime(empty, [t])[0] == -1


def test_regime_counts_the_solar_wind_driver_known_at_issue():
    obs = _observed(24 * 20)
    obs["dst"].values[:] = -5.0
    obs["kp"].values[:] = 1.0
    time = pd.DatetimeIndex(obs.indexes["time"])
    obs["v_sw"] = ("time", np.full(len(time), 400.0))
    obs["bz_gsm"] = ("time", np.full(len(time), 2.0))
    t = pd.Timestamp("2001-01-10T05:00")
    rule = {"vbs_edges": cal.VBS_EDGES, "vbs_window_h": 3}
    assert cal.issue_regime(obs, [t], **rule)[0] == 0
    # southward Bz -15 nT at 400 km/s = 6 mV/m in the hour labelled t - 1 h: both edges
    onset = obs.copy(deep=True)
    onset["bz_gsm"].loc[t - pd.Timedelta("1h")] = -15.0
    assert cal.issue_regime(onset, [t], **rule)[0] == 2
    assert cal.issue_regime(onset, [t])[0] == 0  # without the driver edges: quiet
    # -7 nT = 2.8 mV/m: one edge; 4 h before t: outside the 3-h window
    weak = obs.copy(deep=True)
    weak["bz_gsm"].loc[t - pd.Timedelta("1h")] = -7.0
    assert cal.issue_regime(weak, [t], **rule)[0] == 1
    old = obs.copy(deep=True)
    old["bz_gsm"].loc[t - pd.Timedelta("4h")] = -15.0
    assert cal.issue_regime(old, [t], **rule)[0] == 0
    # the hour labelled t is not known at t
    future = obs.copy(deep=True)
    future["bz_gsm"].loc[t:] = -30.0
    assert cal.issue_regime(future, [t], **rule)[0] == 0
    # a table fitted before the driver existed keeps its rule
    assert cal._rule_args({"window_h": 24})["vbs_edges"] == ()


def test_regime_vectorised_equals_known_at_per_issue_time():
    obs = _observed(24 * 30, seed=3)
    init = pd.date_range("2001-01-03", periods=200, freq="7h")
    fast = cal.issue_regime(obs, init)
    slow = [cal.issue_regime(timeconv.known_at(obs, t), [t])[0] for t in init]
    assert fast.tolist() == slow
    assert len(set(slow)) > 1  # the series has quiet and disturbed times


def test_conformal_quantile_finite_sample_levels():
    s = np.arange(1.0, 10.0)  # n = 9
    assert cal.conformal_quantile(s, 0.9) == 9.0  # ceil(10 * 0.9) = 9th
    assert cal.conformal_quantile(s, 0.1) == 1.0  # floor(10 * 0.1) = 1st
    assert cal.conformal_quantile(s, 0.5) == 5.0
    assert cal.conformal_quantile(s, 0.95) == 9.0  # index past n: the largest
    assert np.isnan(cal.conformal_quantile(np.array([np.nan]), 0.9))


@pytest.mark.parametrize("scale,shift_median", [("none", False), ("width", True)])
def test_calibration_reaches_target_coverage_per_regime_and_lead(scale, shift_median):
    obs = _observed()
    init = pd.date_range("2001-01-03", "2002-02-01", freq="1h")
    fc = _forecast(obs, init)
    half = len(init) // 2
    fit, test = fc.isel(init_time=slice(None, half)), fc.isel(init_time=slice(half, None))
    table = cal.fit_calibration(
        fit, obs, scale=scale, shift_median=shift_median, fitted_on="synthetic first half"
    )
    json.dumps(table)  # plain JSON
    out = cal.apply_calibration(test, obs, table)
    regime = cal.issue_regime(obs, test["init_time"].values)
    y = timeconv.observed_for(test, obs, "dst")
    for name, f in (("before", test), ("after", out)):
        cov = scores.interval_coverage(f["dst"], y)
        if name == "before":
            assert float(cov.max()) < 0.6
        else:
            assert np.all((cov > 0.77) & (cov < 0.83)), cov.values
    for m in (regime == 0, regime >= 1):  # quiet, disturbed (known at issue)
        assert m.sum() > 400
        cov = scores.interval_coverage(out["dst"].isel(init_time=m), y.isel(init_time=m))
        assert np.all((cov > 0.74) & (cov < 0.86)), cov.values
    # the pinball loss (CRPS) improves too
    crps = [float(scores.crps_quantile(f["dst"], y).mean()) for f in (test, out)]
    assert crps[1] < crps[0]
    assert "cqr" in out.attrs["calibration"] and "calibration" not in test.attrs
    med = [f["dst"].sel(quantile=0.5).values for f in (test, out)]
    assert np.array_equal(med[0], med[1]) != shift_median


def test_calibrated_quantiles_are_monotone_and_kp_in_range():
    obs = _observed(24 * 30)
    init = pd.date_range("2001-01-03", periods=100, freq="3h")
    fc = _forecast(obs, init)
    kp = np.clip(fc["dst"].values / -30.0, 0, 9)
    fc["kp"] = (fc["dst"].dims, np.sort(kp, axis=-1).astype("float32"))
    table = cal.fit_calibration(fc, obs)
    # offsets that would cross: the lower levels pushed far up, the upper far down
    wild = copy.deepcopy(table)
    for name in ("dst", "kp"):
        off = np.asarray(wild["targets"][name]["offsets"])
        off[..., :3] = 5.0
        off[..., 4:] = -5.0
        wild["targets"][name]["offsets"] = off.tolist()
    out = cal.apply_calibration(fc, obs, wild)
    for name in ("dst", "kp"):
        assert (np.diff(out[name].values, axis=-1) >= 0).all()
    assert out["kp"].min() >= 0 and out["kp"].max() <= 9
    assert (fc["dst"].values == _forecast(obs, init)["dst"].values).all()  # input untouched


def test_fit_refuses_regime_edges_that_are_not_numbers():
    obs = _observed(24 * 30)
    fc = _forecast(obs, pd.DatetimeIndex(obs.indexes["time"])[48:-48:6])
    for bad in (["G2"], [5.0, np.nan], None):
        with pytest.raises(ValueError, match=r"kp_edges=.*give finite numbers, e.g. kp_edges="):
            cal.fit_calibration(fc, obs, kp_edges=bad)
    with pytest.raises(ValueError, match=r"dst_edges=\['-50x'\]: give finite"):
        cal.fit_calibration(fc, obs, dst_edges=["-50x"])


def test_apply_refuses_mismatched_leads_or_levels():
    obs = _observed(24 * 30)
    fc = _forecast(obs, pd.date_range("2001-01-03", periods=50, freq="3h"))
    table = cal.fit_calibration(fc.isel(lead_time=slice(0, 3)), obs)
    with pytest.raises(ValueError, match="no lead times"):
        cal.apply_calibration(fc, obs, table)
    with pytest.raises(ValueError, match="format"):
        cal.apply_calibration(fc, obs, {**table, "format": "other"})


SPLIT = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, 2007))


@pytest.fixture(scope="module")
def ds(omni_2005_2006) -> xr.Dataset:
    return omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def saved(ds, tmp_path_factory, tiny_tft):
    home = tmp_path_factory.mktemp("home")
    version = train("quick", data=ds, split=SPLIT, out=home, overrides=tiny_tft)
    return home, version


def test_train_stores_calibration_and_prediction_applies_it(saved, ds):
    home, version = saved
    meta = json.loads((home / "models" / "tft" / version / "metadata.json").read_text())
    table = meta["calibration"]
    assert table["format"] == cal.FORMAT and "2006" in table["fitted_on"]
    assert set(table["targets"]) == {"dst", "kp"}
    assert len(table["targets"]["dst"]["lead_hours"]) == 24
    assert "validation_uncalibrated" in meta["metrics"]
    model = registry.load(version, home=home)  # JSON round trip
    assert model.metadata["calibration"] == table
    init = pd.date_range("2006-01-10", periods=40, freq="5h")
    raw = predict_many(model, ds, init, interpret=False, calibrate=False)
    out = predict_many(model, ds, init, interpret=False)
    expect = cal.apply_calibration(raw, ds, table)
    np.testing.assert_allclose(out["dst"].values, expect["dst"].values, rtol=1e-6)
    assert not np.allclose(out["dst"].values, raw["dst"].values)
    assert out.attrs["calibration"].startswith(cal.FORMAT)
    # the event recalibration is fitted after the quantiles' and travels with the forecast
    # (January 2006 has 6 Kp >= 5- hours, under MIN_EVENTS: the stored table maps no lead;
    # refitted here with a lower bar so that prediction has a map to carry)
    events = meta["event_calibration"]
    assert events["format"] == event_calibration.FORMAT and "2006" in events["fitted_on"]
    assert events["n_init"] > 4 * 20  # every 6 h: the quick preset's calibration_every
    assert out.attrs["event_calibration"].startswith(event_calibration.FORMAT)
    hourly = pd.date_range("2006-01-04", "2006-01-30", freq="1h")
    val = predict_many(model, ds, hourly, interpret=False)
    model.metadata["event_calibration"] = event_calibration.fit_event_calibration(
        val, ds, events=(scores.Event("kp", 3.0),), min_events=3
    )
    mapped = predict_many(model, ds, init, interpret=False)
    assert "kp>=3" in json.loads(mapped["kp"].attrs[schema.EVENT_CALIBRATION_ATTR])
    assert schema.EVENT_CALIBRATION_ATTR not in raw["kp"].attrs
    p = schema.exceedance_probability(mapped, "kp", 3.0)
    assert p.attrs["recalibrated"] == "yes"
    p_raw = schema.exceedance_probability(mapped, "kp", 3.0, recalibrate=False)
    assert not np.allclose(p.values, p_raw.values)
    # causal in prediction: data after the last issue time changes nothing
    later = ds.copy(deep=True)
    after = pd.DatetimeIndex(later.indexes["time"]) >= init.max()
    later["dst"].values[after] = -400.0
    again = predict_many(model, later, init, interpret=False)
    np.testing.assert_array_equal(again["dst"].values, out["dst"].values)


def test_model_without_calibration_is_unchanged(saved, ds):
    home, version = saved
    model = registry.load(version, home=home)
    init = pd.date_range("2006-01-10", periods=20, freq="5h")
    raw = predict_many(model, ds, init, interpret=False, calibrate=False)
    del model.metadata["calibration"]  # as saved before calibration existed
    plain = predict_many(model, ds, init, interpret=False)
    np.testing.assert_array_equal(plain["dst"].values, raw["dst"].values)
    np.testing.assert_array_equal(plain["kp"].values, raw["kp"].values)
    assert "calibration" not in plain.attrs


def test_recalibrate_refits_a_saved_model_and_the_cli_names_the_blend(
    saved, ds, capsys, monkeypatch
):
    import argparse
    import shutil

    from forecasting.models.train import recalibrate
    from superstorm_cli.calibrate import run_calibrate

    home, version = saved
    name = version + "-recal"
    shutil.copytree(home / "models" / "tft" / version, home / "models" / "tft" / name)
    path = home / "models" / "tft" / name / "metadata.json"
    meta = json.loads(path.read_text())
    meta["calibration"]["regime"].pop("vbs_edges")  # as saved before the driver regime
    meta.pop("event_calibration")
    meta["decision_thresholds"] = {}
    meta["version"] = name
    path.write_text(json.dumps(meta))
    out = recalibrate(name, home=home, data=ds)
    assert out["version"] == name and out["validation_years"] == [2006]
    assert out["n_init"] > 4 * 20  # every 6 h, the model's calibration_every
    after = json.loads(path.read_text())
    assert after["calibration"]["regime"]["vbs_edges"] == list(cal.VBS_EDGES)
    assert after["event_calibration"]["format"] == event_calibration.FORMAT
    assert "kp>=4.67" in after["decision_thresholds"]
    assert (
        out["decision_probabilities"]["kp>=4.67"]
        == after["decision_thresholds"]["kp>=4.67"]["threshold"]
    )
    # the network is untouched: raw forecasts are identical
    init = pd.date_range("2006-01-10", periods=6, freq="5h")
    a = predict_many(registry.load(version, home=home), ds, init, calibrate=False)
    b = predict_many(registry.load(name, home=home), ds, init, calibrate=False)
    np.testing.assert_array_equal(a["dst"].values, b["dst"].values)
    with pytest.raises(ValueError, match="no validation year"):
        recalibrate(name, home=home, data=ds.sel(time=slice("2005-11-01", "2005-12-31")))
    # the command prints what it fitted (its store: none here, so it is given the data)
    import forecasting.models.train as train_mod

    real = train_mod.recalibrate
    monkeypatch.setattr(train_mod, "recalibrate", lambda v: real(v, home=home, data=ds))
    monkeypatch.setenv("SUPERSTORM_HOME", str(home))
    assert run_calibrate(argparse.Namespace(version=name)) == 0
    text = capsys.readouterr().out
    assert f"recalibrated tft {name}" in text and "decide kp>=4.67 at P >=" in text
