"""Backtests: no look-ahead, rolling-origin refits cut at their origin, batched == one by one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from forecasting.evaluation import backtest as bt
from forecasting.models.baselines import Burton, Climatology, Persistence, Recurrence27
from forecasting.schema import make_forecast, validate_forecast
from forecasting.splits import load_recorded_omni

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


@pytest.fixture(scope="module")
def omni(data_dir) -> xr.Dataset:
    ds = load_recorded_omni(data_dir, years=[1999, 2000])
    return ds.sel(time=slice("1999-09-01", "2000-08-31"))


@pytest.fixture(scope="module")
def train(omni) -> xr.Dataset:
    return omni.sel(time=slice("1999-09-01", "1999-12-31"))


class MeanOfKnown:
    """Test forecaster: mean of every ``dst``/``kp`` value known at t in the last 12 h, plus
    a bz term; applies ``timeconv.known_at`` per issue time. It records each ``fit``'s span."""

    name = "mean_of_known"
    version = "test"
    lookback = pd.Timedelta("12h")

    def __init__(self):
        self.fitted_on: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        self.offset = 0.0

    def fit(self, train_ds):
        times = train_ds.indexes["time"]
        last = train_ds["dst"].dropna("time").indexes["time"]
        self.fitted_on.append((times[0], times[-1], last[-1] if len(last) else pd.NaT))
        self.offset = float(train_ds["dst"].mean())
        return self

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
        init = pd.DatetimeIndex(init_times)
        lead = pd.TimedeltaIndex(lead_times)
        q = np.array([0.1, 0.5, 0.9])
        out = {n: np.full((len(init), len(lead), len(q)), np.nan) for n in targets}
        for i, t in enumerate(init):
            seen = timeconv.known_at(ds.sel(time=slice(t - self.lookback, None)), t)
            drive = float(seen["bz_gsm"].mean(skipna=True).fillna(0.0))
            for n in targets:
                m = float(seen[n].mean(skipna=True)) + 0.1 * drive + 1e-3 * self.offset
                out[n][i] = m + (q - 0.5)[None, :] * 20
        return make_forecast(
            out,
            init_time=init,
            lead_time=lead,
            quantiles=q,
            model=self.name,
            model_version=self.version,
        )


def _fitted(model, train):
    return model.fit(train, lead_times=LEADS) if not isinstance(model, MeanOfKnown) else model


def _perturbed_after(ds, t, delta=300.0):
    """Every value not known at ``t`` (interval ends after t) shifted by ``delta``."""
    out = ds.copy(deep=True)
    labels = ds.indexes["time"]
    for n in ds.data_vars:
        late = np.asarray(timeconv.interval_end(n, labels) > t)
        out[n] = out[n].where(~xr.DataArray(late, dims="time"), out[n] + delta)
    return out


MODELS = [MeanOfKnown, Persistence, Recurrence27, Burton, Climatology]


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_no_look_ahead(omni, train, cls):
    model = _fitted(cls(), train)
    targets = ("dst",) if cls is Burton else ("dst", "kp")
    kw = dict(start="2000-07-14", end="2000-07-16", every="1h", lead_times=LEADS, targets=targets)
    base = bt.backtest(model, omni, **kw)
    validate_forecast(base)
    assert base.sizes["init_time"] == 48
    for t in pd.DatetimeIndex(["2000-07-14 05:00", "2000-07-15 01:00", "2000-07-15 17:00"]):
        got = bt.backtest(model, _perturbed_after(omni, t), **kw)
        upto = base["init_time"] <= np.datetime64(t)
        xr.testing.assert_allclose(
            got[list(targets)].where(upto, drop=True), base[list(targets)].where(upto, drop=True)
        )
        if cls is not Climatology:  # climatology ignores recent data by design
            # perturbing what WAS known at t changes the forecast at t: the test can fail
            seen = bt.backtest(model, _perturbed_known(omni, t), **kw).sel(init_time=[t])
            assert not np.allclose(seen["dst"].values, base["dst"].sel(init_time=[t]).values)


def _perturbed_known(ds, t, delta=300.0):
    """Every value known at ``t`` (interval ended by t) shifted by ``delta``."""
    out = ds.copy(deep=True)
    labels = ds.indexes["time"]
    for n in ds.data_vars:
        known = np.asarray(timeconv.interval_end(n, labels) <= t)
        out[n] = out[n].where(~xr.DataArray(known, dims="time"), out[n] + delta)
    return out


