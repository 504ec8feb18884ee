"""Refresh the latest model inputs with a stated fallback priority, and report freshness.

Priority per input group (first *fresh* source wins; ``store`` is the local store built by
``superstorm ingest``, merged by :func:`data_sources.dataset.build_dataset`):

========== ==================================================================
solar_wind SWPC real-time L1 (plasma + mag, 1-min, QC'd, propagated -> hourly) -> store
dst        Kyoto real-time/quick-look WDC -> SWPC ``kyoto-dst.json`` -> store
kp         SWPC estimated planetary Kp -> GFZ Potsdam -> Celestrak -> store
========== ==================================================================

A source is *fresh* when its newest finite value, as known at the issue time
(:func:`data_sources.timeconv.known_at`), ended no longer than ``STALE_AFTER[group]`` before
the issue time. When no source is fresh the freshest one is used and the group is reported
stale. The merged hourly inputs are cut at the issue time (nothing later can leak into a
forecast, also in replays) and written to
``$SUPERSTORM_HOME/runs/inputs/inputs_<YYYYmmddTHHMM>.nc``; flows pass that path on.

SWPC solar wind is made to match what the models were trained on (OMNI) by
:func:`fetch_swpc_solar_wind`: the 1-minute samples published by the issue time (measured
at least :data:`data_sources.propagation.PUBLICATION_DELAY` before it) pass the real-time
QC (:mod:`data_sources.rtqc`: flagged values become NaN), are propagated to the bow-shock
nose and averaged like OMNI (:mod:`data_sources.propagation`); only complete bow-shock
hours are kept, and the L1 lead is used: row ``h`` holds the newest hour known by
``h + 1 h`` (:func:`data_sources.propagation.lead_view`, the same rule backtests apply to
OMNI with ``forecasting.latency.L1``). The hourly bit-OR of the sample flags is written
beside each variable as ``<name>_rtqc`` and summarised in the freshness report (``qc``,
``qc_note``), which the forecast summary and the Drivers page show.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from data_sources import config, ingest, propagation, rtqc, swpc
from data_sources.netcdf import NETCDF_LOCK, write_netcdf_atomic
from data_sources.staleness import (  # noqa: F401  (re-exported: the live-input policy)
    EXPECTED_AGE,
    GROUPS,
    SOLAR_WIND,
    STALE_AFTER,
    age_status,
    group_of,
)
from data_sources.timeconv import TimeLike, known_at, latest_known, to_utc

log = logging.getLogger(__name__)

#: group -> sources, best first: ingest names of :data:`data_sources.ingest.SOURCES`,
#: ``swpc_rtsw`` (SWPC plasma + mag, hourly) or ``store`` (the local store)
PRIORITY: dict[str, tuple[str, ...]] = {
    "solar_wind": ("swpc_rtsw", "store"),
    "dst": ("kyoto_dst", "swpc_dst", "store"),
    "kp": ("swpc_kp", "gfz_kp", "celestrak", "store"),
}


@dataclass
class Freshness:
    """How fresh one input group is at the issue time."""

    group: str
    source: str | None
    newest: str | None  # end of the newest finite interval, ISO UTC
    age_hours: float | None
    stale: bool
    tried: list[str] = field(default_factory=list)  # "source: outcome" per source tried
    qc: dict = field(default_factory=dict)  # variable -> {test: flagged 1-min samples}
    qc_note: str = ""  # the flagged samples (test counts and first times), or ""
    lead_note: str = ""  # SWPC: newest bow-shock hour known, i.e. the lead L1 gives

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict.

        Returns
        -------
        dict
            ``group``, ``source``, ``newest`` (ISO 8601 UTC end of the newest interval),
            ``age_hours`` (h), ``stale``, ``tried``, ``qc``, ``qc_note`` and ``lead_note``.
        """
        return asdict(self)


