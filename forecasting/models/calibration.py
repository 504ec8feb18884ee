"""Per-lead, per-regime conformal calibration of forecast quantiles.

Conformalized quantile regression (Romano, Patterson & Candes 2019, "Conformalized Quantile
Regression", NeurIPS 32; arXiv:1905.03222), applied one quantile level at a time: for every
target, lead time, quantile level tau and regime, the conformity scores

    s_i = (y_i - q_tau(x_i)) / w_i

of a calibration set (the validation years) give the offset ``c`` = the finite-sample
conformal tau-quantile of ``s`` (Vovk et al. 2005; the ``ceil((n + 1) tau) / n`` level), and
the calibrated quantile is ``q_tau + c w``. By default ``w = 1`` (offsets in target units:
nT, Kp) and the median is left as it is (the point forecast and its RMSE do not change);
``scale="width"`` uses ``w_i = max(q_0.9 - q_0.1, w_min)`` instead, the forecast's own 80 %
width (Lei et al. 2018, doi:10.1080/01621459.2017.1307116, "locally weighted" conformal). The
calibrated levels are sorted again per forecast (monotone rearrangement, Chernozhukov,
Fernandez-Val & Galichon 2010, doi:10.3982/ECTA7880), so quantiles never cross.

Regimes are KNOWN AT THE ISSUE TIME (never the future storm): :func:`issue_regime` reads the
most negative Dst of the last ``window_h`` hours known at the issue time (labels up to
``t - 1 h``) and the largest Kp of the complete 3-h blocks of that window
(:mod:`data_sources.timeconv`), and counts how many of the ``dst_edges`` / ``kp_edges`` the
activity has crossed. The solar-wind driver counts too (:data:`VBS_EDGES`: the largest hourly
``VBs`` of the last 3 h known at issue), so a storm's onset, which the recent Dst has not yet
felt, widens the intervals at once. A cell (regime, lead) with fewer than ``min_count`` calibration pairs uses
the nearest quieter regime that has enough, else the pooled offsets of that lead.

A calibration is a plain JSON mapping (:func:`fit_calibration`), stored in the model's
``metadata.json`` under ``calibration`` and applied by :func:`apply_calibration` (which
:func:`forecasting.models.predict.predict_many` calls for every saved model that has one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from data_sources.timeconv import to_utc_index
from forecasting import schema
from forecasting.models import physics

#: format tag of the stored mapping (bump when its layout changes)
FORMAT = "cqr-scaled-v1"
#: default regime edges: min Dst [nT] of the last 24 h known at issue, max complete-block Kp
DST_EDGES: tuple[float, ...] = (-50.0, -100.0)
#: NOAA G1 and G2 (Kp 5- and 6-, :data:`forecasting.schema.G_SCALE`). Chosen on the validation
#: years 2011-2014 cross-fitted (each year calibrated on the other three): against the single
#: edge Kp 5o, storm-time 80 % coverage of Kp 0.72/0.72/0.65/0.58/0.63 -> 0.78/0.75/0.67/0.63/0.65
#: at 1/3/6/12/24 h, of Dst 0.77/0.73/0.69/0.61/0.61 -> 0.76/0.73/0.71/0.62/0.61, all hours
#: 0.80 at every lead either way
KP_EDGES: tuple[float, ...] = (schema.G_SCALE["G1"], schema.G_SCALE["G2"])
#: default driver edges: the largest ``VBs`` [mV m-1] of the last :data:`VBS_WINDOW_H` hours
#: known at issue (the solar wind at the bow shock now, which the recent Dst has not yet
#: felt at a storm's onset). Chosen on the validation years 2013-2014 cross-fitted
#: (2013 <-> 2014): storm-time 80 % coverage of Dst 0.77/0.66/0.60/0.56 -> 0.79/0.69/0.63/0.63
#: at 3/6/12/24 h with all-hours coverage unchanged (edges 3, 6 mV/m changed nothing).
VBS_EDGES: tuple[float, ...] = (2.0, 5.0)
#: look-back window [h] of the driver edges
VBS_WINDOW_H = 3
#: smallest 80 % width [target units] used to scale the scores (avoids dividing by ~0)
WIDTH_FLOOR: dict[str, float] = {"dst": 1.0, "kp": 1.0 / 3.0}
#: value range each target is clipped to after calibration
VALUE_RANGE: dict[str, tuple[float, float]] = {"kp": (0.0, 9.0)}


def issue_regime(
    observed: xr.Dataset,
    init_time: Sequence | pd.DatetimeIndex,
    *,
    window_h: int = 24,
    dst_edges: Sequence[float] = DST_EDGES,
    kp_edges: Sequence[float] = KP_EDGES,
    vbs_edges: Sequence[float] = (),
    vbs_window_h: int = VBS_WINDOW_H,
) -> np.ndarray:
    """Geomagnetic activity regime at each issue time, from data known at that time only.

    Parameters
    ----------
    observed
        Hourly dataset labelled by interval start holding ``dst`` [nT] and/or ``kp``.
    init_time
        Issue times (UTC, whole hours).
    window_h
        Look-back window [h].
    dst_edges
        Dst levels [nT], decreasing: the regime counts how many of them the most negative Dst
        known at ``t`` (labels ``t - window_h`` .. ``t - 1 h``) is at or below.
    kp_edges
        Kp levels, increasing: the same count for the largest Kp of the complete 3-h blocks
        known at ``t`` (blocks ending in ``t - window_h .. t``; the block in progress is
        unknown, :func:`data_sources.timeconv.interval_end`).
    vbs_edges
        Solar-wind driver levels ``VBs`` [mV m-1] (:func:`forecasting.models.physics.vbs`,
        O'Brien & McPherron 2000), increasing: the same count for the largest hourly ``VBs``
        known at ``t`` in the last ``vbs_window_h`` hours (needs ``v_sw`` and ``bz_gsm``;
        where they are missing the driver adds nothing). Empty: not used (tables fitted
        before the driver was added).
    vbs_window_h
        Look-back window of the driver [h].

    Returns
    -------
    numpy.ndarray
        int, one per issue time: the largest count of edges crossed by Dst, Kp or the driver
        (0 = quiet), or -1 where neither index is known in the window.
    """
    init = to_utc_index(np.atleast_1d(np.asarray(init_time)))
    levels = np.full(len(init), -1, dtype=int)
    for name, edges, worst in (("dst", dst_edges, "min"), ("kp", kp_edges, "max")):
        if name not in observed or not len(edges):
            continue
        activity = _known_extreme(observed[name].to_series(), name, init, window_h, worst)
        # Kp thirds stored as float32 count at their G level (schema.exceeds)
        count = np.sum([schema.exceeds(name, activity, float(e)) for e in edges], axis=0)
        known = np.isfinite(activity)
        levels[known] = np.maximum(levels[known], count[known])
    if len(vbs_edges) and {"v_sw", "bz_gsm"} <= set(observed.data_vars):
        driver = pd.Series(
            physics.vbs(observed["v_sw"].values, observed["bz_gsm"].values),
            index=pd.DatetimeIndex(observed.indexes["time"]),
        )
        # hourly solar wind, labelled by interval start like bz_gsm
        activity = _known_extreme(driver, "bz_gsm", init, vbs_window_h, "max")
        count = (activity[:, None] >= np.asarray(vbs_edges, dtype=float)[None, :]).sum(1)
        hit = np.isfinite(activity)
        levels[hit] = np.maximum(levels[hit], count[hit])
    return levels


def _known_extreme(
    values: pd.Series, name: str, init: pd.DatetimeIndex, window_h: int, worst: str
) -> np.ndarray:
    """Min or max of ``name`` over the ``window_h`` hours ending at the newest end <= ``t``.

    Only values whose interval has ended by ``t`` enter (:func:`timeconv.interval_end`).
    """
    s = values.astype(float).dropna()
    if s.empty:
        return np.full(len(init), np.nan)
    ends = pd.DatetimeIndex(timeconv.interval_end(name, s.index))
    by_end = pd.Series(s.to_numpy(), index=ends)
    by_end = by_end.groupby(level=0).min() if worst == "min" else by_end.groupby(level=0).max()
    roll = by_end.rolling(f"{int(window_h)}h", closed="right")
    extreme = roll.min() if worst == "min" else roll.max()
    # the newest interval end at or before t, and only if it lies inside the window
    pos = np.searchsorted(extreme.index.values, init.values, side="right") - 1
    out = np.full(len(init), np.nan)
    ok = pos >= 0
    end_at = extreme.index.values[np.clip(pos, 0, None)]
    ok &= end_at > init.values - np.timedelta64(int(window_h), "h")
    out[ok] = extreme.to_numpy()[pos[ok]]
    return out


def _width(values: np.ndarray, levels: np.ndarray, name: str) -> np.ndarray:
    """80 % width ``q_0.9 - q_0.1`` (nearest levels), floored; shape ``values.shape[:-1]``."""
    lo = int(np.argmin(np.abs(levels - 0.1)))
    hi = int(np.argmin(np.abs(levels - 0.9)))
    w = values[..., hi] - values[..., lo]
    return np.maximum(w, WIDTH_FLOOR.get(name, 1e-6))


def conformal_quantile(scores: np.ndarray, tau: float) -> float:
    """Finite-sample conformal ``tau``-quantile of ``scores`` (Romano et al. 2019, eq. 7).

    Parameters
    ----------
    scores
        Conformity scores of the calibration set (NaN ignored).
    tau
        Quantile level in (0, 1).

    Returns
    -------
    float
        Upper levels (tau > 0.5) take the ``ceil((n + 1) tau)``-th smallest score, lower levels
        the ``floor((n + 1) tau)``-th, the median the sample median; the extreme score when
        the index leaves 1..n; NaN for no scores.
    """
    s = np.sort(np.asarray(scores, dtype=float)[np.isfinite(scores)])
    n = len(s)
    if n == 0:
        return float("nan")
    if abs(tau - 0.5) < 1e-12:
        return float(np.median(s))
    k = int(np.ceil((n + 1) * tau)) if tau > 0.5 else int(np.floor((n + 1) * tau))
    return float(s[min(max(k, 1), n) - 1])


def fit_calibration(
    forecast: xr.Dataset,
    observed: xr.Dataset,
    *,
    targets: Sequence[str] | None = None,
    min_count: int = 40,
    window_h: int = 24,
    dst_edges: Sequence[float] = DST_EDGES,
    kp_edges: Sequence[float] = KP_EDGES,
    vbs_edges: Sequence[float] = VBS_EDGES,
    vbs_window_h: int = VBS_WINDOW_H,
    scale: str = "none",
    shift_median: bool = False,
    fitted_on: str = "",
) -> dict:
    """Conformal offsets per target, regime, lead time and quantile level (module docstring).

    Fit it on the validation years only; never on the test years.

    Parameters
    ----------
    forecast
        Uncalibrated forecast (:mod:`forecasting.schema`) issued in the calibration years.
    observed
        Hourly observations labelled by interval start (``dst`` [nT], ``kp``), covering the
        forecasts' targets and ``window_h`` hours before the first issue time.
    targets
        Targets to calibrate (default: those both datasets hold).
    min_count
        Fewest pairs a (regime, lead) cell needs for its own offsets; a smaller cell uses the
        nearest quieter regime with enough pairs, else the lead's pooled offsets.
    window_h, dst_edges, kp_edges, vbs_edges, vbs_window_h
        The regime rule (:func:`issue_regime`), stored with the offsets.
    scale
        ``"none"``: plain residuals in target units (additive offsets); ``"width"``: scores in
        units of the forecast's 80 % width (adaptive). On the validation years 2013-2014
        (cross-fitted) both reach the all-hours coverage; ``"none"`` narrows storm-time
        intervals less.
    shift_median
        Calibrate the median too (default False: its offset is 0 and the point forecast is
        unchanged; shifting it made the validation RMSE slightly worse).
    fitted_on
        Free text saying what it was fitted on (e.g. ``"validation years 2013-2014"``).

    Returns
    -------
    dict
        JSON-ready: ``format``, ``method``, ``regime`` (the rule), ``fitted_on``, ``n_init``,
        and per target ``lead_hours``, ``quantiles``, ``offsets`` (regime 0..R, then pooled as
        the last row; shape ``(R + 2, lead, quantile)``, in units of the 80 % width) and ``n``
        (pairs per regime row and lead).

    Raises
    ------
    ValueError
        If no target can be calibrated (none shared, or no finite pairs).
    """
    if scale not in ("width", "none"):
        raise ValueError(f"scale={scale!r}: use 'width' (adaptive) or 'none' (additive)")
    levels = forecast["quantile"].values.astype(float)
    names = [t for t in (targets or ("dst", "kp")) if t in forecast and t in observed]
    regime_rule = {
        "window_h": int(window_h),
        "dst_edges": _edges("dst_edges", dst_edges, "(-50, -100) nT"),
        "kp_edges": _edges("kp_edges", kp_edges, "(14/3, 17/3) for G1 and G2"),
        "vbs_edges": _edges("vbs_edges", vbs_edges, "(2, 5) mV/m"),
        "vbs_window_h": int(vbs_window_h),
    }
    n_regimes = max(len(dst_edges), len(kp_edges), len(vbs_edges)) + 1
    regime = issue_regime(observed, forecast["init_time"].values, **_rule_args(regime_rule))
    hours = pd.TimedeltaIndex(forecast["lead_time"].values) / pd.Timedelta("1h")
    lead_hours = [int(round(h)) for h in hours]
    out: dict[str, Any] = {
        "format": FORMAT,
        "method": (
            "conformalized quantile regression (cqr, Romano et al. 2019) per target, lead "
            "time, quantile level and issue-time regime; "
            + ("scores scaled by the 80 % width (Lei et al. 2018); " if scale == "width" else "")
            + ("median shifted; " if shift_median else "median unchanged; ")
            + "monotone rearrangement"
        ),
        "regime": regime_rule,
        "scale": scale,
        "min_count": int(min_count),
        "fitted_on": fitted_on,
        "n_init": int(forecast.sizes["init_time"]),
        "targets": {},
    }
    for name in names:
        q = forecast[name].transpose("init_time", "lead_time", "quantile").values.astype(float)
        y = timeconv.observed_for(forecast, observed, name).values.astype(float)
        w = _width(q, levels, name) if scale == "width" else np.ones(q.shape[:-1])
        score = (y[..., None] - q) / w[..., None]
        ok = np.isfinite(score).all(-1)
        offsets = np.zeros((n_regimes + 1, len(lead_hours), len(levels)))
        counts = np.zeros((n_regimes + 1, len(lead_hours)), dtype=int)
        for k in range(len(lead_hours)):
            groups = [regime == r for r in range(n_regimes)] + [np.ones_like(ok[:, k])]
            for r, member in enumerate(groups):
                sel = member & ok[:, k]
                counts[r, k] = int(sel.sum())
                for j, tau in enumerate(levels):
                    if abs(tau - 0.5) < 1e-12 and not shift_median:
                        continue
                    offsets[r, k, j] = conformal_quantile(score[sel, k, j], float(tau))
        if counts[-1].sum() == 0:
            continue
        offsets = np.where(np.isfinite(offsets), offsets, 0.0)
        out["targets"][name] = {
            "lead_hours": lead_hours,
            "quantiles": [float(v) for v in levels],
            "offsets": np.round(offsets, 6).tolist(),
            "n": counts.tolist(),
        }
    if not out["targets"]:
        raise ValueError(
            f"no target of {names or list(forecast.data_vars)} has finite forecast/observation "
            "pairs to calibrate on; pass observations covering the forecasts' target hours"
        )
    return out


def _edges(name: str, values: Sequence[float], example: str) -> list[float]:
    """``values`` as finite floats, or a ValueError naming the keyword and an example."""
    try:
        edges = [float(v) for v in values]
    except (TypeError, ValueError):
        edges = [np.nan]
    if not all(np.isfinite(edges)):
        raise ValueError(f"{name}={values!r}: give finite numbers, e.g. {name}={example}")
    return edges


def _rule_args(rule: dict) -> dict:
    return {
        "window_h": int(rule.get("window_h", 24)),
        "dst_edges": tuple(rule.get("dst_edges", DST_EDGES)),
        "kp_edges": tuple(rule.get("kp_edges", KP_EDGES)),
        "vbs_edges": tuple(rule.get("vbs_edges", ())),  # absent in tables fitted before it
        "vbs_window_h": int(rule.get("vbs_window_h", VBS_WINDOW_H)),
    }


def apply_calibration(forecast: xr.Dataset, observed: xr.Dataset, calibration: dict) -> xr.Dataset:
    """Calibrate the quantiles of ``forecast`` (into a new dataset; ``forecast`` is unchanged).

    Parameters
    ----------
    forecast
        Forecast (:mod:`forecasting.schema`) with the same quantile levels the calibration
        was fitted on and lead times among its ``lead_hours``.
    observed
        Hourly observations known at the issue times (``dst`` [nT], ``kp``) for the regime
        (:func:`issue_regime`); values after an issue time are never read for it.
    calibration
        A mapping from :func:`fit_calibration` (e.g. ``model.metadata["calibration"]``).

    Returns
    -------
    xr.Dataset
        Same schema; each calibrated target is shifted per regime and lead, sorted along
        ``quantile`` and clipped to its range (Kp 0..9); attrs ``calibration`` (the method
        and ``fitted_on``) and ``calibration_regime_counts`` (JSON: regime -> issue times).

    Raises
    ------
    ValueError
        If the calibration's format is unknown, or its quantile levels or lead times do not
        cover the forecast's.
    """
    if calibration.get("format") != FORMAT:
        raise ValueError(
            f"calibration format {calibration.get('format')!r} is not {FORMAT!r}; refit it "
            "with forecasting.models.calibration.fit_calibration"
        )
    regime = issue_regime(
        observed, forecast["init_time"].values, **_rule_args(calibration["regime"])
    )
    levels = forecast["quantile"].values.astype(float)
    lead_hours = np.round(
        pd.TimedeltaIndex(forecast["lead_time"].values) / pd.Timedelta("1h")
    ).astype(int)
    out = forecast.copy()
    for name, table in calibration["targets"].items():
        if name not in forecast:
            continue
        if not np.allclose(table["quantiles"], levels):
            raise ValueError(
                f"calibration of {name!r} is for quantiles {table['quantiles']}, the forecast "
                f"has {levels.tolist()}; refit the calibration"
            )
        known = {h: i for i, h in enumerate(table["lead_hours"])}
        missing = [int(h) for h in lead_hours if int(h) not in known]
        if missing:
            raise ValueError(
                f"calibration of {name!r} has no lead times {missing} h (it has "
                f"{table['lead_hours']}); refit it on forecasts with those leads"
            )
        cols = [known[int(h)] for h in lead_hours]
        offsets = np.asarray(table["offsets"], dtype=float)[:, cols, :]
        counts = np.asarray(table["n"], dtype=int)[:, cols]
        min_count = int(calibration.get("min_count", 0))
        use = _cell_rows(regime, counts, min_count)  # (init, lead)
        shift = offsets[use, np.arange(len(cols))[None, :], :]  # (init, lead, quantile)
        da = forecast[name].transpose("init_time", "lead_time", "quantile")
        q = da.values.astype(float)
        w = _width(q, levels, name) if calibration["scale"] == "width" else 1.0
        cal = np.sort(q + shift * np.asarray(w)[..., None], axis=-1)
        lo, hi = VALUE_RANGE.get(name, (-np.inf, np.inf))
        cal = np.clip(cal, lo, hi)
        out[name] = da.copy(data=cal.astype(da.dtype)).transpose(*forecast[name].dims)
    out.attrs["calibration"] = (
        f"{calibration['format']}: {calibration.get('method', '')}; fitted on "
        f"{calibration.get('fitted_on') or 'unspecified data'}"
    )
    values, count = np.unique(regime, return_counts=True)
    out.attrs["calibration_regime_counts"] = json_counts(values, count)
    return out


def _cell_rows(regime: np.ndarray, counts: np.ndarray, min_count: int) -> np.ndarray:
    """Offset row per (issue time, lead): its regime, else the nearest quieter one, else pooled.

    A regime cell with fewer than ``min_count`` calibration pairs borrows the offsets of the
    next quieter regime that has enough (an active regime is closer to a quieter active one
    than to the quiet-dominated pool); an unknown regime (-1), or no regime with enough
    pairs, takes the pooled row (the last).
    """
    pooled = counts.shape[0] - 1
    n_lead = counts.shape[1]
    table = np.full((pooled + 1, n_lead), pooled, dtype=int)  # regime row -> offset row
    for k in range(n_lead):
        for r in range(pooled):
            for cand in range(r, -1, -1):
                if counts[cand, k] >= min_count:
                    table[r, k] = cand
                    break
    rows = np.where((regime >= 0) & (regime < pooled), regime, pooled)
    return table[rows, :]


def json_counts(values: np.ndarray, counts: np.ndarray) -> str:
    """``{"regime": count}`` as compact JSON (for a netCDF attribute).

    Parameters
    ----------
    values
        Regime numbers (-1: unknown).
    counts
        Issue times per regime.

    Returns
    -------
    str
        Compact JSON text.
    """
    import json

    return json.dumps(
        {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}, separators=(",", ":")
    )
