"""The local store: one CF netCDF4 file per source per calendar year.

Layout: ``<root>/<source>/<source>_<YYYY>.nc`` with ``root`` defaulting to
``$SUPERSTORM_HOME/store``. Writes

* merge with what the year file already holds (new values win where they are not NaN, so a
  later provisional -> final update replaces values and a partial download adds values),
* are atomic (temporary file in the same folder, then :func:`os.replace`), and
* are idempotent: a content hash (``content_sha256``) of the merged data is kept in the file and
  a write whose merged content equals the stored one leaves the file untouched (same bytes).

A file that cannot be read (a torn disk block, a file truncated by a full disk, bytes that
are not netCDF) is *quarantined*: renamed aside into ``<root>/<source>/.quarantine/``, logged
and reported with a :class:`CorruptStoreWarning` that names the ``superstorm ingest`` command
restoring it. A read goes on without that year; a write (the re-ingest) starts the year afresh.

Time is encoded as integer ``hours since 1957-01-01 00:00:00`` (UTC); data with sub-hourly
labels (SWPC one-minute real-time products) use ``minutes since`` the same epoch instead.
Floating-point variables are stored as zlib-compressed ``float32`` with a NaN ``_FillValue``,
so a plain ``xr.open_dataset`` shows ``units``, ``long_name``, ``source`` and ``data_version``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import cf, config
from data_sources.base import SuperstormWarning, clip_time
from data_sources.netcdf import NETCDF_LOCK, write_netcdf_atomic
from data_sources.timeconv import TimeLike, to_utc

log = logging.getLogger(__name__)

EPOCH = "1957-01-01 00:00:00"
LOCK_NAME = ".lock"
#: HDF5 is not thread-safe: one store file operation at a time in this process
_NETCDF_LOCK = NETCDF_LOCK  # shared with every module that touches netCDF
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: dataset attributes that do not count as content (download time, mirror address, ...)
VOLATILE_ATTRS = ("retrieved", "source_url", "content_sha256", "history")
#: folder (inside each source folder) that corrupt files are moved into
QUARANTINE = ".quarantine"


class CorruptStoreWarning(SuperstormWarning):
    """A store file could not be read and was moved aside; re-ingest to restore it."""


class CorruptStoreFile(RuntimeError):
    """A store file could not be read; it has been quarantined (see :attr:`moved_to`)."""

    def __init__(self, message: str, path: Path, moved_to: Path) -> None:
        super().__init__(message)
        self.path = path
        self.moved_to = moved_to


class Store:
    """A folder of per-source, per-year netCDF4 files.

    Parameters
    ----------
    root
        Store folder; default ``$SUPERSTORM_HOME/store`` (see :func:`data_sources.config.home`).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else config.home() / "store"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # ------------------------------------------------------------------ paths
    def path(self, source: str, year: int) -> Path:
        """The file holding ``source`` for calendar ``year``.

        Parameters
        ----------
        source : str
            Store name (``"omni2"``, ``"kyoto_dst"``, ``"swpc"`` ...): lower case, digits, ``_``.
        year : int
            Calendar year (UTC).

        Returns
        -------
        Path
            ``<root>/<source>/<source>_<YYYY>.nc`` (it need not exist).

        Raises
        ------
        ValueError
            If ``source`` is not a valid store name.
        """
        _check_source(source)
        return self.root / source / f"{source}_{int(year):04d}.nc"

    def sources(self) -> list[str]:
        """Names of the sources with at least one stored year, sorted.

        Returns
        -------
        list of str
            Store source names; empty if the store folder does not exist.
        """
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.years(p.name))

    def years(self, source: str) -> list[int]:
        """Stored calendar years of ``source``, sorted.

        Parameters
        ----------
        source : str
            Store name (lower case, digits, ``_``).

        Returns
        -------
        list of int
            Years (UTC) that have a ``<source>_<YYYY>.nc`` file; empty if none.
        """
        _check_source(source)
        folder = self.root / source
        pattern = re.compile(rf"^{re.escape(source)}_(\d{{4}})\.nc$")
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name)))

    # ------------------------------------------------------------------ write
    def write(self, source: str, ds: xr.Dataset) -> list[Path]:
        """Merge ``ds`` into the year files of ``source``; return the paths of touched years.

        Parameters
        ----------
        source
            Store name (``omni2``, ``kyoto_dst`` ...): lower case, digits and ``_``.
        ds
            Dataset with a ``time`` dimension (naive UTC); other dimensions are not supported.

        Returns
        -------
        list[Path]
            One path per calendar year present in ``ds`` (written or already up to date).

        Raises
        ------
        ValueError
            If ``ds`` has no ``time`` dimension, repeated times, or a variable with other dims.
        """
        _check_source(source)
        ds = _prepare(ds, source)
        paths = []
        years = pd.DatetimeIndex(ds["time"].values).year
        for year in np.unique(years):
            part = ds.isel(time=np.flatnonzero(years == year))
            paths.append(self._write_year(source, int(year), part))
        return paths

    def _write_year(self, source: str, year: int, new: xr.Dataset) -> Path:
        path = self.path(source, year)
        with _locked(path.parent):
            return self._merge_into(path, new)

    def _merge_into(self, path: Path, new: xr.Dataset) -> Path:
        old = None
        if path.exists():
            try:
                old = _load(path)
            except CorruptStoreFile:
                old = None  # quarantined and reported: this write starts the year afresh
        merged = merge_prefer_new(old, new) if old is not None else _as_stored(new)
        digest = content_hash(merged)
        if old is not None and old.attrs.get("content_sha256") == digest:
            log.debug("store: %s unchanged", path)
            return path
        merged.attrs["content_sha256"] = digest
        merged.attrs["history"] = (
            f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} written by superstorm data_sources.store"
        )
        _atomic_to_netcdf(merged, path)
        log.info("store: wrote %s (%d times)", path, merged.sizes["time"])
        return path

    # ------------------------------------------------------------------ read
    def read(
        self, source: str, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> xr.Dataset:
        """Stored values of ``source`` with ``start <= time < end`` (``None``: open side).

        Year files that cannot be read are quarantined (:func:`quarantine`) and skipped.

        Parameters
        ----------
        source : str
            Store name (``"omni2"``, ``"kyoto_dst"`` ...).
        start, end : TimeLike or None
            UTC bounds on ``time`` (interval-start labels), ``end`` exclusive; ``None`` leaves
            that side open (all stored years).

        Returns
        -------
        xarray.Dataset
            The source's variables on ``time`` (naive UTC, ``datetime64[ns]``, native cadence),
            in their vocabulary units (attrs ``units``, ``long_name``, ``source``,
            ``data_version``); empty along ``time`` if nothing falls inside the bounds.

        Raises
        ------
        FileNotFoundError
            If nothing of ``source`` is stored; the message says how to ingest it.
        """
        years = self.years(source)
        if not years:
            raise FileNotFoundError(
                f"no stored data for source {source!r} in {self.root}; run "
                f"`superstorm ingest --source {source} --start ... --end ...` first"
            )
        lo = to_utc(start).year if start is not None else years[0]
        hi = (to_utc(end) - pd.Timedelta("1ns")).year if end is not None else years[-1]
        parts = [
            ds for y in years if lo <= y <= hi if (ds := self._load_or_skip(source, y)) is not None
        ]
        if not parts:
            for y in years:
                if (ds := self._load_or_skip(source, y)) is not None:
                    return ds.isel(time=slice(0, 0))
            raise FileNotFoundError(
                f"every stored year of source {source!r} in {self.root} was unreadable and has "
                f"been quarantined; run `superstorm ingest --source {source} --start ... "
                "--end ...` again"
            )
        ds = _concat(parts)
        return clip_time(ds, start, end)

    def _load_or_skip(self, source: str, year: int) -> xr.Dataset | None:
        """One year file, or ``None`` when it was corrupt (quarantined and reported)."""
        try:
            return _load(self.path(source, year))
        except (CorruptStoreFile, FileNotFoundError):
            return None  # quarantined now (reported) or moved aside by another reader

    def quarantined(self, source: str) -> list[Path]:
        """Files of ``source`` moved aside as corrupt, oldest first.

        Parameters
        ----------
        source : str
            Store name.

        Returns
        -------
        list of Path
            Files in ``<root>/<source>/.quarantine/``, sorted by name (which ends with the
            UTC time they were moved); empty if none.
        """
        folder = self.root / source / QUARANTINE
        return sorted(folder.iterdir()) if folder.is_dir() else []


# ---------------------------------------------------------------------- helpers
def quarantine(path: Path, exc: BaseException) -> Path:
    """Move unreadable store file ``path`` aside and report it; return where it went.

    The file goes to ``<folder>/.quarantine/<name>.<UTC time>.corrupt`` (kept for
    inspection, never read again); an error is logged and a :class:`CorruptStoreWarning`
    names the file, the reason and the ``superstorm ingest`` command that restores the year.

    Parameters
    ----------
    path : Path
        The unreadable store file, ``<root>/<source>/<source>_<YYYY>.nc``.
    exc : BaseException
        The error reading it raised; its type and message go into the report.

    Returns
    -------
    Path
        Where the file now is.
    """
    path = Path(path)
    folder = path.parent / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    moved = folder / f"{path.name}.{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.corrupt"
    path.replace(moved)
    source = path.parent.name
    m = re.search(r"_(\d{4})\.nc$", path.name)
    year = int(m.group(1)) if m else None
    how = (
        f"`superstorm ingest --source {source} --start {year}-01-01 --end {year + 1}-01-01`"
        if year is not None
        else f"`superstorm ingest --source {source} ...`"
    )
    message = (
        f"store file {path} is unreadable ({type(exc).__name__}: {exc}); moved it to "
        f"{moved} and carrying on without it; restore the data with {how}"
    )
    log.error(message)
    warnings.warn(message, CorruptStoreWarning, stacklevel=3)
    return moved


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the locks of a read-merge-write.

    An exclusive lock on ``folder/.lock`` (processes) and the in-process netCDF lock (threads).

    Two writers of the same source (the SWPC products in a flow, two ``ingest`` commands)
    would otherwise each merge into the old file and the last rename would drop the other's
    values.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with _NETCDF_LOCK, open(folder / LOCK_NAME, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _check_source(source: str) -> None:
    if not isinstance(source, str) or not _NAME.match(source):
        raise ValueError(
            f"store source name {source!r} is not valid: use lower-case letters, digits and "
            "'_' (e.g. 'omni2', 'kyoto_dst')"
        )


def _prepare(ds: xr.Dataset, source: str) -> xr.Dataset:
    if "time" not in ds.dims:
        raise ValueError(f"cannot store {source!r}: the dataset has no 'time' dimension")
    for name, da in ds.data_vars.items():
        if da.dims != ("time",):
            raise ValueError(
                f"cannot store {source!r}: variable {name!r} has dims {da.dims}; only ('time',)"
                " variables are stored (split or reduce the others first)"
            )
    ds = ds.drop_vars([c for c in ds.coords if c != "time"])
    ds = ds.assign_coords(time=pd.DatetimeIndex(ds["time"].values).astype("datetime64[ns]"))
    ds = ds.sortby("time")
    if not ds.indexes["time"].is_unique:
        raise ValueError(f"cannot store {source!r}: repeated times in the dataset")
    return ds


def _as_stored(ds: xr.Dataset) -> xr.Dataset:
    """Cast floats to float32 (what the file holds), so hashes compare like with like."""
    out = ds.copy()
    for name, da in ds.data_vars.items():
        if da.dtype.kind == "f":
            out[name] = da.astype("float32")
    for name in out.variables:
        out[name].encoding = {}
    return out


def merge_prefer_new(old: xr.Dataset, new: xr.Dataset) -> xr.Dataset:
    """Union of times and variables; ``new`` wins wherever it is not NaN.

    Variable attributes come from ``new`` when it holds any value of that variable, so the
    ``data_version`` of a replaced record follows its values.

    Parameters
    ----------
    old : xarray.Dataset
        What the year file holds, on ``time`` (naive UTC).
    new : xarray.Dataset
        Newly downloaded values of the same source, on ``time``.

    Returns
    -------
    xarray.Dataset
        Float variables as float32 (as stored) on the union of both time axes; dataset
        attributes merged (volatile ones from ``new``, differing ones joined with ``"; "``).
    """
    new = _as_stored(new)
    old = _as_stored(old)
    times = old.indexes["time"].union(new.indexes["time"])
    a = old.reindex(time=times)
    b = new.reindex(time=times)
    out = a.copy()
    for name in b.data_vars:
        nb = b[name]
        if name not in a:
            out[name] = nb
            continue
        na = a[name]
        if nb.dtype.kind == "f" or na.dtype.kind == "f":
            out[name] = nb.where(nb.notnull(), na).astype(np.result_type(na.dtype, nb.dtype))
        else:
            out[name] = nb.where(pd.notna(nb.values), na)
        has_new = bool(new[name].notnull().any())
        out[name].attrs = dict(nb.attrs if has_new else na.attrs)
    out.attrs = _merge_attrs(old.attrs, new.attrs)
    out["time"].attrs = dict(new["time"].attrs or old["time"].attrs)
    return out


def _merge_attrs(old: dict, new: dict) -> dict:
    """Dataset attributes of a merge: volatile ones from ``new``; differing ones joined.

    One store source can hold several products (SWPC plasma at 1 min, Kp at 3 h), so a
    ``cadence`` of ``1min`` and one of ``3h`` become ``"1min; 3h"`` (sorted, so writing either
    product again changes nothing).
    """
    attrs = dict(old)
    for key, value in new.items():
        if key in VOLATILE_ATTRS or key not in attrs or attrs[key] == value:
            attrs[key] = value
        else:
            parts = set(str(attrs[key]).split("; ")) | set(str(value).split("; "))
            attrs[key] = "; ".join(sorted(parts))
    return attrs


def content_hash(ds: xr.Dataset) -> str:
    """SHA-256 of times, values and non-volatile attributes (what the file *means*).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset on ``time``, as it will be stored (float32 floats).

    Returns
    -------
    str
        Hex digest (64 characters); attributes in :data:`VOLATILE_ATTRS` (``retrieved``,
        ``source_url``, ...) do not count.
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(ds["time"].values.astype("datetime64[ns]")).tobytes())
    for key in sorted(k for k in ds.attrs if k not in VOLATILE_ATTRS):
        h.update(f"{key}={ds.attrs[key]}".encode())
    for name in sorted(map(str, ds.data_vars)):
        da = ds[name]
        h.update(f"{name}:{da.dtype}:{sorted(da.attrs.items())}".encode())
        values = da.values
        if values.dtype.kind in "fiub":
            h.update(np.ascontiguousarray(values).tobytes())
        else:
            h.update("\x1f".join(map(str, values.tolist())).encode())
    return h.hexdigest()


def _time_encoding(times: pd.DatetimeIndex) -> dict:
    whole_hours = len(times) == 0 or bool((times == times.floor("h")).all())
    unit = "hours" if whole_hours else "minutes"
    if not whole_hours and not bool((times == times.floor("min")).all()):
        raise ValueError("cannot store times with seconds; resample to whole minutes first")
    return {"units": f"{unit} since {EPOCH}", "calendar": "standard", "dtype": "int32"}


def _encoding(ds: xr.Dataset) -> dict:
    enc: dict[str, dict] = {"time": _time_encoding(ds.indexes["time"])}
    for name, da in ds.data_vars.items():
        if da.dtype.kind == "f":
            enc[str(name)] = {
                "dtype": "float32",
                "zlib": True,
                "complevel": 4,
                "_FillValue": np.nan,
            }
        elif da.dtype.kind in "iub":
            enc[str(name)] = {"zlib": True, "complevel": 4}
    return enc


def _atomic_to_netcdf(ds: xr.Dataset, path: Path) -> None:
    encoding = _encoding(ds)
    encoding.update(cf.bounds_encoding(encoding["time"]))
    ds = cf.add_time_bounds(ds, cf.cadence_of(ds))
    write_netcdf_atomic(ds, path, engine="netcdf4", format="NETCDF4", encoding=encoding)


def _load(path: Path) -> xr.Dataset:
    """Read a store file fully into memory and close it (so it can be replaced).

    Raises
    ------
    CorruptStoreFile
        If the file exists but cannot be read as netCDF; it has been quarantined.
    """
    try:
        with _NETCDF_LOCK, xr.open_dataset(path, engine="netcdf4") as ds:
            out = cf.strip_time_bounds(ds.load())
    except (FileNotFoundError, PermissionError):
        raise
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as exc:
        moved = quarantine(path, exc)
        raise CorruptStoreFile(f"{path} is unreadable; moved to {moved}", path, moved) from exc
    out = out.assign_coords(time=pd.DatetimeIndex(out["time"].values).astype("datetime64[ns]"))
    for name in out.variables:
        out[name].encoding = {}
    return out


def _concat(parts: list[xr.Dataset]) -> xr.Dataset:
    if len(parts) == 1:
        return parts[0]
    names = list(dict.fromkeys(n for p in parts for n in p.data_vars))
    filled = []
    for p in parts:
        p = p.copy()
        for n in names:
            if n not in p:
                like = next(q[n] for q in parts if n in q)
                p[n] = ("time", np.full(p.sizes["time"], np.nan, "float32"), dict(like.attrs))
        filled.append(p[names])
    ds = xr.concat(filled, dim="time", combine_attrs="override", data_vars="all")
    for n in names:  # per-variable attrs of the newest year that has the variable
        ds[n].attrs = dict(next(p[n].attrs for p in reversed(parts) if n in p))
    return ds
