"""Fitted baselines cached as JSON under ``$SUPERSTORM_HOME/models/baselines/`` (no pickle).

Hourly forecast runs refit each baseline once a month: the fit (residual quantiles per
target and lead, or the climatology table) is a few numbers, written as JSON through an
atomic rename and read back into a fresh instance of a known class. Nothing in a cache file
is executed: the class comes from :data:`CLASSES` by name, the values are numbers. Caches
written by older releases as ``*.pkl`` are never read (they are refitted; ``superstorm prune``
sweeps them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from data_sources import config
from data_sources.http import atomic_write_bytes
from forecasting.models import baselines
from forecasting.models.base import BASELINES

log = logging.getLogger(__name__)

FORMAT = "superstorm-baseline/1"

#: baseline name -> class (the forecaster registry's); the only classes a cache file may name
CLASSES = BASELINES

_FITTED: dict[tuple, baselines.ResidualQuantileForecaster] = {}


class BaselineCacheError(ValueError):
    """A baseline cache file is not one this module wrote."""


def _frame_to_json(table: pd.DataFrame, *, lead_index: bool) -> dict:
    index = (
        [int(v) for v in pd.TimedeltaIndex(table.index) // pd.Timedelta("1s")]
        if lead_index
        else [int(v) for v in table.index]
    )
    return {
        "index": index,  # lead times in whole seconds, or the climatology group keys
        "columns": [float(c) for c in table.columns],
        "values": [[None if np.isnan(v) else float(v) for v in row] for row in table.to_numpy()],
    }


def _frame_from_json(data: dict, *, lead_index: bool) -> pd.DataFrame:
    values = np.array(
        [[np.nan if v is None else float(v) for v in row] for row in data["values"]], dtype=float
    )
    index = [int(v) for v in data["index"]]
    idx = pd.to_timedelta(index, unit="s") if lead_index else index
    return pd.DataFrame(
        values.reshape(len(index), len(data["columns"])),
        index=idx,
        columns=[float(c) for c in data["columns"]],
    )


def to_json(model: baselines.ResidualQuantileForecaster) -> str:
    """Serialise the fitted state of ``model`` as JSON text.

    Parameters
    ----------
    model : baselines.ResidualQuantileForecaster
        A fitted baseline whose exact class is in :data:`CLASSES`.

    Returns
    -------
    str
        A :data:`FORMAT` document: ``name``, ``quantiles``, ``fit_span`` and the residual
        quantiles per target (leads in whole seconds, values in the target's unit, NaN as
        ``null``); a climatology adds ``by`` and its ``table``.

    Raises
    ------
    BaselineCacheError
        If ``model`` is not one of :data:`CLASSES`.
    """
    if CLASSES.get(model.name) is not type(model):
        raise BaselineCacheError(f"cannot cache {type(model).__name__}: not a known baseline")
    state = {
        "format": FORMAT,
        "name": model.name,
        "quantiles": list(model.quantiles),
        "fit_span": list(model.fit_span_) if model.fit_span_ else None,
        "residual_quantiles": {
            t: _frame_to_json(df, lead_index=True) for t, df in model.residual_quantiles_.items()
        },
    }
    if isinstance(model, baselines.Climatology):
        state["by"] = model.by
        state["table"] = {t: _frame_to_json(df, lead_index=False) for t, df in model.table_.items()}
    return json.dumps(state)


def from_json(text: str, *, name: str = "<cache>") -> baselines.ResidualQuantileForecaster:
    """Rebuild a fitted baseline from :func:`to_json` text.

    Only numbers are read and the class comes from :data:`CLASSES` by name; nothing in the
    text is executed.

    Parameters
    ----------
    text : str
        JSON written by :func:`to_json`.
    name : str, default "<cache>"
        Where the text came from (a file path), used in error messages.

    Returns
    -------
    baselines.ResidualQuantileForecaster
        A fresh instance of the named class, fitted (``is_fitted``).

    Raises
    ------
    BaselineCacheError
        If the text is not such a file (wrong format tag, unknown baseline, bad values).
    """
    try:
        state = json.loads(text)
        if state.get("format") != FORMAT:
            raise BaselineCacheError(f"{name}: not a {FORMAT} file")
        cls = CLASSES.get(state["name"])
        if cls is None:
            raise BaselineCacheError(f"{name}: unknown baseline {state['name']!r}")
        quantiles = [float(q) for q in state["quantiles"]]
        model: baselines.ResidualQuantileForecaster
        if cls is baselines.Climatology:
            model = cls(by=str(state["by"]), quantiles=quantiles)
            model.table_ = {
                str(t): _frame_from_json(d, lead_index=False) for t, d in state["table"].items()
            }
        else:
            model = cls(quantiles=quantiles)
        model.residual_quantiles_ = {
            str(t): _frame_from_json(d, lead_index=True)
            for t, d in state["residual_quantiles"].items()
        }
        span = state.get("fit_span")
        model.fit_span_ = (str(span[0]), str(span[1])) if span else None
        return model
    except BaselineCacheError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise BaselineCacheError(f"{name}: not a valid baseline cache ({exc})") from None


def cache_path(name: str, fit_end: pd.Timestamp, n_leads: int = 24) -> Path:
    """Give the cache file ``$SUPERSTORM_HOME/models/baselines/<name>_<fit end>[_<n>h].json``.

    The default 24-h lead grid has no suffix; another grid (72 h) is a separate fit and file.

    Parameters
    ----------
    name : str
        Baseline name (``persistence``, ``climatology`` ...).
    fit_end : pandas.Timestamp
        End of the training window (UTC naive), written as ``YYYYmmddTHHMM``.
    n_leads : int, default 24
        Number of hourly leads the fit covers.

    Returns
    -------
    pathlib.Path
        The file path (not created here).
    """
    grid = "" if n_leads == 24 else f"_{n_leads}h"
    return config.home() / "models" / "baselines" / f"{name}_{fit_end:%Y%m%dT%H%M}{grid}.json"


def load_cached(path: Path) -> baselines.ResidualQuantileForecaster | None:
    """Read the cached fit at ``path``; ``None`` (logged) when it is missing or not valid.

    Parameters
    ----------
    path : pathlib.Path
        A cache file (:func:`cache_path`).

    Returns
    -------
    baselines.ResidualQuantileForecaster or None
        The fitted baseline, or ``None`` when the file is absent, unreadable or not a valid
        :data:`FORMAT` file (a warning is logged and the caller refits).
    """
    if not path.exists():
        return None
    try:
        return from_json(path.read_text(), name=str(path))
    except (BaselineCacheError, OSError, UnicodeDecodeError) as exc:
        log.warning("ignoring baseline cache %s (%s); refitting", path, exc)
        return None


def fitted_baseline(
    name: str,
    issue_time: pd.Timestamp,
    *,
    leads: Sequence,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    train_span: str = "365D",
) -> baselines.ResidualQuantileForecaster:
    """Give a baseline fitted on the ``train_span`` before the first of the issue month.

    The fit is cached in memory and as JSON (:func:`cache_path`), so hourly runs refit once
    a month. If the month start leaves too little training data (< 50 pairs) the fit uses
    the ``train_span`` before the issue time itself instead.

    Parameters
    ----------
    name : str
        A baseline of :data:`CLASSES`.
    issue_time : pandas.Timestamp
        Naive UTC whole hour.
    leads : sequence of timedelta
        Lead times the fit covers (whole hours >= 1 h).
    recorded, store_root : str or pathlib.Path, optional
        Where the training history comes from: a recorded NetCDF dataset file, else the data
        store at ``store_root`` (``None``: the configured store); see
        :func:`data_sources.live._store_frame`.
    train_span : str, default "365D"
        Length of the training window (pandas offset).

    Returns
    -------
    baselines.ResidualQuantileForecaster
        The fitted baseline (the same instance for repeated calls in one process).

    Raises
    ------
    ValueError
        If ``name`` is unknown or the stored history is too short.
    """
    from data_sources import live

    if name not in CLASSES:
        raise ValueError(f"unknown baseline {name!r}; choose from {sorted(CLASSES)}")
    t = pd.Timestamp(issue_time)
    for fit_end in (t.to_period("M").to_timestamp(), t):
        key = (name, str(fit_end), len(leads), str(recorded), str(store_root), str(config.home()))
        if key in _FITTED:
            return _FITTED[key]
        cache = cache_path(name, fit_end, len(leads))
        model = load_cached(cache)
        if model is not None:
            _FITTED[key] = model
            return model
        train = live._store_frame(
            fit_end - pd.Timedelta(train_span),
            fit_end,
            recorded=Path(recorded) if recorded else None,
            store_root=Path(store_root) if store_root else None,
        )
        if train is None:
            continue
        model = CLASSES[name]()
        targets = [v for v in ("dst", "kp") if v in train and v in model.supported]
        try:
            model.fit(train, lead_times=leads, targets=targets)
        except ValueError as exc:
            log.info("fitting %s up to %s failed (%s); trying a later end", name, fit_end, exc)
            continue
        atomic_write_bytes(cache, to_json(model).encode())
        _FITTED[key] = model
        return model
    raise ValueError(f"cannot fit baseline {name!r} before {t}: not enough stored history")
