"""Researchers' own extracts: CSV or netCDF files mapped onto the canonical vocabulary.

:func:`load_local_file` reads one file with a column map (native -> canonical name), fill
values and a time format; :func:`load_local_files` joins consecutive files that share
boundary rows; :data:`PRESETS` holds the maps of the recorded extracts and
:func:`load_preset` applies one.

Times become naive UTC (a zone in the file is honoured; a time without a zone is taken as
UTC) and label the start of the interval, as everywhere in superstorm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.base import finalize
from data_sources.netcdf import NETCDF_LOCK
from data_sources.omni2 import VARIABLE_MAP as OMNI2_MAP
from data_sources.resample import HOUR, hourly_means, sample_step
from data_sources.vocabulary import VARIABLES

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5")
#: Map targets that are not physical variables but are kept as they are (annotate skips them).
PASSTHROUGH_SUFFIXES = ("_qc", "_version")

FillSpec = float | Iterable[float] | Mapping[str, float | Iterable[float]] | None


def _check_map(column_map: Mapping[str, str]) -> None:
    for native, canonical in column_map.items():
        if canonical not in VARIABLES and not canonical.endswith(PASSTHROUGH_SUFFIXES):
            raise ValueError(
                f"column {native!r} maps to {canonical!r}, which is not a canonical name; "
                f"valid: {', '.join(sorted(VARIABLES))} (or a name ending in _qc / _version)"
            )
    targets = list(column_map.values())
    dup = {t for t in targets if targets.count(t) > 1}
    if dup:
        raise ValueError(f"several columns map to {sorted(dup)}; map each canonical name once")


def _read_table(
    path: Path, layout: str, column_names: Sequence[str] | None
) -> tuple[pd.DataFrame, int]:
    """The file as a table of strings/numbers and the file line of its first row."""
    if path.suffix.lower() in NETCDF_SUFFIXES:
        with NETCDF_LOCK, xr.open_dataset(path) as ds:
            frame = ds.load().to_dataframe().reset_index()
        return frame, 0
    if layout == "text":
        return _read_text(path, column_names)
    if layout != "csv":
        raise ValueError(f"layout {layout!r} is not known; use 'csv' or 'text'")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    return frame, 2  # header is line 1


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_text(path: Path, column_names: Sequence[str] | None) -> tuple[pd.DataFrame, int]:
    """Whitespace-delimited text after a free-form header block.

    The data start at the first line whose words are all numbers; everything above is the
    header block. Column names are ``column_names`` or else the words of the last header line
    (it must have one word per column). Lines starting with ``#`` are comments anywhere.
    """
    lines = path.read_text(errors="replace").splitlines()
    first = next(
        (
            i
            for i, line in enumerate(lines)
            if line.split()
            and not line.lstrip().startswith("#")
            and all(_is_number(w) for w in line.split())
        ),
        None,
    )
    if first is None:
        raise ValueError(f"{path}: no line of numbers found; is this a whitespace-delimited table?")
    header = [ln for ln in lines[:first] if ln.split() and not ln.lstrip().startswith("#")]
    width = len(lines[first].split())
    if column_names is None:
        if not header or len(header[-1].split()) != width:
            raise ValueError(
                f"{path}: line {first + 1} has {width} columns but no header line above it names "
                f"{width} columns; pass column_names=[...] (one name per column)"
            )
        column_names = header[-1].split()
    names = list(column_names)
    if len(names) != width:
        raise ValueError(
            f"{path}: {len(names)} column_names given but line {first + 1} has {width} columns"
        )
    rows = []
    for i, line in enumerate(lines[first:], start=first + 1):
        words = line.split()
        if not words or line.lstrip().startswith("#"):
            continue
        if len(words) != width:
            raise ValueError(f"{path}, line {i}: {len(words)} columns, expected {width}")
        rows.append(words)
    return pd.DataFrame(rows, columns=names, dtype=str), first + 1


def _fills_for(fill_values: FillSpec, native: str) -> list[float]:
    if fill_values is None:
        return []
    if isinstance(fill_values, Mapping):
        spec = fill_values.get(native)
        if spec is None:
            return []
    else:
        spec = fill_values
    if isinstance(spec, int | float):
        return [float(spec)]
    return [float(v) for v in spec]


def _numbers(col: pd.Series, native: str, name: str, first_line: int) -> np.ndarray:
    if col.dtype.kind in "fiub":
        return col.to_numpy(dtype="float64")
    text = col.astype(str).str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "") & (text.str.lower() != "nan")
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        where = f"line {i + first_line}" if first_line else f"row {i}"
        raise ValueError(f"{name}, {where}, column {native!r}: {text.iloc[i]!r} is not a number")
    return values.to_numpy(dtype="float64")


def _times(
    col: pd.Series, time_format: str | None, name: str, first_line: int, time_column: str | None
) -> pd.DatetimeIndex:
    kwargs = {"format": time_format} if time_format else {"format": "ISO8601"}
    if col.dtype.kind == "M":
        kwargs = {}
    try:
        parsed = pd.to_datetime(col, utc=True, **kwargs)
    except (ValueError, TypeError):
        for i, v in enumerate(col):
            try:
                pd.to_datetime(pd.Series([v]), utc=True, **kwargs)
            except (ValueError, TypeError):
                where = f"line {i + first_line}" if first_line else f"row {i}"
                raise ValueError(
                    f"{name}, {where}, column {time_column!r}: {v!r} does not match the time "
                    f"format {time_format or 'ISO 8601'!r}; pass time_format="
                ) from None
        raise
    return pd.DatetimeIndex(parsed, name="time").tz_convert(None).astype("datetime64[ns]")


#: Parts a time split across columns may have (``time_columns`` keys).
TIME_PARTS = ("year", "month", "day", "doy", "hour", "minute", "second")
_PART_RANGES = {
    "year": (1800, 2200),
    "month": (1, 12),
    "day": (1, 31),
    "doy": (1, 366),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 60),
}


def _split_times(
    frame: pd.DataFrame, time_columns: Mapping[str, str], name: str, first_line: int
) -> pd.DatetimeIndex:
    """Times from year / month / day (or day of year) / hour / minute / second columns (UTC)."""
    unknown = [k for k in time_columns if k not in TIME_PARTS]
    if unknown:
        raise ValueError(f"time_columns keys {unknown} are not among {TIME_PARTS}")
    has_date = {"month", "day"} <= set(time_columns)
    if "year" not in time_columns or has_date == ("doy" in time_columns):
        raise ValueError(
            "time_columns needs 'year' and either 'month' and 'day' or 'doy' (day of year), "
            f"got {sorted(time_columns)}"
        )
    parts = {}
    for part, column in time_columns.items():
        if column not in frame.columns:
            raise ValueError(
                f"{name}: time column {column!r} ({part}) not in {list(frame.columns)}"
            )
        values = _numbers(frame[column], column, name, first_line)
        lo, hi = _PART_RANGES[part]
        bad = ~np.isfinite(values) | (values < lo) | (values > hi)
        if bad.any():
            i = int(np.argmax(bad))
            where = f"line {i + first_line}" if first_line else f"row {i}"
            raise ValueError(
                f"{name}, {where}, column {column!r}: {part} {float(values[i]):g} is outside {lo}..{hi}"
            )
        parts[part] = values
    year = parts["year"].astype(int)
    if "doy" in parts:
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        bad = (parts["doy"] == 366) & ~leap
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name}: day of year 366 in {year[i]}, which is not a leap year")
        start = pd.to_datetime(year.astype(str), format="%Y")
        days = pd.to_timedelta(parts["doy"] - 1, unit="D")
    else:
        frame_dates = pd.DataFrame(
            {"year": year, "month": parts["month"].astype(int), "day": parts["day"].astype(int)}
        )
        try:
            start = pd.to_datetime(frame_dates)
        except ValueError as exc:
            raise ValueError(
                f"{name}: an impossible date in the year/month/day columns: {exc}"
            ) from None
        days = pd.to_timedelta(0, unit="D")
    offset = (
        pd.to_timedelta(parts.get("hour", 0), unit="h")
        + pd.to_timedelta(parts.get("minute", 0), unit="min")
        + pd.to_timedelta(parts.get("second", 0), unit="s")
    )
    times = pd.DatetimeIndex(start + days + offset, name="time")
    return times.round("s").astype("datetime64[ns]")


def _cadence(times: pd.DatetimeIndex) -> str:
    if len(times) < 2:
        return "unknown"
    step = pd.Series(times).sort_values().diff().median()
    if pd.isna(step) or step <= pd.Timedelta(0):
        return "unknown"
    freq = pd.tseries.frequencies.to_offset(step).freqstr
    # "h" -> "1h", as every other source writes its cadence
    return freq if freq[0].isdigit() else f"1{freq}"


def load_local_file(
    path: str | Path,
    *,
    column_map: Mapping[str, str],
    time_column: str | None = None,
    time_columns: Mapping[str, str] | None = None,
    time_format: str | None = None,
    layout: str = "csv",
    column_names: Sequence[str] | None = None,
    fill_values: FillSpec = None,
    scale: Mapping[str, float] | None = None,
    hourly: bool = True,
    min_coverage: float = 0.5,
    source: str = "local",
    data_version: str | Mapping[str, str] = "final",
) -> xr.Dataset:
    """Read a CSV or netCDF extract into the canonical vocabulary.

    Parameters
    ----------
    path
        A table (``layout``) or netCDF (``.nc``, ``.nc4``, ``.cdf``).
    column_map
        Native column -> canonical name (:data:`data_sources.vocabulary.VARIABLES`); names
        ending in ``_qc`` / ``_version`` are kept as they are. Other columns are ignored.
    time_column
        Column (or netCDF coordinate) holding the time of each row (start of interval).
    time_columns
        Instead of ``time_column``: the time split across columns, part -> column, with parts
        ``year`` and ``month`` + ``day`` or ``doy`` (day of year, 1 = 1 January), and optional
        ``hour``, ``minute``, ``second`` (OMNIWeb / CDAWeb text listings), all UTC.
    time_format
        ``strftime`` format of ``time_column`` (default ISO 8601). Zone-less times are UTC.
    layout
        ``"csv"`` (comma-separated with a header row) or ``"text"`` (whitespace-delimited after
        a free-form header block; see ``column_names``).
    column_names
        Names of the columns of a ``"text"`` file when its header block does not end in a line
        with one name per column.
    fill_values
        Missing-value markers that become NaN: one number or list for every column, or a
        mapping native column -> number or list. Empty fields are always NaN.
    scale
        Native column -> factor applied after the fills (e.g. ``{"Kp_index": 0.1}``).
        ``kp`` is then snapped to thirds.
    hourly
        Average a sub-hourly record (e.g. 1- or 5-minute) onto the hourly grid with
        :func:`data_sources.resample.hourly_means` (default); hourly or coarser records are kept
        as they are.
    min_coverage
        Fraction of an hour's samples that must be valid for the hourly mean (default 0.5).
    source, data_version
        Provenance written to the attributes (``data_version`` one string or per canonical
        name).

    Returns
    -------
    xarray.Dataset
        Canonical variables on ``time`` (naive UTC, start of interval), finalized like every
        source.

    Raises
    ------
    ValueError
        An unknown canonical name (listing the valid ones), a column not in the file (naming
        it and listing the columns present), a non-numeric value or a bad time (naming the
        line), or a time that appears twice (naming both lines).
    """
    path = Path(path)
    name = str(path)
    _check_map(column_map)
    if (time_column is None) == (time_columns is None):
        raise ValueError("give either time_column (one column) or time_columns (split time)")
    frame, first_line = _read_table(path, layout, column_names)
    wanted = [*([time_column] if time_column else []), *column_map]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name}: column(s) {missing} not in the file; columns present: {list(frame.columns)}"
        )
    if time_columns is not None:
        times = _split_times(frame, time_columns, name, first_line)
    else:
        times = _times(frame[time_column], time_format, name, first_line, time_column)
    dup = times.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup)[:2]
        where = [int(r) + first_line for r in rows] if first_line else [int(r) for r in rows]
        raise ValueError(
            f"{name}: time {times[rows[0]]} appears more than once (at {'lines' if first_line else 'rows'} "
            f"{where}); remove the duplicate rows"
        )
    data = {}
    for native, canonical in column_map.items():
        values = np.array(_numbers(frame[native], native, name, first_line), dtype="float64")
        for fill in _fills_for(fill_values, native):
            values[np.isclose(values, fill, rtol=0, atol=1e-9 * max(1.0, abs(fill)))] = np.nan
        if scale and native in scale:
            values = values * scale[native]
        if canonical == "kp":
            values = np.round(values * 3.0) / 3.0
        dtype = "float32" if not canonical.endswith(PASSTHROUGH_SUFFIXES) else "float64"
        data[canonical] = ("time", values.astype(dtype))
    ds = xr.Dataset(data, coords={"time": times})
    cadence = _cadence(times)
    if hourly and len(times) > 1 and sample_step(ds.sortby("time")) < HOUR:
        ds = hourly_means(ds.sortby("time"), min_coverage=min_coverage)
        cadence = "1h"
    if isinstance(data_version, Mapping):
        data_version = {
            k: data_version[k]
            for k in map(str, ds.data_vars)
            if not k.endswith(PASSTHROUGH_SUFFIXES)
        }
    return finalize(
        ds,
        source=source,
        source_url=name,
        cadence=cadence,
        data_version=data_version,
        name=name,
    )


def _same(a: xr.Dataset, b: xr.Dataset) -> np.ndarray:
    """Per time: whether ``a`` and ``b`` hold identical values (NaN equal to NaN)."""
    same = np.ones(a.sizes["time"], dtype=bool)
    for v in a.data_vars:
        x, y = a[v].values, b[v].values
        same &= (x == y) | (np.isnan(x) & np.isnan(y))
    return same


def load_local_files(paths: Iterable[str | Path], **kwargs: Any) -> xr.Dataset:
    """Load several files with :func:`load_local_file` and join them along ``time``.

    Rows that appear in two files (consecutive extracts sharing a boundary row) are kept
    once when identical; a time whose values differ between files raises, naming it.

    Parameters
    ----------
    paths : iterable of str or Path
        The files, in order (earlier files win nothing: shared times must agree).
    **kwargs
        Passed to :func:`load_local_file` for every file (``column_map``, ``time_column``,
        ``fill_values``, ``scale``, ``source``, ``data_version`` ...).

    Returns
    -------
    xarray.Dataset
        Canonical variables on sorted ``time`` (naive UTC, start of interval);
        ``attrs["source_url"]`` lists every file.

    Raises
    ------
    ValueError
        If ``paths`` is empty, a file does not parse, or two files hold different values
        for the same time.
    """
    parts = [load_local_file(p, **kwargs) for p in paths]
    if not parts:
        raise ValueError("no files given")
    out = parts[0]
    for part in parts[1:]:
        common = out.indexes["time"].intersection(part.indexes["time"])
        if len(common):
            same = _same(out.sel(time=common), part.sel(time=common))
            if not same.all():
                t = common[int(np.argmin(same))]
                raise ValueError(
                    f"{part.attrs['source_url']}: time {t} is also in an earlier file with "
                    "different values; the files disagree"
                )
            part = part.drop_sel(time=common)
        out = xr.concat([out, part], dim="time", combine_attrs="override")
    out = out.sortby("time")
    out.attrs["source_url"] = ", ".join(p.attrs["source_url"] for p in parts)
    return out


def _omni_fills(column_map: Mapping[str, str]) -> dict[str, float]:
    """OMNI2 fill values (from :data:`data_sources.omni2.VARIABLE_MAP`) per native column."""
    # the fills are on the native scale (Kp x10: 99), as written in the files
    return {n: OMNI2_MAP[c][1] for n, c in column_map.items() if c in OMNI2_MAP}


_STORMAI_MAP = {
    "BX_nT_GSE_GSM": "bx_gsm",
    "BY_nT_GSM": "by_gsm",
    "BZ_nT_GSM": "bz_gsm",
    "Scalar_B_nT": "b_total",
    "SW_Plasma_Temperature_K": "t_p",
    "SW_Proton_Density_N_cm3": "n_p",
    "SW_Plasma_Speed_km_s": "v_sw",
    "Flow_pressure": "p_dyn",
    "E_electric_field": "e_y",
    "Kp_index": "kp",
    "R_Sunspot_No": "sunspot_number",
    "Dst_index_nT": "dst",
    "AE_index_nT": "ae",
    "ap_index_nT": "ap",
    "f10.7_index": "f107",
}
_OMNIWEB_MAP = {
    "Scalar_B": "b_total",
    "BX_GSE_GSM": "bx_gsm",
    "BY_GSM": "by_gsm",
    "BZ_GSM": "bz_gsm",
    "SW_Plasma_Temperature": "t_p",
    "SW_Proton_Density": "n_p",
    "SW_Plasma_Speed": "v_sw",
    "Flow_pressure": "p_dyn",
    "E_elecrtric_field": "e_y",  # (sic) in the file
    "Dst-index": "dst",
}
_SOLAR_WIND = {"bx_gsm", "by_gsm", "bz_gsm", "b_total", "t_p", "n_p", "v_sw", "p_dyn", "e_y"}


def _versions(column_map: Mapping[str, str], indices: str) -> dict[str, str]:
    return {c: ("final" if c in _SOLAR_WIND else indices) for c in column_map.values()}


#: Column maps of the recorded extracts (see ``../shared/data/MANIFEST.md``).
PRESETS: dict[str, dict] = {
    # NASA OMNI hourly extract (spacedr/dst_rnn): ts ISO with +00:00, empty fields = gaps
    "omni_hourly_csv": {
        "time_column": "ts",
        "column_map": {
            "b": "b_total",
            "bz": "bz_gsm",
            "n": "n_p",
            "v": "v_sw",
            "f10": "f107",
            "dst": "dst",
        },
        "source": "NASA OMNI hourly extract (spacedr/dst_rnn data/omni.csv)",
        "data_version": {
            "b_total": "final",
            "bz_gsm": "final",
            "n_p": "final",
            "v_sw": "final",
            "f107": "final",
            "dst": "final",
        },
    },
    # MIT ARCLab STORM-AI OMNI2 CSV: OMNI fill values kept, Kp x10
    "omni2_stormai_csv": {
        "time_column": "Timestamp",
        "column_map": _STORMAI_MAP,
        "fill_values": _omni_fills(_STORMAI_MAP),
        "scale": {"Kp_index": 0.1},
        "source": "NASA OMNI2 hourly via MIT ARCLab STORM-AI warm-up v2 CSV",
        "data_version": _versions(_STORMAI_MAP, "final"),
    },
    # OMNIWeb hourly subset (ccsc-tools/Dst-prediction), Timestamp Y-M-D-H
    "omniweb_csv_dstt": {
        "time_column": "Timestamp",
        "column_map": _OMNIWEB_MAP,
        "time_format": "%Y-%m-%d-%H",
        "fill_values": _omni_fills(_OMNIWEB_MAP),
        "source": "NASA OMNIWeb hourly subset (ccsc-tools/Dst-prediction)",
        "data_version": _versions(_OMNIWEB_MAP, "provisional"),
    },
    # Kyoto Dst via the UCLA ELFIN mirror; `version` kept as dst_version (ELFIN's own flag)
    "dst_csv_elfin": {
        "time_column": "timestamp",
        "column_map": {"dst_nT": "dst", "version": "dst_version"},
        "time_format": "%Y-%m-%d/%H:%M:%S",
        "source": "Kyoto WDC Dst via UCLA ELFIN (data.elfin.ucla.edu/dst/elfin_dst.csv)",
        "data_version": {"dst": "provisional"},
    },
}


def load_preset(name: str, paths: str | Path | Iterable[str | Path]) -> xr.Dataset:
    """Load one or several files of a recorded extract with its :data:`PRESETS` entry.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS` (``"omni_hourly_csv"``, ``"omni2_stormai_csv"``,
        ``"omniweb_csv_dstt"``, ``"dst_csv_elfin"``).
    paths : str or Path or iterable of str or Path
        One file or several (read in sorted path order).

    Returns
    -------
    xarray.Dataset
        Hourly canonical variables on ``time`` (naive UTC, start of the hour) in vocabulary
        units (nT, km s-1, cm-3, K, nPa, mV m-1; Kp 0..9 in thirds), as
        :func:`load_local_files` gives.

    Raises
    ------
    ValueError
        If ``name`` is not a preset (the message lists them) or a file does not parse.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    if isinstance(paths, str | Path):
        paths = [paths]
    return load_local_files(sorted(Path(p) for p in paths), **PRESETS[name])
