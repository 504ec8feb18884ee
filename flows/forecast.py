"""The hourly forecast flow: inputs -> models -> archive -> alerts -> delivery -> dashboards.

``forecast_flow(issue_time=None, ...)`` (Prefect) and ``run_forecast(...)`` (the same steps
without Prefect, used by fast replays) call the step functions below in order:

1. :func:`step_inputs` — refresh inputs with fallbacks (:mod:`data_sources.live`), cut at the issue
   time; returns the inputs file path and each input's freshness.
2. :func:`step_model` per model — the registry's current TFT when one is registered (else the
   primary model falls back to persistence, and the run says so), plus the baselines; every
   forecast is archived (:mod:`forecasting.archive`); an issue time already archived is
   loaded, not recomputed, so a re-run is idempotent.
3. :func:`step_alerts` — :func:`forecasting.alerting.rules.evaluate_rules` on the primary forecast
   and the observations known at the issue time; the actions are committed to the alert
   log in one transaction, once per issue time (a re-run is a no-op).
4. :func:`step_deliver` — every message not yet delivered (this run's and earlier ones').
5. :func:`step_dashboards` — ``dashboards.site.build_site`` when that module is installed.

Steps pass file paths and small dicts, never large frames.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from data_sources import config
from data_sources import live as inputs_mod
from data_sources.netcdf import NETCDF_LOCK
from data_sources.timeconv import to_utc, utc_now
from forecasting import archive
from forecasting.alerting import delivery
from forecasting.alerting.log import AlertLog
from forecasting.alerting.rules import LEVELS, AlertConfig, evaluate_rules
from forecasting.models.base import BASELINE_NAMES, BASELINES
from forecasting.schema import exceedance_probability, most_severe

log = logging.getLogger(__name__)

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
#: baselines run beside the primary model (the forecaster registry's baselines)
DEFAULT_BASELINES: tuple[str, ...] = BASELINE_NAMES
#: the primary model when the registry has no current TFT
FALLBACK_PRIMARY = "persistence"
_FITTED: dict[tuple, object] = {}
_SAID: set[str] = set()


def _warn_once(msg: str) -> None:
    """Log ``msg`` as a warning the first time in this process, then at INFO (replays)."""
    log.log(logging.INFO if msg in _SAID else logging.WARNING, msg)
    _SAID.add(msg)


def issue_hour(issue_time=None) -> pd.Timestamp:
    """The issue time as a naive UTC whole hour (default: the current hour)."""
    return (utc_now() if issue_time is None else to_utc(issue_time)).floor("h")


# ---------------------------------------------------------------------------- models


def current_tft():
    """``(forecaster, reason)``: the registry's promoted ('current') TFT, or None and why."""
    from forecasting.models import registry
    from forecasting.models.predict import TFTForecaster

    try:
        if registry.current() is None:
            return None, "no promoted ('current') TFT in the registry"
        return TFTForecaster(registry.load("current")), ""
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable model", said so
        return None, f"registry 'current' TFT unusable ({type(exc).__name__}: {exc})"


def fitted_baseline(
    name: str, issue_time, *, recorded=None, store_root=None, train_span: str = "365D"
):
    """A baseline fitted on the ``train_span`` before the first of the issue month.

    The fit is cached in memory and under ``$SUPERSTORM_HOME/models/baselines/`` so hourly
    runs refit once a month. If the month start leaves too little training data (< 50 pairs)
    the fit uses everything before the issue time instead.
    """
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINE_NAMES)}")
    t = issue_hour(issue_time)
    ends = [t.to_period("M").to_timestamp(), t]
    for fit_end in ends:
        key = (name, str(fit_end), str(recorded), str(store_root), str(config.home()))
        if key in _FITTED:
            return _FITTED[key]
        cache = config.home() / "models" / "baselines" / f"{name}_{fit_end:%Y%m%dT%H%M}.pkl"
        if cache.exists():
            with cache.open("rb") as fh:
                model = pickle.load(fh)
            _FITTED[key] = model
            return model
        train = inputs_mod._store_frame(
            fit_end - pd.Timedelta(train_span),
            fit_end,
            recorded=Path(recorded) if recorded else None,
            store_root=Path(store_root) if store_root else None,
        )
        if train is None:
            continue
        model = BASELINES[name]()
        targets = [v for v in ("dst", "kp") if v in train and v in model.supported]
        try:
            model.fit(train, lead_times=LEADS, targets=targets)
        except ValueError as exc:
            log.info("fitting %s up to %s failed (%s); trying a later end", name, fit_end, exc)
            continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(model, fh)
        tmp.replace(cache)
        _FITTED[key] = model
        return model
    raise ValueError(f"cannot fit baseline {name!r} before {t}: not enough stored history")


# ----------------------------------------------------------------------------- steps