def test_perturbation_test_catches_a_peeking_model(omni):
    """A forecaster that reads the target hour itself is caught by the same check."""

    class Peeker(MeanOfKnown):
        def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
            fc = super().forecast(ds, init_times, lead_times, targets=targets)
            nxt = ds["dst"].reindex(time=pd.DatetimeIndex(init_times)).values  # hour after t
            return fc.assign(dst=fc["dst"] + 0.0 * fc["dst"] + np.nan_to_num(nxt)[:, None, None])

    kw = dict(start="2000-07-14", end="2000-07-14 06:00", lead_times=LEADS, batch_size=1)
    t = pd.Timestamp("2000-07-14 03:00")
    base = bt.backtest(Peeker(), omni, **kw).sel(init_time=t)
    got = bt.backtest(Peeker(), _perturbed_after(omni, t), **kw).sel(init_time=t)
    # backtest cuts data at the block's last issue time, so one-by-one even a peeker is safe
    xr.testing.assert_allclose(got["dst"], base["dst"])
    # in a batch it would see the next hour through the block; the perturbation test sees it
    kw["batch_size"] = 100
    base = bt.backtest(Peeker(), omni, **kw).sel(init_time=t)
    got = bt.backtest(Peeker(), _perturbed_after(omni, t), **kw).sel(init_time=t)
    assert not np.allclose(got["dst"].values, base["dst"].values)


@pytest.mark.parametrize("cls", [MeanOfKnown, Persistence, Recurrence27], ids=lambda c: c.__name__)
def test_batched_equals_one_by_one(omni, train, cls):
    model = _fitted(cls(), train)
    kw = dict(start="2000-04-05", end="2000-04-08", every="1h", lead_times=LEADS)
    batched = bt.backtest(model, omni, batch_size=1000, **kw)
    blocks = bt.backtest(model, omni, batch_size=7, **kw)
    single = bt.backtest(model, omni, batch_size=1, **kw)
    xr.testing.assert_allclose(batched[["dst", "kp"]], single[["dst", "kp"]])
    xr.testing.assert_allclose(blocks[["dst", "kp"]], single[["dst", "kp"]])
    naive = xr.concat(
        [model.forecast(omni, [t], LEADS) for t in single["init_time"].values[:6]], dim="init_time"
    )
    ref = (
        batched[["dst", "kp"]].isel(init_time=slice(0, 6)).drop_vars(["fit_origin", "training_end"])
    )
    xr.testing.assert_allclose(naive[["dst", "kp"]], ref)


def test_refit_never_sees_data_after_origin(omni):
    model = MeanOfKnown()
    fc = bt.backtest(
        model,
        omni,
        start="2000-01-15",
        end="2000-04-10",
        every="6h",
        lead_times=LEADS[:6],
        refit="MS",
        train_start="1999-09-01",
    )
    origins = pd.DatetimeIndex(["2000-01-15", "2000-02-01", "2000-03-01", "2000-04-01"])
    assert list(pd.DatetimeIndex(np.unique(fc["fit_origin"].values))) == list(origins)
    assert model.fitted_on == []  # the caller's model is untouched (refits work on copies)
    # every forecast's training data end before its origin and before its issue time
    fo = pd.DatetimeIndex(fc["fit_origin"].values)
    te = pd.DatetimeIndex(fc["training_end"].values)
    init = pd.DatetimeIndex(fc["init_time"].values)
    assert (te + pd.Timedelta("1h") <= fo).all() and (fo <= init).all()
    assert (te == fo - pd.Timedelta("1h")).all()  # expanding window reaches the origin

    spans = []

    def spy(train_ds):
        m = MeanOfKnown().fit(train_ds)
        spans.append(m.fitted_on[-1])
        return m

    bt.backtest(
        MeanOfKnown(),
        omni,
        start="2000-01-15",
        end="2000-04-10",
        every="6h",
        lead_times=LEADS[:6],
        refit="MS",
        fit=spy,
    )
    assert [s[0] for s in spans] == [omni.indexes["time"][0]] * 4  # expanding from the start
    for (_first, last, last_dst), origin in zip(spans, origins, strict=True):
        assert last < origin and last_dst < origin
        assert last == origin - pd.Timedelta("1h")


def test_refit_with_baseline_records_fit_span(omni):
    fc = bt.backtest(
        Persistence(),
        omni,
        start="2000-03-01",
        end="2000-05-01",
        every="12h",
        lead_times=LEADS,
        refit="MS",
    )
    te = pd.DatetimeIndex(fc["training_end"].values)
    assert set(te) == {pd.Timestamp("2000-02-29 23:00"), pd.Timestamp("2000-03-31 23:00")}
    # kp of the interval that ends after the origin was masked in the training set
    train = bt.training_data(omni, "2000-04-01 01:00")
    assert np.isnan(train["kp"].sel(time="2000-04-01 00:00")) and train.indexes["time"][
        -1
    ] < pd.Timestamp("2000-04-01 01:00")


