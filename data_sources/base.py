"""The data-source contract and the checks every parser's output passes.

A source module provides (the registry of ingest names is :data:`data_sources.ingest.SOURCES`,
each entry a :class:`Source` that satisfies :class:`DataSource`)

* ``parse_<format>(path_or_bytes, *, name=...) -> xr.Dataset``: pure and strict; a malformed
  line raises :class:`ValueError` naming the file, the line number and the field;
* ``get_<source>(start, end, *, base_url=None, cache_dir=None) -> xr.Dataset``: downloads
  what the cache lacks, then parses;
* ``mirror_files(data_dir) -> dict[str, bytes | Path]``: the upstream URL paths (below the
  source's base URL host) that a loopback mirror serves from recorded data, for tests and the
  offline demo (see :mod:`data_sources.mirror.server`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import cf
from data_sources.timeconv import TimeLike, to_utc
from data_sources.vocabulary import VARIABLES, annotate

log = logging.getLogger(__name__)


class SuperstormWarning(UserWarning):
    """Base class of every warning the project itself issues (tests turn them into errors)."""


class OutOfRangeWarning(SuperstormWarning):
    """A parsed value lay outside its variable's physical ``valid_range`` and was flagged."""


@runtime_checkable
class DataSource(Protocol):
    """What the CLI, flows and notebooks call on any source: ``source(start, end, **kw)``.

    ``name`` is the ingest name (``omni2``, ``swpc_kp`` ...); ``store_name`` the store source it
    is written to (the SWPC products share ``swpc``). Calling it downloads what the cache lacks
    for ``start <= time < end`` (UTC) and returns the parsed, annotated dataset.
    """

    @property
    def name(self) -> str:
        """Ingest name."""
        ...

    @property
    def store_name(self) -> str:
        """Store source written to."""
        ...

    def __call__(self, start: TimeLike, end: TimeLike, **kw: object) -> xr.Dataset:
        """Download and parse ``start <= time < end`` (UTC)."""
        ...


@dataclass(frozen=True)
class Source:
    """A source's ``get_*`` function under its ingest name (implements :class:`DataSource`).

    Parameters
    ----------
    name
        Ingest name, e.g. ``"omni2"``.
    get
        The source module's getter ``get(start, end, *, base_url=None, cache_dir=None,
        refresh=...) -> xr.Dataset``.
    store_name
        Store source written to (default: ``name``).
    """

    name: str
    get: Callable[..., xr.Dataset]
    store_name: str = ""

    def __post_init__(self) -> None:
        if not self.store_name:
            object.__setattr__(self, "store_name", self.name)

    def __call__(self, start: TimeLike, end: TimeLike, **kw: object) -> xr.Dataset:
        """Download and parse ``start <= time < end``; ``kw`` go to the getter."""
        return self.get(start, end, **kw)


def read_input(path_or_bytes: str | Path | bytes, name: str | None = None) -> tuple[bytes, str]:
    """Return ``(raw bytes, display name)`` for a path or an in-memory body.

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        A file to read, or its body already in memory (e.g. an HTTP response).
    name : str, optional
        Name to show in error messages; default the path, or ``"<bytes>"`` for a body.

    Returns
    -------
    tuple of (bytes, str)
        The file's raw bytes and the display name.
    """
    if isinstance(path_or_bytes, bytes | bytearray):
        return bytes(path_or_bytes), name or "<bytes>"
    path = Path(path_or_bytes)
    return path.read_bytes(), name or str(path)


def finalize(
    ds: xr.Dataset,
    *,
    source: str,
    source_url: str,
    cadence: str,
    data_version: str | dict[str, str],
    name: str,
) -> xr.Dataset:
    """Sort by time, check uniqueness, annotate variables and set the dataset attributes.

    The last step of every parser: values outside their ``valid_range`` become NaN
    (:func:`apply_valid_range`), each variable gets ``units``/``long_name``/``source``/
    ``data_version`` (:func:`data_sources.vocabulary.annotate`), ``time`` is marked as the
    start of the averaging interval (naive UTC), and the dataset gets ``source``,
    ``source_url``, ``cadence``, ``retrieved`` (ISO 8601 UTC, now) and ``Conventions``.

    Parameters
    ----------
    ds : xarray.Dataset
        Parsed dataset on ``time`` (naive UTC, interval start), canonical names and units.
    source : str
        Source name (``"omni2"``, ``"kyoto_dst"``, ...).
    source_url : str
        Where the file came from (URL or path), kept as provenance.
    cadence : str
        Native cadence of the labels, e.g. ``"1h"``, ``"3h"``, ``"1D"``.
    data_version : str or dict of str to str
        One of :data:`data_sources.vocabulary.DATA_VERSIONS` for all variables, or a mapping
        variable name -> version.
    name : str
        The file (or URL) it came from, for error messages and warnings.

    Returns
    -------
    xarray.Dataset
        The dataset sorted by time, range-checked and annotated.

    Raises
    ------
    ValueError
        If ``name`` (the file) holds the same time twice.
    """
    ds = ds.sortby("time")
    times = ds.indexes["time"]
    if not times.is_unique:
        dup = times[times.duplicated()][0]
        raise ValueError(f"{name}: time {dup} appears more than once; the file is inconsistent")
    ds = apply_valid_range(ds, name=name)
    ds = annotate(ds, source=source, data_version=data_version)
    ds["time"].attrs.update(cf.time_axis_attrs())
    ds.attrs.update(
        source=source,
        source_url=source_url,
        cadence=cadence,
        retrieved=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        Conventions="CF-1.8",
    )
    return ds