def _product_hourly(
    ds: xr.Dataset, speed: xr.DataArray | None
) -> tuple[xr.Dataset, pd.DatetimeIndex, xr.Dataset]:
    """QC -> propagate -> hourly of one 1-min product: ``(hourly, available_from, flags)``.

    Only complete bow-shock hours are kept (a later sample has already arrived past the
    hour's end); an hour is known when its last sample's minute was published.
    """
    cleaned, flags = rtqc.clean(ds)
    speed = cleaned["v_sw"] if speed is None and "v_sw" in cleaned else speed
    prop = propagation.propagate(cleaned, speed=speed)
    hourly = propagation.hourly_means(prop)
    last_arrival = prop.indexes["time"].max()
    hourly = hourly.sel(time=hourly.indexes["time"] + pd.Timedelta("1h") <= last_arrival)
    measured_end = pd.Series(
        prop["measured_time"].values + pd.Timedelta("1min"), index=prop.indexes["time"]
    )
    newest = measured_end.groupby(measured_end.index.floor("1h")).max()
    avail = newest.reindex(hourly.indexes["time"]).fillna(pd.Timestamp.max) + (
        propagation.PUBLICATION_DELAY
    )
    arrival = propagation.arrival_times(ds.indexes["time"], speed)
    hourly_flags = rtqc.hourly_flags(flags, arrival).reindex(time=hourly.indexes["time"])
    for name in hourly_flags.data_vars:
        hourly[name] = ("time", hourly_flags[name].fillna(0).values.astype("int16"))
    return hourly, pd.DatetimeIndex(avail), flags


def fetch_swpc_solar_wind(start: TimeLike, end: TimeLike) -> xr.Dataset:
    """SWPC plasma + mag as known at ``end``: QC'd, propagated, hourly, L1 lead view.

    Either product may be missing, not both. The field is propagated with the plasma
    speed (without plasma: :data:`data_sources.propagation.NOMINAL_SPEED`, said in
    ``attrs["propagation_note"]``). ``attrs``: ``rtqc`` (summary of the flagged samples),
    ``rtqc_counts`` (JSON), ``bow_shock_newest_end`` (end of the newest complete hour).

    Parameters
    ----------
    start : TimeLike
        Start of the wanted window, naive UTC; the download starts 3 h earlier so the
        propagation delay L1 -> bow shock does not leave the first hours empty.
    end : TimeLike
        Issue time, naive UTC: only 1-minute samples whose minute ended by
        ``end - PUBLICATION_DELAY`` are used.

    Returns
    -------
    xarray.Dataset
        Hourly solar wind at the bow-shock nose on ``time`` (naive UTC, start of the hour;
        ``bx_gsm``, ``by_gsm``, ``bz_gsm``, ``b_total`` [nT], ``v_sw`` [km s-1], ``n_p``
        [cm-3], ``t_p`` [K], ``p_dyn`` [nPa], whichever products came), each with its hourly
        ``<name>_rtqc`` flag bits; row ``h`` holds the newest hour known by ``h + 1 h``.

    Raises
    ------
    ValueError
        If neither product could be downloaded or no complete bow-shock hour precedes ``end``.
    """
    start, end = to_utc(start), to_utc(end)
    cutoff = end - propagation.PUBLICATION_DELAY
    raw, errors = {}, []
    for key, getter in (("plasma", swpc.get_swpc_plasma), ("mag", swpc.get_swpc_mag)):
        try:
            ds = getter(start - pd.Timedelta("3h"), end)
        except Exception as exc:  # noqa: BLE001 - reported, then the other product is tried
            errors.append(f"{getter.__name__}: {exc}")
            continue
        ds = ds.sel(time=ds.indexes["time"] + pd.Timedelta("1min") <= cutoff)
        if ds.sizes.get("time", 0):
            raw[key] = ds
    if not raw:
        raise ValueError("; ".join(errors) or f"no SWPC solar wind between {start} and {end}")
    parts, qc_lines, qc_counts, ends, note = [], [], {}, [], ""
    speed = None
    if "plasma" in raw:
        speed = rtqc.clean(raw["plasma"])[0]["v_sw"]
    for key, ds in raw.items():
        sp = speed if key == "mag" else None
        if key == "mag" and sp is None:
            note = f"no plasma: field propagated at {propagation.NOMINAL_SPEED:.0f} km/s"
            sp = xr.full_like(ds[list(ds.data_vars)[0]], propagation.NOMINAL_SPEED)
        hourly, avail, flags = _product_hourly(ds, sp)
        if hourly.sizes.get("time", 0) == 0:
            continue
        ends.append(hourly.indexes["time"].max() + pd.Timedelta("1h"))
        parts.append(propagation.lead_view(hourly, avail))
        if rtqc.summary(flags):
            qc_lines.append(rtqc.summary(flags))
        qc_counts.update(rtqc.counts(flags))
    if not parts:
        raise ValueError(f"no complete bow-shock hour of SWPC solar wind before {end}")
    out = xr.merge(parts, compat="override", combine_attrs="override")
    out.attrs.update(
        rtqc="; ".join(qc_lines),
        rtqc_counts=json.dumps(qc_counts),
        bow_shock_newest_end=min(ends).strftime("%Y-%m-%dT%H:%M:%SZ"),
        propagation_note=note,
    )
    return out