def test_errors(omni):
    with pytest.raises(ValueError, match="after start"):
        bt.issue_times("2000-02-01", "2000-01-01")
    with pytest.raises(ValueError, match="not a duration"):
        bt.issue_times("2000-01-01", "2000-01-02", every="hourly")
    with pytest.raises(ValueError, match="pandas frequency"):
        bt.refit_origins("2000-01-01", "2001-01-01", "six months")
    with pytest.raises(ValueError, match="no training data"):
        bt.backtest(MeanOfKnown(), omni, start="1999-09-01", end="1999-09-02", refit="MS")
    with pytest.raises(ValueError, match="lead_times"):
        bt.backtest(MeanOfKnown(), omni, start="2000-01-01", end="2000-01-02", lead_times=["0h"])


def test_compare_table():
    lead = pd.to_timedelta([1, 3, 6], unit="h")

    def scores(rmse):
        return xr.Dataset(
            {
                "rmse": ("lead_time", np.asarray(rmse, float)),
                "mae": ("lead_time", np.asarray(rmse, float) / 2),
            },
            coords={"lead_time": lead},
        )

    cmp = bt.compare(
        {"tft": scores([1, 2, 3]), "persistence": scores([2, 4, 6])}, lead_hours=(1, 6)
    )
    assert isinstance(cmp, xr.Dataset) and cmp["rmse"].dims == ("model", "lead_time")
    assert list(cmp["lead_h"].values) == [1, 6]
    assert cmp["rmse"].sel(model="persistence").values.tolist() == [2.0, 6.0]
    assert cmp["mae"].sel(model="tft").values.tolist() == [0.5, 1.5]
    assert list(cmp["model"].values) == ["tft", "persistence"]
    table = cmp.to_dataframe()
    assert set(table.columns) == {"lead_h", "rmse", "mae"} and len(table) == 4
    with pytest.raises(ValueError, match="at least one"):
        bt.compare({})
    with pytest.raises(ValueError, match="score_all output"):
        bt.compare(scores([1, 2, 3]))


def test_compare_flattens_thresholds_and_drops_quantiles():
    lead = pd.to_timedelta([1, 3], unit="h")
    scores = xr.Dataset(
        {
            "rmse": ("lead_time", [1.0, 2.0]),
            "hss": (("threshold", "lead_time"), [[0.5, 0.4], [0.3, 0.2]]),
            "pinball": (("quantile", "lead_time"), [[0.1, 0.2], [0.3, 0.4]]),
        },
        coords={"lead_time": lead, "threshold": [-50.0, -100.0], "quantile": [0.1, 0.9]},
    )
    cmp = bt.compare({"m": scores})
    assert list(cmp["lead_h"].values) == [1, 3]
    assert list(cmp.data_vars) == ["rmse", "hss(-50)", "hss(-100)"]
    assert cmp["hss(-100)"].sel(model="m").values.tolist() == [0.3, 0.2]
    asked = bt.compare({"m": scores}, metrics=["pinball"])
    assert asked["pinball(0.9)"].sel(model="m").values.tolist() == [0.3, 0.4]


def test_verify_reexport_and_score_all(omni, train):
    from forecasting.verification.scores import score

    assert bt.verify is score
    from forecasting.storms import storm_catalog

    assert bt.storm_catalog is storm_catalog
    kw = dict(start="2000-07-10", end="2000-07-20", every="3h", lead_times=LEADS)
    fcs = {
        "persistence": bt.backtest(Persistence().fit(train, lead_times=LEADS), omni, **kw),
        "recurrence27": bt.backtest(Recurrence27().fit(train, lead_times=LEADS), omni, **kw),
    }
    res = bt.score_all(fcs, omni, "dst")
    assert isinstance(res, xr.Dataset) and list(res["model"].values) == list(fcs)
    assert res["rmse"].dims == ("model", "lead_time") and "threshold" in res["hss"].dims
    alone = score(fcs["recurrence27"], omni, "dst", persistence=fcs["persistence"])
    np.testing.assert_allclose(res["rmse"].sel(model="recurrence27"), alone["rmse"])
    cmp = bt.compare(res, metrics=["rmse", "skill_vs_persistence"])
    assert np.allclose(cmp["skill_vs_persistence"].sel(model="persistence"), 0.0, equal_nan=True)
    assert (cmp["rmse"].sel(model="persistence") > 0).all()
    both = bt.score_all(fcs, omni, ("dst", "kp"))
    assert both["rmse"].dims == ("target", "model", "lead_time")
    np.testing.assert_allclose(both["rmse"].sel(target="dst"), res["rmse"])
    table = bt.compare(both, metrics=["rmse"]).to_dataframe()
    assert set(table.index.names) == {"model", "target", "lead_time"}
