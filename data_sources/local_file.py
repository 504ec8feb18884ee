"""Researchers' own extracts: CSV or netCDF files mapped onto the canonical vocabulary.

:func:`load_local_file` reads one file with a column map (native -> canonical name), fill
values and a time format; :func:`load_local_files` joins consecutive files that share
boundary rows; :data:`PRESETS` holds the maps of the recorded extracts and
:func:`load_preset` applies one.

Times become naive UTC (a zone in the file is honoured; a time without a zone is taken as
UTC) and label the start of the interval, as everywhere in superstorm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.base import finalize
from data_sources.netcdf import NETCDF_LOCK
from data_sources.omni2 import VARIABLE_MAP as OMNI2_MAP
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


def _read_table(path: Path, time_column: str) -> tuple[pd.DataFrame, int]:
    """The file as a table of strings/numbers and the file line of its first row (CSV)."""
    if path.suffix.lower() in NETCDF_SUFFIXES:
        with NETCDF_LOCK, xr.open_dataset(path) as ds:
            frame = ds.load().to_dataframe().reset_index()
        return frame, 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    return frame, 2  # header is line 1


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


def _times(col: pd.Series, time_format: str | None, name: str, first_line: int, time_column: str):
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


def _cadence(times: pd.DatetimeIndex) -> str:
    if len(times) < 2:
        return "unknown"
    step = pd.Series(times).sort_values().diff().median()
    return (
        pd.tseries.frequencies.to_offset(step).freqstr
        if pd.notna(step) and step > pd.Timedelta(0)
        else "unknown"
    )


def load_local_file(
    path: str | Path,
    *,
    time_column: str,
    column_map: Mapping[str, str],
    time_format: str | None = None,
    fill_values: FillSpec = None,
    scale: Mapping[str, float] | None = None,
    source: str = "local",
    data_version: str | Mapping[str, str] = "final",
) -> xr.Dataset:
    """Read a CSV or netCDF extract into the canonical vocabulary.

    Parameters
    ----------
    path
        ``.csv`` (any other suffix is read as CSV) or netCDF (``.nc``, ``.nc4``, ``.cdf``).
    time_column
        Column (or netCDF coordinate) holding the time of each row (start of interval).
    column_map
        Native column -> canonical name (:data:`data_sources.vocabulary.VARIABLES`); names
        ending in ``_qc`` / ``_version`` are kept as they are. Other columns are ignored.
    time_format
        ``strftime`` format of the times (default ISO 8601). Zone-less times are UTC.
    fill_values
        Missing-value markers that become NaN: one number or list for every column, or a
        mapping native column -> number or list. Empty fields are always NaN.
    scale
        Native column -> factor applied after the fills (e.g. ``{"Kp_index": 0.1}``).
        ``kp`` is then snapped to thirds.
    source, data_version
        Provenance written to the attributes (``data_version`` one string or per canonical
        name).

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
    frame, first_line = _read_table(path, time_column)
    wanted = [time_column, *column_map]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{name}: column(s) {missing} not in the file; columns present: {list(frame.columns)}"
        )
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
    if isinstance(data_version, Mapping):
        data_version = {
            k: data_version[k] for k in ds.data_vars if not k.endswith(PASSTHROUGH_SUFFIXES)
        }
    return finalize(
        ds,
        source=source,
        source_url=name,
        cadence=_cadence(times),
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


def load_local_files(paths: Iterable[str | Path], **kwargs) -> xr.Dataset:
    """Load several files with :func:`load_local_file` and join them along ``time``.

    Rows that appear in two files (consecutive extracts sharing a boundary row) are kept
    once when identical; a time whose values differ between files raises, naming it.
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
    """Load one or several files of a recorded extract with its :data:`PRESETS` entry."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    if isinstance(paths, str | Path):
        paths = [paths]
    return load_local_files(sorted(Path(p) for p in paths), **PRESETS[name])
