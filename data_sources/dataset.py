"""Merge the stored sources onto one hourly UTC grid with per-variable quality flags.

``build_dataset(start, end)`` reads each store source, brings it to the hourly grid and takes
every variable from the best source that has a value at that hour (:data:`PRIORITY`):

* ``dst``: Kyoto (final, then provisional, then quick-look), then OMNI2, then SWPC;
* ``kp`` / ``ap``: GFZ, then Celestrak, then OMNI2, then SWPC;
* solar wind: OMNI2, then SWPC real time averaged to hours;
* ``f107`` / ``sunspot_number``: OMNI2, then Celestrak (daily values; SWPC's monthly
  ``solar_indices`` stay out, see :data:`PRIORITY`);
* after the upstream sources, the researchers' extracts stored as ``local_<preset>``
  (:data:`LOCAL_PRIORITY`: STORM-AI OMNI2 CSV 2013-11 -> 2019-12, the ELFIN Kyoto Dst CSV,
  the OMNIWeb CSV of 2021, the older OMNI hourly CSV), then any other stored ``local_*``
  source in name order. They fill the years the upstream files lack (2016, 2018, 2019, 2021)
  and never replace an upstream value.

The order is configurable per variable (``priority=`` keyword, else the ``[dataset.priority]``
table of ``config.toml``, :func:`data_sources.config.dataset_priority`; key ``solar_wind``
stands for every solar-wind variable). Each merged variable says which sources won:
``source`` (best first), ``source_hours`` (``name=hours`` of each) and ``data_version``.

3-hourly ``kp``/``ap`` repeat over their 3 hours and daily values over their day (labels are the
start of the interval, :mod:`data_sources.timeconv`). Gaps of at most 3 h are filled by linear
interpolation; each variable gets an int8 ``<var>_qc`` (0 observed, 1 interpolated, 2 missing).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import cf, swpc, timeconv
from data_sources.store import Store
from data_sources.timeconv import TimeLike, to_utc

log = logging.getLogger(__name__)

SOLAR_WIND = ("bx_gsm", "by_gsm", "bz_gsm", "b_total", "v_sw", "n_p", "t_p", "p_dyn")

#: the recorded local extracts (``data_sources.ingest.LOCAL_PRESETS`` stored as
#: ``local_<preset>``), best first: STORM-AI OMNI2 CSV (re-processed OMNI2, final Dst), the
#: ELFIN copy of Kyoto Dst, the OMNIWeb CSV of 2021 (provisional Dst), the older OMNI extract
LOCAL_PRIORITY: tuple[str, ...] = (
    "local_omni2_stormai_csv",
    "local_dst_csv_elfin",
    "local_omniweb_csv_dstt",
    "local_omni_hourly_csv",
)

#: variable -> store sources, best first; upstream sources before the local extracts.
#: ``solar_indices`` (SWPC's MONTHLY means) is not in the daily ``f107`` / ``sunspot_number``
#: chains: a month's mean is known only after the month, so as a daily value it would leak the
#: rest of the month into the hours it filled (read it with ``Store().read("solar_indices")``).
PRIORITY: dict[str, tuple[str, ...]] = {
    **{name: ("omni2", "swpc", *LOCAL_PRIORITY) for name in SOLAR_WIND},
    "dst": ("kyoto_dst", "omni2", "swpc", *LOCAL_PRIORITY),
    "kp": ("gfz_kp", "celestrak", "omni2", "swpc", *LOCAL_PRIORITY),
    "ap": ("gfz_kp", "celestrak", "omni2", "swpc", *LOCAL_PRIORITY),
    "ae": ("omni2", *LOCAL_PRIORITY),
    "f107": ("omni2", "celestrak", *LOCAL_PRIORITY),
    "sunspot_number": ("omni2", "celestrak", *LOCAL_PRIORITY),
}

#: a ``priority`` key standing for every solar-wind variable
SOLAR_WIND_KEY = "solar_wind"


#: Kyoto ``dst_version`` flag -> data_version (0 final, 1 provisional, 2 quick-look)
KYOTO_VERSIONS = ("final", "provisional", "quicklook")

MAX_INTERP_GAP_H = 3
QC_ATTRS = {
    "flag_values": np.array([0, 1, 2], dtype=np.int8),
    "flag_meanings": "observed interpolated missing",
}


def hourly_grid(start: TimeLike, end: TimeLike, cadence: str = "1h") -> pd.DatetimeIndex:
    """The labels ``start <= t < end`` every ``cadence`` (only ``"1h"`` is supported).

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds, ``end`` exclusive; ``start`` must be on a whole hour.
    cadence : str, optional
        Grid spacing; only ``"1h"`` (the default) is supported.

    Returns
    -------
    pandas.DatetimeIndex
        Naive UTC ``datetime64[ns]`` hour labels (the START of each hour).

    Raises
    ------
    ValueError
        If ``cadence`` is not 1 h, ``start >= end`` or ``start`` is not on a whole hour.
    """
    if pd.Timedelta(cadence) != pd.Timedelta("1h"):
        raise ValueError(f"cadence {cadence!r} is not supported; use cadence='1h'")
    start, end = to_utc(start), to_utc(end)
    if not start < end:
        raise ValueError(f"start {start} must be before end {end}")
    if start != start.floor("h"):
        raise ValueError(f"start {start} is not on a whole hour; use e.g. {start.floor('h')}")
    return pd.date_range(start, end, freq="1h", inclusive="left").astype("datetime64[ns]")


def _to_hourly(ds: xr.Dataset) -> xr.Dataset:
    """Hourly values: variables with sub-hourly times are averaged (``swpc.to_hourly``).

    A store source may mix cadences (SWPC: 1-minute plasma and IMF, hourly Dst, 3-hourly
    Kp), so each variable is judged on the times where it has values.
    """
    t = ds.indexes["time"]
    on_hour = np.asarray(t == t.floor("h"))
    fine = [
        n
        for n in ds.data_vars
        if ds[n].dtype.kind == "f" and not on_hour[np.asarray(ds[n].notnull())].all()
    ]
    if not fine:
        return ds
    hourly = ds.drop_vars(fine).isel(time=np.flatnonzero(on_hour))
    minute = ds[fine]
    minute = minute.isel(time=np.flatnonzero(minute.to_array().notnull().any("variable")))
    averaged = swpc.to_hourly(minute)
    averaged = averaged.drop_vars([n for n in averaged.data_vars if n in hourly])
    return xr.merge([hourly, averaged], join="outer", combine_attrs="override")


def _on_grid(da: xr.DataArray, grid: pd.DatetimeIndex, name: str) -> np.ndarray:
    """Values of ``da`` on the hourly ``grid``; 3-hourly/daily values repeat over their span."""
    step = timeconv.INTERVAL.get(name)
    series = pd.Series(np.asarray(da.values, dtype="float64"), index=da.indexes["time"])
    series = series[~series.index.duplicated()]
    if step is None:
        return series.reindex(grid).to_numpy()
    labels = grid.floor(step)
    # the value of an interval is the one labelled at its start; a source that repeats the
    # value hourly (OMNI2) has it there as well
    return series.reindex(labels).to_numpy()


def _versions(ds: xr.Dataset, name: str, grid: pd.DatetimeIndex, source: str) -> np.ndarray:
    """Per-hour ``data_version`` strings of ``name`` in ``ds``."""
    if source == "kyoto_dst" and f"{name}_version" in ds:
        flags = _on_grid(ds[f"{name}_version"], grid, name)
        out = np.full(len(grid), "", dtype=object)
        ok = ~np.isnan(flags)
        out[ok] = [KYOTO_VERSIONS[int(f)] for f in flags[ok]]
        return out
    return np.full(len(grid), ds[name].attrs.get("data_version", "unknown"), dtype=object)


def _read(store: Store, source: str, start: TimeLike, end: TimeLike) -> xr.Dataset | None:
    if not store.years(source):
        return None
    pad = pd.Timedelta("1D")  # daily/3-hourly labels before start still cover the first hours
    ds = store.read(source, to_utc(start).floor("D") - pad, end)
    return _to_hourly(ds) if ds.sizes["time"] else None


def resolve_priority(
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
    stored: list[str] | tuple[str, ...] = (),
) -> dict[str, tuple[str, ...]]:
    """The source chain of every variable: :data:`PRIORITY` with ``priority`` applied.

    Parameters
    ----------
    priority
        Variable (or ``"solar_wind"``) -> store sources, best first; replaces that variable's
        chain. ``None`` reads :func:`data_sources.config.dataset_priority` (``config.toml``).
    stored
        Names of the stored sources; a stored ``local_*`` source that no chain names is
        appended to every chain (lowest priority, in name order).

    Returns
    -------
    dict
        Variable -> sources, best first.

    Raises
    ------
    ValueError
        If a key is not a merged variable, a chain is empty or names a source twice.
    """
    from data_sources import config

    given = config.dataset_priority() if priority is None else priority
    upstream = {s for chain in PRIORITY.values() for s in chain if not s.startswith("local_")}
    chains = dict(PRIORITY)
    for key, chain in given.items():
        names = SOLAR_WIND if key == SOLAR_WIND_KEY else (key,)
        if key != SOLAR_WIND_KEY and key not in PRIORITY:
            raise ValueError(
                f"priority for {key!r}: not a merged variable; use one of "
                f"{', '.join([SOLAR_WIND_KEY, *PRIORITY])}"
            )
        chain = tuple(str(c) for c in ([chain] if isinstance(chain, str) else chain))
        if not chain or len(set(chain)) != len(chain):
            raise ValueError(
                f"priority for {key!r} = {list(chain)}: give each source once, best first"
            )
        unknown = [c for c in chain if c not in upstream and not c.startswith("local_")]
        if unknown:
            raise ValueError(
                f"priority for {key!r} names unknown sources {unknown}; use store sources "
                f"({', '.join(sorted(upstream))} or local_<name>)"
            )
        for name in names:
            chains[name] = chain
    named = {s for chain in chains.values() for s in chain}
    extra = tuple(sorted(s for s in stored if s.startswith("local_") and s not in named))
    return {name: (*chain, *extra) for name, chain in chains.items()}


def interpolate_short_gaps(
    values: np.ndarray, max_gap: int = MAX_INTERP_GAP_H
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation over interior NaN runs of at most ``max_gap`` samples.

    Runs that touch either end of the series are never filled (nothing to interpolate to).

    Parameters
    ----------
    values : numpy.ndarray
        1-D hourly series (cast to float64); NaN marks a missing hour.
    max_gap : int, optional
        Longest run of missing samples to fill, in samples (hours on the hourly grid);
        default :data:`MAX_INTERP_GAP_H` = 3.

    Returns
    -------
    (filled, qc)
        ``qc`` is int8: 0 observed, 1 interpolated, 2 still missing.
    """
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    qc = np.where(missing, 2, 0).astype(np.int8)
    filled = values.copy()
    if not missing.any() or missing.all():
        return filled, qc
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    idx = np.arange(len(values))
    for a, b in zip(starts, stops, strict=True):
        if a == 0 or b == len(values) or b - a > max_gap:
            continue
        filled[a:b] = np.interp(idx[a:b], [a - 1, b], [values[a - 1], values[b]])
        qc[a:b] = 1
    return filled, qc


