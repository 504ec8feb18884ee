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
* Storm time (issue 9): issue times within 24 h of an hour with observed Dst <= -100 nT
  (:func:`storm_time`); two models are compared on the pairs where both forecast
  (:func:`paired_scores`, :func:`common_pairs`).
* Pooled sums (:func:`pooled_sums`, :func:`metrics_from_sums`): additive sums per lead from
  which RMSE, MAE, bias, r, CRPS, coverage and skill of any union of samples are exact (the
  rolling scorecard, :mod:`forecasting.verification.scorecard`).
* Event probabilities P(Kp >= 5..9), P(Dst <= -50/-100/-250) (:data:`DECISION_EVENTS`) from
  the quantiles (:func:`event_probability`); Brier score BS = mean (p - o)^2 (Brier 1950);
  Brier skill score BSS = 1 - BS / BS_clim against a constant climatological frequency;
  reliability table: mean forecast probability and observed frequency per probability bin
  (Wilks 2011, section 8.4.4).
* Event decisions: "event" when P >= p*; p* maximises HSS (or TSS) on the validation years
  (:func:`choose_decision_thresholds`), is stored with the model and read back with
  :func:`decision_threshold`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """Root-mean-square error over ``dim``.

    ``sqrt(mean((pred - obs)^2))`` on the pairs where both are finite.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        RMSE in the target's units (nT for Dst); NaN where no pair.
    """
    p, o = _both(pred, obs)
    return np.sqrt(((p - o) ** 2).mean(dim))  # type: ignore[return-value]  # numpy ufunc on a DataArray


