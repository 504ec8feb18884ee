"""The lead an L1 monitor gives: the rule, the view, and no look-ahead beyond it.

On OMNI (labelled at the bow-shock nose) the hour labelled ``h`` is known at
``h + 1 h - (X_L1 - X_bsn) / V_h + 5 min``. A backtest with ``as_of="l1"`` may use exactly
the hours known by that rule at each issue time: perturbing every value not yet known
(solar wind by the L1 rule, Dst/Kp by the real-time delays) leaves the forecasts unchanged,
while perturbing an hour that starts at the issue time but is already known (slow wind)
changes them, so the lead is really used and the test can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import propagation
from data_sources.omni2 import parse_omni2
from forecasting import latency
from forecasting.evaluation.backtest import backtest
from forecasting.models.baselines import Burton

# slow wind (many hours below ~360 km/s gain an hour) after a month to fit on
KW = dict(start="2000-07-25", end="2000-07-26", every="1h", targets=("dst",), as_of="l1")


@pytest.fixture(scope="module")
def omni(data_dir) -> xr.Dataset:
    ds = parse_omni2(data_dir / "omni2_low_res_dynaml" / "omni2_2000.csv")
    return ds.sel(time=slice("2000-06-20", "2000-07-27"))


@pytest.fixture(scope="module")
def burton(omni) -> Burton:
    model = Burton().fit(omni.sel(time=slice("2000-06-20", "2000-07-20")), targets=["dst"])
    model.lookback = pd.Timedelta("6h")  # reads rows t-4 h .. t-1 h: batched as_of calls
    return model


def _avail(ds: xr.Dataset) -> pd.DatetimeIndex:
    return propagation.l1_available_from(ds.indexes["time"], ds.v_sw.values)


def test_rule_and_view(omni):
    labels = pd.DatetimeIndex(["2000-07-01 00:00", "2000-07-01 01:00"])
    got = propagation.l1_available_from(labels, [400.0, np.nan])
    lag = pd.Timedelta(seconds=(1.5e6 - 13 * propagation.R_E_KM) / 400.0)
    for g, label in zip(got, labels, strict=True):  # the second hour takes the last speed
        expected = label + pd.Timedelta("1h") - lag + pd.Timedelta("5min")
        assert abs(g - expected) < pd.Timedelta("1ms")
    assert latency.resolve("l1") is latency.L1 and latency.L1.delay("dst") == pd.Timedelta("1h")
    view = latency.l1_view(omni)
    assert latency.l1_view(view) is view
    avail = _avail(omni)
    labels = omni.indexes["time"]
    # brute force: row h holds the newest hour known by h + 1 h
    for i in range(100, len(labels), 97):
        end = labels[i] + pd.Timedelta("1h")
        k = int(np.flatnonzero(avail <= end).max())
        assert k >= i
        np.testing.assert_array_equal(view.bz_gsm.values[i], omni.bz_gsm.values[k])
        np.testing.assert_array_equal(view.dst.values[i], omni.dst.values[i])  # not solar wind
    lead = np.asarray(avail <= labels)  # hour h known when it starts: an hour gained
    assert 0.05 < lead.mean() < 0.95  # slow-wind hours gain an hour, fast ones do not
    assert view.attrs["l1_lead_hours_mean"] == pytest.approx(lead.mean(), abs=0.02)


def _perturb_unknown(ds: xr.Dataset, t: pd.Timestamp) -> xr.Dataset:
    """Every value not known at t under the L1 profile changed; unknown speeds only made
    faster (which keeps them unknown: a faster hour arrives, and is measured, later)."""
    labels = ds.indexes["time"]
    sw_late = np.asarray(_avail(ds) > t)
    out = ds.copy(deep=True)
    for name in ds.data_vars:
        if name in propagation.SOLAR_WIND:
            late = sw_late
        else:
            late = np.asarray(latency.L1.available_from(name, labels) > t)
        vals = out[name].values.astype(float).copy()
        if name == "v_sw":
            vals[late] = np.minimum(vals[late] * 1.5, 2900.0)
        else:
            vals[late] = vals[late] + 500.0
        out[name] = ("time", vals.astype(out[name].dtype), out[name].attrs)
    return out


def test_no_lookahead_beyond_the_l1_rule(omni, burton):
    base = backtest(burton, latency.l1_view(omni), **KW)
    times = pd.DatetimeIndex(base["init_time"].values)
    for t in times[::8]:
        pert = _perturb_unknown(omni, t)
        got = backtest(burton, latency.l1_view(pert), **KW).sel(init_time=[t])
        xr.testing.assert_allclose(got[["dst"]], base.sel(init_time=[t])[["dst"]])
    # the raw dataset (view applied inside as_of) gives the same forecasts
    t = times[5]
    raw = backtest(burton, _perturb_unknown(omni, t), **KW).sel(init_time=[t])
    xr.testing.assert_allclose(raw[["dst"]], base.sel(init_time=[t])[["dst"]])


def test_the_lead_hour_is_used(omni, burton):
    """An hour starting at the issue time, known by the L1 rule, changes the forecast."""
    labels = omni.indexes["time"]
    avail = _avail(omni)
    base = backtest(burton, latency.l1_view(omni), **KW)
    times = pd.DatetimeIndex(base["init_time"].values)
    used = 0
    for t in times:
        i = labels.get_loc(t)
        if not (avail[i] <= t and avail[i + 1] > t):  # hour t known, hour t+1 not
            continue
        bumped = omni.copy(deep=True)
        vals = bumped.bz_gsm.values.copy()
        vals[i] = -30.0
        bumped["bz_gsm"] = ("time", vals, bumped.bz_gsm.attrs)
        got = backtest(burton, latency.l1_view(bumped), **KW).sel(init_time=[t])
        assert not np.allclose(got.dst.values, base.sel(init_time=[t]).dst.values)
        # the real-time profile (5 min after the hour ends) cannot see it
        rt = dict(KW, as_of="realtime")
        a = backtest(burton, bumped, **rt).sel(init_time=[t])
        b = backtest(burton, omni, **rt).sel(init_time=[t])
        xr.testing.assert_allclose(a[["dst"]], b[["dst"]])
        used += 1
        if used == 3:
            break
    assert used == 3
