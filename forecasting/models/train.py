"""Train the TFT on the store's years, register it, and score it beside the baselines.

``train(preset)`` loads the split's training and validation years from the store
(:func:`forecasting.splits.load_training_data`: ingest -> store -> ``build_dataset``), builds the
feature frame, fits (:func:`forecasting.models.tft.fit`), measures validation metrics, and saves
a registry version. ``evaluate_version`` scores a saved version with
:func:`forecasting.evaluation.evaluate.evaluate` on the test years beside every baseline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.store import Store
from forecasting import splits
from forecasting.models import calibration, event_calibration, pipeline, registry
from forecasting.models.predict import TFTForecaster, predict_many
from forecasting.models.tft import TFTModel, fit, get_config
from forecasting.verification import scores

log = logging.getLogger(__name__)


def default_split(preset: str) -> splits.YearSplit:
    """Give the preset's :class:`forecasting.splits.YearSplit` after ``config.toml`` overrides.

    full: 1998-2010 / 2011-2014 / 2015-; quick: 2004-2005 / 2006 / 2007
    (:func:`forecasting.splits.configured_split`).

    Parameters
    ----------
    preset : str
        ``"quick"`` or ``"full"``.

    Returns
    -------
    forecasting.splits.YearSplit
        Train, validation and test years.
    """
    return splits.configured_split(preset)


def store_of(store: Store | None, home: str | Path | None) -> Store:
    """Give ``store``, else the store of ``home`` (``<home>/store``), else ``Store()``.

    Parameters
    ----------
    store
        A store, used as it is when given.
    home
        A superstorm home folder whose ``store`` is opened (None: ``$SUPERSTORM_HOME``).

    Returns
    -------
    Store
        The store to read.
    """
    if store is not None:
        return store
    return Store(Path(home) / "store") if home is not None else Store()


def _check_data(data: object) -> None:
    if data is not None and not isinstance(data, xr.Dataset):
        raise ValueError(
            f"data={data!r}: pass an xarray Dataset or None (read the store). To train on a "
            "recorded folder, ingest it first: `superstorm ingest --recorded DIR` "
            "(or `superstorm train --data DIR`)"
        )


def split_of(model: TFTModel) -> splits.YearSplit:
    """Give the split a saved model was trained with (its metadata), else its preset's default.

    Parameters
    ----------
    model : TFTModel
        A trained or loaded TFT; ``metadata["split"]["ranges"]`` holds its year ranges.

    Returns
    -------
    forecasting.splits.YearSplit
        Train, validation and test years.
    """
    ranges = model.metadata.get("split", {}).get("ranges")
    if ranges:
        return splits.YearSplit(**{p: splits.parse_years(t, p) for p, t in ranges.items()})
    return default_split(model.config.preset)


def provenance(ds: xr.Dataset) -> dict:
    """Record where the data came from: the load, and per variable the sources that won.

    Parameters
    ----------
    ds : xr.Dataset
        The training dataset (``build_dataset`` output); its attrs ``loaded_from``,
        ``years_loaded`` and each variable's ``source_hours`` (or ``source``) are read.

    Returns
    -------
    dict
        ``loaded_from``, ``years_loaded`` and ``variables``: name -> sources with their hour
        counts (quality-flag ``*_qc`` variables left out), all strings.
    """
    return {
        "loaded_from": str(ds.attrs.get("loaded_from", "dataset passed in")),
        "years_loaded": str(ds.attrs.get("years_loaded", "")),
        "variables": {
            name: str(ds[name].attrs.get("source_hours", ds[name].attrs.get("source", "")))
            for name in ds.data_vars
            if not str(name).endswith("_qc")
        },
    }


#: default issue-time spacing of the validation-year forecast the calibrations and the
#: decision probabilities are fitted on: hourly, so that rare events (Dst <= -100 nT: 18 hours
#: in 2013-2014) have enough occurrences; a model's own ``config.calibration_every`` (the
#: quick preset: 6 h) is used in training
CALIBRATION_EVERY = "1h"


def available_years(ds: xr.Dataset) -> list[int]:
    """Give the years in which ``ds`` holds observed Dst.

    Parameters
    ----------
    ds
        Hourly dataset on ``time`` with ``dst`` [nT].

    Returns
    -------
    list of int
        Sorted years with at least one finite Dst.

    Raises
    ------
    ValueError
        If ``ds`` has no ``dst``.
    """
    if "dst" not in ds:
        raise ValueError("dataset lacks 'dst'; the TFT needs dst and kp")
    years = pd.DatetimeIndex(ds.indexes["time"]).year
    ok = np.isfinite(ds["dst"].values)
    return sorted(int(y) for y in np.unique(years[ok]))


def validation_forecast(
    model: TFTModel, ds: xr.Dataset, years: Iterable[int], *, every: str = "6h"
) -> xr.Dataset | None:
    """Make the model's forecasts issued every ``every`` through ``years`` (None if none can be).

    Parameters
    ----------
    model
        A trained TFT.
    ds
        Hourly dataset covering ``years`` (and the encoder history before them).
    years
        Years to issue in (the validation years).
    every
        Issue-time spacing (pandas offset, default ``"6h"``; whole hours only are kept).

    Returns
    -------
    xr.Dataset or None
        Forecast dataset (:mod:`forecasting.schema`) on the issue times whose inputs are valid.
    """
    labels = pd.DatetimeIndex(ds.indexes["time"])
    in_years = labels[np.isin(labels.year, list(years))]
    if len(in_years) == 0:
        return None
    e = pd.Timedelta(hours=model.config.encoder_length)
    inits = pd.date_range(max(in_years.min(), labels.min() + e), in_years.max(), freq=every)
    inits = inits[inits.floor("1h") == inits]
    frame = pipeline.feature_frame(ds)
    source = model.source(frame)
    ok = source.valid_rows(need_targets=False)
    ok_times = set(pd.DatetimeIndex(frame.index)[ok])
    inits = pd.DatetimeIndex([t for t in inits if t in ok_times])
    if len(inits) == 0:
        return None
    return predict_many(model, ds, inits, interpret=False)


def validation_metrics(
    model: TFTModel,
    ds: xr.Dataset,
    years: Iterable[int],
    *,
    every: str = "6h",
    forecast: xr.Dataset | None = None,
) -> dict:
    """RMSE / MAE of the median and 80 % interval coverage on ``years`` at leads 1, 6, 12, 24 h.

    Scored by :func:`forecasting.verification.scores.score` (the one home of every score).

    Parameters
    ----------
    model, ds, years, every
        As for :func:`validation_forecast`.
    forecast
        That forecast, when already made.

    Returns
    -------
    dict
        ``n_init`` and ``{target}_{rmse,mae,coverage80}_{lead}h`` (target units; empty when
        no issue time is valid).
    """
    fc = forecast if forecast is not None else validation_forecast(model, ds, years, every=every)
    if fc is None:
        return {}
    out: dict = {"n_init": int(fc.sizes["init_time"])}
    leads = fc.indexes["lead_time"]
    for name in pipeline.TARGETS:
        s = scores.score(fc, ds, name, thresholds=())
        for lead in (1, 6, 12, 24):
            lt = pd.Timedelta(hours=lead)
            if lt not in leads:
                continue
            row = s.sel(lead_time=lt)
            for key, metric in (("rmse", "rmse"), ("mae", "mae"), ("coverage80", "coverage_80")):
                out[f"{name}_{key}_{lead}h"] = round(float(row[metric]), 3)
    return out


def calibrate_model(
    model: TFTModel,
    ds: xr.Dataset,
    years: Iterable[int],
    *,
    every: str = CALIBRATION_EVERY,
    forecast: xr.Dataset | None = None,
    events: bool = True,
    **kwargs: Any,
) -> xr.Dataset | None:
    """Fit the model's quantile and event calibrations on ``years``; store them in its metadata.

    The quantiles: conformal, per target, lead time, quantile level and activity regime known
    at the issue time (:func:`forecasting.models.calibration.fit_calibration`, stored as
    ``calibration``). Then the event probabilities of the calibrated quantiles: a Platt map
    per event and lead (:func:`forecasting.models.event_calibration.fit_event_calibration`,
    stored as ``event_calibration``). Use the validation years only, never the test years,
    at hourly issue times where the rare events matter. Save the model afterwards
    (:func:`registry.save`, or :func:`registry.update_metadata` with both keys for a saved
    one); :func:`forecasting.models.predict.predict_many` then applies them.

    Parameters
    ----------
    model
        A trained TFT; a calibration it already holds is replaced.
    ds
        Hourly dataset covering ``years`` (and the encoder history before them).
    years
        Years to fit on (the validation years).
    every
        Issue-time spacing of the calibration forecast.
    forecast
        The model's UNCALIBRATED forecast on those years, when already made.
    events
        Also fit the event recalibration (default True).
    **kwargs
        Passed to :func:`forecasting.models.calibration.fit_calibration` (``min_count``,
        ``dst_edges``, ``kp_edges``, ``window_h``).

    Returns
    -------
    xr.Dataset or None
        The calibrated forecast on ``years``, carrying the event recalibration (None, and
        nothing stored, when no issue time there is valid).
    """
    years = sorted(int(y) for y in years)
    if forecast is None:
        model.metadata.pop("calibration", None)
        model.metadata.pop("event_calibration", None)
        forecast = validation_forecast(model, ds, years, every=every)
    if forecast is None:
        return None
    fitted_on = "years " + ", ".join(map(str, years))
    table = calibration.fit_calibration(forecast, ds, fitted_on=fitted_on, **kwargs)
    model.metadata["calibration"] = table
    calibrated = calibration.apply_calibration(forecast, ds, table)
    model.metadata.pop("event_calibration", None)
    if not events:
        return calibrated
    events_table = event_calibration.fit_event_calibration(calibrated, ds, fitted_on=fitted_on)
    model.metadata["event_calibration"] = events_table
    return event_calibration.attach_event_calibration(calibrated, events_table)


def recalibrate(
    version: str = "latest",
    *,
    home: str | Path | None = None,
    store: Store | None = None,
    data: xr.Dataset | None = None,
) -> dict:
    """Refit a saved model's calibrations and decision probabilities on its validation years.

    For models saved before the event recalibration or the driver regime existed, or after
    new validation-year data were ingested: the quantile calibration, the event
    recalibration (:func:`calibrate_model`, issue times every ``config.calibration_every``)
    and the decision
    probabilities (:func:`forecasting.verification.scores.choose_decision_thresholds`) are
    refitted exactly as training fits them and written into the version's metadata. The
    network is unchanged; the test years are never read. A stored blend of the version was
    fitted with the old calibration and is refused until it is refitted
    (``superstorm blend``).

    Parameters
    ----------
    version
        Registry version (``latest``, ``current`` or a name).
    home
        The superstorm home folder (None: ``$SUPERSTORM_HOME``).
    store
        Store to read (default ``<home>/store``); not read when ``data`` is given.
    data
        Hourly dataset covering the validation years and the encoder history before them
        (default: the split's training and validation years from the store).

    Returns
    -------
    dict
        ``version``, ``validation_years``, ``n_init`` (issue times fitted on),
        ``events`` (event name -> occurrences per lead, of the recalibrated events) and
        ``decision_probabilities`` (event name -> p* [1], None where none was chosen).

    Raises
    ------
    ValueError
        If the data hold none of the model's validation years, or no issue time there has
        valid inputs.
    """
    model = registry.load(version, home=home)
    split = split_of(model)
    if data is None:
        data = splits.load_training_data(split, store=store_of(store, home))
    years = split.years("validate", available_years(data))
    if not years:
        raise ValueError(
            f"the data hold no validation year {split.validate} of model {model.version}; "
            "ingest them first (`superstorm ingest ...`)"
        )
    fc = calibrate_model(model, data, years, every=model.config.calibration_every)
    if fc is None:
        raise ValueError(f"no issue time in {years} has valid inputs for model {model.version}")
    thresholds = scores.choose_decision_thresholds(fc, data)
    keys = {"calibration", "event_calibration"}
    updates = {k: model.metadata[k] for k in keys if k in model.metadata}
    updates["decision_thresholds"] = thresholds
    registry.update_metadata(str(model.version), updates, home=home)
    events = model.metadata.get("event_calibration", {}).get("events", {})
    return {
        "version": str(model.version),
        "validation_years": years,
        "n_init": int(fc.sizes["init_time"]),
        "events": {name: e["n_events"] for name, e in events.items()},
        "decision_probabilities": {k: v.get("threshold") for k, v in thresholds.items()},
    }


def train(
    preset: str = "quick",
    *,
    data: xr.Dataset | None = None,
    split: splits.YearSplit | None = None,
    out: str | Path | None = None,
    overrides: dict | None = None,
    promote: bool = False,
    metrics: bool = True,
    store: Store | None = None,
    calibrate: bool = True,
    progress: bool | Callable[[str], None] = False,
    devices: int = 1,
) -> str:
    """Train, validate and register a TFT; return the registry version.

    Parameters
    ----------
    preset
        ``quick`` (< 2 min on 2 cores) or ``full`` (the real model, < 1 h).
    data
        A dataset to train on, or None to read the split's years from the store
        (:func:`forecasting.splits.load_training_data`).
    split
        :class:`forecasting.splits.YearSplit` (default: :func:`default_split` of the preset).
    out
        ``SUPERSTORM_HOME`` for the registry and the store (default: the environment's).
    overrides
        :class:`forecasting.models.tft.TFTConfig` fields to change (e.g. ``{"max_epochs": 1}``);
        they win over the ``[tft]`` / ``[tft.quick]`` table of ``config.toml``
        (:func:`data_sources.config.tft_overrides`), which wins over the preset.
    promote
        Point the registry's ``current`` at the new version.
    metrics
        Compute :func:`validation_metrics` on the validation years into ``metadata.json``, and
        choose the event decision probabilities there
        (:func:`forecasting.verification.scores.choose_decision_thresholds`, stored as
        ``decision_thresholds``; read them with
        :func:`forecasting.verification.scores.decision_threshold`).
    store
        Store to read (default: ``<out>/store``, else ``$SUPERSTORM_HOME/store``).
    calibrate
        With ``metrics``: as the last step, fit the per-lead, per-regime conformal calibration
        of the quantiles on the validation forecast (:func:`calibrate_model`), store it in
        ``metadata.json`` (``calibration``), and score the validation metrics (in-sample for the
        calibration) and choose the decision probabilities on the calibrated forecast; the
        uncalibrated metrics go to ``metrics.validation_uncalibrated``.
    progress
        One line per epoch (epoch, train and validation loss, samples/s, time left): ``True``
        prints it to stderr, a callable receives it, ``False`` (default) stays silent
        (:func:`forecasting.models.tft.fit`; the CLI turns it on when interactive).
    devices
        CPU processes training together (Lightning DDP on gloo, see
        :func:`forecasting.models.tft.fit`); 1: one process.

    Returns
    -------
    str
        The new registry version (``YYYYmmddTHHMMSS-<preset>``).

    Raises
    ------
    ValueError
        If the store lacks the split's years ("no solar wind in the store for 1998-2010: run
        `superstorm ingest ...`"), ``data`` is neither a dataset nor None, or ``config.toml``
        names a TFT setting that does not exist.
    """
    _check_data(data)
    config = get_config(preset, **{**configured_overrides(preset), **(overrides or {})})
    split = split if split is not None else default_split(preset)
    started = time.time()
    ds = data if data is not None else splits.load_training_data(split, store=store_of(store, out))
    log.info("loaded %s (%.1f s)", ds.attrs.get("loaded_from", "data"), time.time() - started)
    available = available_years(ds)
    train_years = split.years("train", available)
    val_years = split.years("validate", available)
    if not train_years or not val_years:
        raise ValueError(
            f"split {split} leaves train years {train_years} and validation years {val_years} "
            f"from the data's years {available}; pass data covering both"
        )
    last = max(train_years + val_years)  # validation years may precede the training ones
    keep = ds.sel(time=slice(None, pd.Timestamp(f"{last + 1}-01-01") - pd.Timedelta("1ns")))
    frame = pipeline.feature_frame(keep)
    log.info("training TFT preset=%s on %s, validating on %s", preset, train_years, val_years)
    model = fit(
        frame,
        train_years=train_years,
        val_years=val_years,
        config=config,
        progress=progress,
        devices=devices,
    )
    model.metadata["split"]["test"] = list(split.test)
    model.metadata["split"]["ranges"] = {
        p: splits.format_years(getattr(split, p)) for p in ("train", "validate", "test")
    }
    model.metadata["data_source"] = str(
        ds.attrs.get("loaded_from", ds.attrs.get("source_url", ds.attrs.get("source", "")))
    )[:500]
    model.metadata["data"] = provenance(keep)
    val_fc = (
        validation_forecast(model, keep, val_years, every=config.calibration_every)
        if metrics
        else None
    )
    raw_scores: dict = {}
    if val_fc is not None and calibrate:
        raw_scores = validation_metrics(model, keep, val_years, forecast=val_fc)
        val_fc = calibrate_model(model, keep, val_years, forecast=val_fc)
    val_scores = validation_metrics(model, keep, val_years, forecast=val_fc) if metrics else {}
    if val_fc is not None:
        # on the calibrated probabilities: the ones every consumer will see
        model.metadata["decision_thresholds"] = scores.choose_decision_thresholds(val_fc, keep)
    model.metadata["wall_seconds"] = round(time.time() - started, 1)
    run_metrics = {"validation": val_scores}
    if raw_scores:
        run_metrics["validation_uncalibrated"] = raw_scores
    version = registry.save(model, home=out, metrics=run_metrics)
    if promote:
        registry.promote(version, home=out)
    log.info("saved TFT %s (%.0f s)", version, time.time() - started)
    return version


def configured_overrides(preset: str) -> dict:
    """Return the ``config.toml`` TFT settings of ``preset``, checked against the fields.

    Parameters
    ----------
    preset
        ``quick`` or ``full``.

    Returns
    -------
    dict
        :class:`forecasting.models.tft.TFTConfig` field -> value (empty without a table).

    Raises
    ------
    ValueError
        Naming the file, the unknown key and the known fields.
    """
    import dataclasses

    from data_sources import config as ss_config
    from forecasting.models.tft import PRESETS, TFTConfig

    table = ss_config.tft_overrides(preset, presets=PRESETS)
    known = {f.name for f in dataclasses.fields(TFTConfig)} - {"preset"}
    unknown = sorted(set(table) - known)
    if unknown:
        section = "[tft]" if preset == "full" else f"[tft.{preset}]"
        raise ValueError(
            f"{ss_config.home() / 'config.toml'}: {section} {unknown[0]} is not a TFT setting; "
            f"use one of {sorted(known)}"
        )
    if table:
        log.info("config.toml TFT settings for preset %s: %s", preset, table)
    return dict(table)


def evaluate_version(
    version: str = "latest",
    *,
    data: xr.Dataset | None = None,
    split: splits.YearSplit | None = None,
    home: str | Path | None = None,
    out_dir: str | Path | None = None,
    store: Store | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Score a saved TFT beside every baseline with :func:`forecasting.evaluation.evaluate.evaluate`.

    The baselines (persistence, 27-day recurrence, climatology, Burton, O'Brien-McPherron)
    are fitted on the split's training years; scores are on the same samples for all. The
    TFT's stored blend (:func:`forecasting.models.stored_blend.load_blend`), when it has one,
    is scored too, as ``blend``.
    ``version`` is explicit (``latest``, ``current`` or a name) and both report files record
    it and the version it resolved to; ``part="validate"`` (a keyword) scores the
    validation years instead of the test years.

    Parameters
    ----------
    version
        Registry version (``latest``, ``current`` or a name).
    data
        Dataset to score on, or None to read the split's training through test years from the
        store (:func:`forecasting.splits.load_evaluation_data`).
    split
        Year split (default: the one the model was trained with, :func:`split_of`).
    home
        ``SUPERSTORM_HOME`` of the registry and the store (default: the environment's).
    out_dir
        Folder for ``skill.md`` and ``skill.nc`` (default: ``<home>/reports``, else
        :func:`data_sources.config.reports_dir`; never the current directory).
    store
        Store to read (default: ``<home>/store``, else ``$SUPERSTORM_HOME/store``).
    **kwargs
        Passed to :func:`forecasting.evaluation.evaluate.evaluate`.

    Returns
    -------
    xr.Dataset
        The evaluation results; ``<out_dir>/skill.md`` and ``skill.nc`` are written via
        :func:`forecasting.evaluation.evaluate.write_skill_report`.
    """
    from forecasting.evaluation import evaluate as ev

    _check_data(data)
    model = registry.load(version, home=home)
    split = split if split is not None else split_of(model)
    if data is None:
        data = splits.load_evaluation_data(split, store=store_of(store, home))
    from forecasting.models.baselines import all_baselines

    kwargs.setdefault("version_selector", version)
    from forecasting.models.stored_blend import load_blend

    blend = load_blend(str(model.version), home=home, model=model)  # None: no stored blend
    forecasters = [TFTForecaster(model), *all_baselines(), *([blend] if blend else [])]
    results = ev.evaluate(forecasters, data, split, **kwargs)
    if out_dir is None:
        out_dir = Path(home) / "reports" if home is not None else config.reports_dir()
    ev.write_skill_report(results, Path(out_dir))
    return results