def apply_valid_range(ds: xr.Dataset, *, name: str = "<dataset>") -> xr.Dataset:
    """Flag values outside each variable's physical ``valid_range``: NaN plus a QC record.

    A value outside :attr:`data_sources.vocabulary.Variable.valid_range` (a fill value the
    parser did not know, a corrupted digit such as Dst -99998 nT) is not a measurement and
    must never reach a forecast or an alert. For each such variable the value becomes NaN and
    the variable carries the QC record as attributes: ``n_out_of_range`` (count),
    ``out_of_range_first`` (first value and time) and ``qc_comment``; one
    :class:`OutOfRangeWarning` (also logged) names the file, the first offending time and
    value, and the limits. Variables not in the vocabulary (``*_qc``, ``*_version``) are left
    as they are.

    Parameters
    ----------
    ds : xarray.Dataset
        Parsed dataset in canonical names and units.
    name : str
        The file (or URL) it came from, for the warning.

    Returns
    -------
    xarray.Dataset
        ``ds`` with out-of-range values replaced by NaN and flagged.
    """
    for var in list(ds.data_vars):
        spec = VARIABLES.get(str(var))
        if spec is None or not np.issubdtype(ds[var].dtype, np.number):
            continue
        values = ds[var].values.astype(float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(values) & (
                (values < spec.valid_range[0]) | (values > spec.valid_range[1])
            )
        n_bad = int(bad.sum())
        if n_bad == 0:
            continue
        first = int(np.flatnonzero(bad.ravel())[0])
        when = ds["time"].values.ravel()[first] if "time" in ds[var].dims else "?"
        message = (
            f"{name}: {n_bad} value(s) of {var} outside its physical range "
            f"{spec.valid_range} {spec.units}, first {values.ravel()[first]!r} at {when}; "
            "set to NaN (a fill value or a corrupted field in the file; "
            "the count is in the variable's n_out_of_range attribute)"
        )
        log.warning(message)
        warnings.warn(message, OutOfRangeWarning, stacklevel=2)
        attrs = dict(
            ds[var].attrs,
            n_out_of_range=n_bad,
            out_of_range_first=f"{values.ravel()[first]!r} at {when}",
            qc_comment=f"{n_bad} value(s) outside valid_range {spec.valid_range} set to NaN",
        )
        ds[var] = ds[var].where(~bad)
        ds[var].attrs = attrs
    return ds


def check_complete(
    ds: xr.Dataset,
    start: TimeLike,
    end: TimeLike,
    *,
    freq: str,
    name: str,
    settled_after: pd.Timedelta | str | None = "0s",
    now: TimeLike | None = None,
) -> None:
    """Raise if a file for ``start <= time < end`` lacks any of its expected times.

    A body cut at a line boundary parses cleanly and can even match its ``Content-Length``
    (a proxy or a half-written upstream file); only the count of times shows it. A period
    that ended at least ``settled_after`` before ``now`` must hold every ``freq`` time of
    ``[start, end)`` (an OMNI2 year file 8,760 or 8,784 hours, a Kyoto month file every hour
    of every day); a period still being filled must hold every time from ``start`` up to
    its last line (no hole, so a truncated current file is caught at least when the cut falls
    before a gap-free tail is impossible).

    Parameters
    ----------
    ds : xarray.Dataset
        The parsed file.
    start, end
        The period the file covers (UTC; ``end`` exclusive).
    freq : str
        Cadence of its lines' times (``"1h"``).
    name : str
        The file or URL, for the message.
    settled_after : pandas.Timedelta or str or None
        How long after ``end`` the provider has published the complete period; ``None``:
        the file is never required to reach ``end``.
    now
        Current time (default: the clock), for tests.

    Raises
    ------
    ValueError
        Naming the file, how many expected times are missing and the first of them.
    """
    times = ds.indexes["time"]
    start, end = to_utc(start), to_utc(end)
    now = to_utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    if settled_after is not None and end + pd.Timedelta(settled_after) <= now:
        expected = pd.date_range(start, end, freq=freq, inclusive="left")
    elif len(times):
        expected = pd.date_range(start, times.max(), freq=freq)
    else:
        return
    missing = expected.difference(times)
    if len(missing):
        raise ValueError(
            f"{name}: {len(missing)} of {len(expected)} expected {freq} times are missing, "
            f"first {missing[0]} (the body was truncated or the file is incomplete); "
            "not cached: try again later or check the provider"
        )


def clip_time(ds: xr.Dataset, start: TimeLike | None, end: TimeLike | None) -> xr.Dataset:
    """Values with ``start <= time < end`` (``None`` leaves that side open).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset with a naive UTC ``time`` dimension.
    start, end : TimeLike or None
        UTC bounds, ``end`` exclusive; ``None`` leaves that side open.

    Returns
    -------
    xarray.Dataset
        The selected times of ``ds`` (possibly empty).
    """
    t = ds.indexes["time"]
    mask = np.ones(len(t), dtype=bool)
    if start is not None:
        mask &= t >= to_utc(start)
    if end is not None:
        mask &= t < to_utc(end)
    return ds.isel(time=mask)