def build_dataset(
    start: TimeLike,
    end: TimeLike,
    cadence: str = "1h",
    *,
    sources: list[str] | None = None,
    store: Store | None = None,
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
) -> xr.Dataset:
    """Merge the stored sources onto the hourly grid ``[start, end)``.

    Parameters
    ----------
    start, end
        UTC bounds; ``end`` is exclusive and ``start`` must be on a whole hour.
    cadence
        Grid step; only ``"1h"``.
    sources
        Store sources to use (default: every stored one in the priority chains); the
        priority order is kept whatever the order of this list.
    store
        Store to read (default ``Store()``).
    priority
        Variable (or ``"solar_wind"``) -> store sources, best first, replacing those chains
        of :data:`PRIORITY` (default: the ``[dataset.priority]`` table of ``config.toml``,
        else :data:`PRIORITY`); see :func:`resolve_priority`.

    Returns
    -------
    xr.Dataset
        ``time`` (naive UTC, start of hour); float32 variables with attrs ``units``,
        ``long_name``, ``source`` and ``data_version`` (the sources / versions actually used,
        best first, comma separated), ``source_hours`` (``source=hours`` it gave, best first)
        and ``priority`` (the chain it was merged by); int8 ``<var>_qc`` flags.
        Units are the vocabulary's (:data:`data_sources.vocabulary.VARIABLES`): ``bx_gsm``,
        ``by_gsm``, ``bz_gsm``, ``b_total``, ``dst``, ``ae`` [nT], ``v_sw`` [km s-1], ``n_p``
        [cm-3], ``t_p`` [K], ``p_dyn`` [nPa], ``kp`` (0..9 in thirds), ``ap`` [2 nT],
        ``f107`` [sfu], ``sunspot_number``. Every row holds the value OF its hour, not what
        was known by then: 3-hourly ``kp``/``ap`` repeat over their 3 hours and daily values
        over their day, so cut it with :func:`data_sources.timeconv.known_at` before using
        it as forecast input.

    Raises
    ------
    FileNotFoundError
        If a source named in ``sources`` is not stored.
    ValueError
        If no stored source has any value in ``[start, end)``, or ``priority`` is invalid.
    """
    store = store or Store()
    grid = hourly_grid(start, end, cadence)
    chains = resolve_priority(priority, store.sources())
    known = sorted({s for chain in chains.values() for s in chain})
    if sources is not None:
        unknown = [s for s in sources if s not in known]
        if unknown:
            raise ValueError(f"sources {unknown} are not merged; choose from {known}")
        for s in sources:
            if not store.years(s):
                raise FileNotFoundError(
                    f"source {s!r} is not in the store {store.root}; ingest it first "
                    f"(`superstorm ingest --source {s} ...`)"
                )
    use = [s for s in known if sources is None or s in sources]
    frames = {
        s: ds
        for s in use
        if (ds := _read(store, s, grid[0], grid[-1] + pd.Timedelta("1h"))) is not None
    }
    out = xr.Dataset(coords={"time": ("time", grid)})
    for name, chain in chains.items():
        merged = _merge_variable(
            name, [(s, frames[s]) for s in chain if s in frames and name in frames[s]], grid
        )
        if merged is not None:
            merged[name].attrs["priority"] = ",".join(chain)
            for key, da in merged.items():
                out[key] = da
    if not out.data_vars:
        raise ValueError(
            f"no stored values between {grid[0]} and {grid[-1]} in {store.root}; "
            "ingest some sources first (`superstorm ingest --recorded ../shared/data`)"
        )
    out["time"].attrs.update(cf.time_axis_attrs())
    out.attrs.update(
        title="superstorm merged hourly dataset",
        Conventions="CF-1.8",
        cadence=cadence,
        time_coverage_start=str(grid[0]),
        time_coverage_end=str(grid[-1] + pd.Timedelta("1h")),
        sources=",".join(sorted(frames)),
        qc="per variable <var>_qc: 0 observed, 1 linearly interpolated (gap <= 3 h), 2 missing",
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return out


def _merge_variable(
    name: str, chain: list[tuple[str, xr.Dataset]], grid: pd.DatetimeIndex
) -> dict[str, xr.DataArray] | None:
    if not chain:
        return None
    values = np.full(len(grid), np.nan)
    used_source = np.full(len(grid), "", dtype=object)
    used_version = np.full(len(grid), "", dtype=object)
    attrs: dict = {}
    for source, ds in chain:
        candidate = _on_grid(ds[name], grid, name)
        take = np.isnan(values) & ~np.isnan(candidate)
        if not take.any():
            continue
        values[take] = candidate[take]
        used_source[take] = source
        used_version[take] = _versions(ds, name, grid, source)[take]
        attrs = attrs or {
            k: ds[name].attrs[k] for k in ("units", "long_name") if k in ds[name].attrs
        }
    if np.isnan(values).all():
        return None
    filled, qc = interpolate_short_gaps(values)
    order = [s for s, _ in chain]
    srcs = [s for s in order if (used_source == s).any()]
    versions = [
        v
        for v in (
            "final",
            "definitive",
            "provisional",
            "nowcast",
            "quicklook",
            "real-time",
            "predicted",
            "unknown",
        )
        if (used_version == v).any()
    ]
    versions += sorted({v for v in used_version if v and v not in versions})
    hours = ",".join(f"{s}={int((used_source == s).sum())}" for s in srcs)
    attrs.update(source=",".join(srcs), source_hours=hours, data_version=",".join(versions))
    da = xr.DataArray(filled.astype("float32"), dims="time", coords={"time": grid}, attrs=attrs)
    flag = xr.DataArray(
        qc,
        dims="time",
        coords={"time": grid},
        attrs={**QC_ATTRS, "long_name": f"quality flag of {name}"},
    )
    return {name: da, f"{name}_qc": flag}


# ---------------------------------------------------------------------- summary
def _longest_gap(qc: np.ndarray, grid: pd.DatetimeIndex) -> tuple[int, str | None]:
    missing = qc == 2
    if not missing.any():
        return 0, None
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(stops - starts))
    return int(stops[k] - starts[k]), str(grid[starts[k]])


