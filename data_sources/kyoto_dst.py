"""Kyoto Dst index, WDC 120-byte format (World Data Center for Geomagnetism, Kyoto).

Format (one line per UT day, 120 characters; columns 1-based)::

    1-3    'DST'             index name
    4-5    yy                last two digits of the year
    6-7    mm                month
    8      '*'
    9-10   dd                day
    11-14  version           '  X2' final, 'PPX1' provisional, 'RRX0' quick-look (real time)
    15-16  century           '19' or '20' (blank in old NGDC copies, see below)
    17-20  base              base value, unit 100 nT
    21-116 24 x I4           hourly values, nT; the first is 00-01 UT (labelled 00:00 here)
    117-120 I4               daily mean, nT

``9999`` is missing (NaN here). Lines starting with ``#`` (headers some compilations add)
are skipped. The hourly value is ``base * 100 + value``.

Quirk: the older NGDC/NCEI copies (``dst2000.txt``) leave the version and century columns
blank; a strict reading gives the year 1900. The parser refuses to guess: pass ``year_hint``
(the full year, e.g. from :func:`year_hint_from_name`). Blank version columns in such copies
are read as final (NGDC archived the final series).

Upstream: ``https://wdc.kugi.kyoto-u.ac.jp/dst_final/YYYYMM/dstYYMM.for.request`` (and
``dst_provisional`` / ``dst_realtime``). Reference: Nose, Iyemori, Sugiura & Kamei (2015),
Geomagnetic Dst index, doi:10.17593/14515-74000.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import check_complete, clip_time, finalize, read_input
from data_sources.http import DownloadError, NotFoundError, cached_download
from data_sources.timeconv import TimeLike, to_utc

log = logging.getLogger(__name__)

LINE_LENGTH = 120
MISSING = 9999

#: version columns 11-14 -> flag value (0 final, 1 provisional, 2 quick-look)
VERSION_CODES: dict[str, int] = {"  X2": 0, "PPX1": 1, "RRX0": 2, "    ": 0}
#: flag value -> ``data_version`` (vocabulary.DATA_VERSIONS)
FLAG_MEANINGS: tuple[str, ...] = ("final", "provisional", "quicklook")
#: flag value -> upstream folder
KINDS: tuple[str, ...] = ("final", "provisional", "realtime")

SOURCE = "WDC for Geomagnetism, Kyoto: Dst (Nose et al. 2015, doi:10.17593/14515-74000)"


def year_hint_from_name(name: str | Path) -> int | None:
    """The 4-digit year (19xx or 20xx) in a file name such as ``dst2000.txt``, else ``None``.

    Parameters
    ----------
    name : str or Path
        A file name or path; only its last component is searched.

    Returns
    -------
    int or None
        The year, for :func:`parse_wdc_dst`'s ``year_hint``; ``None`` if the name holds no
        stand-alone 19xx/20xx.
    """
    match = re.search(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", Path(str(name)).name)
    return int(match.group(1)) if match else None


def _int_field(text: str, name: str, lineno: int, col: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"{name}, line {lineno}, columns {col}-{col + len(text) - 1} ({field}): "
            f"{text!r} is not an integer"
        ) from None


def _parse_line(
    line: str, name: str, lineno: int, year_hint: int | None
) -> tuple[pd.Timestamp, int, list[float]]:
    """One WDC Dst line -> (day, version flag, 24 hourly values in nT with NaN for 9999)."""
    if len(line) != LINE_LENGTH:
        raise ValueError(
            f"{name}, line {lineno}: {len(line)} characters, a WDC Dst line has {LINE_LENGTH}"
            " (truncated download? not a WDC-format Dst file?)"
        )
    if line[0:3] != "DST" or line[7] != "*":
        raise ValueError(
            f"{name}, line {lineno}, columns 1-3/8: expected 'DST' and '*', found "
            f"{line[0:3]!r} and {line[7]!r} (not a WDC-format Dst line)"
        )
    version = line[10:14]
    if version not in VERSION_CODES:
        raise ValueError(
            f"{name}, line {lineno}, columns 11-14 (version): {version!r} is not one of "
            f"{sorted(VERSION_CODES)}"
        )
    yy = _int_field(line[3:5], name, lineno, 4, "year")
    month = _int_field(line[5:7], name, lineno, 6, "month")
    day = _int_field(line[8:10], name, lineno, 9, "day")
    century_text = line[14:16]
    if century_text.strip():
        year = _int_field(century_text, name, lineno, 15, "century") * 100 + yy
    elif year_hint is None:
        raise ValueError(
            f"{name}, line {lineno}, columns 15-16 (century): blank, so the year '{yy:02d}' "
            "is ambiguous (old NGDC copies such as dst2000.txt leave it blank). Pass "
            "year_hint=<full year>, e.g. parse_wdc_dst(path, "
            "year_hint=year_hint_from_name(path))"
        )
    elif year_hint % 100 != yy:
        raise ValueError(
            f"{name}, line {lineno}, columns 4-5 (year): '{yy:02d}' does not match "
            f"year_hint={year_hint}; pass the year this line belongs to"
        )
    else:
        year = year_hint
    try:
        date = pd.Timestamp(year=year, month=month, day=day)
    except ValueError:
        raise ValueError(
            f"{name}, line {lineno}, columns 4-10 (date): {year:04d}-{month:02d}-{day:02d} "
            "is not a calendar date"
        ) from None
    base = _int_field(line[16:20], name, lineno, 17, "base value")
    values: list[float] = []
    for h in range(24):
        col = 20 + 4 * h
        v = _int_field(line[col : col + 4], name, lineno, col + 1, f"hour {h + 1}")
        values.append(np.nan if v == MISSING else float(base * 100 + v))
    _int_field(line[116:120], name, lineno, 117, "daily mean")
    return date, VERSION_CODES[version], values


def parse_wdc_dst(
    path_or_bytes: str | Path | bytes,
    *,
    name: str | None = None,
    year_hint: int | None = None,
) -> xr.Dataset:
    """Parse Kyoto Dst in the WDC 120-byte line format.

    Parameters
    ----------
    path_or_bytes
        A file (``dstYYMM.for.request``, ``Dst_all.wdc``, ``dst2000.txt`` ...) or its bytes.
    name
        How to name the input in error messages (default: the path).
    year_hint
        The full year for lines whose century columns (15-16) are blank; required for such
        files (see :func:`year_hint_from_name`), ignored for lines that carry a century.

    Returns
    -------
    xr.Dataset
        Hourly ``dst`` [nT] labelled by the start of the hour (hour 1 = 00-01 UT -> 00:00),
        NaN where the file has 9999, and int8 ``dst_version`` (0 final, 1 provisional,
        2 quick-look). ``dst.attrs['data_version']`` is the least final version present.

    Raises
    ------
    ValueError
        On a malformed line (wrong length, bad version, non-integer field, impossible date,
        blank century without ``year_hint``); the message names file, line and columns.
    """
    raw, name = read_input(path_or_bytes, name)
    days: list[pd.Timestamp] = []
    flags: list[int] = []
    rows: list[list[float]] = []
    for lineno, line in enumerate(raw.decode("ascii", "replace").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        day, flag, values = _parse_line(line, name, lineno, year_hint)
        days.append(day)
        flags.append(flag)
        rows.append(values)
    if not rows:
        raise ValueError(f"{name}: no WDC Dst lines (empty file or only '#' header lines)")
    hours = pd.to_timedelta(np.arange(24), unit="h")
    time = pd.DatetimeIndex(
        (np.asarray(days, dtype="datetime64[ns]")[:, None] + hours.values[None, :]).ravel()
    )
    version = np.repeat(np.asarray(flags, dtype=np.int8), 24)
    ds = xr.Dataset(
        {
            "dst": ("time", np.asarray(rows, dtype="float32").ravel()),
            "dst_version": ("time", version),
        },
        coords={"time": time},
    )
    ds["dst_version"].attrs.update(
        long_name="Dst version (Kyoto)",
        flag_values=np.array([0, 1, 2], dtype=np.int8),
        flag_meanings=" ".join(FLAG_MEANINGS),
    )
    return finalize(
        ds,
        source=SOURCE,
        source_url=name,
        cadence="1h",
        data_version=FLAG_MEANINGS[int(version.max())],
        name=name,
    )


def month_path(kind: str, year: int, month: int) -> str:
    """Upstream path below the base URL, e.g. ``dst_final/200411/dst0411.for.request``.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`: ``"final"``, ``"provisional"`` or ``"realtime"`` (quick-look).
    year : int
        Calendar year (UTC).
    month : int
        Month 1..12.

    Returns
    -------
    str
        ``dst_<kind>/<YYYYMM>/dst<YYMM>.for.request``.

    Raises
    ------
    ValueError
        If ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown Dst kind {kind!r}; expected one of {KINDS}")
    return f"dst_{kind}/{year:04d}{month:02d}/dst{year % 100:02d}{month:02d}.for.request"


def _months(start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[int, int]]:
    first = pd.Period(start, freq="M")
    last = pd.Period(end - pd.Timedelta("1ns"), freq="M")
    return [(p.year, p.month) for p in pd.period_range(first, last, freq="M")]


#: a final or provisional month file must hold every hour once the month is this long over;
#: a real-time month may stay short (it is refreshed on every call) but must have no hole
MONTH_SETTLED_AFTER = "40D"


def _validate_month(body: bytes, kind: str, year: int, month: int, url: str) -> None:
    """Parse ``body`` and check it holds every hour it should (a cut body is refused)."""
    ds = parse_wdc_dst(body, name=url)
    first = pd.Timestamp(year, month, 1)
    check_complete(
        ds,
        first,
        first + pd.offsets.MonthBegin(1),
        freq="1h",
        name=url,
        settled_after=None if kind == "realtime" else MONTH_SETTLED_AFTER,
    )


def _get_month(
    base: str,
    cache: Path,
    year: int,
    month: int,
    *,
    refresh: bool,
    fetch_kwargs: dict,
) -> xr.Dataset | None:
    """One month: cached final, else final -> provisional -> realtime upstream (404 = next)."""
    for kind in KINDS:
        rel = month_path(kind, year, month)
        url = f"{base}/{rel}"
        dest = cache / rel
        final = kind == "final"
        try:
            path = cached_download(
                url,
                dest,
                # final months never change: cached for good; others are refreshed per call
                refresh=refresh or not final,
                validate=lambda body, u=url, k=kind: _validate_month(body, k, year, month, u),  # type: ignore[misc]
                **fetch_kwargs,
            )
        except NotFoundError:
            continue
        except DownloadError as exc:
            if not final and dest.exists():
                log.warning("Dst %s: refresh failed (%s); using the cached copy", url, exc)
                path = dest
            else:
                raise
        return parse_wdc_dst(path, name=url)
    log.warning(
        "Dst %04d-%02d: not on %s (final, provisional or realtime): a gap", year, month, base
    )
    return None


def get_kyoto_dst(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    retries: int = 3,
    backoff: float = 1.0,
) -> xr.Dataset:
    """Download (into the cache) and parse Kyoto Dst for ``start <= time < end``.

    Each month is looked for as final, then provisional, then real-time (quick-look); HTTP
    404 moves to the next, a month found nowhere is a logged gap. Final months are cached for
    good; provisional and real-time months are downloaded again on every call (a failed
    refresh falls back to the cached copy with a warning). Every body is parsed before it
    enters the cache, so a truncated or corrupt download never replaces a good copy.

    Parameters
    ----------
    start, end
        UTC interval (naive = UTC).
    base_url
        Default ``config.base_url("kyoto_dst")``.
    cache_dir
        Default ``config.cache_dir()``; files go under ``<cache_dir>/kyoto_dst/``.
    refresh
        Download final months again too.
    retries, backoff
        Passed to :func:`data_sources.http.fetch_bytes` (retries after the first try;
        initial wait [s], doubled each retry).

    Returns
    -------
    xr.Dataset
        Hourly ``dst`` [nT] on ``time`` (naive UTC, start of the hour), clipped to
        ``[start, end)``, and int8 ``dst_version`` per hour (0 final, 1 provisional,
        2 quick-look); ``dst.attrs["data_version"]`` is the least final version present.

    Raises
    ------
    ValueError
        If no month in the interval is available anywhere.
    DownloadError
        If a month could not be downloaded (after retries) and no usable cached copy exists.
    """
    base = (base_url or config.base_url("kyoto_dst")).rstrip("/")
    cache = Path(cache_dir or config.cache_dir()) / "kyoto_dst"
    start, end = to_utc(start), to_utc(end)
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    fetch_kwargs = {"retries": retries, "backoff": backoff}
    parts = [
        ds
        for year, month in _months(start, end)
        if (ds := _get_month(base, cache, year, month, refresh=refresh, fetch_kwargs=fetch_kwargs))
        is not None
    ]
    if not parts:
        raise ValueError(f"no Kyoto Dst between {start} and {end} at {base}")
    ds = xr.concat(parts, dim="time", combine_attrs="override") if len(parts) > 1 else parts[0]
    ds = clip_time(ds, start, end)
    worst = int(ds["dst_version"].max()) if ds.sizes["time"] else 0
    ds["dst"].attrs["data_version"] = FLAG_MEANINGS[worst]
    ds.attrs["source_url"] = base
    return ds


#: the recorded compilation split into upstream monthly files by :func:`mirror_files`
MIRROR_SOURCE = "kyoto_dst_wdc/Dst_all_excl2001_2003.wdc"
MIRROR_HOST = "wdc.kugi.kyoto-u.ac.jp"


def split_monthly(raw: bytes, *, name: str = "<bytes>") -> dict[str, bytes]:
    """Split WDC Dst lines into upstream monthly files ``{month_path: bytes}``.

    Each month goes to the folder of its lines' version (``dst_final`` for ``  X2``,
    ``dst_provisional`` for ``PPX1``, ``dst_realtime`` for ``RRX0``); a month mixing versions
    goes to the least final one. Lines need a century (columns 15-16).

    Parameters
    ----------
    raw : bytes
        WDC 120-byte Dst lines (a compilation of many months); ``#`` and blank lines are
        skipped.
    name : str, optional
        How to name the input in error messages.

    Returns
    -------
    dict of str to bytes
        :func:`month_path` -> that month's lines, unchanged, newline-terminated ASCII.

    Raises
    ------
    ValueError
        On a malformed line or one without a century (see :func:`parse_wdc_dst`).
    """
    months: dict[tuple[int, int], list[str]] = {}
    flags: dict[tuple[int, int], int] = {}
    for lineno, line in enumerate(raw.decode("ascii", "replace").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        day, flag, _ = _parse_line(line, name, lineno, None)
        key = (day.year, day.month)
        months.setdefault(key, []).append(line)
        flags[key] = max(flags.get(key, 0), flag)
    return {
        month_path(KINDS[flags[key]], *key): ("\n".join(lines) + "\n").encode("ascii")
        for key, lines in months.items()
    }


def mirror_files(data_dir: Path) -> dict[str, bytes]:
    """Monthly upstream files ``wdc.kugi.kyoto-u.ac.jp/dst_<kind>/YYYYMM/dstYYMM.for.request``.

    Built from the recorded ``Dst_all_excl2001_2003.wdc`` (1957-2019-04; 2001 and 2003 are
    absent, so they are 404s: gaps), lines unchanged, placed by their version column.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder holding ``kyoto_dst_wdc/Dst_all_excl2001_2003.wdc``.

    Returns
    -------
    dict of str to bytes
        URL path below the mirror root -> monthly file body; empty if the recording is absent.
    """
    path = Path(data_dir) / MIRROR_SOURCE
    if not path.exists():
        return {}
    monthly = split_monthly(path.read_bytes(), name=str(path))
    return {f"{MIRROR_HOST}/{rel}": body for rel, body in monthly.items()}
