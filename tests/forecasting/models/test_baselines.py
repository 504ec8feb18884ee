"""Baseline forecasters: the contract, visibility (no look-ahead) and hand-checked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources import timeconv
from data_sources.omni2 import parse_omni2
from forecasting import schema
from forecasting.models import baselines as B
from forecasting.models import physics

LEAD = pd.to_timedelta(np.arange(1, 25), unit="h")


@pytest.fixture(scope="module")
def ds(data_dir):
    return parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")


@pytest.fixture(scope="module")
def train(ds):
    return ds.sel(time=slice("2015-01-01", "2015-02-28"))


@pytest.fixture(scope="module")
def fitted(train):
    return {m.name: m.fit(train, lead_times=LEAD) for m in B.all_baselines()}


INITS = pd.DatetimeIndex(
    ["2015-03-17 14:00", "2015-03-17 16:00", "2015-03-18 00:00", "2015-03-18 01:00"]
)


@pytest.mark.parametrize("name", ["dst", "kp", "f107", "v_sw"])
def test_last_known_equals_known_at(ds, name):
    s = B._hourly(ds, name)
    got = B.last_known(s, name, INITS)
    for t, g in zip(INITS, got, strict=True):
        seen = timeconv.known_at(ds, t)[name].to_series().dropna()
        assert g == pytest.approx(float(seen.iloc[-1]))


def test_contract_and_shapes(ds, fitted):
    for name, m in fitted.items():
        fc = m.forecast(ds, INITS, LEAD)
        schema.validate_forecast(fc)
        assert fc.attrs["model"] == name
        assert fc["quantile"].values.tolist() == list(schema.QUANTILES)
        expected = {"dst"} if name in ("burton", "obrien_mcpherron") else {"dst", "kp"}
        assert set(fc.data_vars) == expected
        assert fc["dst"].shape == (len(INITS), len(LEAD), len(schema.QUANTILES))
        assert np.isfinite(fc["dst"].values).all()
        assert (np.diff(fc["dst"].values, axis=-1) >= 0).all()
        if "kp" in fc:
            assert fc["kp"].min() >= 0 and fc["kp"].max() <= 9


@pytest.mark.parametrize(
    "name", ["persistence", "recurrence27", "climatology", "burton", "obrien_mcpherron"]
)
def test_no_look_ahead(ds, fitted, name):
    """Perturbing every value labelled >= t (and kp of the unfinished block) leaves the forecast
    issued at t unchanged; perturbing known values changes it (the test can fail)."""
    m = fitted[name]
    t = pd.Timestamp("2015-03-17 16:00")  # mid Kp block: 15-18 UT not yet complete
    base = m.forecast(ds, [t], LEAD)
    pert = ds.copy(deep=True)
    late = pert.time >= pd.Timestamp("2015-03-17 15:00")
    for v in pert.data_vars:
        lab = pd.DatetimeIndex(pert.time.values)
        unknown = np.asarray(timeconv.interval_end(v, lab) > t)
        pert[v] = pert[v].where(~(unknown | (late.values & (v == "kp"))), pert[v] * 2 - 77)
    after = m.forecast(pert, [t], LEAD)
    for v in base.data_vars:
        np.testing.assert_array_equal(base[v].values, after[v].values)
    if name != "climatology":
        known = ds.copy(deep=True)
        src = "dst"
        lag = B.RECURRENCE if name == "recurrence27" else pd.Timedelta(0)
        window = (known.time >= t - lag - pd.Timedelta("6h")) & (
            known.time < t - lag + pd.Timedelta("24h")
        )
        known[src] = known[src].where(~(window & (known.time < t)), known[src] - 40)
        assert not np.array_equal(m.forecast(known, [t], LEAD)["dst"].values, base["dst"].values)


def test_vectorised_equals_one_at_a_time(ds, fitted):
    for m in fitted.values():
        many = m.forecast(ds, INITS, LEAD)
        for i, t in enumerate(INITS):
            one = m.forecast(ds, [t], LEAD)
            for v in many.data_vars:
                np.testing.assert_allclose(many[v].values[i], one[v].values[0])


def test_persistence_values_and_quantiles(ds, train, fitted):
    m = fitted["persistence"]
    fc = m.forecast(ds, INITS[:1], LEAD)
    last = float(ds.dst.sel(time=INITS[0] - pd.Timedelta("1h")))
    rq = m.residual_quantiles_["dst"]
    np.testing.assert_allclose(fc["dst"].values[0, 0], last + rq.iloc[0].to_numpy(), rtol=1e-6)
    # lead-1 residuals are the 1-hour changes dst[h] - dst[h-1] over the training inits
    s = train.dst.to_series()
    changes = (s - s.shift(1)).iloc[2:]  # inits start one hour after the first label + 1h
    np.testing.assert_allclose(
        rq.iloc[0].to_numpy(), np.nanquantile(changes, schema.QUANTILES), atol=1e-9
    )
    # kp: the last complete 3-h block at 14:00 is 09-12 UT
    kp_fc = fc["kp"].sel(quantile=0.5).values[0]
    kp_last = float(ds.kp.sel(time="2015-03-17 09:00"))
    assert kp_last != float(ds.kp.sel(time="2015-03-17 12:00"))
    assert np.allclose(kp_fc, np.clip(kp_last + m.residual_quantiles_["kp"][0.5].to_numpy(), 0, 9))


def test_recurrence_uses_value_27_days_before(ds, fitted):
    m = fitted["recurrence27"]
    pt = m.point(ds, INITS[:1], LEAD, "dst")
    labels = INITS[0] + LEAD - pd.Timedelta("1h") - pd.Timedelta(hours=648)
    np.testing.assert_allclose(pt[0], ds.dst.sel(time=labels).values)


def test_climatology_quantiles_are_training_quantiles(ds, train):
    m = B.Climatology().fit(train)
    fc = m.forecast(ds, INITS[:2], LEAD)
    np.testing.assert_allclose(
        fc["dst"].values[0, 0], np.nanquantile(train.dst.values, schema.QUANTILES), rtol=1e-5
    )
    mon = B.Climatology(by="month").fit(train)
    march_target = mon.forecast(ds, [pd.Timestamp("2015-02-28 23:00")], LEAD)  # lead 2+ in March
    feb = train.dst.sel(time=train.time.dt.month == 2).values
    np.testing.assert_allclose(
        march_target["dst"].values[0, 0], np.nanquantile(feb, schema.QUANTILES), rtol=1e-5
    )
    with pytest.raises(ValueError, match="not fitted"):
        B.Climatology().forecast(ds, INITS[:1], LEAD)


@pytest.mark.parametrize(
    "cls,model", [(B.Burton, physics.BURTON), (B.OBrienMcPherron, physics.OBRIEN_MCPHERRON)]
)
def test_ring_current_forecast_matches_closed_form(ds, fitted, cls, model):
    m = fitted[cls.name]
    t = INITS[0]
    h = t - pd.Timedelta("1h")
    dst0, v, bz, p = (float(ds[k].sel(time=h)) for k in ("dst", "v_sw", "bz_gsm", "p_dyn"))
    q, tau = physics.drivers(model, np.array(v), np.array(bz))
    star0 = dst0 - model.b * np.sqrt(p) + model.c
    hours = np.arange(1, 25)
    expect = q * tau + (star0 - q * tau) * np.exp(-hours / tau) + model.b * np.sqrt(p) - model.c
    np.testing.assert_allclose(m.point(ds, [t], LEAD, "dst")[0], expect, rtol=1e-9)


def test_errors(ds, train):
    with pytest.raises(ValueError, match="not fitted"):
        B.Persistence().forecast(ds, INITS, LEAD)
    with pytest.raises(ValueError, match="whole hour"):
        B.Persistence().forecast(ds, ["2015-03-17 14:30"], LEAD)
    with pytest.raises(ValueError, match="only 'dst'"):
        B.Burton().forecast(ds, INITS, LEAD, targets=("kp",))
    m = B.Persistence().fit(train, lead_times=LEAD[:6])
    with pytest.raises(ValueError, match="refit"):
        m.forecast(ds, INITS, LEAD)


def test_storm_time_skill_order(ds, fitted):
    """On St. Patrick's Day 2015 main phase, O'Brien-McPherron beats persistence at 1-3 h."""
    inits = pd.date_range("2015-03-17 06:00", "2015-03-18 06:00", freq="1h")
    lead = LEAD[:3]
    obs = timeconv.observed_for(fitted["persistence"].forecast(ds, inits, lead), ds, "dst")
    err = {}
    for name in ("persistence", "obrien_mcpherron"):
        med = fitted[name].forecast(ds, inits, lead)["dst"].sel(quantile=0.5)
        err[name] = float(np.sqrt(((med - obs) ** 2).mean()))
    assert err["obrien_mcpherron"] < err["persistence"]


def test_climatology_refit_replaces_every_table(train):
    m = B.Climatology().fit(train)
    assert set(m.table_) == {"dst", "kp"}
    m.fit(train, targets=("dst",))
    assert set(m.table_) == {"dst"}