def _storm_rows(storms: pd.DataFrame) -> list[dict]:
    """Rows of a :func:`forecasting.storms.find_storms` table as JSON-ready dicts."""
    return [
        {
            "start": str(r.start),
            "end": str(r.end),
            "peak_time": str(r.peak_time),
            "peak_dst": float(r.peak_dst),
            "hours": int(r.hours),
        }
        for r in storms.itertuples()
    ]


def summarize(
    ds: xr.Dataset, *, storms: pd.DataFrame | None = None, storm_threshold: float = -100.0
) -> dict:
    """Span, per-variable coverage and gaps, and the storms found by the caller.

    Parameters
    ----------
    ds
        A :func:`build_dataset` result.
    storms
        The storm table of :func:`forecasting.storms.find_storms` for ``ds`` (``Dst <=
        storm_threshold`` nT); the storm catalogue lives in the forecasting layer, so the caller
        passes it. ``None`` leaves the storms out of the summary.
    storm_threshold
        The Dst threshold [nT] ``storms`` was found with (for the text).

    Returns
    -------
    dict
        ``start``, ``end``, ``hours``, ``variables`` (per variable: missing / interpolated
        percent, longest gap), ``storm_threshold`` and ``storms`` (list of dicts or ``None``).
    """
    grid = ds.indexes["time"]
    variables = {}
    for name in map(str, ds.data_vars):
        if name.endswith("_qc"):
            continue
        qc = ds[f"{name}_qc"].values if f"{name}_qc" in ds else np.where(ds[name].isnull(), 2, 0)
        gap_h, gap_start = _longest_gap(qc, grid)
        variables[name] = {
            "missing_pct": round(100.0 * float((qc == 2).mean()), 2),
            "interpolated_pct": round(100.0 * float((qc == 1).mean()), 2),
            "longest_gap_h": gap_h,
            "longest_gap_start": gap_start,
            "source": ds[name].attrs.get("source", ""),
            "data_version": ds[name].attrs.get("data_version", ""),
        }
    return {
        "start": str(grid[0]) if len(grid) else None,
        "end": str(grid[-1] + pd.Timedelta("1h")) if len(grid) else None,
        "hours": len(grid),
        "variables": variables,
        "storm_threshold": storm_threshold,
        "storms": None if storms is None else _storm_rows(storms),
    }