def step_inputs(issue_time, *, live: bool = True, recorded=None, store_root=None) -> dict:
    """Refresh inputs (fallbacks, freshness); see :func:`data_sources.live.refresh_inputs`."""
    return inputs_mod.refresh_inputs(
        issue_hour(issue_time), live=live, recorded=recorded, store_root=store_root
    )


def step_model(
    model_name: str, inputs_path: str, issue_time, *, recorded=None, store_root=None
) -> dict:
    """Forecast with one model and archive it; an archived issue time is reused.

    ``model_name`` ``"primary"`` means the registry's current TFT, else the fallback.
    Returns ``{"model", "version", "path", "note"}``; ``path`` is None if the model could
    not forecast (``note`` says why).
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
    else:
        forecaster = None
    existing = archive.path_for(model_name, t)
    if existing.exists():
        fc = archive.load(t, model_name)
        return {
            "model": model_name,
            "version": fc.attrs.get("model_version", ""),
            "path": str(existing),
            "note": (note + "; " if note else "") + "reused archive",
        }
    with NETCDF_LOCK, xr.open_dataset(inputs_path) as ds:
        ds = ds.load()
    try:
        if forecaster is None:
            forecaster = fitted_baseline(model_name, t, recorded=recorded, store_root=store_root)
        targets = tuple(
            v
            for v in ("dst", "kp")
            if v in ds and v in getattr(forecaster, "supported", ("dst", "kp"))
        )
        fc = forecaster.forecast(ds, [t], LEADS, targets=targets)
    except (ValueError, KeyError) as exc:
        msg = f"{model_name} could not forecast {t}: {exc}"
        log.warning(msg)
        return {
            "model": model_name,
            "version": "",
            "path": None,
            "note": (note + "; " if note else "") + msg,
        }
    path = archive.save(fc)
    return {
        "model": model_name,
        "version": fc.attrs.get("model_version", ""),
        "path": str(path),
        "note": note,
    }


def step_alerts(
    forecast_path: str | None, inputs_path: str, issue_time, alert_config: AlertConfig | None = None
) -> dict:
    """Evaluate the alert rules and commit them to the log, once per issue time."""
    t = issue_hour(issue_time)
    alert_log = AlertLog()
    if alert_log.has_run(t):
        alert_log.write_feed()
        return {"repeat": True, "messages": alert_log.messages(run_time=t)}
    fc = None
    if forecast_path:
        with NETCDF_LOCK, xr.open_dataset(forecast_path) as f:
            fc = f.load()
    with NETCDF_LOCK, xr.open_dataset(inputs_path) as ds:
        obs = ds.load()
    actions = evaluate_rules(fc, obs, t, alert_log.state(), alert_config)
    msgs = alert_log.record_run(
        t, actions, note=(fc.attrs.get("model", "") if fc is not None else "no forecast")
    )
    return {"repeat": False, "messages": msgs}


def step_deliver(issue_time) -> dict:
    """Deliver every pending message (:func:`forecasting.alerting.delivery.deliver_pending`)."""
    return delivery.deliver_pending(AlertLog(), issue_hour(issue_time))


def step_dashboards(
    forecast_path: str | None = None,
    inputs_path: str | None = None,
    freshness: dict | None = None,
    out_dir: str | None = None,
) -> str:
    """Rebuild the dashboard site (``dashboards.site.build_site``).

    The site gets the primary forecast, the inputs as known at issue time, the last two days
    of archived forecasts per model, the active alert feed and the input freshness.
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
            for model in archive.models():
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


# --------------------------------------------------------------------------- summary


