"""Append-only forecast archive: one netCDF per model per issue time.

Layout: ``$SUPERSTORM_HOME/archive/<model>/<YYYY>/<model>_<YYYYmmddTHHMM>.nc``. Files are
written to a temporary name and renamed (atomic). An existing file is never overwritten with
different content: archiving the same forecast again is a no-op, archiving a different one
for the same model and issue time raises :class:`ArchiveConflict`. "Same" compares the
forecast values, coordinates and attributes except ``created`` (the wall-clock time a
forecast was computed), so a deterministic re-run of an issue time is accepted.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.cf import make_readable
from data_sources.netcdf import NETCDF_LOCK
from data_sources.timeconv import TimeLike, to_utc
from forecasting.schema import validate_forecast

#: archive name of the forecast flow's primary forecast (``flows.forecast.step_primary``)
PRIMARY = "primary"
_NAME = re.compile(r"^(?P<model>[A-Za-z0-9_.-]+)_(?P<stamp>\d{8}T\d{4})\.nc$")
#: attributes that may differ between two computations of the same forecast
VOLATILE_ATTRS = ("created",)


class ArchiveConflict(FileExistsError):
    """A different forecast is already archived for this model and issue time."""


def root(home: Path | None = None) -> Path:
    """``$SUPERSTORM_HOME/archive``: the forecast archive folder.

    Parameters
    ----------
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).

    Returns
    -------
    Path
        ``<home>/archive`` (not created here).
    """
    return Path(home or config.home()) / "archive"


def _check_model(model: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", model or ""):
        raise ValueError(f"model name {model!r} is not usable in a file name; use [A-Za-z0-9_.-]")
    return model


def path_for(model: str, issue_time: TimeLike, *, home: Path | None = None) -> Path:
    """Archive path of ``model``'s forecast issued at ``issue_time`` (UTC, whole minutes).

    Parameters
    ----------
    model : str
        Model name as stored in the forecast's ``model`` attribute (``tft``,
        ``persistence`` ...); only ``[A-Za-z0-9_.-]``.
    issue_time : TimeLike
        Forecast issue time (``init_time``), UTC; seconds are dropped from the file name.
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).

    Returns
    -------
    Path
        ``<home>/archive/<model>/<YYYY>/<model>_<YYYYmmddTHHMM>.nc`` (may not exist).

    Raises
    ------
    ValueError
        If ``model`` holds characters unusable in a file name.
    """
    t = to_utc(issue_time)
    _check_model(model)
    return root(home) / model / f"{t:%Y}" / f"{model}_{t:%Y%m%dT%H%M}.nc"


def _same(a: xr.Dataset, b: xr.Dataset) -> bool:
    strip = {k: v for k, v in a.attrs.items() if k not in VOLATILE_ATTRS}
    other = {k: v for k, v in b.attrs.items() if k not in VOLATILE_ATTRS}
    if {k: str(v) for k, v in strip.items()} != {k: str(v) for k, v in other.items()}:
        return False
    a2 = a.copy()
    b2 = b.copy()
    a2.attrs, b2.attrs = {}, {}
    return a2.identical(b2) or a2.equals(b2)


def save(forecast: xr.Dataset, *, home: Path | None = None, name: str | None = None) -> Path:
    """Archive a single-issue forecast; return its path.

    Parameters
    ----------
    forecast : xr.Dataset
        A forecast in the :mod:`forecasting.schema` layout with exactly one ``init_time``
        (dims ``init_time``, ``lead_time``, ``quantile``; attrs ``model``, ``model_version``,
        ``data_cutoff``, ``created``).
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).
    name : str, optional
        Archive it under this name instead of its ``model`` attribute (the forecast flow's
        merged primary forecast, ``primary``).

    Returns
    -------
    Path
        The archived file (written atomically, or the existing identical one).

    Raises
    ------
    ValueError
        The forecast does not follow the schema or holds more than one ``init_time``.
    ArchiveConflict
        A different forecast is archived for the same model and issue time.
    """
    validate_forecast(forecast)
    inits = np.atleast_1d(forecast["init_time"].values)
    if len(inits) != 1:
        raise ValueError(
            f"archive one issue time per file; got {len(inits)} init_times (split with .isel)"
        )
    model = _check_model(name if name is not None else str(forecast.attrs["model"]))
    path = path_for(model, inits[0], home=home)
    if path.exists():
        with NETCDF_LOCK, xr.open_dataset(path) as old:
            old = old.load()
        if _same(old, forecast):
            return path
        raise ArchiveConflict(
            f"{path} already holds a different {model} forecast for {pd.Timestamp(inits[0])}; "
            "the archive is append-only (archive under another model name or version)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".nc.tmp")
    os.close(fd)
    try:
        with NETCDF_LOCK:
            forecast.to_netcdf(tmp, format="NETCDF4")
        make_readable(tmp)
        # link (not replace) so that a concurrent writer cannot be silently overwritten
        try:
            os.link(tmp, path)
        except FileExistsError:
            with NETCDF_LOCK, xr.open_dataset(path) as old:
                if not _same(old.load(), forecast):
                    raise ArchiveConflict(
                        f"{path} was written concurrently with other content"
                    ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def models(*, home: Path | None = None, primary: bool = False) -> list[str]:
    """Models with archived forecasts.

    Parameters
    ----------
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).
    primary : bool, default False
        Also list :data:`PRIMARY`, the forecast flow's merged primary forecast (each target
        from its primary model: a copy of other models' forecasts, so scorecards and model
        lists leave it out by default).

    Returns
    -------
    list of str
        Sorted model names (sub-folders of the archive); empty if there is no archive.
    """
    r = root(home)
    if not r.is_dir():
        return []
    names = sorted(p.name for p in r.iterdir() if p.is_dir())
    return names if primary else [n for n in names if n != PRIMARY]


def list_issues(
    model: str | None = None,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    home: Path | None = None,
) -> pd.DataFrame:
    """Archived forecasts: columns ``model``, ``issue_time``, ``path`` (sorted).

    Parameters
    ----------
    model : str or None
        Only this model; ``None`` lists every archived model.
    start, end : TimeLike or None
        UTC bounds on ``issue_time``, ``start <= t < end``; ``None`` leaves that side open.
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).

    Returns
    -------
    pd.DataFrame
        One row per archived file: ``model`` (str), ``issue_time`` (naive UTC
        Timestamp), ``path`` (Path); sorted by model then issue time, index 0..n-1.
    """
    rows = []
    for m in [model] if model else models(home=home):
        for p in sorted((root(home) / _check_model(m)).glob("*/*.nc")):
            match = _NAME.match(p.name)
            if match is None or match["model"] != m:
                continue
            rows.append((m, pd.Timestamp(pd.to_datetime(match["stamp"], format="%Y%m%dT%H%M")), p))
    df = pd.DataFrame(rows, columns=["model", "issue_time", "path"])
    if start is not None:
        df = df[df["issue_time"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["issue_time"] < pd.Timestamp(end)]
    return df.sort_values(["model", "issue_time"]).reset_index(drop=True)


def load(issue_time: TimeLike, model: str, *, home: Path | None = None) -> xr.Dataset:
    """The archived forecast of ``model`` issued at ``issue_time`` (loaded into memory).

    Parameters
    ----------
    issue_time : TimeLike
        Forecast issue time (``init_time``), UTC.
    model : str
        Model name (``tft``, ``persistence`` ...).
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).

    Returns
    -------
    xr.Dataset
        The forecast (schema of :mod:`forecasting.schema`, one ``init_time``).

    Raises
    ------
    FileNotFoundError
        If nothing is archived for that model and issue time.
    """
    path = path_for(model, issue_time, home=home)
    if not path.exists():
        raise FileNotFoundError(
            f"no archived {model} forecast for {pd.Timestamp(issue_time)} ({path}); "
            f"see forecasting.archive.list_issues({model!r})"
        )
    with NETCDF_LOCK, xr.open_dataset(path) as ds:
        return ds.load()


def load_range(
    start: TimeLike, end: TimeLike, model: str, *, home: Path | None = None
) -> xr.Dataset:
    """All archived forecasts of ``model`` with ``start <= issue_time < end``, along ``init_time``.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the issue time, ``end`` exclusive.
    model : str
        Model name (``tft``, ``persistence`` ...).
    home : Path or None
        Superstorm home folder; ``None`` uses :func:`data_sources.config.home`
        (``$SUPERSTORM_HOME``, else ``~/.superstorm``).

    Returns
    -------
    xr.Dataset
        The forecasts concatenated along ``init_time`` (attributes that differ between
        issues, e.g. ``created``, are dropped).

    Raises
    ------
    FileNotFoundError
        If no forecast of ``model`` is archived in ``[start, end)``.
    """
    issues = list_issues(model, start=start, end=end, home=home)
    if issues.empty:
        raise FileNotFoundError(
            f"no archived {model} forecasts between {pd.Timestamp(start)} and {pd.Timestamp(end)}"
        )
    parts = [load(t, model, home=home) for t in issues["issue_time"]]
    out = xr.concat(parts, dim="init_time", combine_attrs="drop_conflicts")
    return out
