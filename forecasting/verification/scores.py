"""Forecast verification on xarray, per ``lead_time`` (weatherbench2 style: small functions).

Inputs are forecast and observation DataArrays on ``(init_time, lead_time[, quantile])``;
observations are aligned with :func:`data_sources.timeconv.observed_for`. Every metric is a
mean over ``init_time`` of the pairs where both forecast and observation are finite, so the
result keeps ``lead_time``. Point metrics use the median (0.5 quantile).

Definitions
-----------
* RMSE, MAE; Pearson r; prediction efficiency ``PE = 1 - MSE / var(obs)``;
  ``skill_vs_persistence = 1 - MSE / MSE_persistence`` on the pairs where the model,
  persistence and the observation are all finite.
* Pinball (quantile) loss at level tau: ``max(tau (y - q), (tau - 1) (y - q))``.
* CRPS: the quantile-score approximation ``CRPS ~ (2 / K) sum_k pinball_tau_k`` over the K
  forecast quantile levels (Gneiting & Raftery 2007, eq. 17 discretised; Bracher et al.
  2021). With the 7 levels 0.05..0.95 it is a coarse approximation, comparable across
  models that share the levels.
* ``coverage_80``: fraction of observations inside ``[q_0.1, q_0.9]``.
* Events (Kp >= 5, Dst <= -50 nT, Dst <= -100 nT): the forecast says "event" when its
  MEDIAN is beyond the threshold (``>=`` for Kp, ``<=`` for Dst). From the 2x2 table of
  hits a, false alarms b, misses c, correct negatives d: POD = a/(a+c), FAR (false alarm
  ratio) = b/(a+b), HSS = 2(ad - bc)/((a+c)(c+d) + (a+b)(b+d)), TSS = a/(a+c) - b/(b+d).
  Undefined ratios (0/0) are NaN.
* Per storm: peak error = (min forecast Dst at fixed lead inside the storm window) - (observed
  peak Dst) [nT]; timing error = forecast peak time - observed peak time [h].
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from forecasting import schema

DIM = "init_time"

#: default event thresholds per target; Dst events are "<=", Kp events ">="
EVENT_THRESHOLDS: dict[str, tuple[float, ...]] = {"dst": (-50.0, -100.0), "kp": (5.0,)}


def _both(pred: xr.DataArray, obs: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    pred, obs = xr.align(pred, obs, join="exact")
    ok = np.isfinite(pred) & np.isfinite(obs)
    return pred.where(ok), obs.where(ok)


def rmse(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Root-mean-square error over ``dim``."""
    p, o = _both(pred, obs)
    return np.sqrt(((p - o) ** 2).mean(dim))