_fetch_swpc_solar_wind = fetch_swpc_solar_wind


#: attributes of a fetched source carried into the freshness report
_REPORTED_ATTRS = ("rtqc", "rtqc_counts", "bow_shock_newest_end")


def _resolve(name: str) -> Callable[..., xr.Dataset]:
    """The fetcher of priority entry ``name`` (``swpc_rtsw`` or an ingest source name)."""
    if name == "swpc_rtsw":
        return _fetch_swpc_solar_wind
    return ingest.getter(name)


def _hourly(ds: xr.Dataset, names: tuple[str, ...], grid: pd.DatetimeIndex) -> xr.Dataset:
    """``names`` of ``ds`` on the hourly ``grid``; 3-hourly kp/ap repeat over their 3 hours."""
    t = ds.indexes["time"]
    if len(t) and not bool((t == t.floor("h")).all()):
        ds = swpc.to_hourly(ds)
    out = xr.Dataset(coords={"time": grid})
    for name in (*names, *[f"{n}_rtqc" for n in names]):
        if name not in ds:
            continue
        s = ds[name].to_series()
        s = s[~s.index.duplicated()]
        labels = grid.floor("3h") if name in ("kp", "ap") else grid
        vals = s.reindex(labels).to_numpy(dtype="float64")
        out[name] = ("time", vals.astype("float32"), dict(ds[name].attrs))
    return out


def newest_end(ds: xr.Dataset, name: str, t: pd.Timestamp) -> pd.Timestamp | None:
    """End of the newest interval of ``name`` with a finite value known at ``t``.

    Parameters
    ----------
    ds : xarray.Dataset
        Inputs on ``time`` (naive UTC, interval start).
    name : str
        Variable to look at (decides its interval: 1 h, 3 h for ``kp``/``ap``).
    t : pandas.Timestamp
        Issue time, naive UTC.

    Returns
    -------
    pandas.Timestamp or None
        Naive UTC end of that interval (its age at ``t`` is ``t - end``); ``None`` if
        ``name`` is not in ``ds`` or nothing finite is known at ``t``.
    """
    return latest_known(ds[name].to_series(), name, t)[1] if name in ds else None


def _store_frame(
    start: TimeLike, end: TimeLike, *, recorded: Path | None, store_root: Path | None
) -> xr.Dataset | None:
    if recorded is not None:
        with NETCDF_LOCK, xr.open_dataset(recorded) as ds:
            return ds.sel(time=slice(start, end - pd.Timedelta("1ns"))).load()
    try:
        from data_sources.dataset import build_dataset
        from data_sources.store import Store

        return build_dataset(start, end, store=Store(store_root) if store_root else None)
    except (FileNotFoundError, ValueError) as exc:
        log.warning("store has no inputs between %s and %s: %s", start, end, exc)
        return None


