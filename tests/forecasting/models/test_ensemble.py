"""The quantile-averaging blend: weights, NaN rule, Protocol, JSON, monotone quantiles."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from forecasting import schema
from forecasting.models import baselines
from forecasting.models.base import Forecaster
from forecasting.models.ensemble import (
    Blend,
    BlendWeights,
    blend_forecasts,
    combine,
    fit_weights,
    simplex_grid,
)
from forecasting.verification import scores

LEADS = pd.to_timedelta([1, 3, 6], unit="h")
#: standard-normal quantiles of schema.QUANTILES
Z = np.array([-1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645])


@pytest.fixture(scope="module")
def obs():
    """Twenty synthetic days: quiet Dst with one storm (minimum -150 nT) on day 10; Kp."""
    time = pd.date_range("2013-01-01", periods=20 * 24, freq="1h")
    h = np.arange(len(time))
    rng = np.random.default_rng(0)
    dst = -15 + 8 * np.sin(2 * np.pi * h / 24) + rng.normal(0, 3, len(h))
    dst -= 140 * np.exp(-(((h - 240) / 10.0) ** 2))
    kp = np.clip(2 + 0.04 * -np.minimum(dst, 0) + rng.normal(0, 0.5, len(h)), 0, 9)
    return xr.Dataset({"dst": ("time", dst), "kp": ("time", kp)}, coords={"time": time})


class Oracle:
    """Synthetic member: the observed target plus ``offset(init, lead)`` and a spread."""

    version = "1"

    def __init__(self, name, offset=0.0, spread=2.0, supported=("dst", "kp"), nan_at=None):
        self.name, self.offset, self.spread = name, offset, spread
        self.supported, self.nan_at = supported, nan_at

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
        init, lead = pd.DatetimeIndex(init_times), pd.TimedeltaIndex(lead_times)
        shell = xr.Dataset(coords={"init_time": init.values, "lead_time": lead.values})
        values = {}
        for t in targets:
            if t not in self.supported:
                continue
            o = timeconv.observed_for(shell, ds, t).values
            off = self.offset(init, lead) if callable(self.offset) else self.offset
            arr = (o + off)[..., None] + self.spread * Z
            if t == "kp":
                arr = np.clip(arr, 0.0, 9.0)
            if self.nan_at is not None:
                arr[np.isin(init, self.nan_at)] = np.nan
            values[t] = arr
        return schema.make_forecast(
            values, init_time=init, lead_time=lead, model=self.name, model_version=self.version
        )


def _init(obs):
    return obs.indexes["time"][24:-24]


def test_simplex_grid_rows_sum_to_one_vertices_first():
    g = simplex_grid(3, 0.25)
    assert np.allclose(g.sum(axis=1), 1) and (g >= 0).all()
    assert len(g) == 15 and np.array_equal(g[:3].max(axis=1), [1, 1, 1])
    with pytest.raises(ValueError, match="1/step must be a whole number"):
        simplex_grid(2, 0.3)


def test_perfect_member_gets_weight_one(obs):
    init = _init(obs)
    members = {
        "good": Oracle("good", spread=0.0),
        "biased": Oracle("biased", offset=20.0),
        "wide": Oracle("wide", spread=30.0),
    }
    fcs = {k: m.forecast(obs, init, LEADS) for k, m in members.items()}
    w = fit_weights(fcs, obs, step=0.1)
    for target in ("dst", "kp"):
        for h in (1, 3, 6):
            ww = w.weights(target, h)
            assert np.isclose(ww.sum(), 1) and (ww >= 0).all()
            assert np.array_equal(ww, [1.0, 0.0, 0.0]), (target, h, ww)
    assert w.info["member_loss"]["dst"]["good"][0] == pytest.approx(0.0, abs=1e-4)


def test_opposite_biases_are_averaged(obs):
    init = _init(obs)
    fcs = {
        "high": Oracle("high", offset=10.0, spread=0.0).forecast(obs, init, LEADS),
        "low": Oracle("low", offset=-10.0, spread=0.0).forecast(obs, init, LEADS),
    }
    w = fit_weights(fcs, obs, targets=("dst",), step=0.05)
    assert np.allclose(w.weights("dst", 3), [0.5, 0.5])


def test_storm_weight_moves_the_weights_to_the_storm_expert(obs):
    init = _init(obs)
    storm = np.asarray(scores.storm_time(init, obs).values)
    assert 0 < storm.sum() < len(init) / 3

    def expert(in_storm, otherwise):
        def offset(i, lead):
            err = np.where(np.isin(i, init[storm]), in_storm, otherwise)
            return np.repeat(err[:, None], len(lead), axis=1)

        return offset

    storm_expert, quiet_expert = expert(0.0, 6.0), expert(12.0, 0.0)

    fcs = {
        "storm": Oracle("storm", offset=storm_expert, spread=0.0).forecast(obs, init, LEADS),
        "quiet": Oracle("quiet", offset=quiet_expert, spread=0.0).forecast(obs, init, LEADS),
    }
    flat = fit_weights(fcs, obs, targets=("dst",), storm_weight=1.0, step=0.05)
    heavy = fit_weights(fcs, obs, targets=("dst",), storm_weight=20.0, step=0.05)
    assert flat.weights("dst", 1)[0] < 0.5 < heavy.weights("dst", 1)[0]
    assert heavy.info["storm_weight"] == 20.0 and heavy.info["n_storm_issue_times"] == storm.sum()


def test_nan_member_renormalised_never_nan_where_one_forecasts(obs):
    init = _init(obs)
    gap = init[100:130]
    om = Oracle("om", offset=-4.0, supported=("dst",), nan_at=gap)
    tft = Oracle("tft", offset=4.0)
    table = {
        t: {h: ([0.75, 0.25] if t == "dst" else [1.0, 0.0]) for h in (1, 3, 6)}
        for t in ("dst", "kp")
    }
    blend = Blend({"om": om, "tft": tft}, BlendWeights(["om", "tft"], table))
    fc = blend.forecast(obs, init, LEADS)
    assert np.isfinite(fc["dst"]).all() and np.isfinite(fc["kp"]).all()
    own = {k: m.forecast(obs, init, LEADS) for k, m in (("om", om), ("tft", tft))}
    inside = fc["dst"].sel(init_time=gap)
    assert np.allclose(inside, own["tft"]["dst"].sel(init_time=gap), atol=1e-3)
    outside = fc["dst"].isel(init_time=slice(0, 100))
    want = 0.75 * own["om"]["dst"].isel(init_time=slice(0, 100)) + 0.25 * own["tft"]["dst"].isel(
        init_time=slice(0, 100)
    )
    assert np.allclose(outside, want, atol=1e-3)
    # om forecasts no Kp and its Kp weight is 1: the forecasting member (tft) takes over
    assert np.allclose(fc["kp"], own["tft"]["kp"], atol=1e-4)
    assert fc.attrs["model"] == "blend" and fc.attrs["members"] == "om,tft"


def test_combine_nan_only_where_every_member_is():
    stack = np.array([[[1.0, 2.0], [np.nan, np.nan]], [[np.nan, 3.0], [5.0, 6.0]]])
    out = combine(stack, np.array([1.0, 0.0]))
    assert np.allclose(out, [[1.0, 2.0], [5.0, 6.0]])
    assert np.isnan(combine(np.full((2, 1, 3), np.nan), np.array([0.5, 0.5]))).all()


def test_blend_is_a_forecaster_with_monotone_quantiles(obs):
    init = _init(obs)[:50]
    p = baselines.Persistence().fit(obs, lead_times=LEADS)
    members = [
        Oracle("wide", offset=-30.0, spread=25.0),
        Oracle("narrow", offset=15.0, spread=0.5),
        p,
    ]
    blend = Blend(members)
    assert isinstance(blend, Forecaster) and blend.name == "blend"
    assert "persistence=1" in blend.version
    fc = blend.forecast(obs, init, LEADS)
    for t in ("dst", "kp"):
        assert (np.diff(fc[t].values, axis=-1) >= 0).all()
    assert float(fc["kp"].min()) >= 0 and float(fc["kp"].max()) <= 9
    schema.validate_forecast(fc)


def test_weights_json_round_trip(tmp_path, obs):
    init = _init(obs)
    fcs = {
        "a": Oracle("a", offset=3.0).forecast(obs, init, LEADS),
        "b": Oracle("b", offset=-1.0).forecast(obs, init, LEADS),
    }
    w = fit_weights(fcs, obs, step=0.1)
    path = w.save(tmp_path / "blend" / "weights.json")
    text = path.read_text()
    json.loads(text)  # plain JSON, no pickle
    back = BlendWeights.load(path)
    assert back.members == w.members and back.to_json() == w.to_json()
    assert np.array_equal(back.weights("kp", 6), w.weights("kp", 6))
    again = blend_forecasts(fcs, back)
    assert np.allclose(again["dst"], blend_forecasts(fcs, w)["dst"])


def test_bad_weights_and_members_are_refused(obs):
    with pytest.raises(ValueError, match="must sum to 1"):
        BlendWeights(["a", "b"], {"dst": {1: [0.5, 0.6]}})
    with pytest.raises(ValueError, match=">= 0"):
        BlendWeights(["a", "b"], {"dst": {1: [1.5, -0.5]}})
    with pytest.raises(ValueError, match="2 weights for 3 members"):
        BlendWeights(["a", "b", "c"], {"dst": {1: [0.5, 0.5]}})
    w = BlendWeights.equal(["a", "b"], ["dst"], LEADS)
    with pytest.raises(ValueError, match="no blend weights for dst at lead 12 h"):
        w.weights("dst", 12)
    with pytest.raises(ValueError, match="weights are for members"):
        Blend({"a": Oracle("a"), "c": Oracle("c")}, w)
    with pytest.raises(ValueError, match="repeat"):
        Blend([Oracle("a"), Oracle("a")])
    with pytest.raises(TypeError, match="not a Forecaster"):
        Blend({"a": object()})


def test_evaluate_scores_a_blend_beside_its_members(data_dir):
    """``evaluate`` takes a Blend in its list: fitted with the same baseline instances."""
    from forecasting.evaluation.evaluate import evaluate
    from forecasting.splits import YearSplit, load_recorded_omni

    ds = load_recorded_omni(data_dir, years=[2013, 2014])
    split = YearSplit(train=(2013, 2013), validate=(2014, 2014), test=(2015, None))
    pers, om = baselines.Persistence(), baselines.OBrienMcPherron()
    blend = Blend([om, pers], lead_times_default=LEADS)
    inits = pd.date_range("2014-02-10", "2014-03-10", freq="3h")
    res = evaluate(
        [pers, om, blend],
        ds,
        split,
        part="validate",
        init_times=inits,
        lead_times=LEADS,
        decisions=False,
    )
    assert list(res.model.values) == ["persistence", "obrien_mcpherron", "blend"]
    rm = res.rmse.sel(target="dst")
    assert np.isfinite(rm.sel(model="blend")).all()
    assert (
        res.n.sel(target="dst", model="blend") == res.n.sel(target="dst", model="persistence")
    ).all()
    # equal-weight Vincentization of two medians: the blend's RMSE is at most the worse one's
    assert (
        rm.sel(model="blend")
        <= rm.sel(model=["persistence", "obrien_mcpherron"]).max("model") + 1e-6
    ).all()
    assert "blend=obrien_mcpherron=1+persistence=1" in res.attrs["model_versions"]
    assert int(res["n_storm_issue_times"]) > 0
    assert np.isfinite(res.storm_time_rmse.sel(target="dst", model="blend")).all()


def test_seed_ensemble_nests_in_a_blend(obs):
    """Equal-weight seed ensemble (a Blend) as one member of a TFT + baseline blend."""
    init = _init(obs)[:40]
    seeds = Blend(
        {"s0": Oracle("tft", offset=2.0), "s1": Oracle("tft", offset=-2.0)}, name="tft_ens"
    )
    ens = seeds.forecast(obs, init, LEADS)
    truth = Oracle("x", offset=0.0).forecast(obs, init, LEADS)
    assert np.allclose(ens["dst"], truth["dst"], atol=1e-3)  # +2 and -2 average out
    om = Oracle("om", offset=5.0, supported=("dst",))
    outer = Blend([seeds, om], BlendWeights.equal(["tft_ens", "om"], ("dst", "kp"), LEADS))
    fc = outer.forecast(obs, init, LEADS)
    assert np.allclose(fc["dst"], truth["dst"] + 2.5, atol=1e-3)
    assert np.allclose(fc["kp"], ens["kp"], atol=1e-4)  # om has no Kp: renormalised to the ensemble


def test_fit_weights_refuses_misaligned_members(obs):
    init = _init(obs)
    a = Oracle("a").forecast(obs, init, LEADS)
    b = Oracle("b").forecast(obs, init[1:], LEADS)
    with pytest.raises(ValueError, match="other init_time values"):
        fit_weights({"a": a, "b": b}, obs)
    with pytest.raises(ValueError, match="storm_weight"):
        fit_weights({"a": a}, obs, storm_weight=-1)
