"""Publication latencies: values published after t are invisible to a backtest at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from data_sources.omni2 import parse_omni2
from forecasting import latency
from forecasting.evaluation.backtest import backtest
from forecasting.schema import make_forecast


@pytest.fixture(scope="module")
def omni(data_dir) -> xr.Dataset:
    ds = parse_omni2(data_dir / "omni2_low_res_dynaml" / "omni2_2000.csv")
    return ds.sel(time=slice("2000-07-01", "2000-07-31"))


class LastPublished:
    """Test forecaster: forecast = last non-NaN value in the ``lookback`` before ``t`` (per target),
    plus a tiny bz term so solar-wind inputs matter; honours ``known_at`` per issue time."""

    name = "last_published"
    version = "test"
    lookback = pd.Timedelta("6h")

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
        init = pd.DatetimeIndex(init_times)
        lead = pd.TimedeltaIndex(lead_times)
        q = np.array([0.1, 0.5, 0.9])
        out = {n: np.full((len(init), len(lead), len(q)), np.nan) for n in targets}
        for i, t in enumerate(init):
            seen = timeconv.known_at(ds.sel(time=slice(t - self.lookback, None)), t)
            bz = seen["bz_gsm"].to_series().dropna()
            drive = float(bz.iloc[-1]) if len(bz) else 0.0
            for n in targets:
                s = seen[n].to_series().dropna()
                last = float(s.iloc[-1]) if len(s) else np.nan
                out[n][i] = last + 0.01 * drive + (q - 0.5)[None, :] * 10
        return make_forecast(
            out,
            init_time=init,
            lead_time=lead,
            quantiles=q,
            model=self.name,
            model_version=self.version,
        )


def test_profiles_and_errors():
    assert latency.REALTIME.delay("bz_gsm") == pd.Timedelta("5min")
    assert latency.REALTIME.delay("dst") == pd.Timedelta("1h")
    assert latency.REALTIME.delay("kp_qc") == pd.Timedelta("1h")
    assert latency.ARCHIVE.delay("dst") > pd.Timedelta("30D")
    assert latency.IDEAL.is_zero()
    assert latency.resolve(True) is latency.REALTIME
    assert latency.resolve("archive") is latency.ARCHIVE
    custom = latency.REALTIME.with_delays(dst="3h")
    assert custom.delay("dst") == pd.Timedelta("3h") and custom.delay("v_sw") == pd.Timedelta(
        "5min"
    )
    with pytest.raises(ValueError, match="negative"):
        latency.Latencies("bad", {"dst": "-1h"})
    with pytest.raises(ValueError, match="unknown latency profile"):
        latency.resolve("nope")
    with pytest.raises(KeyError, match="unknown product"):
        latency.Latencies.from_products("x", {"dst": "kyoto_by_pigeon"})


def test_as_of_hides_unpublished_values(omni):
    t = pd.Timestamp("2000-07-15 12:00")
    ideal = timeconv.known_at(omni, t)
    real = latency.as_of(omni, t, latency.REALTIME)
    # Dst of 11:00-12:00 ended at 12:00 but is published at 13:00: invisible at 12:00
    assert np.isfinite(ideal["dst"].sel(time="2000-07-15 11:00"))
    assert np.isnan(real["dst"].sel(time="2000-07-15 11:00"))
    assert np.isfinite(real["dst"].sel(time="2000-07-15 10:00"))
    # solar wind 11:00-12:00 published 12:05: invisible; 10:00-11:00 visible
    assert np.isnan(real["v_sw"].sel(time="2000-07-15 11:00"))
    assert np.isfinite(real["v_sw"].sel(time="2000-07-15 10:00"))
    # Kp 09-12 ends 12:00, nowcast 13:00: invisible; 06-09 visible
    assert np.isnan(real["kp"].sel(time="2000-07-15 09:00"))
    assert np.isfinite(real["kp"].sel(time="2000-07-15 08:00"))
    # archive profile: provisional Dst not out for months
    arch = latency.as_of(omni, t, "archive")
    assert arch["dst"].notnull().sum() == 0
    # the general rule, every variable and label
    for name in real.data_vars:
        avail = latency.REALTIME.available_from(name, real.indexes["time"])
        assert (
            real[name].values[np.asarray(avail > t)].size == 0
            or np.isnan(real[name].values[np.asarray(avail > t)]).all()
        )


def test_mask_windows_equals_as_of_per_time(omni):
    times = pd.DatetimeIndex(["2000-07-10 05:00", "2000-07-12 13:00"])
    masked = latency.mask_latency_windows(omni, times, latency.REALTIME)
    for t in times:
        a = latency.as_of(omni, t, latency.REALTIME)
        b = timeconv.known_at(masked, t).sel(time=slice(t - pd.Timedelta("24h"), None))
        xr.testing.assert_identical(a.sel(time=slice(t - pd.Timedelta("24h"), None)), b)


def _perturb(ds, names, labels_mask, delta=500.0):
    out = ds.copy(deep=True)
    for n in names:
        out[n] = out[n].where(~xr.DataArray(labels_mask, dims="time"), out[n] + delta)
    return out


class NoLookback(LastPublished):
    """Same model without a declared look-back: backtest then calls it once per issue time
    on ``latency.as_of`` (the exact, unbatched path)."""

    lookback = None

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
        self.lookback = pd.Timedelta("6h")
        try:
            return super().forecast(ds, init_times, lead_times, targets=targets)
        finally:
            self.lookback = None


def test_grouped_latency_batches_equal_per_issue_as_of(omni):
    kw = dict(start="2000-07-14", end="2000-07-16", every="1h", as_of=latency.REALTIME)
    grouped = backtest(LastPublished(), omni, **kw)
    single = backtest(NoLookback(), omni, **kw)
    xr.testing.assert_allclose(grouped[["dst", "kp"]], single[["dst", "kp"]])


@pytest.mark.parametrize("cls", [LastPublished, NoLookback], ids=["grouped", "per_issue"])
def test_unpublished_perturbation_is_invisible_and_visible_one_is_not(omni, cls):
    model = cls()
    kw = dict(
        start="2000-07-14",
        end="2000-07-15",
        every="1h",
        targets=("dst", "kp"),
        as_of=latency.REALTIME,
    )
    base = backtest(model, omni, **kw)
    labels = omni.indexes["time"]
    for t in pd.DatetimeIndex(base["init_time"].values)[::8]:
        # everything not yet published at t (ended but delayed, or later), all variables
        names = [n for n in omni.data_vars]
        late = {n: np.asarray(latency.REALTIME.available_from(n, labels) > t) for n in names}
        pert = omni.copy(deep=True)
        for n in names:
            pert[n] = pert[n].where(~xr.DataArray(late[n], dims="time"), pert[n] + 500.0)
        got = backtest(model, pert, **kw).sel(init_time=[t])
        xr.testing.assert_allclose(got[["dst", "kp"]], base.sel(init_time=[t])[["dst", "kp"]])
        # the newest published Dst changes the forecast: the test can fail
        newest = labels[np.asarray(latency.REALTIME.available_from("dst", labels) <= t)][-1]
        vis = _perturb(omni, ["dst"], np.asarray(labels == newest))
        changed = backtest(model, vis, **kw).sel(init_time=[t])
        assert not np.allclose(changed["dst"].values, base.sel(init_time=[t])["dst"].values)
    # with ideal latencies the last hour IS used: the realtime profile really differs
    ideal = backtest(model, omni, **{**kw, "as_of": False})
    assert not np.allclose(ideal["dst"].values, base["dst"].values)
