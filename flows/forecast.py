"""The hourly forecast flow: inputs -> models -> archive -> alerts -> delivery -> dashboards.

``forecast_flow(issue_time=None, ...)`` (Prefect) and ``run_forecast(...)`` (the same steps
without Prefect, used by fast replays) call the step functions below in order:

1. :func:`step_inputs` — refresh inputs with fallbacks (:mod:`data_sources.live`), cut at the
   issue time; returns the inputs file path and each input's freshness.
2. :func:`step_model` per model — the registry's current TFT when one is registered (else the
   primary model falls back to persistence, and the run says so), plus the baselines, plus
   the stored blend of that TFT when one is stored (:mod:`forecasting.models.stored_blend`;
   archived as ``blend``; a blend that cannot be built is logged and left out); every
   forecast is archived (:mod:`forecasting.archive`); an issue time already archived is
   loaded, not recomputed, so a re-run is idempotent.
3. :func:`step_alerts` — :func:`forecasting.alerting.rules.evaluate_rules` on the primary
   forecast and the observations known at the issue time; the actions are committed to the alert
   log in one transaction, once per issue time (a re-run is a no-op).
4. :func:`step_deliver` — every message not yet delivered (this run's and earlier ones').
5. :func:`step_dashboards` — ``dashboards.site.build_site`` when that module is installed.

Steps pass file paths and small dicts, never large frames.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact

from data_sources import config
from data_sources import live as inputs_mod
from data_sources.netcdf import NETCDF_LOCK
from data_sources.timeconv import TimeLike, to_utc, utc_now
from forecasting import archive
from forecasting.alerting import delivery, qc
from forecasting.alerting.log import AlertLog, check_issue_time
from forecasting.alerting.rules import (
    DECISION_ATTR,
    LEVELS,
    AlertConfig,
    evaluate_rules,
    forecast_usable,
    model_event_probabilities,
)
from forecasting.models import baseline_cache, promotion
from forecasting.models.base import BASELINE_NAMES, Forecaster
from forecasting.models.baselines import ResidualQuantileForecaster
from forecasting.products.write import write_products
from forecasting.schema import exceedance_probability, most_severe

log = logging.getLogger(__name__)

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
#: loggers of the project forwarded to the Prefect run log (see :func:`forward_project_logs`)
PROJECT_LOGGERS: tuple[str, ...] = (
    "superstorm",
    "data_sources",
    "forecasting",
    "flows",
    "dashboards",
)
#: baselines run beside the primary model (the forecaster registry's baselines)
DEFAULT_BASELINES: tuple[str, ...] = BASELINE_NAMES
#: the primary model when the registry has no current TFT
FALLBACK_PRIMARY = "persistence"
#: archive name of the primary forecast (each target from its primary model, see
#: :func:`step_primary`)
PRIMARY_ARCHIVE = archive.PRIMARY
#: model name of the stored blend of the current TFT (:mod:`forecasting.models.stored_blend`)
BLEND = "blend"
_SAID: set[str] = set()


def _warn_once(msg: str) -> None:
    """Log ``msg`` as a warning the first time in this process, then at INFO (replays)."""
    log.log(logging.INFO if msg in _SAID else logging.WARNING, msg)
    _SAID.add(msg)


def issue_hour(issue_time: TimeLike | None = None) -> pd.Timestamp:
    """Floor the issue time to a naive UTC whole hour.

    Parameters
    ----------
    issue_time : TimeLike, optional
        Issue time (UTC; aware times are converted); default now.

    Returns
    -------
    pandas.Timestamp
        The start of that hour, naive UTC (e.g. 12:37 -> 12:00).
    """
    return (utc_now() if issue_time is None else to_utc(issue_time)).floor("h")


# ---------------------------------------------------------------------------- models


def lead_grid(forecaster: Forecaster | None = None) -> pd.TimedeltaIndex:
    """Lead times of a run: 1..horizon h of the promoted TFT, else :data:`LEADS` (1..24 h).

    A TFT trained with ``superstorm train --horizon 72`` forecasts 1..72 h, so operations get
    the day-1..3 outlook; the baselines run on the same grid.

    Parameters
    ----------
    forecaster : Forecaster, optional
        The primary model; its ``model.config.horizon`` [h] sets the grid. ``None`` (or no
        horizon, e.g. a baseline): :data:`LEADS`.

    Returns
    -------
    pandas.TimedeltaIndex
        Leads 1, 2, ..., horizon h.
    """
    horizon = getattr(getattr(getattr(forecaster, "model", None), "config", None), "horizon", None)
    if not horizon:
        return LEADS
    return pd.to_timedelta(np.arange(1, int(horizon) + 1), unit="h")


def current_tft() -> tuple[Forecaster | None, str]:
    """Load the registry's promoted ('current') TFT, or say why there is none.

    Returns
    -------
    (Forecaster or None, str)
        The ``TFTForecaster`` and ``""``; or ``None`` and the reason (none promoted, or the
        load failed: the exception named). Never raises.
    """
    from forecasting.models import registry
    from forecasting.models.predict import TFTForecaster

    try:
        if registry.current() is None:
            return None, "no promoted ('current') TFT in the registry"
        return TFTForecaster(registry.load("current")), ""
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable model", said so
        return None, f"registry 'current' TFT unusable ({type(exc).__name__}: {exc})"


def current_blend(tft_version: str | None) -> tuple[Forecaster | None, str]:
    """Load the stored blend of the TFT that ran, or say why there is none.

    Parameters
    ----------
    tft_version : str or None
        The registry version of this run's TFT (None: no TFT ran, so no blend).

    Returns
    -------
    (Forecaster or None, str)
        The :class:`forecasting.models.ensemble.Blend` and ``""``; or ``None`` and the
        reason (no TFT, none stored, or the file unusable: the error names the file and the
        fix). Never raises.
    """
    if not tft_version:
        return None, "no TFT ran this hour"
    from forecasting.models import stored_blend

    try:
        blend = stored_blend.load_blend(tft_version)
    except Exception as exc:  # noqa: BLE001 - any failure means "no blend", said so
        return None, f"the stored blend of tft {tft_version} is unusable ({exc})"
    if blend is None:
        return None, f"no stored blend for tft {tft_version}"
    return blend, ""


def has_blend(tft_version: str | None) -> bool:
    """Tell whether the TFT ``tft_version`` has a stored blend file (valid or not).

    Parameters
    ----------
    tft_version : str or None
        A registry version (None or ``""``: no TFT ran).

    Returns
    -------
    bool
        True when ``<registry>/<version>/blend.json`` exists: the run then forecasts with it
        (or logs why it cannot).
    """
    if not tft_version:
        return False
    from forecasting.models import stored_blend

    try:
        return stored_blend.blend_path(tft_version).exists()
    except ValueError:
        return False


def fitted_baseline(
    name: str,
    issue_time: TimeLike,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    train_span: str = "365D",
    leads: pd.TimedeltaIndex = LEADS,
) -> ResidualQuantileForecaster:
    """Return a baseline fitted before the issue month for the lead grid ``leads`` (JSON cache).

    See :func:`forecasting.models.baseline_cache.fitted_baseline`; a longer grid (72 h) is a
    separate fit.

    Parameters
    ----------
    name : str
        Baseline name (``persistence``, ``climatology``, ``burton`` ...; see
        :data:`DEFAULT_BASELINES`).
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    recorded : str or pathlib.Path, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    train_span : str
        Length of the training window before the issue month (pandas duration, default one
        year ``"365D"``).
    leads : pandas.TimedeltaIndex
        Lead grid (default :data:`LEADS`, 1..24 h).

    Returns
    -------
    ResidualQuantileForecaster
        The fitted baseline (from the JSON cache when already fitted).
    """
    return baseline_cache.fitted_baseline(
        name,
        issue_hour(issue_time),
        leads=leads,
        recorded=recorded,
        store_root=store_root,
        train_span=train_span,
    )


# ----------------------------------------------------------------------------- steps


def step_inputs(
    issue_time: TimeLike,
    *,
    live: bool = True,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
) -> dict:
    """Refresh inputs (fallbacks, freshness); see :func:`data_sources.live.refresh_inputs`.

    Parameters
    ----------
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    live : bool
        Try the real-time sources first (default); ``False``: store / recorded data only.
    recorded : str or pathlib.Path, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.

    Returns
    -------
    dict
        ``path`` (the inputs netCDF, hourly on ``time``, cut at the issue time) and
        ``freshness`` (input group -> source, ``newest``, ``age_hours``, ``stale``, ``tried``
        ...).
    """
    return inputs_mod.refresh_inputs(
        issue_hour(issue_time), live=live, recorded=recorded, store_root=store_root
    )


def step_model(
    model_name: str,
    inputs_path: str,
    issue_time: TimeLike,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    horizon: int | None = None,
    tft_version: str | None = None,
) -> dict:
    """Forecast with one model and archive it; an archived issue time is reused.

    ``model_name`` ``"primary"`` means the registry's current TFT, else the fallback;
    :data:`BLEND` the stored blend of TFT ``tft_version`` (:func:`current_blend`; when it
    cannot be built the result has no path and a logged ``note``).
    ``horizon`` [h] is the lead grid of a baseline (the primary's; default: the primary's own
    grid, :func:`lead_grid`). Returns ``{"model", "version", "path", "note", "horizon"}``;
    ``path`` is None if the model could not forecast (``note`` says why).

    Parameters
    ----------
    model_name : str
        ``"primary"``, a baseline name or :data:`BLEND`.
    inputs_path : str
        The run's inputs netCDF (:func:`step_inputs`; hourly on ``time``, cut at the issue
        time).
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    recorded : str or pathlib.Path, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    horizon : int, optional
        Lead grid 1..``horizon`` [h]; default the model's own (:func:`lead_grid`).
    tft_version : str, optional
        The TFT version of this run (the primary step's), whose stored blend
        :data:`BLEND` is; unused by the other models.

    Returns
    -------
    dict
        ``model`` (name actually used), ``version``, ``path`` (archived forecast or
        ``None``), ``note`` (fallback / reuse / failure text), ``horizon`` (number of hourly
        leads).
    """
    t = issue_hour(issue_time)
    note = ""
    if model_name == "primary":
        forecaster, why = current_tft()
        if forecaster is None:
            note = f"primary model: fell back to {FALLBACK_PRIMARY} ({why})"
            _warn_once(note)
            model_name = FALLBACK_PRIMARY
        else:
            model_name = forecaster.name
    elif model_name == BLEND:
        forecaster, why = current_blend(tft_version)
        if forecaster is None:
            note = f"{BLEND} not run: {why}"
            _warn_once(note)
            n = int(horizon or len(LEADS))
            return {"model": BLEND, "version": "", "path": None, "note": note, "horizon": n}
    else:
        forecaster = None
    leads = lead_grid(forecaster)
    if horizon:
        leads = pd.to_timedelta(np.arange(1, int(horizon) + 1), unit="h")
    n_h = len(leads)
    existing = archive.path_for(model_name, t)
    if existing.exists():
        fc = archive.load(t, model_name)
        return {
            "model": model_name,
            "version": fc.attrs.get("model_version", ""),
            "path": str(existing),
            "note": (note + "; " if note else "") + "reused archive",
            "horizon": int(fc.sizes.get("lead_time", n_h)),
        }
    with NETCDF_LOCK, xr.open_dataset(inputs_path) as ds:
        ds = ds.load()
    try:
        if forecaster is None:
            forecaster = fitted_baseline(
                model_name, t, recorded=recorded, store_root=store_root, leads=leads
            )
        targets = tuple(
            v
            for v in ("dst", "kp")
            if v in ds and v in getattr(forecaster, "supported", ("dst", "kp"))
        )
        fc = forecaster.forecast(ds, [t], leads, targets=targets)
    except (ValueError, KeyError) as exc:
        msg = f"{model_name} could not forecast {t}: {exc}"
        log.warning(msg)
        return {
            "model": model_name,
            "version": "",
            "path": None,
            "note": (note + "; " if note else "") + msg,
            "horizon": n_h,
        }
    path = archive.save(fc)
    return {
        "model": model_name,
        "version": fc.attrs.get("model_version", ""),
        "path": str(path),
        "note": note,
        "horizon": n_h,
    }


def _model_metadata(version: str) -> dict:
    """Read a registry version's ``metadata.json`` ({} when it cannot be read)."""
    from forecasting.models import registry

    try:
        return json.loads((registry.version_folder(version) / "metadata.json").read_text())
    except (OSError, ValueError):
        return {}


def step_primary(
    models: list[dict],
    issue_time: TimeLike,
    *,
    reports_dir: str | Path | None = None,
    record: str | Path | None = None,
) -> dict:
    """Choose the primary model per target and archive the primary forecast.

    The choice is :func:`forecasting.models.promotion.choose_primary`: per target the model
    that verified best on the validation years (:func:`forecasting.models.promotion.
    load_primary_evidence`: a validation skill report, else the promotion record, about the
    TFT version that ran); without evidence the first model of ``models`` (the TFT, or the
    fallback) runs unchecked and the log says so. The merged forecast
    (:func:`forecasting.models.promotion.merge_primary`) records the choice (``primary``,
    ``primary_basis``) and, for the targets whose primary model (the TFT, or its stored
    blend) stores validation-year decision thresholds, the probabilities the alert rules use (:data:`DECISION_ATTR`,
    :func:`forecasting.alerting.rules.model_event_probabilities`). It is archived as
    :data:`PRIMARY_ARCHIVE`; an archived issue time is reused (idempotent re-runs).

    Parameters
    ----------
    models
        The :func:`step_model` results of this run, the primary step first.
    issue_time
        Issue time (UTC).
    reports_dir
        Folder of the skill reports (default ``$SUPERSTORM_HOME/reports``).
    record
        Promotion record (default ``$SUPERSTORM_HOME/models/promotions.jsonl``).

    Returns
    -------
    dict
        ``{"model", "version", "path", "note", "horizon", "primary", "basis"}``: ``primary``
        is target -> model, ``basis`` target -> reason; ``path`` None when no model forecast.
    """
    t = issue_hour(issue_time)
    first = models[0] if models else {"model": FALLBACK_PRIMARY, "note": "", "horizon": 24}
    existing = archive.path_for(PRIMARY_ARCHIVE, t)
    if existing.exists():
        fc = archive.load(t, PRIMARY_ARCHIVE)
        return _primary_entry(fc, str(existing), "reused archive")
    forecasts: dict[str, xr.Dataset] = {}
    for m in models:
        if m.get("path"):
            with NETCDF_LOCK, xr.open_dataset(m["path"]) as f:
                forecasts[m["model"]] = f.load()
    if not forecasts:
        return {
            **first,
            "path": None,
            "primary": {},
            "basis": {},
        }
    default = str(first["model"])
    version = str(first.get("version") or "") if default == "tft" else ""
    evidence, why = promotion.load_primary_evidence(
        version or None,
        reports_dir if reports_dir is not None else config.reports_dir(),
        record if record is not None else config.home() / "models" / "promotions.jsonl",
        versions={
            m["model"]: str(m.get("version") or "")
            for m in models
            if m["model"] == BLEND and m.get("path")
        },
    )
    choice = promotion.choose_primary(forecasts, evidence, default=default, why_none=why)
    if not choice.models:
        return {**first, "path": None, "primary": {}, "basis": {}}
    merged = promotion.merge_primary(forecasts, choice.models)
    merged.attrs.update(choice.attrs())
    probs: dict[str, float] = {}
    for target, name in choice.models.items():
        if name not in ("tft", BLEND) or not version:
            continue
        meta = _model_metadata(version) if name == "tft" else _blend_metadata(version)
        found, notes = model_event_probabilities(meta, (target,))
        probs.update(found)
        for n in notes:
            _warn_once(f"primary {target}: decision probability {n}")
    if probs:
        merged.attrs[DECISION_ATTR] = json.dumps(probs, sort_keys=True)
    for target, reason in choice.basis.items():
        text = f"primary {target} forecast: {reason}"
        if "unchecked" in reason or "this hour" in reason:
            _warn_once(text)
        else:
            log.info(text)
    path = archive.save(merged, name=PRIMARY_ARCHIVE)
    return _primary_entry(merged, str(path), "")


def _blend_metadata(tft_version: str) -> dict:
    """The stored blend's decision thresholds, as model metadata (empty when none)."""
    from forecasting.models import stored_blend

    try:
        record = stored_blend.read_record(tft_version)
    except ValueError:
        return {}
    if record is None:
        return {}
    return {"version": record.version, "decision_thresholds": record.decision_thresholds}


def _primary_entry(fc: xr.Dataset, path: str, note: str) -> dict:
    """Build the :func:`step_primary` result for the primary forecast ``fc`` at ``path``."""
    basis = [b.split(": ", 1) for b in str(fc.attrs.get("primary_basis", "")).split(" | ")]
    return {
        "model": str(fc.attrs.get("model", "")),
        "version": str(fc.attrs.get("model_version", "")),
        "path": path,
        "note": note,
        "horizon": int(fc.sizes.get("lead_time", len(LEADS))),
        "primary": promotion.parse_primary_attr(fc.attrs.get("primary")),
        "basis": {b[0]: b[1] for b in basis if len(b) == 2},
    }


class ForecastUnavailableError(ValueError):
    """The run had no usable primary forecast (its notice was logged; warnings stay in force)."""

    def __init__(self, message: str, result: dict | None = None) -> None:
        super().__init__(message)
        self.result = result


def step_alerts(
    forecast_path: str | None,
    inputs_path: str,
    issue_time: TimeLike,
    alert_config: AlertConfig | None = None,
) -> dict:
    """Evaluate the alert rules and commit them to the log, once per issue time.

    Observations and the forecast pass the range checks of :mod:`forecasting.alerting.qc`
    first (an out-of-range value cannot raise an alert). Reading the alerts in force, the
    rules and the write happen in one serialised log transaction, so concurrent runs never
    issue the same product twice. A missing or unusable forecast gives a FORECAST_UNAVAILABLE
    notice and leaves warnings in force. ``unavailable`` says why ('' when usable).

    Parameters
    ----------
    forecast_path : str or None
        The primary forecast's archived netCDF (forecast schema), or ``None`` when no
        forecast was made.
    inputs_path : str
        The run's inputs netCDF (:func:`step_inputs`; hourly on ``time``, cut at the issue
        time).
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    alert_config : AlertConfig, optional
        Rule thresholds; default :class:`~forecasting.alerting.rules.AlertConfig`.

    Returns
    -------
    dict
        ``repeat`` (the issue time was already logged: nothing new written), ``messages``
        (this run's log messages), ``unavailable`` (why the forecast is unusable, ``""`` when
        usable) and, on a first run, ``out_of_range`` (values dropped by the range checks:
        ``{"observed": {var: n}, "forecast": {var: n}}``).
    """
    t = issue_hour(issue_time)
    alert_log = AlertLog()
    if alert_log.has_run(t):
        alert_log.write_feed()
        return {"repeat": True, "messages": alert_log.messages(run_time=t), "unavailable": ""}
    fc: xr.Dataset | None = None
    if forecast_path:
        with NETCDF_LOCK, xr.open_dataset(forecast_path) as f:
            fc = f.load()
    with NETCDF_LOCK, xr.open_dataset(inputs_path) as ds:
        obs: xr.Dataset | None = ds.load()
    obs, dropped_obs = qc.mask_observations(obs)
    fc, dropped_fc = qc.mask_forecast(fc)
    cfg = alert_config or AlertConfig()
    msgs, repeat = alert_log.commit_run(
        t,
        lambda state, since: evaluate_rules(
            fc, obs, t, state, cfg, since=since, notice_unavailable=True
        ),
        note=(fc.attrs.get("model", "") if fc is not None else "no forecast"),
    )
    return {
        "repeat": repeat,
        "messages": msgs,
        "unavailable": forecast_usable(fc, cfg.warning_families),
        "out_of_range": {"observed": dropped_obs, "forecast": dropped_fc},
    }


def step_deliver(issue_time: TimeLike) -> dict:
    """Deliver every pending message (:func:`forecasting.alerting.delivery.deliver_pending`).

    Delivery is idempotent: each message is claimed before it is sent and a recorded success is
    never sent again; its serial goes along as the idempotency key.

    Parameters
    ----------
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).

    Returns
    -------
    dict
        Counts ``pending``, ``delivered``, ``grouped``, ``failed`` (see ``deliver_pending``).
    """
    return delivery.deliver_pending(AlertLog(), issue_hour(issue_time))


def step_dashboards(
    forecast_path: str | None = None,
    inputs_path: str | None = None,
    freshness: dict | None = None,
    out_dir: str | None = None,
) -> str:
    """Rebuild the dashboard site (``dashboards.site.build_site``).

    The site gets the primary forecast, the inputs as known at issue time, the last two days
    of archived forecasts per model, the active alert feed and the input freshness. A failure
    is logged and returned, never raised (the forecast is already stored).

    Parameters
    ----------
    forecast_path : str, optional
        The primary forecast's archived netCDF; ``None``: no forecast panels.
    inputs_path : str, optional
        The run's inputs netCDF.
    freshness : dict, optional
        Input group -> freshness dict (``newest`` ISO UTC) from :func:`step_inputs`.
    out_dir : str, optional
        Site folder; default ``$SUPERSTORM_HOME/site``.

    Returns
    -------
    str
        ``"built <folder>"`` or ``"failed: <error>"``.
    """
    from dashboards import site

    out = Path(out_dir) if out_dir else config.home() / "site"
    try:
        fc = obs = None
        if forecast_path:
            with NETCDF_LOCK, xr.open_dataset(forecast_path) as f:
                fc = f.load()
        if inputs_path:
            with NETCDF_LOCK, xr.open_dataset(inputs_path) as f:
                obs = f.load()
        archives = {}
        if fc is not None:
            t = pd.Timestamp(fc["init_time"].values[-1])
            for model in archive.models():  # the primary copy is left out
                try:
                    archives[model] = archive.load_range(
                        t - pd.Timedelta("2D"), t + pd.Timedelta("1h"), model
                    )
                except FileNotFoundError:
                    continue
        feed = AlertLog().feed
        alerts = json.loads(feed.read_text()) if feed.exists() else None
        model_info = site.load_model_info(config.home())
        newest = {
            g: pd.Timestamp(f["newest"].rstrip("Z"))
            for g, f in (freshness or {}).items()
            if f.get("newest")
        }
        site.build_site(
            out,
            forecast=fc,
            observed=obs,
            archive=archives or None,
            alerts=alerts,
            skill=site.load_skill(config.home()),
            model_info=model_info,
            freshness=newest or None,
        )
    except Exception as exc:  # noqa: BLE001 - a dashboard failure must not lose the forecast
        log.warning("dashboard rebuild failed: %s", exc)
        return f"failed: {type(exc).__name__}: {exc}"
    return f"built {out}"


def step_products(
    forecast_path: str | None, inputs_path: str, issue_time: TimeLike, out_dir: str | None = None
) -> dict:
    """Write the SWPC-layout products (:mod:`forecasting.products`) of this run.

    Into ``out_dir`` (default ``$SUPERSTORM_HOME/products/``): ``3-day-forecast.txt``,
    ``kp-forecast.json``, ``dst-forecast.json`` and ``alerts.json`` (the alert log's messages
    up to the issue time). A failure is logged and returned, never raised: the forecast and
    the alerts are already stored.

    Parameters
    ----------
    forecast_path : str or None
        The primary forecast's archived netCDF (forecast schema), or ``None`` when no
        forecast was made.
    inputs_path : str
        The run's inputs netCDF (:func:`step_inputs`; hourly on ``time``, cut at the issue
        time).
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    out_dir : str, optional
        Products folder; default ``$SUPERSTORM_HOME/products``.

    Returns
    -------
    dict
        ``{"dir": folder, "files": {name: path}}`` or ``{"dir", "error"}``.
    """
    t = issue_hour(issue_time)
    out = Path(out_dir) if out_dir else config.home() / "products"
    try:
        fc = None
        if forecast_path:
            with NETCDF_LOCK, xr.open_dataset(forecast_path) as f:
                fc = f.load()
        with NETCDF_LOCK, xr.open_dataset(inputs_path) as f:
            obs = f.load()
        paths = write_products(out, fc, obs, AlertLog().messages(), t)
    except Exception as exc:  # noqa: BLE001 - products must not lose the stored forecast
        log.warning("products for %s not written: %s: %s", t, type(exc).__name__, exc)
        return {"dir": str(out), "error": f"{type(exc).__name__}: {exc}"}
    log.info("products for %s written to %s", t, out)
    return {"dir": str(out), "files": {name: str(p) for name, p in paths.items()}}


def log_input_problems(freshness: dict) -> None:
    """Log one warning per input source passed over and per input group left stale.

    A source passed over failed, was empty or stale. These go to the ``flows.forecast``
    logger, so an operator sees in the Prefect run log (:func:`forward_project_logs`) which
    source failed and what the run used instead.

    Parameters
    ----------
    freshness : dict
        Input group -> freshness dict from :func:`step_inputs` (``source``, ``tried``,
        ``stale``, ``newest``, ``age_hours``).
    """
    for group, f in (freshness or {}).items():
        for tried in f.get("tried", []):
            name = tried.split(":", 1)[0]
            bad = any(w in tried for w in (": failed", ": no data", "(stale)"))
            if bad and name != f.get("source"):
                log.warning("input %s: %s; used %s instead", group, tried, f.get("source"))
        if f.get("stale"):
            log.warning(
                "input %s is stale: newest %s from %s (%s h old)",
                group,
                f.get("newest"),
                f.get("source"),
                f.get("age_hours"),
            )


class _RunLogForwarder(logging.Handler):
    """Sends records to the Prefect run log, only inside a flow or task run (else silent)."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        from prefect.logging.handlers import APILogHandler

        self._api = APILogHandler(level)

    def emit(self, record: logging.LogRecord) -> None:
        from prefect.context import FlowRunContext, TaskRunContext

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        self._api.emit(record)


def forward_project_logs(level: int = logging.INFO) -> list[str]:
    """Attach the Prefect run-log forwarder to :data:`PROJECT_LOGGERS` (once per process).

    Records of those loggers (``superstorm``, ``data_sources.*``, ``forecasting.*``,
    ``flows.*``, ``dashboards.*``) that pass the loggers' own levels reach the Prefect UI under
    the flow or task run that logged them; outside a run nothing is sent. Loggers Prefect
    already forwards (``PREFECT_LOGGING_EXTRA_LOGGERS``) are left alone.

    Parameters
    ----------
    level : int
        Lowest level forwarded (``logging`` constant, default ``INFO``).

    Returns
    -------
    list of str
        The loggers a forwarder was attached to by this call.
    """
    from prefect.logging.handlers import APILogHandler

    attached = []
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if any(isinstance(h, APILogHandler | _RunLogForwarder) for h in logger.handlers):
            continue
        logger.addHandler(_RunLogForwarder(level))
        attached.append(name)
    return attached


def _model_run_name() -> str:
    """Prefect task-run name of a model step: ``forecast-tft``, ``forecast-burton`` ..."""
    from prefect.runtime import task_run

    name = task_run.parameters.get("model_name", "model")
    if name == "primary":
        try:
            from forecasting.models import registry

            name = "tft" if registry.current() else FALLBACK_PRIMARY
        except Exception:  # noqa: BLE001 - a name must never fail the task
            name = "primary"
    return f"forecast-{name}"


def publish_links(products: dict, dashboards: str, issue_time: TimeLike) -> None:
    """Create Prefect link artifacts to this run's products and the dashboard's Now page.

    Parameters
    ----------
    products : dict
        Result of :func:`step_products` (``dir``, ``files``); no link when
        ``3-day-forecast.txt`` was not written.
    dashboards : str
        Result of :func:`step_dashboards`; a link only when it starts with ``"built "``.
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    """
    t = issue_hour(issue_time)
    files = products.get("files") or {}
    if files.get("3-day-forecast.txt"):
        create_link_artifact(
            key="superstorm-products",
            link=Path(files["3-day-forecast.txt"]).resolve().as_uri(),
            link_text=f"3-day forecast {t:%Y-%m-%d %H:%M} UTC (folder {products['dir']})",
            description="SWPC-layout products: "
            + ", ".join(f"[{n}]({Path(p).resolve().as_uri()})" for n, p in files.items()),
        )
    if dashboards.startswith("built "):
        index = Path(dashboards.removeprefix("built ")) / "index.html"
        create_link_artifact(
            key="superstorm-dashboard",
            link=index.resolve().as_uri(),
            link_text="dashboard: Now page",
            description=f"superstorm dashboard rebuilt for {t:%Y-%m-%d %H:%M} UTC",
        )


# --------------------------------------------------------------------------- summary


def summary_markdown(
    issue_time: TimeLike,
    models: list[dict],
    freshness: dict,
    alerts: dict,
    delivered: dict,
    dashboards: str,
    primary: dict | None = None,
) -> str:
    """Write the Prefect artifact: peak quantiles, storm probabilities, model, input freshness.

    Storm levels are those of :data:`forecasting.alerting.rules.LEVELS`: NOAA G1..G5 as
    ``P(Kp >= 14/3, 17/3, 20/3, 23/3, 9)`` and ``P(Dst <= -50, -100, -250 nT)``, each the
    largest over the lead grid.

    Parameters
    ----------
    issue_time : TimeLike
        Issue time (UTC), floored to the whole hour (:func:`issue_hour`).
    models : list of dict
        :func:`step_model` results, the primary first.
    freshness : dict
        Input group -> freshness dict from :func:`step_inputs`.
    alerts : dict
        Result of :func:`step_alerts`.
    delivered : dict
        Result of :func:`step_deliver` (or ``{"skipped": True}``).
    dashboards : str
        Result of :func:`step_dashboards`.
    primary : dict, optional
        The :func:`step_primary` result (default: the first of ``models`` is primary).

    Returns
    -------
    str
        Markdown: peak median and 5-95 % range of ``dst`` [nT] and ``kp`` with their lead [h],
        storm-level probabilities, models, input freshness, alert messages, delivery and
        dashboard outcome.
    """
    t = issue_hour(issue_time)
    lines = [f"# superstorm forecast issued {t:%Y-%m-%d %H:%M} UTC", ""]
    if primary is None:
        primary = models[0] if models else None
    if primary and primary.get("path"):
        with NETCDF_LOCK, xr.open_dataset(primary["path"]) as f:
            fc = f.load()
        lines += [
            f"Primary model: **{primary['model']}** version `{primary['version']}`"
            + (f" — {primary['note']}" if primary.get("note") else ""),
            "",
        ]
        lines += [f"- primary {k}: {v}" for k, v in (primary.get("basis") or {}).items()]
        if primary.get("basis"):
            lines.append("")
        lines += ["| target | peak median | 5 % | 95 % | at lead |", "|---|---|---|---|---|"]
        for name in ("dst", "kp"):
            if name not in fc:
                continue
            q = fc[name].isel(init_time=0)
            med = q.sel(quantile=0.5, method="nearest").values
            if not np.isfinite(med).any():
                lines.append(f"| {name} | no value (inputs too old) | | | |")
                continue
            i = most_severe(name, med)
            lo, hi = q.isel(lead_time=i).min().item(), q.isel(lead_time=i).max().item()
            lead_h = int(pd.Timedelta(fc["lead_time"].values[i]) / pd.Timedelta("1h"))
            lines.append(f"| {name} | {med[i]:.1f} | {lo:.1f} | {hi:.1f} | {lead_h} h |")
        lines += ["", "| storm level | max probability over 24 h |", "|---|---|"]
        for name, levels in LEVELS.items():
            if name in fc:
                for lvl in levels:
                    p = exceedance_probability(fc, name, lvl.threshold)
                    op = ">=" if name == "kp" else "<="
                    shown = f"{float(p.max()):.2f}" if bool(p.notnull().any()) else "n/a"
                    lines.append(f"| {lvl.name}: {name} {op} {lvl.threshold:.3g} | {shown} |")
    elif primary:
        lines += [f"Primary model produced no forecast: {primary.get('note')}"]
    lines += ["", "## Models", ""]
    lines += [
        f"- {m['model']} `{m['version']}`: {m['path'] or 'no forecast'} {m['note']}" for m in models
    ]
    lines += [
        "",
        "## Input freshness",
        "",
        "| input | source | newest | age h | stale | real-time QC flagged |",
        "|---|---|---|---|---|---|",
    ]
    for g, f in freshness.items():
        qc = f.get("qc_note") or "none"
        lines.append(
            f"| {g} | {f['source']} | {f['newest']} | {f['age_hours']} | {f['stale']} | {qc} |"
        )
    lines += [f"- {g}: {f['lead_note']}" for g, f in freshness.items() if f.get("lead_note")]
    lines += ["", "## Alerts", ""]
    msgs = alerts.get("messages", [])
    lines += [f"- serial {m['serial']}: {m['text']}" for m in msgs] or ["- no new alert messages"]
    if alerts.get("repeat"):
        lines.append("- (issue time already logged: no new actions)")
    lines += ["", f"Delivery: {delivered}", "", f"Dashboards: {dashboards}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ runs


def run_forecast(
    issue_time: TimeLike | None = None,
    *,
    live: bool = True,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    alert_config: AlertConfig | None = None,
    deliver: bool = True,
    dashboards: bool = True,
    strict: bool = True,
) -> dict:
    """All steps without Prefect (replays, tests); the same order as :func:`forecast_flow`.

    With ``strict`` a run without a usable primary forecast raises
    :class:`ForecastUnavailableError` after its notice was logged and delivered (replays pass
    ``strict=False`` and go on). An issue time ahead of the clock is refused before any step.

    Parameters
    ----------
    issue_time : TimeLike, optional
        Issue time (UTC), floored to the hour; default the current hour.
    live : bool
        Try the real-time sources first (default); ``False``: store / recorded data only.
    recorded : str or pathlib.Path, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    baselines : sequence of str
        Baselines run beside the primary model on its lead grid (default all,
        :data:`DEFAULT_BASELINES`).
    alert_config : AlertConfig, optional
        Rule thresholds; default :class:`~forecasting.alerting.rules.AlertConfig`.
    deliver : bool
        Deliver pending messages (default); ``False`` leaves them pending.
    dashboards : bool
        Rebuild the dashboard site (default).
    strict : bool
        Raise :class:`ForecastUnavailableError` when the primary forecast is unusable.

    Returns
    -------
    dict
        ``issue_time``, ``inputs``, ``models`` (primary first), ``alerts``, ``products``,
        ``delivered``, ``dashboards`` and ``summary`` (the Markdown of
        :func:`summary_markdown`): each step's result.

    Raises
    ------
    FutureIssueTimeError
        If ``issue_time`` is ahead of the clock beyond the tolerance.
    ForecastUnavailableError
        With ``strict``, when no usable primary forecast was made (its ``result`` holds the
        run's dict).
    """
    t = issue_hour(issue_time)
    check_issue_time(t)
    inp = step_inputs(t, live=live, recorded=recorded, store_root=store_root)
    models = [step_model("primary", inp["path"], t, recorded=recorded, store_root=store_root)]
    horizon = models[0]["horizon"]
    models += [
        step_model(b, inp["path"], t, recorded=recorded, store_root=store_root, horizon=horizon)
        for b in baselines
        if b != models[0]["model"]
    ]
    tft_version = _tft_version(models[0])
    if has_blend(tft_version):
        models.append(step_model(BLEND, inp["path"], t, horizon=horizon, tft_version=tft_version))
    primary = step_primary(models, t)
    alerts = step_alerts(primary["path"], inp["path"], t, alert_config)
    products = step_products(primary["path"], inp["path"], t)
    delivered = step_deliver(t) if deliver else {"skipped": True}
    dash = (
        step_dashboards(primary["path"], inp["path"], inp["freshness"]) if dashboards else "skipped"
    )
    res = {
        "issue_time": t,
        "inputs": inp,
        "models": models,
        "primary": primary,
        "alerts": alerts,
        "products": products,
        "delivered": delivered,
        "dashboards": dash,
        "summary": summary_markdown(
            t, models, inp["freshness"], alerts, delivered, dash, primary=primary
        ),
    }
    if strict and alerts.get("unavailable"):
        raise ForecastUnavailableError(_unavailable_text(t, models, alerts), res)
    return res


def _tft_version(first: dict) -> str | None:
    """Give the TFT version of the primary step's result (None when the run fell back)."""
    if first.get("model") != "tft":
        return None
    return str(first.get("version") or "") or None


def _unavailable_text(t: pd.Timestamp, models: list[dict], alerts: dict) -> str:
    note = models[0].get("note") if models else ""
    return (
        f"no usable primary forecast for {t:%Y-%m-%d %H:%M} UTC ({alerts['unavailable']}"
        + (f"; {note}" if note else "")
        + "); a FORECAST_UNAVAILABLE notice was issued and warnings in force stay in force"
    )


#: timeout of each task [s] (a hanging source or webhook never holds an hourly run for long)
TASK_TIMEOUTS = {
    "inputs": 300.0,
    "model": 600.0,
    "primary": 120.0,
    "products": 120.0,
    "alerts": 120.0,
    "deliver": delivery.ROUND_DEADLINE_S + 60.0,
    "dashboards": 300.0,
}


def notify_run_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect ``on_failure`` hook: tell the operator through the alert channel.

    A run that failed for want of a forecast already sent its FORECAST_UNAVAILABLE notice; any
    other failure is sent here (idempotency key ``run-failed-<flow run id>``). A failure of
    this hook is logged, never raised.

    Parameters
    ----------
    flow : prefect.Flow
        The flow that failed (unused; Prefect's hook signature).
    flow_run : prefect.client.schemas.objects.FlowRun
        Its run: ``name``, ``id`` and ``parameters`` (``issue_time``) go into the message.
    state : prefect.client.schemas.objects.State
        The failed state; its ``message`` is the error text.
    """
    try:
        exc_text = str(state.message or "")
        if "FORECAST_UNAVAILABLE notice was issued" in exc_text:
            return
        channel = delivery.configured_channel()
        params = getattr(flow_run, "parameters", {}) or {}
        text = (
            f"superstorm forecast run {getattr(flow_run, 'name', '?')} for issue time "
            f"{params.get('issue_time') or 'now'} FAILED: {exc_text}. Alerts in force stay in "
            "force; check the Prefect UI for the failed task."
        )
        if channel is None:
            log.error("%s (no alert channel configured)", delivery.redact(text))
            return
        key = f"run-failed-{getattr(flow_run, 'id', '')}"
        body = json.dumps(
            {"kind": "RUN_FAILED", "idempotency_key": key, "message": text}, sort_keys=True
        )
        channel.send("superstorm RUN FAILED", delivery.redact(body, channel.secrets), key=key)
        log.warning("run failure sent to the operator: %s", delivery.redact(text, channel.secrets))
    except Exception as exc:  # noqa: BLE001 - the hook must not mask the run's own failure
        log.error("could not notify the operator of the failed run: %s", delivery.redact(str(exc)))


_NET: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [2, 5, 15]}
inputs_task = task(name="refresh-inputs", timeout_seconds=TASK_TIMEOUTS["inputs"], **_NET)(
    step_inputs
)
model_task = task(
    name="forecast-model",
    task_run_name=_model_run_name,
    timeout_seconds=TASK_TIMEOUTS["model"],
)(step_model)
primary_task = task(name="choose-primary", timeout_seconds=TASK_TIMEOUTS["primary"])(step_primary)
products_task = task(name="write-products", timeout_seconds=TASK_TIMEOUTS["products"])(
    step_products
)
alerts_task = task(name="evaluate-alerts", timeout_seconds=TASK_TIMEOUTS["alerts"])(step_alerts)
# delivery retries inside one deadline-bounded round (deliver_pending); no task retries on top
deliver_task = task(name="deliver-alerts", timeout_seconds=TASK_TIMEOUTS["deliver"])(step_deliver)
dash_task = task(name="rebuild-dashboards", timeout_seconds=TASK_TIMEOUTS["dashboards"])(
    step_dashboards
)


@flow(name="forecast", log_prints=True, on_failure=[notify_run_failed])
def forecast_flow(
    issue_time: str | None = None,
    live: bool = True,
    recorded: str | None = None,
    store_root: str | None = None,
    baselines: list[str] = list(DEFAULT_BASELINES),  # noqa: B006 - Prefect parameter
    deliver: bool = True,
    dashboards: bool = True,
) -> dict:
    """Hourly forecast: inputs, models, archive, alerts, delivery, dashboards, artifact.

    Fails (so ``on_failure`` and the UI tell the operator) on an issue time ahead of the
    clock and, after its notice went out, when no usable primary forecast was made.

    Parameters
    ----------
    issue_time : str, optional
        Issue time (ISO, UTC), floored to the hour; default the current hour.
    live : bool
        Try the real-time sources first (default); ``False``: store / recorded data only.
    recorded : str, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str, optional
        Store folder; default the configured store.
    baselines : list of str
        Baselines run beside the primary model (default all, :data:`DEFAULT_BASELINES`).
    deliver : bool
        Deliver pending messages (default).
    dashboards : bool
        Rebuild the dashboard site (default).

    Returns
    -------
    dict
        ``issue_time`` (ISO), ``models``, ``alert_serials`` (this run's), ``products``,
        ``delivered`` and ``freshness``.

    Raises
    ------
    FutureIssueTimeError
        If ``issue_time`` is ahead of the clock beyond the tolerance.
    ForecastUnavailableError
        When no usable primary forecast was made (after its notice was logged and sent).
    """
    t = issue_hour(issue_time)
    check_issue_time(t)
    forward_project_logs()
    inp = inputs_task(t, live=live, recorded=recorded, store_root=store_root)
    log_input_problems(inp["freshness"])
    models = [model_task("primary", inp["path"], t, recorded=recorded, store_root=store_root)]
    horizon = models[0]["horizon"]
    futures = [
        model_task.submit(
            b, inp["path"], t, recorded=recorded, store_root=store_root, horizon=horizon
        )
        for b in baselines
        if b != models[0]["model"]
    ]
    tft_version = _tft_version(models[0])
    if has_blend(tft_version):
        futures.append(
            model_task.submit(BLEND, inp["path"], t, horizon=horizon, tft_version=tft_version)
        )
    models += [f.result() for f in futures]
    primary = primary_task(models, t)
    alerts = alerts_task(primary["path"], inp["path"], t)
    products = products_task(primary["path"], inp["path"], t)
    delivered = deliver_task(t) if deliver else {"skipped": True}
    dash = dash_task(primary["path"], inp["path"], inp["freshness"]) if dashboards else "skipped"
    publish_links(products, dash, t)
    md = summary_markdown(t, models, inp["freshness"], alerts, delivered, dash, primary=primary)
    md += (
        "\n\n## Products\n\n"
        + "\n".join(f"- {name}: {path}" for name, path in (products.get("files") or {}).items())
        + (f"\n- not written: {products['error']}" if products.get("error") else "")
    )
    create_markdown_artifact(
        markdown=md,
        key="forecast-summary",
        description=f"superstorm forecast {t:%Y-%m-%d %H:%M} UTC",
    )
    res = {
        "issue_time": t.isoformat(),
        "models": models,
        "primary": primary.get("primary", {}),
        "alert_serials": [m["serial"] for m in alerts["messages"]],
        "products": products,
        "delivered": delivered,
        "freshness": inp["freshness"],
    }
    if alerts.get("unavailable"):
        raise ForecastUnavailableError(_unavailable_text(t, models, alerts), res)
    return res


def replay(
    start: TimeLike,
    end: TimeLike,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    baselines: Sequence[str] = (),
    use_prefect: bool = False,
    deliver: bool = True,
    dashboards: bool = False,
    alert_config: AlertConfig | None = None,
    on_hour: Callable[[pd.Timestamp, dict], object] | None = None,
) -> list[dict]:
    """Run the forecast hour by hour over ``[start, end)`` on recorded data, as if live.

    Inputs come from the store (or ``recorded``, a netCDF hourly dataset), cut at each issue
    time; forecasts are archived, the alert log and the JSON feed are updated as in
    operations. ``use_prefect`` runs the Prefect flow each hour (slower; same results).
    ``dashboards`` rebuilds the site once, after the last hour.

    Parameters
    ----------
    start, end : TimeLike
        Replay window (UTC), floored to whole hours, ``end`` exclusive.
    recorded : str or pathlib.Path, optional
        A recorded hourly netCDF dataset used instead of the store (replays).
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    baselines : sequence of str
        Baselines run beside the primary model (default none, for speed).
    use_prefect : bool
        Run :func:`forecast_flow` each hour instead of :func:`run_forecast`.
    deliver : bool
        Deliver pending messages each hour (default).
    dashboards : bool
        Rebuild the site after the last hour (default ``False``).
    alert_config : AlertConfig, optional
        Rule thresholds (without Prefect only; the flow uses the defaults).
    on_hour : callable, optional
        ``on_hour(issue_time, result)`` after each hour (progress, checks).

    Returns
    -------
    list of dict
        Each hour's result (:func:`run_forecast` or :func:`forecast_flow`), oldest first; an
        hour without a usable forecast is included, not raised.

    Raises
    ------
    ValueError
        If the window holds no whole hour.
    """
    hours = pd.date_range(issue_hour(start), issue_hour(end), freq="1h", inclusive="left")
    if not len(hours):
        raise ValueError(f"replay window {start} .. {end} holds no whole hour")
    out = []
    for t in hours:
        if use_prefect:
            try:
                res = forecast_flow(
                    issue_time=t.isoformat(),
                    live=False,
                    recorded=str(recorded) if recorded else None,
                    store_root=str(store_root) if store_root else None,
                    baselines=list(baselines),
                    deliver=deliver,
                    dashboards=dashboards and t == hours[-1],
                )
            except ForecastUnavailableError as exc:  # notice logged; the replay goes on
                res = exc.result  # type: ignore[assignment]  # always set when raised by the flow
        else:
            res = run_forecast(
                t,
                live=False,
                recorded=recorded,
                store_root=store_root,
                baselines=baselines,
                alert_config=alert_config,
                deliver=deliver,
                dashboards=dashboards and t == hours[-1],
                strict=False,
            )
        out.append(res)
        if on_hour is not None:
            on_hour(t, res)
    return out