def summary_markdown(
    issue_time, models: list[dict], freshness: dict, alerts: dict, delivered: dict, dashboards: str
) -> str:
    """The Prefect artifact: peak quantiles, storm probabilities, model, input freshness."""
    t = issue_hour(issue_time)
    lines = [f"# superstorm forecast issued {t:%Y-%m-%d %H:%M} UTC", ""]
    primary = models[0] if models else None
    if primary and primary.get("path"):
        with NETCDF_LOCK, xr.open_dataset(primary["path"]) as f:
            fc = f.load()
        lines += [
            f"Primary model: **{primary['model']}** version `{primary['version']}`"
            + (f" — {primary['note']}" if primary.get("note") else ""),
            "",
        ]
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
        "| input | source | newest | age h | stale |",
        "|---|---|---|---|---|",
    ]
    for g, f in freshness.items():
        lines.append(f"| {g} | {f['source']} | {f['newest']} | {f['age_hours']} | {f['stale']} |")
    lines += ["", "## Alerts", ""]
    msgs = alerts.get("messages", [])
    lines += [f"- serial {m['serial']}: {m['text']}" for m in msgs] or ["- no new alert messages"]
    if alerts.get("repeat"):
        lines.append("- (issue time already logged: no new actions)")
    lines += ["", f"Delivery: {delivered}", "", f"Dashboards: {dashboards}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ runs


def run_forecast(
    issue_time=None,
    *,
    live: bool = True,
    recorded=None,
    store_root=None,
    baselines: Sequence[str] = DEFAULT_BASELINES,
    alert_config: AlertConfig | None = None,
    deliver: bool = True,
    dashboards: bool = True,
) -> dict:
    """All steps without Prefect (replays, tests); the same order as :func:`forecast_flow`."""
    t = issue_hour(issue_time)
    inp = step_inputs(t, live=live, recorded=recorded, store_root=store_root)
    models = [step_model("primary", inp["path"], t, recorded=recorded, store_root=store_root)]
    models += [
        step_model(b, inp["path"], t, recorded=recorded, store_root=store_root)
        for b in baselines
        if b != models[0]["model"]
    ]
    alerts = step_alerts(models[0]["path"], inp["path"], t, alert_config)
    delivered = step_deliver(t) if deliver else {"skipped": True}
    dash = (
        step_dashboards(models[0]["path"], inp["path"], inp["freshness"])
        if dashboards
        else "skipped"
    )
    return {
        "issue_time": t,
        "inputs": inp,
        "models": models,
        "alerts": alerts,
        "delivered": delivered,
        "dashboards": dash,
        "summary": summary_markdown(t, models, inp["freshness"], alerts, delivered, dash),
    }


_NET = {"retries": 3, "retry_delay_seconds": [2, 5, 15]}
inputs_task = task(name="refresh-inputs", **_NET)(step_inputs)
model_task = task(name="forecast-model")(step_model)
alerts_task = task(name="evaluate-alerts")(step_alerts)
deliver_task = task(name="deliver-alerts", **_NET)(step_deliver)
dash_task = task(name="rebuild-dashboards")(step_dashboards)


@flow(name="forecast", log_prints=True)
def forecast_flow(
    issue_time: str | None = None,
    live: bool = True,
    recorded: str | None = None,
    store_root: str | None = None,
    baselines: list[str] = list(DEFAULT_BASELINES),  # noqa: B006 - Prefect parameter
    deliver: bool = True,
    dashboards: bool = True,
) -> dict:
    """Hourly forecast: inputs, models, archive, alerts, delivery, dashboards, artifact."""
    t = issue_hour(issue_time)
    inp = inputs_task(t, live=live, recorded=recorded, store_root=store_root)
    models = [model_task("primary", inp["path"], t, recorded=recorded, store_root=store_root)]
    futures = [
        model_task.submit(b, inp["path"], t, recorded=recorded, store_root=store_root)
        for b in baselines
        if b != models[0]["model"]
    ]
    models += [f.result() for f in futures]
    alerts = alerts_task(models[0]["path"], inp["path"], t)
    delivered = deliver_task(t) if deliver else {"skipped": True}
    dash = dash_task(models[0]["path"], inp["path"], inp["freshness"]) if dashboards else "skipped"
    md = summary_markdown(t, models, inp["freshness"], alerts, delivered, dash)
    create_markdown_artifact(
        markdown=md,
        key="forecast-summary",
        description=f"superstorm forecast {t:%Y-%m-%d %H:%M} UTC",
    )
    return {
        "issue_time": t.isoformat(),
        "models": models,
        "alert_serials": [m["serial"] for m in alerts["messages"]],
        "delivered": delivered,
        "freshness": inp["freshness"],
    }


def replay(
    start,
    end,
    *,
    recorded=None,
    store_root=None,
    baselines: Sequence[str] = (),
    use_prefect: bool = False,
    deliver: bool = True,
    dashboards: bool = False,
    alert_config: AlertConfig | None = None,
    on_hour=None,
) -> list[dict]:
    """Run the forecast hour by hour over ``[start, end)`` on recorded data, as if live.

    Inputs come from the store (or ``recorded``, a netCDF hourly dataset), cut at each issue
    time; forecasts are archived, the alert log and the JSON feed are updated as in
    operations. ``use_prefect`` runs the Prefect flow each hour (slower; same results).
    ``dashboards`` rebuilds the site once, after the last hour.
    """
    hours = pd.date_range(issue_hour(start), issue_hour(end), freq="1h", inclusive="left")
    if not len(hours):
        raise ValueError(f"replay window {start} .. {end} holds no whole hour")
    out = []
    for t in hours:
        if use_prefect:
            res = forecast_flow(
                issue_time=t.isoformat(),
                live=False,
                recorded=str(recorded) if recorded else None,
                store_root=str(store_root) if store_root else None,
                baselines=list(baselines),
                deliver=deliver,
                dashboards=dashboards and t == hours[-1],
            )
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
            )
        out.append(res)
        if on_hour is not None:
            on_hour(t, res)
    return out
