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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import xarray as xr

from data_sources.timeconv import TimeLike, to_utc
from data_sources.vocabulary import annotate


class SuperstormWarning(UserWarning):
    """Base class of every warning the project itself issues (tests turn them into errors)."""


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
    """Return ``(raw bytes, display name)`` for a path or an in-memory body."""
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
    ds = annotate(ds, source=source, data_version=data_version)
    ds["time"].attrs.update(standard_name="time", long_name="start of averaging interval (UTC)")
    ds.attrs.update(
        source=source,
        source_url=source_url,
        cadence=cadence,
        retrieved=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        Conventions="CF-1.8",
    )
    return ds


def clip_time(ds: xr.Dataset, start: TimeLike | None, end: TimeLike | None) -> xr.Dataset:
    """Values with ``start <= time < end`` (``None`` leaves that side open)."""
    t = ds.indexes["time"]
    mask = np.ones(len(t), dtype=bool)
    if start is not None:
        mask &= t >= to_utc(start)
    if end is not None:
        mask &= t < to_utc(end)
    return ds.isel(time=mask)