def refresh_inputs(
    issue_time: TimeLike,
    *,
    lookback: str | pd.Timedelta = "30D",
    live: bool = True,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    out_dir: str | Path | None = None,
    priority: dict[str, tuple[str, ...]] | None = None,
    stale_after: dict[str, pd.Timedelta] | None = None,
) -> dict:
    """Fetch the freshest inputs for ``issue_time`` and write them to one netCDF file.

    Parameters
    ----------
    issue_time
        Forecast issue time (UTC); nothing labelled at or after it (or whose interval ends
        after it) is kept.
    lookback
        History length before ``issue_time`` (baselines need days; 27-day recurrence 27 d).
    live
        Try the network sources of :data:`PRIORITY`; ``False`` uses only the store (replay).
    recorded
        A netCDF hourly dataset to use instead of the store (replays of recorded data).
    store_root, out_dir
        Store folder (default ``$SUPERSTORM_HOME/store``); output folder (default
        ``$SUPERSTORM_HOME/runs/inputs``).
    priority : dict of str to tuple of str, optional
        Group (``"solar_wind"``, ``"dst"``, ``"kp"``) -> sources to try, best first; replaces
        :data:`PRIORITY` as a whole (every group must be present).
    stale_after : dict of str to pandas.Timedelta, optional
        Group -> largest age of its newest value that still counts as fresh; merged over
        :data:`STALE_AFTER` (2 h solar wind, 3 h Dst, 6 h Kp).

    Returns
    -------
    dict
        ``path`` (str, the inputs file) and ``freshness`` (group -> :class:`Freshness` dict).

    Raises
    ------
    ValueError
        If no source at all has inputs for the window.
    """
    t = to_utc(issue_time)
    start = (t - pd.Timedelta(lookback)).floor("h")
    grid = pd.date_range(start, t - pd.Timedelta("1h"), freq="1h")
    priority = priority or PRIORITY
    stale_after = {**STALE_AFTER, **(stale_after or {})}
    base = _store_frame(
        start,
        t,
        recorded=Path(recorded) if recorded else None,
        store_root=Path(store_root) if store_root else None,
    )
    merged = xr.Dataset(coords={"time": grid})
    if base is not None:
        base = base.reindex(time=grid)
        merged = base.copy()
    report: dict[str, dict] = {}
    for group, names in GROUPS.items():
        tried: list[str] = []
        best: tuple[pd.Timestamp | None, str | None, xr.Dataset | None] = (None, None, None)
        for spec in priority[group]:
            label: str | None = spec
            if spec == "store":
                cand = base[[n for n in names if n in base]] if base is not None else None
            elif not live:
                continue
            else:
                try:
                    fetched = _resolve(spec)(start, t)
                    cand = _hourly(fetched, names, grid)
                    cand.attrs.update(
                        {k: fetched.attrs[k] for k in _REPORTED_ATTRS if k in fetched.attrs}
                    )
                except Exception as exc:  # noqa: BLE001 - a down source falls back to the next
                    tried.append(f"{label}: failed ({type(exc).__name__}: {str(exc)[:200]})")
                    continue
            end = newest_end(cand, names[0], t) if cand is not None else None
            if end is None:
                tried.append(f"{label}: no data")
                continue
            fresh = t - end <= stale_after[group]
            tried.append(f"{label}: newest {end:%Y-%m-%d %H:%M} ({'fresh' if fresh else 'stale'})")
            if best[0] is None or end > best[0]:
                best = (end, label, cand)
            if fresh:
                break
        end, label, cand = best
        if cand is not None:
            for n in (*names, *[f"{m}_rtqc" for m in names]):
                if n in cand:
                    preferred = cand[n]
                    merged[n] = preferred.combine_first(merged[n]) if n in merged else preferred
                    merged[n].attrs = dict(cand[n].attrs)
                    merged[n].attrs["input_source"] = label
        age = None if end is None else round((t - end) / pd.Timedelta("1h"), 2)
        attrs = cand.attrs if cand is not None else {}
        lead = attrs.get("bow_shock_newest_end")
        report[group] = Freshness(
            group=group,
            source=label,
            newest=None if end is None else end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            age_hours=age,
            stale=end is None or t - end > stale_after[group],
            tried=tried,
            qc=json.loads(attrs.get("rtqc_counts", "{}")),
            qc_note=attrs.get("rtqc", ""),
            lead_note=f"newest bow-shock hour ends {lead}" if lead else "",
        ).to_dict()
    if not merged.data_vars:
        raise ValueError(
            f"no inputs for {start} .. {t}: every source failed or is empty; ingest data "
            "(`superstorm ingest`) or point SUPERSTORM_MIRROR at a mirror"
        )
    merged = known_at(merged, t)
    merged.attrs.update(
        issue_time=t.strftime("%Y-%m-%dT%H:%M:%SZ"),
        title="superstorm forecast inputs as known at issue_time",
    )
    out = Path(out_dir) if out_dir else config.home() / "runs" / "inputs"
    path = out / f"inputs_{t:%Y%m%dT%H%M}.nc"
    _atomic_write(merged, path)
    return {"path": str(path), "freshness": report}


def _atomic_write(ds: xr.Dataset, path: Path) -> None:
    for v in ds.data_vars:  # attrs netCDF cannot hold (None) are dropped
        ds[v].attrs = {k: a for k, a in ds[v].attrs.items() if a is not None}
    write_netcdf_atomic(ds, path)


def format_freshness(report: dict) -> str:
    """One line per group: source, newest value, age, stale flag, L1 lead, QC-flagged samples.

    Parameters
    ----------
    report : dict
        The ``freshness`` mapping of :func:`refresh_inputs` (group -> :meth:`Freshness.to_dict`).

    Returns
    -------
    str
        Newline-separated lines, ages in hours.
    """
    lines = []
    for group, f in report.items():
        age = "n/a" if f["age_hours"] is None else f"{f['age_hours']:.1f} h"
        flag = "STALE" if f["stale"] else "fresh"
        line = f"{group}: {f['source']} newest {f['newest']} (age {age}, {flag})"
        if f.get("lead_note"):
            line += f"; {f['lead_note']}"
        if f.get("qc_note"):
            line += f"; QC flagged: {f['qc_note']}"
        lines.append(line)
    return "\n".join(lines)
