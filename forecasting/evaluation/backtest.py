"""Backtesting for researchers: replay a forecaster over a past window, issue time by issue time.

``backtest(model, dataset, start=..., end=...)`` issues a forecast at every ``every`` step of
``[start, end)``, each from the data available at its issue time, and returns one forecast
dataset (``init_time x lead_time x quantile``, the schema of :mod:`forecasting.schema`, the
same as scheduled forecasts). Options:

* ``refit="6MS"``: rolling origin. The model is refitted on an expanding window at every
  origin (every six months here); the training data are ``known_at`` / ``as_of`` the origin,
  so nothing at or after the origin is ever seen. Each forecast carries its ``fit_origin``.
* ``as_of=True`` (or a :class:`~forecasting.latency.Latencies` / profile name): inputs are
  limited to values *published* by the issue time (real-time latencies), not only those whose
  interval ended (:func:`data_sources.timeconv.known_at`).

Inference is batched: many issue times go to one ``model.forecast`` call (a vectorised
forecaster or ``predict_many`` for the TFT), in blocks of ``batch_size``. The data handed to a
block are cut at the block's last issue time (``known_at``), so no block can see beyond it;
within a block the forecaster applies ``known_at`` per issue time (its contract), which
``tests/forecasting/evaluation/test_backtest.py`` verifies by perturbing everything after each issue time.

``verify`` (= :func:`forecasting.verification.scores.score`) and ``storm_catalog``
(= :func:`forecasting.storms.storm_catalog`) are re-exported so a notebook needs one import;
:func:`score_all` scores several models into one ``xr.Dataset`` with ``model`` and ``lead_time``
dimensions; :func:`compare` picks metrics and leads from it (``.to_dataframe()`` is the table).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from data_sources.timeconv import TimeLike, to_utc
from forecasting import latency as latency_mod
from forecasting.models.base import Forecaster, get_forecaster
from forecasting.schema import validate_forecast
from forecasting.storms import storm_catalog
from forecasting.verification.scores import score as verify

#: a duration: ``"30D"``, ``pd.Timedelta`` or ``datetime.timedelta``
TimeDeltaLike: TypeAlias = str | pd.Timedelta | timedelta

log = logging.getLogger(__name__)

#: default leads: 1..24 h
DEFAULT_LEAD_TIMES = pd.to_timedelta(np.arange(1, 25), unit="h")
DEFAULT_BATCH = 24 * 31

__all__ = [
    "DEFAULT_LEAD_TIMES",
    "backtest",
    "compare",
    "issue_times",
    "refit_origins",
    "score_all",
    "storm_catalog",
    "verify",
]


# ---------------------------------------------------------------------------- time axes
def _ts(value: TimeLike, what: str) -> pd.Timestamp:
    try:
        return to_utc(value)
    except ValueError as exc:
        raise ValueError(f"{what}={value!r}: {exc}") from exc


def issue_times(
    start: TimeLike, end: TimeLike, every: str | pd.Timedelta = "1h"
) -> pd.DatetimeIndex:
    """Issue times ``start, start + every, ...`` strictly before ``end`` (UTC, naive).

    Parameters
    ----------
    start, end : TimeLike
        UTC window, ``end`` exclusive (aware times are converted to UTC).
    every : str or pd.Timedelta
        Spacing of issue times (``"1h"``, ``"3h"`` ...), positive.

    Returns
    -------
    pd.DatetimeIndex
        Naive UTC issue times (``datetime64[ns]``).

    Raises
    ------
    ValueError
        If ``end <= start`` or ``every`` is not a positive duration.
    """
    t0, t1 = _ts(start, "start"), _ts(end, "end")
    if t1 <= t0:
        raise ValueError(f"end ({t1}) must be after start ({t0})")
    try:
        step = pd.Timedelta(every)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"every={every!r} is not a duration; use e.g. '1h' or '3h'") from exc
    if step <= pd.Timedelta(0):
        raise ValueError(f"every={every!r} must be positive")
    return pd.date_range(t0, t1, freq=step, inclusive="left").astype("datetime64[ns]")


def refit_origins(start: TimeLike, end: TimeLike, refit: str | Sequence | None) -> pd.DatetimeIndex:
    """Rolling-origin refit times covering ``[start, end)``.

    ``refit`` is a pandas frequency (``"6MS"``: every six months, month starts) or explicit
    times. With a frequency the first origin is ``start`` (the model is fitted before the
    first forecast); later ones are the frequency's points strictly inside the window. With
    explicit times the first origin is the latest given time at or before ``start`` (or
    ``start`` if none is), so a sub-window of a longer backtest keeps the longer one's origins.

    Parameters
    ----------
    start, end : TimeLike
        The backtest's issue-time window, UTC, ``end`` exclusive.
    refit : str, Sequence or None
        A pandas frequency (``"6MS"``), explicit origin times, or ``None`` (no refit).

    Returns
    -------
    pd.DatetimeIndex
        Sorted, unique naive UTC origins (``datetime64[ns]``); empty for ``refit=None``.

    Raises
    ------
    ValueError
        If ``refit`` is a string pandas cannot read as a frequency, or a time is unreadable.
    """
    t0, t1 = _ts(start, "start"), _ts(end, "end")
    if refit is None:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    if isinstance(refit, str):
        try:
            points = pd.date_range(t0, t1, freq=refit)
        except ValueError as exc:
            raise ValueError(
                f"refit={refit!r} is not a pandas frequency; use e.g. '6MS' (every six months)"
            ) from exc
        first = t0
    else:
        points = pd.DatetimeIndex([_ts(p, "refit origin") for p in refit])
        before = points[points <= t0]
        first = before.max() if len(before) else t0
    inside = points[(points > t0) & (points < t1)]
    return pd.DatetimeIndex([first, *inside]).unique().sort_values().astype("datetime64[ns]")


# ---------------------------------------------------------------------------- fitting
def training_data(
    dataset: xr.Dataset,
    origin: TimeLike,
    *,
    latencies: bool | str | latency_mod.Latencies | None = None,
    train_start: TimeLike | None = None,
) -> xr.Dataset:
    """The expanding-window training set for a refit at ``origin``.

    Everything knowable at ``origin`` (``as_of`` with ``latencies``, else ``known_at``):
    labels at or after the origin are dropped and values whose interval (or publication)
    ends after it are NaN.

    Parameters
    ----------
    dataset : xr.Dataset
        Hourly inputs and truth along ``time`` (naive UTC interval-start labels).
    origin : TimeLike
        Refit origin, UTC: the training set ends before it.
    latencies : bool, str, Latencies or None
        Publication-delay profile (:func:`forecasting.latency.resolve`): ``None``/``False``
        only ``known_at`` (interval ended), ``True`` realtime, or a profile name
        (``ideal``, ``realtime``, ``archive``, ``l1``) or :class:`~forecasting.latency.Latencies`.
    train_start : TimeLike or None
        First label of the expanding window; ``None`` starts at the start of ``dataset``.

    Returns
    -------
    xr.Dataset
        :func:`forecasting.latency.as_of` ``(dataset, origin)``: time axis ending at the
        hour labelled ``origin - 1 h``, unpublished values NaN (``*_qc`` = 2).
    """
    lat = latency_mod.resolve(latencies)
    ds = (
        dataset
        if train_start is None
        else dataset.sel(time=slice(_ts(train_start, "train_start"), None))
    )
    return latency_mod.as_of(ds, origin, lat)


def _fit_at(
    model: Any,
    dataset: xr.Dataset,
    origin: TimeLike,
    *,
    fit: Callable[[xr.Dataset], object] | None,
    latencies: bool | str | latency_mod.Latencies | None,
    train_start: TimeLike | None,
) -> Any:
    train = training_data(dataset, origin, latencies=latencies, train_start=train_start)
    if train.sizes.get("time", 0) == 0:
        raise ValueError(
            f"no training data before refit origin {origin}; start the backtest later or "
            "give a dataset that begins earlier"
        )
    if fit is not None:
        fitted = fit(train)
    else:
        if not hasattr(model, "fit"):
            raise TypeError(f"refit needs model.fit or fit=...; {type(model).__name__} has no fit")
        fitted = copy.deepcopy(model)
        out = fitted.fit(train)
        if out is not None and hasattr(out, "forecast"):
            fitted = out
    log.info(
        "refitted %s at origin %s on %d hours",
        getattr(fitted, "name", "?"),
        origin,
        train.sizes["time"],
    )
    return fitted, _last_data_label(train)


def _last_data_label(ds: xr.Dataset) -> np.datetime64:
    """Newest ``time`` label holding any non-NaN data variable (NaT if none)."""
    names = [str(v) for v in ds.data_vars if "time" in ds[v].dims and not str(v).endswith("_qc")]
    if not names or ds.sizes.get("time", 0) == 0:
        return np.datetime64("NaT", "ns")
    any_data = np.zeros(ds.sizes["time"], bool)
    for v in names:
        any_data |= np.asarray(ds[v].notnull()).reshape(ds.sizes["time"], -1).any(axis=1)
    idx = np.flatnonzero(any_data)
    return np.datetime64("NaT", "ns") if len(idx) == 0 else ds["time"].values[idx[-1]]


# ---------------------------------------------------------------------------- inference
def _block_view(
    dataset: xr.Dataset, times: pd.DatetimeIndex, leads: pd.TimedeltaIndex
) -> xr.Dataset:
    """Data for a block: ``known_at`` its last issue time, time axis kept to the last target.

    Labels after the cut stay on the axis (values NaN) so a forecaster needing future time
    stamps (calendar covariates) still finds them; nothing observed after the block's last
    issue time is present.
    """
    last = times[-1]
    horizon = last + leads.max()
    labels = dataset.indexes["time"]
    known = timeconv.known_at(dataset, last)
    keep = labels[labels < horizon]
    return known.reindex(time=keep)


def _lookback(model: Any, lookback: TimeDeltaLike | None) -> pd.Timedelta | None:
    """How far back ``model`` reads its inputs, or None when it does not say.

    The ``lookback`` argument, else ``model.lookback``, else for the TFT wrapper its encoder
    length plus the 48 h margin ``predict_many`` slices.
    """
    value = lookback if lookback is not None else getattr(model, "lookback", None)
    if value is None:
        config = getattr(getattr(model, "model", None), "config", None)
        if config is not None and hasattr(config, "encoder_length"):
            value = pd.Timedelta(hours=int(config.encoder_length) + 48)
    return None if value is None else pd.Timedelta(value)


def _call(
    model: Forecaster,
    ds: xr.Dataset,
    times: pd.DatetimeIndex,
    leads: pd.TimedeltaIndex,
    targets: Sequence[str],
) -> xr.Dataset:
    fc = model.forecast(ds, times, leads, targets=tuple(targets))
    got = pd.DatetimeIndex(fc["init_time"].values)
    if not got.equals(pd.DatetimeIndex(times)):
        fc = fc.reindex(init_time=pd.DatetimeIndex(times))
    return fc


def forecast_block(
    model: Forecaster,
    dataset: xr.Dataset,
    times: pd.DatetimeIndex,
    leads: pd.TimedeltaIndex,
    targets: Sequence[str],
    *,
    latencies: bool | str | latency_mod.Latencies | None = None,
    lookback: TimeDeltaLike | None = None,
) -> xr.Dataset:
    """One batched forecast for ``times`` (one forecaster call, or a few with latencies).

    Without latencies: one ``model.forecast`` call on :func:`_block_view`. With non-zero
    latencies the published-by-``t`` view differs per issue time: issue times are grouped
    so that members of a group are at least the forecaster's ``lookback`` apart, each group
    gets one call on data with every member's latency window masked
    (:func:`forecasting.latency.mask_latency_windows`). A forecaster without a declared
    ``lookback`` is called once per issue time on :func:`forecasting.latency.as_of` (exact,
    slower).

    Parameters
    ----------
    model : Forecaster
        Fitted forecaster (``forecast(ds, init_times, lead_times, *, targets)``).
    dataset : xr.Dataset
        Hourly inputs along ``time`` (naive UTC interval-start labels); cut here at the
        block's last issue time.
    times : pd.DatetimeIndex
        Issue times of the block (naive UTC, sorted, evenly spaced).
    leads : pd.TimedeltaIndex
        Forecast lead times (positive, e.g. 1..24 h).
    targets : Sequence[str]
        Forecast targets (``dst`` [nT], ``kp``).
    latencies : bool, str, Latencies or None
        Publication-delay profile (:func:`forecasting.latency.resolve`): ``None``/``False``
        only ``known_at`` (interval ended), ``True`` realtime, or a profile name
        (``ideal``, ``realtime``, ``archive``, ``l1``) or :class:`~forecasting.latency.Latencies`.
    lookback : TimeDeltaLike or None
        How far back the model reads (``"168h"``); ``None`` uses ``model.lookback`` or the
        TFT's encoder length + 48 h. Only used with non-zero latencies.

    Returns
    -------
    xr.Dataset
        Forecast schema (:mod:`forecasting.schema`) on exactly ``times`` along
        ``init_time`` (issue times the forecaster skipped are NaN).
    """
    times = pd.DatetimeIndex(times)
    lat = latency_mod.resolve(latencies)
    view = _block_view(dataset, times, leads)
    names = [str(v) for v in view.data_vars if "time" in view[v].dims]
    if lat.is_zero(names):
        return _call(model, view, times, leads, targets)
    lb = _lookback(model, lookback)
    if lb is None:
        parts = []
        for t in times:
            one = latency_mod.as_of(dataset, t, lat)
            one = one.reindex(time=view.indexes["time"][view.indexes["time"] < t + leads.max()])
            parts.append(_call(model, one, pd.DatetimeIndex([t]), leads, targets))
        return _concat(parts)
    step = (times[1] - times[0]) if len(times) > 1 else pd.Timedelta("1h")
    stride = max(1, int(np.ceil(lb / step)))
    parts = []
    for g in range(min(stride, len(times))):
        members = times[g::stride]
        masked = latency_mod.mask_latency_windows(view, members, lat)
        parts.append(_call(model, masked, members, leads, targets))
    return _concat(parts).sortby("init_time")


def _concat(parts: list[xr.Dataset]) -> xr.Dataset:
    if len(parts) == 1:
        return parts[0]
    out = xr.concat(
        parts,
        dim="init_time",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        join="outer",
        combine_attrs="override",
    )
    return out


def _blocks(times: pd.DatetimeIndex, batch_size: int) -> list[pd.DatetimeIndex]:
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    return [times[i : i + batch_size] for i in range(0, len(times), batch_size)]


def backtest(
    model: Forecaster,
    dataset: xr.Dataset,
    *,
    start: TimeLike,
    end: TimeLike,
    every: str | pd.Timedelta = "1h",
    lead_times: Sequence | pd.TimedeltaIndex = DEFAULT_LEAD_TIMES,
    targets: Sequence[str] = ("dst", "kp"),
    refit: str | Sequence | None = None,
    fit: Callable[[xr.Dataset], object] | None = None,
    as_of: bool | str | latency_mod.Latencies = False,
    batch_size: int = DEFAULT_BATCH,
    lookback: TimeDeltaLike | None = None,
    train_start: TimeLike | None = None,
) -> xr.Dataset:
    """Forecasts for every issue time in ``[start, end)``, each from data available then.

    Parameters
    ----------
    model
        A Forecaster (``name``, ``version``, ``forecast(ds, init_times, lead_times, *,
        targets)``); baselines, ``TFTForecaster``.
    dataset
        Hourly inputs and truth along ``time`` (``build_dataset`` or recorded OMNI2); it must
        reach back far enough for the model's inputs (and for training when refitting).
    start, end
        Issue-time window ``[start, end)``, UTC.
    every
        Spacing of issue times (``"1h"``, ``"3h"`` ...).
    lead_times
        Forecast leads (default 1..24 h).
    targets
        Forecast targets (``dst`` [nT], ``kp``).
    refit
        ``None`` (use the model as given) or a frequency such as ``"6MS"`` / explicit origin
        times: refit on an expanding window ``[train_start, origin)`` at each origin
        (rolling-origin evaluation, Tashman 2000), with ``model.fit(train)`` on a copy of the
        model, or ``fit(train) -> forecaster`` when given (e.g. TFT training).
    fit
        Callable making a fitted forecaster from training data (used instead of
        ``model.fit``).
    as_of
        ``False``: inputs ``known_at`` each issue time (interval ended). ``True`` (realtime
        profile), a profile name or a :class:`~forecasting.latency.Latencies`: also hide
        values not yet published at the issue time.
    batch_size
        Issue times per forecaster call (without latencies; with them a refit segment is
        one block and each call takes the issue times one look-back apart).
    lookback
        How far back the model reads its inputs (overrides ``model.lookback``); used only to
        batch ``as_of`` backtests.
    train_start
        First time of the expanding training window (default: start of ``dataset``).

    Returns
    -------
    xr.Dataset
        Forecast schema (``init_time``, ``lead_time``, ``quantile``; ``valid_time``), plus the
        coordinates ``fit_origin`` and ``training_end`` (per ``init_time``: the refit origin
        and the newest label with data in its training set; NaT without refit) and attrs
        ``backtest_start``, ``backtest_end``, ``backtest_every``, ``as_of``, ``latencies``,
        ``refit``.
    """
    times = issue_times(start, end, every)
    leads = pd.TimedeltaIndex(lead_times).astype("timedelta64[ns]")
    if len(leads) == 0 or (leads <= pd.Timedelta(0)).any():
        raise ValueError(f"lead_times must be positive durations, got {list(leads)}")
    if "time" not in dataset.dims:
        raise ValueError("dataset has no 'time' dimension; use build_dataset or parse_omni2 output")
    lat = latency_mod.resolve(as_of)
    origins = refit_origins(times[0], times[-1] + pd.Timedelta("1ns"), refit)
    segments = _segments(times, origins)
    parts = []
    for origin, seg_times in segments:
        if origin is None:
            fitted, train_end = model, np.datetime64("NaT", "ns")
        else:
            fitted, train_end = _fit_at(
                model, dataset, origin, fit=fit, latencies=lat, train_start=train_start
            )
        # with latencies, calls are per group of issue times one look-back apart: the larger
        # the block, the more issue times share a call, so a segment is one block
        size = batch_size if lat.is_zero() else max(batch_size, len(seg_times))
        for block in _blocks(seg_times, size):
            fc = forecast_block(
                fitted, dataset, block, leads, targets, latencies=lat, lookback=lookback
            )
            stamp = np.datetime64("NaT", "ns") if origin is None else np.datetime64(origin, "ns")
            fc = fc.assign_coords(
                fit_origin=(
                    "init_time",
                    np.full(len(block), stamp, dtype="datetime64[ns]"),
                    {"long_name": "rolling-origin refit time (training data end before it)"},
                ),
                training_end=(
                    "init_time",
                    np.full(len(block), train_end, dtype="datetime64[ns]"),
                    {"long_name": "newest hourly label in the refit's training data"},
                ),
            )
            parts.append(fc)
    out = _concat(parts)
    return _finish(out, model, times, every, lat, refit)


def _segments(
    times: pd.DatetimeIndex, origins: pd.DatetimeIndex
) -> list[tuple[pd.Timestamp | None, pd.DatetimeIndex]]:
    if len(origins) == 0:
        return [(None, times)]
    out = []
    bounds = [*origins, times[-1] + pd.Timedelta("1ns")]
    for o, nxt in zip(bounds[:-1], bounds[1:], strict=True):
        seg = times[(times >= o) & (times < nxt)]
        if len(seg):
            out.append((pd.Timestamp(o), seg))
    return out


def _finish(
    out: xr.Dataset,
    model: Any,
    times: pd.DatetimeIndex,
    every: str | pd.Timedelta,
    lat: latency_mod.Latencies,
    refit: object,
) -> xr.Dataset:
    out.attrs.update(
        model=str(out.attrs.get("model", getattr(model, "name", type(model).__name__))),
        model_version=str(out.attrs.get("model_version", getattr(model, "version", "unknown"))),
        data_cutoff=times[-1].strftime("%Y-%m-%dT%H:%M:%SZ"),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        backtest_start=times[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
        backtest_end=(times[-1] + pd.Timedelta(every)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        backtest_every=str(pd.Timedelta(every)),
        as_of=lat.name,
        latencies=json.dumps(
            {k: str(v) for k, v in lat.delays.items()} | {"default": str(lat.default)}
        ),
        refit="none" if refit is None else (refit if isinstance(refit, str) else "explicit"),
    )
    return validate_forecast(out)


# ---------------------------------------------------------------------------- scores
def score_all(
    forecasts: Mapping[str, xr.Dataset],
    observed: xr.Dataset,
    target: str | Sequence[str] = "dst",
    *,
    persistence: str | xr.Dataset | None = "persistence",
) -> xr.Dataset:
    """``verify`` every forecast in ``forecasts`` against ``observed``: ONE dataset.

    Parameters
    ----------
    forecasts
        Model name -> forecast dataset (e.g. :func:`backtest` output).
    observed
        Hourly observations (labelled by interval start).
    target
        ``dst``, ``kp`` or several (then the result has a ``target`` dimension).
    persistence
        The entry (or a forecast) used as reference for ``skill_vs_persistence``; forecasts
        are aligned on their common issue times with it.

    Returns
    -------
    xr.Dataset
        The metric variables of :func:`forecasting.verification.scores.score` on
        ``(model, lead_time)`` (plus ``threshold``/``quantile`` where the metric has them, and
        ``target`` for several targets). Models without the target (Burton has no Kp) are
        NaN for it, or left out for a single target. A table is one call away:
        ``score_all(...)[["rmse", "crps"]].to_dataframe()`` or :func:`compare`.
    """
    if not forecasts:
        raise ValueError("score_all needs at least one forecast")
    if not isinstance(target, str):
        parts = [score_all(forecasts, observed, t, persistence=persistence) for t in target]
        models = list(dict.fromkeys(m for p in parts for m in p["model"].values))
        parts = [p.reindex(model=models) for p in parts]
        return xr.concat(parts, dim=pd.Index(list(target), name="target"), join="outer")
    ref = forecasts.get(persistence) if isinstance(persistence, str) else persistence
    if ref is not None and target not in ref:
        ref = None
    per_model = []
    for name, fc in forecasts.items():
        if target not in fc:
            continue
        kw: dict[str, xr.Dataset] = {}
        if ref is not None:
            common = np.intersect1d(fc["init_time"].values, ref["init_time"].values)
            fc = fc.sel(init_time=common)
            kw["persistence"] = ref.sel(init_time=common)
        s = verify(fc, observed, target, **kw)  # type: ignore[arg-type]  # persistence= only
        per_model.append(s.expand_dims(model=[name]))
    if not per_model:
        raise ValueError(f"none of the forecasts {list(forecasts)} holds {target!r}")
    out = xr.concat(per_model, dim="model", join="outer", combine_attrs="drop")
    out.attrs.update(
        target=target,
        reference=persistence if isinstance(persistence, str) else "given",
        crps_method=per_model[0].attrs.get("crps_method", ""),
        event_rule=per_model[0].attrs.get("event_rule", ""),
    )
    return out


def _per_lead_metrics(scores: xr.Dataset, metrics: Sequence[str] | None) -> xr.Dataset:
    """Metrics as variables along ``model``, ``lead_time`` (and ``target``) only.

    A metric along ``threshold`` becomes one variable per threshold, named ``hss(-50)``; one
    along ``quantile`` (pinball loss) is kept only when asked for by name, as ``pinball(0.9)``.
    """
    keep_dims = ("model", "lead_time", "target")
    out = {}
    for name in metrics or [str(v) for v in scores.data_vars]:
        if name not in scores.data_vars:
            continue
        da = scores[name]
        extra = [d for d in da.dims if d not in keep_dims]
        if not extra:
            out[name] = da
        elif extra in (["threshold"], ["quantile"]) and (extra != ["quantile"] or metrics):
            dim = extra[0]
            for v in da[dim].values:
                out[f"{name}({float(v):g})"] = da.sel({dim: v}, drop=True)
    if not out:
        raise ValueError(
            f"none of the metrics {metrics} is in the scores ({list(scores.data_vars)})"
        )
    return xr.Dataset(out)


def compare(
    results: xr.Dataset | Mapping[str, xr.Dataset],
    *,
    metrics: Sequence[str] | None = None,
    lead_hours: Sequence[int] | None = (1, 3, 6, 12, 24),
) -> xr.Dataset:
    """Several models' scores side by side: one dataset on ``(model, lead_time)``.

    Parameters
    ----------
    results
        :func:`score_all` output, or model name -> ``verify`` output.
    metrics
        Metrics to keep (default: all those without extra dimensions; a metric along
        ``threshold`` becomes ``hss(-50)`` etc.; ``pinball`` only when named).
    lead_hours
        Leads to keep, in hours (``None``: all).

    Returns
    -------
    xr.Dataset
        Metric variables on ``(model, lead_time)`` (and ``target``), with a ``lead_h``
        coordinate [h]; ``.to_dataframe()`` is the table (one row per model and lead).
    """
    if not isinstance(results, xr.Dataset) and isinstance(results, Mapping):
        if not results:
            raise ValueError("compare needs at least one model's scores")
        for name, sc in results.items():
            if not isinstance(sc, xr.Dataset) or "lead_time" not in sc.dims:
                raise ValueError(
                    f"scores of {name!r} must be an xr.Dataset along lead_time (verify output)"
                )
        results = xr.concat(  # type: ignore[call-overload]  # every value is a Dataset (checked above)
            [sc.expand_dims(model=[name]) for name, sc in results.items()],
            dim="model",
            join="outer",
            combine_attrs="drop",
        )
    if not isinstance(results, xr.Dataset) or not {"model", "lead_time"} <= set(results.dims):
        raise ValueError("compare needs score_all output: a dataset on (model, lead_time)")
    out = _per_lead_metrics(results, metrics)
    hours = (pd.TimedeltaIndex(out["lead_time"].values) / pd.Timedelta("1h")).astype(int)
    out = out.assign_coords(lead_h=("lead_time", np.asarray(hours)))
    out["lead_h"].attrs["units"] = "h"
    if lead_hours is not None:
        out = out.isel(lead_time=[i for i, h in enumerate(hours) if h in set(lead_hours)])
    order = ["model", "target", "lead_time"]
    out = out.transpose(*[d for d in order if d in out.dims], ...)
    scalar = [k for k, c in out.coords.items() if c.ndim == 0]  # e.g. target after .sel
    return out.drop_vars(["valid_time", *scalar], errors="ignore")


# ---------------------------------------------------------------------------- loading
def load_model(name: str, *, version: str = "latest") -> Forecaster:
    """A Forecaster by model name: ``tft`` (the registry's ``version``) or a baseline.

    A baseline comes unfitted: backtest it with ``refit`` so it is fitted on data before the
    window.

    Parameters
    ----------
    name : str
        ``tft`` or a baseline name known to :func:`forecasting.models.base.get_forecaster`
        (:data:`~forecasting.models.base.MODEL_NAMES`: ``persistence``, ``recurrence27``,
        ``climatology``, ``burton``, ``obrien_mcpherron``).
    version : str
        TFT registry version (``"latest"`` or e.g. ``"v3"``); ignored for baselines.

    Returns
    -------
    Forecaster
        The forecaster.
    """
    return get_forecaster(name, version=version) if name == "tft" else get_forecaster(name)


def needs_fit(model: object) -> bool:
    """True for a model with ``fit`` that has not been fitted (``is_fitted`` False).

    Parameters
    ----------
    model : object
        A forecaster.

    Returns
    -------
    bool
        Whether it has a ``fit`` method and reports ``is_fitted`` False (a model without
        ``is_fitted`` counts as fitted).
    """
    return hasattr(model, "fit") and getattr(model, "is_fitted", True) is False


def load_data(
    start: TimeLike,
    end: TimeLike,
    *,
    history: str = "366D",
    lead: str = "72h",
    data_dir: str | Path | None = None,
) -> xr.Dataset:
    """Hourly inputs for a backtest of ``[start, end)``, built from the store.

    ``history`` before ``start`` is included for model inputs and (re)fitting, ``lead`` after
    ``end`` for verification. ``data_dir`` (optional) is a recorded folder to ingest into the
    store first, through a loopback mirror (:func:`data_sources.ingest.ingest_recorded`).

    Parameters
    ----------
    start, end : TimeLike
        The backtest's issue-time window, UTC, ``end`` exclusive.
    history : str
        Span loaded before ``start`` (pandas duration, ``"366D"``).
    lead : str
        Span loaded after ``end`` (pandas duration, ``"72h"``: the longest lead verified).
    data_dir : str, Path or None
        Recorded-data folder to ingest into the store first; ``None`` reads the store as is.

    Returns
    -------
    xr.Dataset
        :func:`forecasting.splits.load_period` over ``[start - history, end + lead)``,
        widened to whole hours.

    Raises
    ------
    ValueError
        If the store holds no solar wind or Dst in the span; the message names the
        ``superstorm ingest`` command to run (:func:`forecasting.splits.load_period`).
    """
    from forecasting.splits import load_period

    t0 = _ts(start, "start") - pd.Timedelta(history)
    t1 = _ts(end, "end") + pd.Timedelta(lead)
    if data_dir is not None:
        from data_sources.ingest import ingest_recorded

        ingest_recorded(data_dir)
    return load_period(t0.floor("h"), t1.ceil("h"))
