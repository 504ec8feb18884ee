"""Download sources into the store: ``ingest(source, start, end)`` and ``ingest_recorded``.

:data:`SOURCES` is the one registry of ingest names (each a :class:`data_sources.base.Source`,
a :class:`data_sources.base.DataSource`); the CLI, flows and live inputs ask it. Every getter downloads
and parses the whole request before anything is written, so a failed download (HTTP errors
after the retries, a timeout, a truncated or corrupt body) leaves the store as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from data_sources import celestrak, gfz_kp, kyoto_dst, local_file, omni2, solar_indices, swpc
from data_sources.base import Source
from data_sources.registry import by_name, lookup
from data_sources.store import Store
from data_sources.timeconv import TimeLike, to_utc

if TYPE_CHECKING:
    from data_sources.mirror.server import MirrorServer

log = logging.getLogger(__name__)

#: ingest name -> source; each is called ``(start, end, *, base_url, cache_dir, refresh)``.
SOURCES: dict[str, Source] = by_name(
    Source("omni2", omni2.get_omni2),
    Source("kyoto_dst", kyoto_dst.get_kyoto_dst),
    Source("gfz_kp", gfz_kp.get_gfz_kp),
    Source("swpc_plasma", swpc.get_swpc_plasma, "swpc"),
    Source("swpc_mag", swpc.get_swpc_mag, "swpc"),
    Source("swpc_kp", swpc.get_swpc_kp, "swpc"),
    Source("swpc_dst", swpc.get_swpc_dst, "swpc"),
    Source("celestrak", celestrak.get_celestrak),
    Source("solar_indices", solar_indices.get_solar_indices),
)

#: ingest names that share one store source (the SWPC products all live under ``swpc``)
STORE_NAME: dict[str, str] = {k: s.store_name for k, s in SOURCES.items()}

#: a group name expands to several ingest names
GROUPS: dict[str, tuple[str, ...]] = {
    "swpc": ("swpc_plasma", "swpc_mag", "swpc_kp", "swpc_dst"),
}

#: rolling real-time products (the SWPC 7-day windows): every ingest refreshes them
#: (conditionally, see :func:`data_sources.http.cached_download`) whatever ``refresh`` says,
#: so a cached copy of last week never stands in for this week
ROLLING: frozenset[str] = frozenset(GROUPS["swpc"])

#: what :func:`ingest_recorded` asks for: ingest name -> (start, end) of the request. The
#: getters skip what the (mirrored) server does not hold, so spans may be generous.
RECORDED_SPANS: dict[str, tuple[str, str]] = {
    "omni2": ("1998-01-01", "2025-01-01"),
    "kyoto_dst": ("1957-01-01", "2020-01-01"),
    "gfz_kp": ("1957-01-01", "2026-07-01"),
    "celestrak": ("1957-10-01", "2026-07-01"),
    # SWPC real-time products are short rolling windows: take whatever the server holds
    "swpc_plasma": ("2000-01-01", "2030-01-01"),
    "swpc_mag": ("2000-01-01", "2030-01-01"),
    "swpc_kp": ("2000-01-01", "2030-01-01"),
    "swpc_dst": ("2000-01-01", "2030-01-01"),
    "solar_indices": ("1957-10-01", "2026-07-01"),
}


def getter(source: str) -> Callable[..., xr.Dataset]:
    """The :class:`~data_sources.base.DataSource` of ingest name ``source``.

    Parameters
    ----------
    source : str
        An ingest name of :data:`SOURCES` (``"omni2"``, ``"kyoto_dst"``, ``"gfz_kp"``,
        ``"swpc_plasma"``, ...); a group such as ``"swpc"`` is not accepted (see
        :func:`expand`).

    Returns
    -------
    Callable[..., xarray.Dataset]
        The source, called ``(start, end, *, base_url=None, cache_dir=None, refresh=...)``
        with UTC bounds (``end`` exclusive); it returns the parsed, annotated dataset.

    Raises
    ------
    KeyError
        If ``source`` is not in :data:`SOURCES`; the message lists the known names.
    """
    return lookup(SOURCES, source, "source")


def expand(source: str) -> tuple[str, ...]:
    """Ingest names behind ``source`` (a group such as ``swpc`` or one name).

    Parameters
    ----------
    source : str
        An ingest name of :data:`SOURCES` or a group name of :data:`GROUPS`.

    Returns
    -------
    tuple of str
        The group's ingest names, or ``(source,)`` for a single name.

    Raises
    ------
    KeyError
        If ``source`` is neither; the message lists every known name.
    """
    if source in GROUPS:
        return GROUPS[source]
    lookup({**SOURCES, **GROUPS}, source, "source")  # unknown: the error lists every name
    return (source,)


def ingest(
    source: str,
    start: TimeLike,
    end: TimeLike,
    *,
    store: Store | None = None,
    **kw: Any,
) -> list[Path]:
    """Download ``source`` for ``start <= time < end`` and merge it into the store.

    Parameters
    ----------
    source
        An ingest name of :data:`SOURCES` (``omni2``, ``kyoto_dst`` ...) or ``swpc`` for all
        SWPC products.
    start, end
        UTC bounds (anything :class:`pandas.Timestamp` accepts); ``end`` is exclusive.
    store
        Target store (default ``Store()`` under ``$SUPERSTORM_HOME``).
    **kw
        Passed to the getter (``base_url``, ``cache_dir``, ``refresh``).

    Returns
    -------
    list[Path]
        The year files written or confirmed unchanged.
    """
    store = store or Store()
    paths: list[Path] = []
    for name in expand(source):
        paths.extend(_ingest_one(name, start, end, store, **kw)[0])
    return sorted(set(paths))


def _ingest_one(
    name: str, start: TimeLike, end: TimeLike, store: Store, **kw: Any
) -> tuple[list[Path], int]:
    """Fetch one ingest name and write it; return ``(paths, number of times fetched)``."""
    start, end = to_utc(start), to_utc(end)
    if not start < end:
        raise ValueError(f"start {start} must be before end {end}")
    if name in ROLLING:
        kw = {**kw, "refresh": True}
    ds = getter(name)(start, end, **kw)
    n = int(ds.sizes.get("time", 0))
    if n == 0:
        log.warning("ingest %s: no data between %s and %s", name, start, end)
        return [], 0
    return store.write(STORE_NAME[name], ds), n


@contextlib.contextmanager
def _mirror_env(url: str) -> Iterator[None]:
    """Point every source's base URL at ``url`` (``SUPERSTORM_MIRROR``) for the block."""
    saved = os.environ.get("SUPERSTORM_MIRROR")
    os.environ["SUPERSTORM_MIRROR"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SUPERSTORM_MIRROR", None)
        else:
            os.environ["SUPERSTORM_MIRROR"] = saved


def _summary(store_name: str, paths: list[Path], n_times: int, seconds: float) -> dict:
    return {
        "store": store_name,
        "files": len(paths),
        "years": sorted({int(p.stem.rsplit("_", 1)[1]) for p in paths}),
        "times": n_times,
        "seconds": round(seconds, 2),
        "error": None,
    }


def recorded_steps(sources: list[str] | None = None) -> list[str]:
    """The ingest names :func:`ingest_recorded` runs, in order (one ``progress`` step each).

    Parameters
    ----------
    sources
        Ingest names asked for (default: all of :data:`RECORDED_SPANS` plus ``local``).

    Returns
    -------
    list of str
        The ingest names.
    """
    return list(sources or [*RECORDED_SPANS, "local"])


def ingest_recorded(
    data_dir: str | Path | None = None,
    *,
    store: Store | None = None,
    sources: list[str] | None = None,
    spans: dict[str, tuple[str, str]] | None = None,
    mirror: MirrorServer | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Ingest everything recorded in ``data_dir`` through a loopback mirror.

    A :func:`data_sources.mirror.server.serve_recorded` server stands in for the upstream hosts and
    the real getters download from it (OMNI2 1998-2024, Kyoto Dst 1957-2019, GFZ and
    Celestrak Kp, the SWPC products), then the local CSV extracts are loaded through
    :mod:`data_sources.local_file`.

    Parameters
    ----------
    data_dir
        Recorded data folder (default: ``SUPERSTORM_DATA``, :func:`data_sources.mirror.server.default_data_dir`).
    store
        Target store (default ``Store()``).
    sources
        Ingest names to run (default: all of :data:`RECORDED_SPANS` plus ``local``, which
        means every ``local_<preset>`` of :data:`LOCAL_PRESETS`).
    spans
        Ingest name -> ``(start, end)`` replacing entries of :data:`RECORDED_SPANS`.
    mirror
        An already running :class:`data_sources.mirror.server.MirrorServer` to download from
        (default: start one on ``data_dir`` and stop it afterwards).
    progress
        Called with the ingest name after each source of ``sources`` is done (failed or
        not), e.g. to advance a progress bar; one step per source (``local`` is one step).

    Returns
    -------
    dict
        Ingest name -> ``{"store", "files", "years", "times", "seconds", "error"}``; a source that failed has its ``error`` set and wrote nothing.
    """
    from data_sources.mirror.server import default_data_dir, serve_recorded

    store = store or Store()
    data_dir = Path(data_dir or default_data_dir())
    wanted = recorded_steps(sources)
    summary: dict[str, dict] = {}
    span_of = {**RECORDED_SPANS, **(spans or {})}
    server = mirror or serve_recorded(data_dir)
    try:
        with _mirror_env(server.url):
            for name in wanted:
                summary.update(_ingest_recorded_one(name, data_dir, store, span_of))
                if progress is not None:
                    progress(name)
    finally:
        if mirror is None:
            server.stop()
    return summary


def _ingest_recorded_one(
    name: str, data_dir: Path, store: Store, span_of: dict[str, tuple[str, str]]
) -> dict[str, dict]:
    """Summary rows of one ingest name of :func:`ingest_recorded` (errors reported, not raised)."""
    if name == "local" or name.startswith("local_"):
        presets = list(LOCAL_PRESETS) if name == "local" else [name[len("local_") :]]
        return _ingest_local(data_dir, store, presets)
    t0 = time.perf_counter()
    start, end = span_of[name]
    try:
        paths, n = _ingest_one(name, start, end, store)
        return {name: _summary(STORE_NAME[name], paths, n, time.perf_counter() - t0)}
    except Exception as exc:  # noqa: BLE001 - reported per source, others go on
        log.warning("ingest %s failed: %s", name, exc)
        return {name: {"store": STORE_NAME.get(name, name), "error": f"{exc}"}}


#: recorded local CSV extracts: preset of :func:`data_sources.local_file.load_preset` ->
#: file pattern below the data folder; each is stored as ``local_<preset>``
LOCAL_PRESETS: dict[str, str] = {
    "omni_hourly_csv": "omni_hourly_csv/omni_*.csv",
    "omni2_stormai_csv": "omni2_stormai_csv/omni2-*.csv",
    "omniweb_csv_dstt": "omniweb_csv_dstt/*.csv",
    "dst_csv_elfin": "dst_csv_elfin/dst.csv",
}


def _ingest_local(data_dir: Path, store: Store, presets: list[str]) -> dict[str, dict]:
    """Load recorded CSV extracts through ``local_file.load_preset`` into ``local_<preset>``."""
    out: dict[str, dict] = {}
    for preset in presets:
        key = f"local_{preset}"
        t0 = time.perf_counter()
        try:
            if preset not in LOCAL_PRESETS:
                raise KeyError(
                    f"unknown local preset {preset!r}; known: {', '.join(LOCAL_PRESETS)}"
                )
            files = sorted(data_dir.glob(LOCAL_PRESETS[preset]))
            if not files:
                raise FileNotFoundError(f"no files {LOCAL_PRESETS[preset]} in {data_dir}")
            ds = local_file.load_preset(preset, files)
            paths = store.write(key, ds)
            out[key] = _summary(key, paths, int(ds.sizes["time"]), time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - reported per preset
            log.warning("ingest %s failed: %s", key, exc)
            out[key] = {"store": key, "error": f"{exc}"}
    return out


def ingest_file(
    paths: list[str | Path],
    *,
    name: str,
    preset: str | None = None,
    store: Store | None = None,
    **load_kwargs: Any,
) -> list[Path]:
    """Put a researcher's own file(s) into the store as source ``local_<name>``.

    :func:`data_sources.dataset.build_dataset` merges ``local_*`` sources by their configured
    priority, so these values join the upstream record (and the store adds the history around a
    short record that a model's encoder needs).

    Parameters
    ----------
    paths : list of str or Path
        One or several files of the same layout (consecutive extracts are joined).
    name : str
        Store name after ``local_`` (letters, digits, ``_``), e.g. ``"my_ace_2003"``.
    preset : str, optional
        A :data:`data_sources.local_file.PRESETS` entry instead of ``load_kwargs``.
    store : Store, optional
        Target store (default ``$SUPERSTORM_HOME/store``).
    **load_kwargs
        Passed to :func:`data_sources.local_file.load_local_file` (``column_map``,
        ``time_column`` or ``time_columns``, ``layout``, ``fill_values`` ...).

    Returns
    -------
    list of Path
        The store files written (one per calendar year).
    """
    from data_sources import local_file

    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"--name {name!r}: use lower-case letters, digits and _ only")
    files = [Path(p) for p in paths]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"{f}: no such file")
    if preset is not None:
        ds = local_file.load_preset(preset, files)
    else:
        ds = local_file.load_local_files(files, **load_kwargs)
    return (store or Store()).write(f"local_{name}", ds)


def reingest_quarantined(store: Store | None = None, **kw: Any) -> dict[str, dict]:
    """Download again every stored year that was quarantined as corrupt and is still missing.

    :class:`data_sources.store.Store` moves an unreadable year file to
    ``<source>/.quarantine/`` and carries on without it; this restores those years from
    upstream (or the mirror). Years already stored again are skipped; local extracts
    (``local_*``) cannot be downloaded and are reported.

    Parameters
    ----------
    store
        Default ``Store()``.
    **kw
        Passed to the getters (``base_url``, ``cache_dir``).

    Returns
    -------
    dict
        ``"<store source> <year>"`` -> ``{"ingest": [names], "files": n, "error": str | None}``.
    """
    import re

    store = store or Store()
    out: dict[str, dict] = {}
    pattern = re.compile(r"^(?P<source>[a-z][a-z0-9_]*)_(?P<year>\d{4})\.nc\.")
    for source in sorted(p.name for p in store.root.iterdir()) if store.root.is_dir() else []:
        for path in store.quarantined(source):
            m = pattern.match(path.name)
            if m is None or m["source"] != source:
                continue
            year = int(m["year"])
            key = f"{source} {year}"
            if key in out or year in store.years(source):
                continue
            names = [n for n, s in STORE_NAME.items() if s == source]
            if not names:
                out[key] = {"ingest": [], "files": 0, "error": f"{source!r} cannot be downloaded"}
                log.error(
                    "quarantined %s %d: no downloadable source; ingest it again", source, year
                )
                continue
            files, errors = 0, []
            for name in names:
                try:
                    files += len(
                        _ingest_one(name, f"{year}-01-01", f"{year + 1}-01-01", store, **kw)[0]
                    )
                except Exception as exc:  # noqa: BLE001 - reported per year, others go on
                    errors.append(f"{name}: {exc}")
            out[key] = {"ingest": names, "files": files, "error": "; ".join(errors) or None}
            log.warning("quarantined %s %d re-ingested: %s", source, year, out[key])
    return out


def stored_span(store: Store, source: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last stored time of ``source`` (``None`` when nothing is stored).

    Parameters
    ----------
    store : Store
        The store to look in.
    source : str
        Store name (``"omni2"``, ``"swpc"`` ...), not an ingest name.

    Returns
    -------
    tuple of (pandas.Timestamp, pandas.Timestamp) or None
        First and last ``time`` label (naive UTC, interval start; the last value's interval
        ends one cadence later); ``None`` if no year is stored or the stored years are empty.
    """
    if not store.years(source):
        return None
    ds = store.read(source)
    t = ds.indexes["time"]
    return (t[0], t[-1]) if len(t) else None