def mse(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean squared error over ``dim``."""
    p, o = _both(pred, obs)
    return ((p - o) ** 2).mean(dim)


def mae(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean absolute error over ``dim``."""
    p, o = _both(pred, obs)
    return abs(p - o).mean(dim)


def pearson_r(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Pearson correlation over ``dim`` (NaN when either side is constant)."""
    p, o = _both(pred, obs)
    pa, oa = p - p.mean(dim), o - o.mean(dim)
    sp, so = (pa**2).sum(dim), (oa**2).sum(dim)
    den = np.sqrt(sp * so)
    # a constant forecast (e.g. climatology) has no correlation: NaN, not rounding noise
    varies = sp > 1e-10 * (p**2).sum(dim)
    return (pa * oa).sum(dim) / den.where((den > 0) & varies)


def prediction_efficiency(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """``1 - MSE / var(obs)`` on the paired samples (1 perfect, 0 = climatological mean)."""
    p, o = _both(pred, obs)
    var = ((o - o.mean(dim)) ** 2).mean(dim)
    return 1 - ((p - o) ** 2).mean(dim) / var.where(var > 0)


def skill_vs_persistence(
    pred: xr.DataArray, obs: xr.DataArray, persistence: xr.DataArray, dim: str = DIM
) -> xr.DataArray:
    """``1 - MSE / MSE_persistence`` on samples where all three are finite."""
    pred, obs, persistence = xr.align(pred, obs, persistence, join="exact")
    ok = np.isfinite(pred) & np.isfinite(obs) & np.isfinite(persistence)
    m = ((pred - obs) ** 2).where(ok).mean(dim)
    mp = ((persistence - obs) ** 2).where(ok).mean(dim)
    return 1 - m / mp.where(mp > 0)


def pinball_loss(quantiles: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean pinball loss per quantile level over ``dim`` (keeps ``quantile``)."""
    tau = quantiles["quantile"]
    q, o = xr.broadcast(quantiles, obs)
    ok = np.isfinite(q) & np.isfinite(o) & np.isfinite(quantiles).all("quantile")
    diff = o - q
    loss = np.maximum(tau * diff, (tau - 1) * diff)
    return loss.where(ok).mean(dim)


def crps_quantile(quantiles: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """CRPS approximated as twice the mean pinball loss over the quantile levels."""
    return 2 * pinball_loss(quantiles, obs, dim).mean("quantile")


def interval_coverage(
    quantiles: xr.DataArray,
    obs: xr.DataArray,
    lower: float = 0.1,
    upper: float = 0.9,
    dim: str = DIM,
) -> xr.DataArray:
    """Fraction of observations within ``[q_lower, q_upper]`` (0.1-0.9: nominal 80 %)."""
    lo = quantiles.sel(quantile=lower, method="nearest", drop=True)
    hi = quantiles.sel(quantile=upper, method="nearest", drop=True)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(obs)
    inside = ((obs >= lo) & (obs <= hi)).astype(float)
    return inside.where(ok).mean(dim)


def contingency(
    fc_event: xr.DataArray, obs_event: xr.DataArray, valid: xr.DataArray, dim: str = DIM
) -> xr.Dataset:
    """2x2 table counts (``hits, false_alarms, misses, correct_negatives``) over ``dim``."""
    f, o, v = (x.astype(bool) for x in (fc_event, obs_event, valid))
    count = lambda m: (m & v).sum(dim).astype(float)  # noqa: E731
    return xr.Dataset(
        dict(
            hits=count(f & o),
            false_alarms=count(f & ~o),
            misses=count(~f & o),
            correct_negatives=count(~f & ~o),
        )
    )


def _ratio(num, den):
    return num / den.where(den > 0)


def pod(table: xr.Dataset) -> xr.DataArray:
    """Probability of detection a/(a+c)."""
    return _ratio(table.hits, table.hits + table.misses)


def far(table: xr.Dataset) -> xr.DataArray:
    """False alarm ratio b/(a+b)."""
    return _ratio(table.false_alarms, table.hits + table.false_alarms)


def hss(table: xr.Dataset) -> xr.DataArray:
    """Heidke skill score 2(ad - bc)/((a+c)(c+d) + (a+b)(b+d))."""
    a, b, c, d = table.hits, table.false_alarms, table.misses, table.correct_negatives
    return _ratio(2 * (a * d - b * c), (a + c) * (c + d) + (a + b) * (b + d))


def tss(table: xr.Dataset) -> xr.DataArray:
    """True skill statistic (Hanssen-Kuipers) a/(a+c) - b/(b+d)."""
    a, b, c, d = table.hits, table.false_alarms, table.misses, table.correct_negatives
    return _ratio(a, a + c) - _ratio(b, b + d)


def event_scores(
    pred: xr.DataArray, obs: xr.DataArray, threshold: float, *, below: bool, dim: str = DIM
) -> xr.Dataset:
    """POD, FAR, HSS, TSS and the table for the event ``value <= threshold`` (below) or ``>=``."""
    valid = np.isfinite(pred) & np.isfinite(obs)
    if below:
        f, o = pred <= threshold, obs <= threshold
    else:
        f, o = pred >= threshold, obs >= threshold
    table = contingency(f, o, valid, dim)
    return xr.Dataset(dict(pod=pod(table), far=far(table), hss=hss(table), tss=tss(table))).merge(
        table
    )


def score(
    forecast: xr.Dataset,
    observed: xr.Dataset | xr.DataArray,
    name: str,
    *,
    persistence: xr.Dataset | None = None,
    thresholds: tuple[float, ...] | None = None,
) -> xr.Dataset:
    """All metrics of ``forecast[name]`` against hourly ``observed``, per ``lead_time``.

    Parameters
    ----------
    forecast
        Forecast dataset (:mod:`forecasting.schema`).
    observed
        Hourly observations labelled by interval start (dataset holding ``name`` or DataArray).
    name
        Target (``dst`` or ``kp``).
    persistence
        A persistence forecast on the same ``init_time``/``lead_time`` for
        ``skill_vs_persistence`` (NaN without it).
    thresholds
        Event thresholds (default :data:`EVENT_THRESHOLDS`); Dst events are ``<=``.

    Returns
    -------
    xr.Dataset
        ``rmse, mae, r, pe, skill_vs_persistence, crps, coverage_80, n`` on ``lead_time``;
        ``pinball`` on ``(quantile, lead_time)``; ``pod, far, hss, tss`` and the table
        counts on ``(threshold, lead_time)``.
    """
    if name not in forecast:
        raise ValueError(f"forecast has no {name!r} (it has {sorted(forecast.data_vars)})")
    q = forecast[name].transpose("init_time", "lead_time", "quantile")
    obs = timeconv.observed_for(forecast, observed, name)
    med = schema.median(forecast, name).drop_vars("quantile", errors="ignore")
    p, o = _both(med, obs)
    out = xr.Dataset(
        dict(
            rmse=rmse(med, obs),
            mae=mae(med, obs),
            r=pearson_r(med, obs),
            pe=prediction_efficiency(med, obs),
            crps=crps_quantile(q, obs),
            coverage_80=interval_coverage(q, obs, 0.1, 0.9),
            n=np.isfinite(p).sum(DIM).astype(float),
            pinball=pinball_loss(q, obs),
        )
    )
    if persistence is not None and name in persistence:
        pmed = schema.median(persistence, name).drop_vars("quantile", errors="ignore")
        pmed = pmed.reindex_like(med)
        out["skill_vs_persistence"] = skill_vs_persistence(med, obs, pmed)
    else:
        out["skill_vs_persistence"] = xr.full_like(out["rmse"], np.nan)
    thr = thresholds if thresholds is not None else EVENT_THRESHOLDS.get(name, ())
    if thr:
        ev = [event_scores(med, obs, t, below=(name == "dst")) for t in thr]
        out = out.merge(xr.concat(ev, dim=pd.Index(list(thr), name="threshold")))
    out = out.drop_vars(["valid_time"], errors="ignore")
    out.attrs.update(
        model=forecast.attrs.get("model", ""),
        target=name,
        crps_method="2 x mean pinball loss over the forecast quantile levels",
        event_rule="median beyond threshold (Dst <=, Kp >=)",
    )
    return out


def storm_peak_errors(
    forecast: xr.Dataset,
    observed: xr.Dataset | xr.DataArray,
    storms: pd.DataFrame,
    name: str = "dst",
    *,
    pad: str = "24h",
) -> xr.Dataset:
    """Peak-Dst and peak-timing error per storm and lead.

    For each lead L the median forecasts at fixed lead form a series over their target hours
    (``init + L - 1 h``); inside ``[start - pad, end + pad]`` its minimum (maximum for Kp) is the
    forecast peak. Errors are forecast minus observed (``storms.peak_dst``/``peak_time``
    from :func:`forecasting.storms.find_storms`); the forecast's own peak is compared with
    the observed minimum in the same window and same hours, so hours without a forecast
    do not count.

    Returns
    -------
    xr.Dataset
        ``peak_error`` [nT], ``timing_error`` [h], ``observed_peak``, ``forecast_peak`` on
        ``(storm, lead_time)``.
    """
    med = schema.median(forecast, name).transpose("init_time", "lead_time")
    obs = timeconv.observed_for(forecast, observed, name)
    labels = timeconv.target_labels(forecast["init_time"].values, forecast["lead_time"].values)
    pad_td = pd.Timedelta(pad).to_timedelta64()
    names = (
        list(storms["name"])
        if "name" in storms
        else [pd.Timestamp(t).strftime("%Y-%m-%d") for t in storms["peak_time"]]
    )
    n_s, n_l = len(storms), forecast.sizes["lead_time"]
    res = {
        k: np.full((n_s, n_l), np.nan)
        for k in ("peak_error", "timing_error", "observed_peak", "forecast_peak")
    }
    pick = np.nanargmin if name == "dst" else np.nanargmax
    for i, (_, st) in enumerate(storms.iterrows()):
        lo = np.datetime64(pd.Timestamp(st["start"])) - pad_td
        hi = np.datetime64(pd.Timestamp(st["end"])) + pad_td
        for j in range(n_l):
            lab = labels[:, j]
            f, o = med.values[:, j], obs.values[:, j]
            m = (lab >= lo) & (lab <= hi) & np.isfinite(f) & np.isfinite(o)
            if not m.any():
                continue
            kf, ko = pick(f[m]), pick(o[m])
            res["forecast_peak"][i, j] = f[m][kf]
            res["observed_peak"][i, j] = o[m][ko]
            res["peak_error"][i, j] = f[m][kf] - o[m][ko]
            res["timing_error"][i, j] = (lab[m][kf] - lab[m][ko]) / np.timedelta64(1, "h")
    coords = {"storm": names, "lead_time": forecast["lead_time"].values}
    units = {"peak_error": "nT", "timing_error": "h", "observed_peak": "nT", "forecast_peak": "nT"}
    return xr.Dataset(
        {k: (("storm", "lead_time"), v, {"units": units[k]}) for k, v in res.items()}, coords=coords
    )