def format_summary(summary: dict) -> str:
    """The :func:`summarize` result as printable text.

    Parameters
    ----------
    summary : dict
        A :func:`summarize` result.

    Returns
    -------
    str
        A span line, one row per variable (missing %, interpolated %, longest gap in hours
        and its start, source and data version) and, if ``summary["storms"]`` is not
        ``None``, one line per storm (start, end, peak Dst [nT] and its time, UTC).
    """
    lines = [f"span {summary['start']} -> {summary['end']} ({summary['hours']} h)", ""]
    lines.append(
        f"{'variable':<16}{'missing %':>10}{'interp %':>10}{'longest gap':>13}  from / source"
    )
    for name, v in summary["variables"].items():
        gap = f"{v['longest_gap_h']} h" if v["longest_gap_h"] else "-"
        lines.append(
            f"{name:<16}{v['missing_pct']:>10.2f}{v['interpolated_pct']:>10.2f}{gap:>13}  "
            f"{v['longest_gap_start'] or ''} {v['source']} ({v['data_version']})"
        )
    storms = summary["storms"]
    if storms is None:
        return "\n".join(lines)
    lines += ["", f"storms with Dst <= {summary['storm_threshold']:g} nT: {len(storms)}"]
    for s in storms:
        lines.append(f"  {s['start']} -> {s['end']}  peak {s['peak_dst']:g} nT at {s['peak_time']}")
    return "\n".join(lines)