def mse(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean squared error over ``dim``, on the pairs where both are finite.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        MSE in the target's units squared (nT^2 for Dst); NaN where no pair.
    """
    p, o = _both(pred, obs)
    return ((p - o) ** 2).mean(dim)


def mae(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean absolute error over ``dim``, on the pairs where both are finite.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        MAE in the target's units (nT for Dst); NaN where no pair.
    """
    p, o = _both(pred, obs)
    return abs(p - o).mean(dim)


def pearson_r(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Pearson correlation over ``dim`` (NaN when either side is constant).

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        r in [-1, 1] (unitless); NaN for a constant forecast (e.g. climatology)
        or observation.
    """
    p, o = _both(pred, obs)
    pa, oa = p - p.mean(dim), o - o.mean(dim)
    sp, so = (pa**2).sum(dim), (oa**2).sum(dim)
    den = np.sqrt(sp * so)
    # a constant forecast (e.g. climatology) has no correlation: NaN, not rounding noise
    varies = sp > 1e-10 * (p**2).sum(dim)
    return (pa * oa).sum(dim) / den.where((den > 0) & varies)  # type: ignore[attr-defined]  # numpy ufunc on a DataArray


def prediction_efficiency(pred: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """``1 - MSE / var(obs)`` on the paired samples (1 perfect, 0 = climatological mean).

    The prediction efficiency used for Dst models (e.g. Temerin & Li 2002); ``var(obs)`` is
    the variance of the paired observations about their own mean.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        PE (unitless, <= 1); NaN where the observations do not vary.
    """
    p, o = _both(pred, obs)
    var = ((o - o.mean(dim)) ** 2).mean(dim)
    return 1 - ((p - o) ** 2).mean(dim) / var.where(var > 0)


def skill_vs_persistence(
    pred: xr.DataArray, obs: xr.DataArray, persistence: xr.DataArray, dim: str = DIM
) -> xr.DataArray:
    """``1 - MSE / MSE_persistence`` on samples where all three are finite.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    persistence : xr.DataArray
        The persistence forecast (last known value) on the same coordinates, same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        Skill (unitless, 1 perfect, 0 as good as persistence, < 0 worse); NaN
        where persistence is exact or no sample is complete.
    """
    pred, obs, persistence = xr.align(pred, obs, persistence, join="exact")
    ok = np.isfinite(pred) & np.isfinite(obs) & np.isfinite(persistence)
    m = ((pred - obs) ** 2).where(ok).mean(dim)
    mp = ((persistence - obs) ** 2).where(ok).mean(dim)
    return 1 - m / mp.where(mp > 0)


def pinball_loss(quantiles: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean pinball loss per quantile level over ``dim`` (keeps ``quantile``).

    ``max(tau (y - q), (tau - 1) (y - q))`` (Koenker & Bassett 1978), averaged over the
    samples where the observation and every quantile of the sample are finite.

    Parameters
    ----------
    quantiles : xr.DataArray
        Quantile forecast with a ``quantile`` dim (levels in (0, 1)) besides those of
        ``obs``, in the target's units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the other coordinates of ``quantiles``, same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        Loss in the target's units on ``quantile`` and the kept dims.
    """
    tau = quantiles["quantile"]
    q, o = xr.broadcast(quantiles, obs)
    ok = np.isfinite(q) & np.isfinite(o) & np.isfinite(quantiles).all("quantile")  # type: ignore[call-overload]  # numpy ufunc on a DataArray
    diff = o - q
    loss = np.maximum(tau * diff, (tau - 1) * diff)
    return loss.where(ok).mean(dim)  # type: ignore[union-attr]  # numpy ufunc on a DataArray


def crps_quantile(quantiles: xr.DataArray, obs: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """CRPS approximated as twice the mean pinball loss over the quantile levels.

    ``CRPS ~ (2 / K) sum_k pinball_tau_k`` (Gneiting & Raftery 2007, eq. 17 discretised;
    Bracher et al. 2021); with few levels a coarse approximation, comparable only between
    forecasts with the same levels.

    Parameters
    ----------
    quantiles : xr.DataArray
        Quantile forecast with a ``quantile`` dim (levels in (0, 1)) besides those of
        ``obs``, in the target's units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the other coordinates of ``quantiles``, same units.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        CRPS in the target's units (nT for Dst), ``quantile`` reduced.
    """
    return 2 * pinball_loss(quantiles, obs, dim).mean("quantile")


def interval_coverage(
    quantiles: xr.DataArray,
    obs: xr.DataArray,
    lower: float = 0.1,
    upper: float = 0.9,
    dim: str = DIM,
) -> xr.DataArray:
    """Fraction of observations within ``[q_lower, q_upper]`` (0.1-0.9: nominal 80 %).

    Parameters
    ----------
    quantiles : xr.DataArray
        Quantile forecast with a ``quantile`` dim (levels in (0, 1)) besides those of
        ``obs``, in the target's units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the other coordinates of ``quantiles``, same units.
    lower, upper : float
        Quantile levels of the interval bounds; the nearest forecast levels are used.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        Coverage in [0, 1] (unitless) on the pairs where both bounds and the
        observation are finite; compare with ``upper - lower``.
    """
    lo = quantiles.sel(quantile=lower, method="nearest", drop=True)
    hi = quantiles.sel(quantile=upper, method="nearest", drop=True)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(obs)
    inside = ((obs >= lo) & (obs <= hi)).astype(float)
    return inside.where(ok).mean(dim)


def contingency(
    fc_event: xr.DataArray, obs_event: xr.DataArray, valid: xr.DataArray, dim: str = DIM
) -> xr.Dataset:
    """2x2 table counts (``hits, false_alarms, misses, correct_negatives``) over ``dim``.

    Parameters
    ----------
    fc_event : xr.DataArray
        True where the forecast says "event" (cast to bool).
    obs_event : xr.DataArray
        True where the event was observed.
    valid : xr.DataArray
        True where the pair counts (both forecast and observation finite).
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.Dataset
        ``hits`` (a), ``false_alarms`` (b), ``misses`` (c), ``correct_negatives`` (d)
        as float counts over the kept dims.
    """
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


def _ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    return num / den.where(den > 0)


def pod(table: xr.Dataset) -> xr.DataArray:
    """Probability of detection a/(a+c) (Wilks 2011, section 8.2).

    Parameters
    ----------
    table : xr.Dataset
        Counts ``hits`` (a), ``false_alarms`` (b), ``misses`` (c), ``correct_negatives``
        (d) from :func:`contingency`.

    Returns
    -------
    xr.DataArray
        POD in [0, 1]; NaN where no event was observed.
    """
    return _ratio(table.hits, table.hits + table.misses)


def far(table: xr.Dataset) -> xr.DataArray:
    """False alarm ratio b/(a+b) (Wilks 2011, section 8.2).

    Parameters
    ----------
    table : xr.Dataset
        Counts ``hits`` (a), ``false_alarms`` (b), ``misses`` (c), ``correct_negatives``
        (d) from :func:`contingency`.

    Returns
    -------
    xr.DataArray
        FAR in [0, 1]; NaN where no event was forecast.
    """
    return _ratio(table.false_alarms, table.hits + table.false_alarms)


def hss(table: xr.Dataset) -> xr.DataArray:
    """Heidke skill score 2(ad - bc)/((a+c)(c+d) + (a+b)(b+d)).

    Proportion correct relative to random chance (Heidke 1926; Wilks 2011, section 8.2).

    Parameters
    ----------
    table : xr.Dataset
        Counts ``hits`` (a), ``false_alarms`` (b), ``misses`` (c), ``correct_negatives``
        (d) from :func:`contingency`.

    Returns
    -------
    xr.DataArray
        HSS in [-1, 1] (1 perfect, 0 no better than chance); NaN when undefined.
    """
    a, b, c, d = table.hits, table.false_alarms, table.misses, table.correct_negatives
    return _ratio(2 * (a * d - b * c), (a + c) * (c + d) + (a + b) * (b + d))


def tss(table: xr.Dataset) -> xr.DataArray:
    """True skill statistic (Hanssen-Kuipers) a/(a+c) - b/(b+d).

    POD minus the probability of false detection (Hanssen & Kuipers 1965; Peirce 1884);
    unlike HSS it does not depend on the event base rate.

    Parameters
    ----------
    table : xr.Dataset
        Counts ``hits`` (a), ``false_alarms`` (b), ``misses`` (c), ``correct_negatives``
        (d) from :func:`contingency`.

    Returns
    -------
    xr.DataArray
        TSS in [-1, 1] (1 perfect, 0 no skill); NaN when no event or no non-event was
        observed.
    """
    a, b, c, d = table.hits, table.false_alarms, table.misses, table.correct_negatives
    return _ratio(a, a + c) - _ratio(b, b + d)


def event_scores(
    pred: xr.DataArray, obs: xr.DataArray, threshold: float, *, below: bool, dim: str = DIM
) -> xr.Dataset:
    """POD, FAR, HSS, TSS and the table for the event ``value <= threshold`` (below) or ``>=``.

    A deterministic event forecast: the point forecast beyond the threshold.

    Parameters
    ----------
    pred : xr.DataArray
        Point forecast (the median), e.g. on ``(init_time, lead_time)``, in the target's
        units (Dst [nT], Kp).
    obs : xr.DataArray
        Observations on the same coordinates (aligned with
        :func:`data_sources.timeconv.observed_for`; ``join="exact"``), same units.
    threshold : float
        Event level in the target's units (e.g. -100 nT, Kp 5).
    below : bool
        True: event is ``value <= threshold`` (Dst); False: ``value >= threshold`` (Kp).
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.Dataset
        ``pod, far, hss, tss`` and the :func:`contingency` counts over the kept dims.
    """
    valid = np.isfinite(pred) & np.isfinite(obs)
    if below:
        f, o = pred <= threshold, obs <= threshold
    else:
        f, o = pred >= threshold, obs >= threshold
    table = contingency(f, o, valid, dim)  # type: ignore[arg-type]  # numpy ufunc on a DataArray
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
        raise ValueError(
            f"forecast has no {name!r} (it has {sorted(map(str, forecast.data_vars))})"
        )
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
            n=np.isfinite(p).sum(DIM).astype(float),  # type: ignore[arg-type]  # numpy ufunc on a DataArray
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

    Parameters
    ----------
    forecast : xr.Dataset
        Forecast dataset (:mod:`forecasting.schema`) holding ``name``.
    observed : xr.Dataset or xr.DataArray
        Hourly observations labelled by interval start (naive UTC).
    storms : pd.DataFrame
        Storm catalog with ``start``, ``end`` (and ``name``; else the peak date names the
        storm), e.g. :func:`forecasting.storms.storm_catalog`.
    name : str
        Target: ``dst`` [nT] (peak = minimum) or ``kp`` (peak = maximum).
    pad : str
        Widening of each storm window on both sides (pandas offset, ``"24h"``).

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


# --------------------------------------------------------------------------- storm time
def storm_time(
    init_time: np.ndarray | pd.DatetimeIndex,
    observed: xr.Dataset | xr.DataArray,
    *,
    threshold: float = -100.0,
    window: str = "24h",
) -> xr.DataArray:
    """Which issue times are storm time.

    Storm time is every issue time within ``window`` (either side) of an hour whose observed
    Dst is at or below ``threshold`` (issue 9: +-24 h of an hour with Dst <= -100 nT).

    Parameters
    ----------
    init_time
        Issue times.
    observed
        Hourly observations holding ``dst`` [nT], labelled by interval start.
    threshold
        Storm level [nT].
    window
        Half-width of the window around each storm hour (pandas offset).

    Returns
    -------
    xr.DataArray
        Boolean on ``init_time``.
    """
    dst = observed["dst"] if isinstance(observed, xr.Dataset) else observed
    init = pd.DatetimeIndex(init_time)
    hours = pd.DatetimeIndex(dst["time"].values)
    storm_hours = hours[(dst.values <= threshold)]
    half = pd.Timedelta(window).to_timedelta64()
    if len(storm_hours) == 0 or len(init) == 0:
        flag = np.zeros(len(init), dtype=bool)
    else:
        s = np.sort(storm_hours.values)
        lo = np.searchsorted(s, init.values - half, side="left")
        hi = np.searchsorted(s, init.values + half, side="right")
        flag = hi > lo
    return xr.DataArray(flag, dims=DIM, coords={DIM: init.values}, name="storm_time")


# --------------------------------------------------------------------------- pooled sums
#: additive sums per lead from which RMSE, MAE, bias, r, CRPS, coverage and skill are exact
SUM_FIELDS: tuple[str, ...] = (
    "n",
    "sum_err",
    "sum_sq_err",
    "sum_abs_err",
    "sum_pred",
    "sum_obs",
    "sum_pred_sq",
    "sum_obs_sq",
    "sum_pred_obs",
    "sum_crps",
    "sum_inside_80",
    "n_ref",
    "sum_sq_err_common",
    "sum_sq_err_ref",
)


def pooled_sums(
    forecast: xr.Dataset,
    observed: xr.Dataset | xr.DataArray,
    name: str,
    *,
    persistence: xr.Dataset | None = None,
) -> xr.Dataset:
    """Additive error sums of ``forecast[name]`` per ``lead_time`` (see :data:`SUM_FIELDS`).

    Sums add across days, so a rolling scorecard pooled from them equals the score of all its
    pairs at once (averaging daily RMSEs or correlations would not).

    Parameters
    ----------
    forecast
        Forecast dataset (:mod:`forecasting.schema`).
    observed
        Hourly observations (labelled by interval start).
    name
        Target (``dst`` [nT] or ``kp``).
    persistence
        Reference forecast on the same issue times, for ``skill_vs_persistence``.

    Returns
    -------
    xr.Dataset
        One variable per :data:`SUM_FIELDS` on ``lead_time`` (units of the target, squared
        where the name says ``sq``).
    """
    q = forecast[name].transpose(DIM, "lead_time", "quantile")
    obs = timeconv.observed_for(forecast, observed, name)
    med = schema.median(forecast, name).drop_vars("quantile", errors="ignore")
    ok = np.isfinite(med) & np.isfinite(obs) & np.isfinite(q).all("quantile")  # type: ignore[call-overload]  # numpy ufunc on a DataArray
    p, o = med.where(ok), obs.where(ok)
    e = p - o
    tau = q["quantile"]
    diff = obs - q
    crps = 2 * np.maximum(tau * diff, (tau - 1) * diff).mean("quantile")  # type: ignore[arg-type]  # numpy ufunc on a DataArray
    lo = q.sel(quantile=0.1, method="nearest", drop=True)
    hi = q.sel(quantile=0.9, method="nearest", drop=True)
    inside = ((obs >= lo) & (obs <= hi)).astype(float)
    out = {
        "n": ok.sum(DIM).astype(float),
        "sum_err": e.sum(DIM),
        "sum_sq_err": (e**2).sum(DIM),
        "sum_abs_err": abs(e).sum(DIM),
        "sum_pred": p.sum(DIM),
        "sum_obs": o.sum(DIM),
        "sum_pred_sq": (p**2).sum(DIM),
        "sum_obs_sq": (o**2).sum(DIM),
        "sum_pred_obs": (p * o).sum(DIM),
        "sum_crps": crps.where(ok).sum(DIM),
        "sum_inside_80": inside.where(ok).sum(DIM),
    }
    zero = xr.zeros_like(out["n"])
    out.update(n_ref=zero, sum_sq_err_common=zero, sum_sq_err_ref=zero)
    if persistence is not None and name in persistence:
        ref = schema.median(persistence, name).drop_vars("quantile", errors="ignore")
        ref = ref.reindex_like(med)
        both = ok & np.isfinite(ref)
        out["n_ref"] = both.sum(DIM).astype(float)
        out["sum_sq_err_common"] = ((med - obs) ** 2).where(both).sum(DIM)
        out["sum_sq_err_ref"] = ((ref - obs) ** 2).where(both).sum(DIM)
    ds = xr.Dataset(out).drop_vars(["valid_time"], errors="ignore")
    return ds.astype(float)


def metrics_from_sums(sums: xr.Dataset | pd.DataFrame) -> xr.Dataset | pd.DataFrame:
    """RMSE, MAE, bias, r, CRPS, coverage_80 and skill_vs_persistence from :func:`pooled_sums`.

    Parameters
    ----------
    sums
        The sums (any dims, or a DataFrame with the :data:`SUM_FIELDS` columns), already
        added over whatever is pooled.

    Returns
    -------
    xr.Dataset or pandas.DataFrame
        ``rmse, mae, bias, r, crps, coverage_80, skill_vs_persistence, n`` (NaN where
        undefined: no pairs, a constant series, or no reference pairs).
    """

    def div(a: Any, b: Any) -> Any:
        b = b.astype(float)
        return a / b.where(b > 0)

    n = sums["n"]
    mp, mo = div(sums["sum_pred"], n), div(sums["sum_obs"], n)
    cov = div(sums["sum_pred_obs"], n) - mp * mo
    vp = div(sums["sum_pred_sq"], n) - mp**2
    vo = div(sums["sum_obs_sq"], n) - mo**2
    # a constant series (climatology) has no correlation; guard the rounding noise of vp
    scale_p = div(sums["sum_pred_sq"], n)
    den = np.sqrt((vp * vo).where((vp > 1e-10 * scale_p) & (vo > 0)))
    out = {
        "rmse": np.sqrt(div(sums["sum_sq_err"], n)),
        "mae": div(sums["sum_abs_err"], n),
        "bias": div(sums["sum_err"], n),
        "r": cov / den,
        "crps": div(sums["sum_crps"], n),
        "coverage_80": div(sums["sum_inside_80"], n),
        "skill_vs_persistence": 1 - div(sums["sum_sq_err_common"], sums["sum_sq_err_ref"]),
        "n": n,
    }
    if isinstance(sums, pd.DataFrame):
        return pd.DataFrame(out, index=sums.index)
    return xr.Dataset(out)


# --------------------------------------------------------------------------- probabilities
@dataclass(frozen=True)
class Event:
    """A storm event: ``target`` beyond ``threshold`` (Dst ``<=``, Kp ``>=``).

    Attributes
    ----------
    target
        ``dst`` [nT] or ``kp``.
    threshold
        Event level in the target's units.
    """

    target: str
    threshold: float

    def __post_init__(self) -> None:
        """Check ``target`` is ``dst`` or ``kp``."""
        if self.target not in ("dst", "kp"):
            raise ValueError(f"Event target {self.target!r}: use 'dst' or 'kp'")

    @property
    def below(self) -> bool:
        """True for Dst (``value <= threshold``)."""
        return self.target == "dst"

    @property
    def name(self) -> str:
        """``dst<=-100``, ``kp>=5``, ``kp>=7.67`` (G4)."""
        return schema.event_name(self.target, self.threshold, self.below)

    def occurred(self, values: xr.DataArray) -> xr.DataArray:
        """``values`` beyond the threshold (False where NaN).

        Parameters
        ----------
        values : xr.DataArray
            Observed or forecast values of :attr:`target` (Dst [nT], Kp).

        Returns
        -------
        xr.DataArray
            Boolean, same shape (:func:`forecasting.schema.exceeds`: ``<=`` for Dst, ``>=`` with
            the Kp-thirds tolerance for Kp).
        """
        return schema.exceeds(self.target, values, self.threshold)

    @classmethod
    def parse(cls, name: str) -> Event:
        """The event named like :attr:`name` (``kp>=5``, ``dst<=-100``).

        Parameters
        ----------
        name : str
            ``<target><op><threshold>``, op ``<=`` for Dst and ``>=`` for Kp; spaces are
            ignored. A name of a :data:`DECISION_EVENTS` entry returns that entry (so
            ``kp>=7.67`` is exactly 23/3, G4).

        Returns
        -------
        Event
            The event.

        Raises
        ------
        ValueError
            If ``name`` has no operator or the operator does not fit the target.
        """
        for op in ("<=", ">="):
            if op in name:
                target, thr = name.replace(" ", "").split(op, 1)
                ev = cls(target, float(thr))
                if ev.below == (op == "<="):
                    # snap to the defined level (G4 is Kp 7+ = 23/3, named 7.67)
                    return next((d for d in DECISION_EVENTS if d.name == ev.name), ev)
        raise ValueError(f"event {name!r}: write it as 'kp>=5' or 'dst<=-100'")


#: the decision events of issue 9: P(Kp >= 5..9) (G1..G5) and P(Dst <= -50 / -100 / -250 nT)
DECISION_EVENTS: tuple[Event, ...] = tuple(Event("kp", t) for t in schema.KP_THRESHOLDS) + tuple(
    Event("dst", t) for t in schema.DST_THRESHOLDS
)
#: the events whose Brier skill and reliability the skill report shows: P(G1) (Kp >= 5-, the
#: G scale in thirds of :data:`forecasting.schema.G_SCALE`) and P(Dst <= -100 nT)
PROBABILITY_EVENTS: tuple[Event, ...] = (Event("kp", schema.G_SCALE["G1"]), Event("dst", -100.0))


def event_probability(
    forecast: xr.Dataset, event: Event, *, recalibrate: bool = True
) -> xr.DataArray:
    """P(event) per ``(init_time, lead_time)`` from the forecast quantiles.

    Uses :func:`forecasting.schema.exceedance_probability` (CDF linear between quantiles,
    then the model's per-lead event recalibration when the forecast carries one).

    Parameters
    ----------
    forecast : xr.Dataset
        Forecast dataset (:mod:`forecasting.schema`) holding ``event.target``.
    event : Event
        The event (e.g. ``Event("kp", 5.0)``, ``Event("dst", -100.0)``).
    recalibrate : bool
        False: the quantiles' own probability, before the event recalibration (the
        decision score of the alert rules, see :func:`choose_decision_thresholds`).

    Returns
    -------
    xr.DataArray
        Probability [1] on ``(init_time, lead_time)``.
    """
    return schema.exceedance_probability(
        forecast, event.target, event.threshold, below=event.below, recalibrate=recalibrate
    )


def brier_score(prob: xr.DataArray, occurred: xr.DataArray, dim: str = DIM) -> xr.DataArray:
    """Mean of ``(p - o)^2`` over ``dim`` (Brier 1950) on the pairs where both are finite.

    Parameters
    ----------
    prob : xr.DataArray
        Forecast probabilities [1].
    occurred : xr.DataArray
        Outcomes on the same coordinates: 1.0 (or True) event, 0.0 none, NaN unknown.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        Brier score in [0, 1] (0 perfect); NaN where no pair.
    """
    o = occurred.astype(float).where(np.isfinite(occurred.astype(float)))
    p, o = _both(prob, o)
    return ((p - o) ** 2).mean(dim)


def brier_skill_score(
    prob: xr.DataArray, occurred: xr.DataArray, base_rate: float, dim: str = DIM
) -> xr.DataArray:
    """``1 - BS / BS_clim``: Brier skill against a constant climatological probability.

    Parameters
    ----------
    prob
        Forecast probabilities [1].
    occurred
        1.0 where the event happened, 0.0 where not, NaN unknown.
    base_rate
        Climatological event frequency [1] (e.g. from the training years), the reference
        forecast.
    dim
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.DataArray
        BSS (1 perfect, 0 no better than climatology, < 0 worse) over ``dim``.
    """
    if not 0.0 <= base_rate <= 1.0:
        raise ValueError(f"base_rate={base_rate} must be a probability in [0, 1]")
    p, o = _both(prob, occurred.astype(float))
    bs = ((p - o) ** 2).mean(dim)
    ref = ((base_rate - o) ** 2).mean(dim)
    return 1 - bs / ref.where(ref > 0)


def reliability_table(
    prob: xr.DataArray, occurred: xr.DataArray, *, bins: int = 10, dim: str = DIM
) -> xr.Dataset:
    """Reliability (attributes) table: per probability bin, mean forecast and observed frequency.

    Parameters
    ----------
    prob, occurred
        Forecast probabilities [1] and outcomes (1/0/NaN) on ``dim`` (and other dims, kept).
    bins
        Number of equal-width probability bins on [0, 1].
    dim
        Dimension pooled within each bin (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.Dataset
        ``forecast_probability``, ``observed_frequency`` [1] and ``count`` on
        ``(prob_bin, ...)``; ``prob_bin`` holds the bin centres, ``prob_bin_bounds`` the edges.
    """
    p, o = _both(prob, occurred.astype(float))
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p.values, edges[1:-1]), 0, bins - 1)
    fp, of, cnt = [], [], []
    for b in range(bins):
        m = (idx == b) & np.isfinite(p.values)
        sel = xr.DataArray(m, dims=p.dims, coords=p.coords)
        c = sel.sum(dim).astype(float)
        cnt.append(c)
        fp.append(p.where(sel).sum(dim) / c.where(c > 0))
        of.append(o.where(sel).sum(dim) / c.where(c > 0))
    centres = (edges[:-1] + edges[1:]) / 2
    index = pd.Index(centres, name="prob_bin")
    out = xr.Dataset(
        dict(
            forecast_probability=xr.concat(fp, index),
            observed_frequency=xr.concat(of, index),
            count=xr.concat(cnt, index),
        )
    )
    out["prob_bin_bounds"] = (("prob_bin", "nv"), np.stack([edges[:-1], edges[1:]], axis=1))
    return out.drop_vars(["valid_time", "quantile"], errors="ignore")


def decision_scores(
    prob: xr.DataArray, occurred: xr.DataArray, threshold: float, dim: str = DIM
) -> xr.Dataset:
    """POD, FAR, HSS, TSS and the 2x2 table of the decision ``prob >= threshold``.

    Parameters
    ----------
    prob : xr.DataArray
        Forecast probabilities [1] of the event.
    occurred : xr.DataArray
        Outcomes on the same coordinates: 1.0 event (``> 0.5`` counts), 0.0 none, NaN
        unknown (not counted).
    threshold : float
        Decision probability p* [1]: "event" when ``prob >= threshold``.
    dim : str
        Dimension averaged over (default ``init_time``); other dims are kept.

    Returns
    -------
    xr.Dataset
        ``pod, far, hss, tss`` and the :func:`contingency` counts over the kept dims.
    """
    o = occurred.astype(float)
    valid = np.isfinite(prob) & np.isfinite(o)
    table = contingency(prob >= threshold, o > 0.5, valid, dim)  # type: ignore[arg-type]  # numpy ufunc on a DataArray
    return xr.Dataset(dict(pod=pod(table), far=far(table), hss=hss(table), tss=tss(table))).merge(
        table
    )


#: candidate decision probabilities searched by :func:`choose_decision_threshold`
CANDIDATE_PROBABILITIES: np.ndarray = np.concatenate(
    [[0.001, 0.002, 0.005, 0.01, 0.015], np.round(np.arange(0.02, 0.981, 0.01), 2)]
)


def choose_decision_threshold(
    prob: xr.DataArray,
    occurred: xr.DataArray,
    *,
    criterion: str = "hss",
    candidates: np.ndarray = CANDIDATE_PROBABILITIES,
) -> dict:
    """The decision probability that maximises HSS or TSS, pooled over all pairs.

    Choose it on the validation years only (never the test years).

    Parameters
    ----------
    prob, occurred
        Forecast probabilities [1] and outcomes (1/0/NaN), any dims (all pooled).
    criterion
        ``hss`` or ``tss``.
    candidates
        Probabilities tried.

    Returns
    -------
    dict
        ``threshold`` (None when the event never occurred or never was forecast, so no
        threshold can be chosen), ``criterion``, ``score`` (the maximum), ``events``
        (observed event count), ``n`` (pairs), and ``no_skill`` True when no candidate
        scores above 0 (the forecast never rises to any candidate when the event happens).
    """
    if criterion not in ("hss", "tss"):
        raise ValueError(f"criterion={criterion!r}: use 'hss' or 'tss'")
    p = np.asarray(prob, dtype=float).ravel()
    o = np.asarray(occurred, dtype=float).ravel()
    ok = np.isfinite(p) & np.isfinite(o)
    p, o = p[ok], o[ok] > 0.5
    info = {"criterion": criterion, "events": int(o.sum()), "n": int(len(o))}
    if o.sum() == 0 or (~o).sum() == 0:
        return {**info, "threshold": None, "score": None}
    f = p[None, :] >= np.asarray(candidates)[:, None]
    a = (f & o).sum(1).astype(float)
    b = (f & ~o).sum(1).astype(float)
    c = (~f & o).sum(1).astype(float)
    d = (~f & ~o).sum(1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if criterion == "hss":
            s = 2 * (a * d - b * c) / ((a + c) * (c + d) + (a + b) * (b + d))
        else:
            s = a / (a + c) - b / (b + d)
    if not np.isfinite(s).any():
        return {**info, "threshold": None, "score": None}
    k = int(np.nanargmax(s))
    out = {**info, "threshold": float(candidates[k]), "score": float(s[k])}
    if s[k] <= 0:
        out["no_skill"] = True  # no threshold beats chance: the lowest tried is kept, flagged
    return out


#: what the decision probabilities are chosen on and compared with
DECISION_SCORE = "quantile probability before the per-lead event recalibration"


def choose_decision_thresholds(
    forecast: xr.Dataset,
    observed: xr.Dataset,
    *,
    events: tuple[Event, ...] = DECISION_EVENTS,
    criterion: str = "hss",
) -> dict[str, dict]:
    """:func:`choose_decision_threshold` for every event the forecast covers.

    The threshold is chosen on the quantiles' own probability, before the per-lead event
    recalibration (:data:`DECISION_SCORE`): that recalibration is monotone per lead, so
    "raw probability >= p*" is "recalibrated probability >= the lead's image of p*", one
    threshold that suits every lead; a single threshold on the recalibrated probabilities,
    which shrink toward the base rate at long leads, cost the short leads skill (validation
    2013-2014, P(G1) HSS at 1/3 h 0.43/0.34 -> 0.30/0.24).

    The events of a target are chosen from the least severe up, each among the candidates at
    or above the threshold of the nearest less severe event that has skill (``floor`` in
    its choice), so the thresholds never fall with severity and the decisions are nested
    (:func:`_choose_above`).

    An event that never occurred in ``observed`` (e.g. Kp >= 9 in quiet validation years)
    gets ``threshold`` None and ``basis`` naming the less severe event whose threshold
    :func:`decision_threshold` uses instead, so nothing falls back silently.

    Parameters
    ----------
    forecast : xr.Dataset
        Forecasts on the validation years (:mod:`forecasting.schema`).
    observed : xr.Dataset
        Hourly observations holding the event targets (``kp``, ``dst`` [nT]); events whose
        target is missing from ``forecast`` or ``observed`` are skipped.
    events : tuple of Event
        Events to choose for (default :data:`DECISION_EVENTS`, G1..G5 and Dst -50/-100/-250
        nT).
    criterion : str
        ``hss`` or ``tss``: the score maximised.

    Returns
    -------
    dict
        Event name (:attr:`Event.name`) -> the choice.
    """
    out: dict[str, dict] = {}
    for target in dict.fromkeys(e.target for e in events):
        if target not in forecast or target not in observed:
            continue
        obs = timeconv.observed_for(forecast, observed, target)
        floor: tuple[str, float] | None = None  # (less severe event, its threshold)
        last = None  # the nearest less severe event with a threshold
        for ev in sorted(
            (e for e in events if e.target == target),
            key=lambda e: schema.severity(e.threshold, e.below),
        ):
            occ = ev.occurred(obs).astype(float).where(np.isfinite(obs))
            choice = _choose_above(
                event_probability(forecast, ev, recalibrate=False), occ, criterion, floor
            )
            choice["on"] = DECISION_SCORE
            choice["basis"] = "validation years" if choice["threshold"] is not None else None
            if choice["threshold"] is None and last is not None:
                # an unchosen event inherits the nearest less severe event's threshold
                choice["inherited_from"] = last
                choice["basis"] = f"no {ev.name} pairs to choose on: the threshold of {last}"
            elif choice["threshold"] is not None:
                last = ev.name
                if not choice.get("no_skill"):
                    floor = (ev.name, choice["threshold"])
            out[ev.name] = choice
    return out


def _choose_above(
    prob: xr.DataArray, occurred: xr.DataArray, criterion: str, floor: tuple[str, float] | None
) -> dict:
    """:func:`choose_decision_threshold` among the candidates >= the less severe event's.

    Probabilities from the quantiles never rise with severity (P(Kp >= 6-) <= P(Kp >= 5-)),
    so a decision probability that never falls with severity makes the decisions nested: a
    G2 decision always comes with the G1 decision. Chosen level by level, each alone, they
    were not (the demo's quick model: G1 0.40, G2 0.22, G3 0.54), so a watch could name G2
    where the G1 rule, at the same issue time, decided nothing. The choice without the floor
    is recorded as ``unconstrained`` where it differs.
    """
    choice = choose_decision_threshold(prob, occurred, criterion=criterion)
    if floor is None or choice["threshold"] is None:
        return choice  # None: nothing to choose on, it inherits (choose_decision_thresholds)
    name, low = floor
    if choice["threshold"] < low:  # else the free choice is the best at or above the floor
        free = choice
        above = CANDIDATE_PROBABILITIES[CANDIDATE_PROBABILITIES >= low]
        choice = choose_decision_threshold(prob, occurred, criterion=criterion, candidates=above)
        choice["unconstrained"] = {"threshold": free["threshold"], "score": free["score"]}
    choice["floor"] = {"event": name, "threshold": low}
    return choice


def decision_threshold(model_meta: dict, event: str | Event) -> float:
    """The decision probability for ``event`` stored with a model (its ``metadata.json``).

    Parameters
    ----------
    model_meta
        A model's metadata (``TFTModel.metadata`` or the parsed ``metadata.json``); the
        thresholds live under ``decision_thresholds`` (written by training).
    event
        An :class:`Event` or its name (``kp>=5``, ``dst<=-100``).

    Returns
    -------
    float
        Probability [1]: decide "event" when P(event) >= this.

    Raises
    ------
    ValueError
        When the model has no thresholds (trained before they were stored: retrain it) or
        none for ``event`` and no less severe event to inherit from.
    """
    ev = event if isinstance(event, Event) else Event.parse(event)
    table = model_meta.get("decision_thresholds") or {}
    version = model_meta.get("version", "?")
    if not table:
        raise ValueError(
            f"model {version} stores no decision thresholds; retrain it "
            "(`superstorm train`) so training chooses them on the validation years"
        )
    seen: set[str] = set()
    name = ev.name
    while name in table and name not in seen:
        seen.add(name)
        c = table[name]
        if c.get("threshold") is not None:
            return float(c["threshold"])
        name = c.get("inherited_from") or ""
    raise ValueError(
        f"model {version} has no decision threshold for {ev.name} (known: {sorted(table)})"
    )


def common_pairs(
    forecasts: dict[str, xr.Dataset],
    observed: xr.Dataset | xr.DataArray,
    name: str,
    *,
    init_mask: xr.DataArray | None = None,
) -> dict[str, xr.Dataset]:
    """The forecasts of ``name`` cut to the pairs where ALL of them and the observation exist.

    Parameters
    ----------
    forecasts
        Model name -> forecast dataset (each holding ``name``); issue times are intersected.
    observed
        Hourly observations.
    name
        Target.
    init_mask
        Boolean on ``init_time`` (e.g. :func:`storm_time`); other issue times are dropped.

    Returns
    -------
    dict
        Model name -> forecast of ``name`` only, NaN outside the common pairs.
    """
    if not forecasts:
        raise ValueError("common_pairs needs at least one forecast")
    init = None
    for fc in forecasts.values():
        t = pd.DatetimeIndex(fc["init_time"].values)
        init = t if init is None else init.intersection(t)
    assert init is not None  # forecasts is not empty
    if init_mask is not None:
        keep = init_mask.reindex(init_time=init.values, fill_value=False).values.astype(bool)
        init = init[keep]
    cut = {k: fc[[name]].sel(init_time=init.values) for k, fc in forecasts.items()}
    first = next(iter(cut.values()))
    ok = np.isfinite(timeconv.observed_for(first, observed, name))
    for fc in cut.values():
        ok = ok & np.isfinite(fc[name]).all("quantile")  # type: ignore[call-overload]  # numpy ufunc on a DataArray
    out = {}
    for k, fc in cut.items():
        masked = fc.where(ok)
        masked.attrs = forecasts[k].attrs
        out[k] = masked
    return out


def paired_scores(
    a: xr.Dataset,
    b: xr.Dataset,
    observed: xr.Dataset | xr.DataArray,
    name: str,
    *,
    init_mask: xr.DataArray | None = None,
) -> xr.Dataset:
    """RMSE, MAE, CRPS and coverage_80 of ``a`` and of ``b`` on the pairs where both forecast.

    The storm-time comparison of issue 9: each model pair scored on the hours where both
    forecast (a physics model gives nothing while plasma is missing; the other model is
    scored on the same hours).

    Parameters
    ----------
    a, b : xr.Dataset
        The two forecasts (:mod:`forecasting.schema`) holding ``name``; issue times are
        intersected.
    observed : xr.Dataset or xr.DataArray
        Hourly observations labelled by interval start.
    name : str
        Target (``dst`` [nT] or ``kp``).
    init_mask : xr.DataArray or None
        Boolean on ``init_time`` (e.g. :func:`storm_time`) keeping only those issue
        times; ``None`` keeps all.

    Returns
    -------
    xr.Dataset
        ``{rmse,mae,crps,coverage_80}_a`` / ``_b`` and ``n`` on ``lead_time``.
    """
    both = common_pairs({"a": a, "b": b}, observed, name, init_mask=init_mask)
    out = {}
    for side in ("a", "b"):
        fc = both[side]
        if fc.sizes["init_time"] == 0:
            lead = a["lead_time"]
            nan = xr.DataArray(np.full(lead.size, np.nan), coords={"lead_time": lead})
            for m in ("rmse", "mae", "crps", "coverage_80"):
                out[f"{m}_{side}"] = nan
            out["n"] = xr.zeros_like(nan)
            continue
        s = score(fc, observed, name, thresholds=())
        for m in ("rmse", "mae", "crps", "coverage_80"):
            out[f"{m}_{side}"] = s[m]
        out["n"] = s["n"]
    return xr.Dataset(out).drop_vars(["valid_time", "quantile"], errors="ignore")
