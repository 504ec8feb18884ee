"""NASA OMNI2 hourly data (``low_res_omni/omni2_YYYY.dat`` from SPDF).

Format: one line per hour, 55 whitespace-separated words (``omni2.text`` at SPDF). Missing
values are all-9 fills of the field's width (999.9, 9999., 9999999., 99999 ...); they become
NaN here. Time words are year, day of year and hour, the hour being the START of the
interval. Reference: King & Papitashvili (2005), doi:10.1029/2004JA010649.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import check_complete, clip_time, finalize, read_input
from data_sources.http import NotFoundError, cached_download
from data_sources.timeconv import TimeLike, to_utc

log = logging.getLogger(__name__)

N_WORDS = 55

#: canonical name -> (1-based OMNI2 word, fill value, scale)
VARIABLE_MAP: dict[str, tuple[int, float, float]] = {
    "b_total": (9, 999.9, 1.0),
    "bx_gsm": (13, 999.9, 1.0),
    "by_gsm": (16, 999.9, 1.0),
    "bz_gsm": (17, 999.9, 1.0),
    "t_p": (23, 9999999.0, 1.0),
    "n_p": (24, 999.9, 1.0),
    "v_sw": (25, 9999.0, 1.0),
    "p_dyn": (29, 99.99, 1.0),
    "e_y": (36, 999.99, 1.0),
    "kp": (39, 99.0, 0.1),
    "sunspot_number": (40, 999.0, 1.0),
    "dst": (41, 99999.0, 1.0),
    "ae": (42, 9999.0, 1.0),
    "ap": (50, 999.0, 1.0),
    "f107": (51, 999.9, 1.0),
}

#: 0-based words parse_omni2 uses: year, day, hour and the mapped variables
NEEDED_WORDS = np.array([0, 1, 2, *sorted(w - 1 for w, _, _ in VARIABLE_MAP.values())])

SOLAR_WIND = ("b_total", "bx_gsm", "by_gsm", "bz_gsm", "t_p", "n_p", "v_sw", "p_dyn", "e_y")

#: OMNI2 carries each index as Kyoto / GFZ published it at retrieval time, which may be
#: provisional for recent years; solar-wind values are the definitive OMNI processing.
DATA_VERSION = {name: ("final" if name in SOLAR_WIND else "provisional") for name in VARIABLE_MAP}


_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[list(b" \t\n\r\x0b\x0c")] = True
_POW10 = 10.0 ** np.arange(19)
_POW10_INT = 10 ** np.arange(19, dtype=np.int64)


def _words(raw: bytes, name: str, needed: np.ndarray | None = None) -> np.ndarray:
    """All words as a ``(n_lines, 55)`` float array; a bad line raises naming line and word.

    The fast path tokenises the raw bytes with numpy and converts plain decimal words
    (``[+-]digits[.digits]``, at most 15 digits) exactly: ``int / 10**k`` is correctly rounded,
    so each value equals ``float(word)``. Anything else (exponents, ``nan``, junk, a line
    with the wrong number of words) goes to the word-by-word path, which keeps the old
    behaviour and error messages.
    """
    n_lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
    table = _words_fixed(raw, n_lines, needed)
    if table is None:
        table = _words_fast(raw, n_lines)
    if table is not None:
        return table
    if not raw.strip():
        _raise_first_bad_line(raw, name)  # "empty file": an empty body is not an empty year
    try:
        words = np.array(raw.split(), dtype=float)
        if words.size % N_WORDS == 0:
            table = words.reshape(-1, N_WORDS)
            if len(table) == n_lines:
                return table
    except ValueError:
        pass
    _raise_first_bad_line(raw, name)
    raise AssertionError("unreachable")  # pragma: no cover


def _words_fixed(raw: bytes, n_lines: int, needed: np.ndarray | None = None) -> np.ndarray | None:
    """Fastest path for upstream files: equal-length lines, right-aligned fixed-width words.

    Word boundaries are taken from the first line and every line must match them: each word
    right-aligned in its field, separated by a blank from the previous one, its decimal point
    in the same column on every line, characters only digits, ``.`` and a leading sign. Then
    the digits of all words are summed with constant powers of ten per column (exact in
    float64) and divided by ``10**decimals``, which is correctly rounded: ``float(word)``.
    ``None`` when any of this does not hold. Every word is checked; only the words in
    ``needed`` (0-based; default all) are converted, the others are NaN.
    """
    width = raw.find(b"\n") + 1
    if width < 2 or len(raw) != n_lines * width:
        return None
    a: np.ndarray = np.frombuffer(raw, dtype=np.uint8).reshape(n_lines, width)
    if not (a[:, -1] == 10).all():
        return None
    # masks on the contiguous array (fast), then views without the newline column
    blank_full, digit_full = a == 32, (a >= 48) & (a <= 57)
    dot_full, minus_full = a == 46, a == 45
    sign_full = minus_full | (a == 43)
    ok = digit_full | dot_full | sign_full | blank_full
    a, blank, digit, dot, minus, sign = (
        x[:, :-1] for x in (a, blank_full, digit_full, dot_full, minus_full, sign_full)
    )
    first = ~blank[0]
    starts = np.flatnonzero(first & np.concatenate(([True], ~first[:-1])))
    if starts.size != N_WORDS:
        return None
    # field k runs from the end of word k-1 to the end of word k (blanks belong to the right)
    ends = np.append(np.flatnonzero(first & np.append(~first[1:], True)) + 1, a.shape[1])[:N_WORDS]
    if ends[-1] != a.shape[1]:
        return None
    bounds = np.concatenate(([0], ends[:-1]))
    if not ok[:, :-1].all() or (dot != dot[0]).any():
        return None
    field_last = ends - 1
    same_field = np.ones(a.shape[1] - 1, dtype=bool)
    same_field[field_last[:-1]] = False
    # right-aligned: no blank after a non-blank inside a field, last column never blank
    if (~blank[:, :-1] & blank[:, 1:] & same_field).any() or blank[:, field_last].any():
        return None
    if not blank[:, bounds[1:]].all():  # fields 2.. start blank: words stay separate
        return None
    # a sign only as the first character of its word, never alone
    prev_blank = np.concatenate((np.ones((n_lines, 1), bool), blank[:, :-1]), axis=1)
    if (sign & ~prev_blank).any() or sign[:, field_last].any():
        return None
    # at least one digit per word: it ends in a digit, or in "." right after a digit
    before_last = np.maximum(field_last - 1, 0)
    dot_after_digit = dot[:, field_last] & digit[:, before_last] & (field_last > bounds)
    if not (digit[:, field_last] | dot_after_digit).all():
        return None
    # per column: digits to the right within the field (the dot column is the same everywhere)
    col = np.arange(a.shape[1])
    field_of = np.searchsorted(ends, col, side="right")
    dots_right = np.add.reduceat(dot[0][::-1], (a.shape[1] - ends)[::-1])[::-1]
    dot_cum = np.cumsum(dot[0])
    dots_after = dot_cum[field_last][field_of] - dot_cum
    exponent = (field_last[field_of] - col) - dots_after
    if (dots_right > 1).any():
        return None
    decimals = np.zeros(N_WORDS, dtype=np.int64)
    for k in np.flatnonzero(dots_right):
        decimals[k] = field_last[k] - np.flatnonzero(dot[0, bounds[k] : ends[k]])[0] - bounds[k]
    weights = np.where(dot[0], 0.0, _POW10[np.clip(exponent, 0, 18)])
    words = np.arange(N_WORDS) if needed is None else np.asarray(needed)
    cols = np.concatenate([np.arange(bounds[k], ends[k]) for k in words])
    widths = ends[words] - bounds[words]
    sub_ends = np.cumsum(widths)
    sub_bounds = sub_ends - widths
    sub = a[:, cols]
    values = np.where(digit[:, cols], sub - np.uint8(48), np.uint8(0)) * weights[cols]
    part = _field_sums(values, sub_bounds, sub_ends) / _POW10[decimals[words]]
    negative = _field_sums(minus[:, cols], sub_bounds, sub_ends) > 0
    out = np.full((n_lines, N_WORDS), np.nan)
    out[:, words] = np.where(negative, -part, part)
    return out


def _field_sums(x: np.ndarray, bounds: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Row sums of ``x`` over the column ranges ``[bounds[k], ends[k])`` (exact for integers)."""
    cs = np.cumsum(x, axis=1, dtype=np.float64 if x.dtype.kind == "f" else np.int32)
    lo = np.where(bounds > 0, cs[:, np.maximum(bounds - 1, 0)], 0)
    return cs[:, ends - 1] - lo


def _words_fast(raw: bytes, n_lines: int) -> np.ndarray | None:
    """Vectorised tokenise + decimal conversion; ``None`` when the input needs the slow path."""
    if not raw or n_lines == 0:
        return None
    b = np.frombuffer(raw, dtype=np.uint8)
    space = _WHITESPACE[b]
    word = ~space
    prev_space = np.concatenate(([True], space[:-1]))
    starts = np.flatnonzero(word & prev_space)
    if starts.size != n_lines * N_WORDS:
        return None
    # every line must hold exactly N_WORDS words
    newlines = np.flatnonzero(b == 10)
    line_of = np.searchsorted(newlines, starts)
    if not (np.bincount(line_of, minlength=n_lines)[:n_lines] == N_WORDS).all():
        return None
    digit = (b >= 48) & (b <= 57)
    dot = b == 46
    first = b[starts]
    signed = (first == 45) | (first == 43)
    bad = word & ~digit & ~dot
    bad[starts[signed]] = False
    if bad.any():
        return None
    # per word: sums over [start_i, start_{i+1}) see only its own characters (then blanks)
    n_digits = np.add.reduceat(digit.astype(np.int32), starts)
    if (n_digits == 0).any() or int(n_digits.max()) > 15:
        return None
    if (np.add.reduceat(dot.astype(np.int32), starts) > 1).any():
        return None
    pos = np.flatnonzero(digit)
    word_of = np.repeat(np.arange(starts.size), n_digits)
    seg = np.concatenate(([0], np.cumsum(n_digits)[:-1]))
    rank = np.arange(pos.size) - seg[word_of]  # 0 for the first digit of each word
    right = n_digits[word_of] - 1 - rank  # digits to the right of this one
    mantissa = np.add.reduceat((b[pos] - 48).astype(np.int64) * _POW10_INT[right], seg)
    dots_before = np.cumsum(dot)
    after_dot = dots_before[pos] > (dots_before[starts] - dot[starts])[word_of]
    decimals = np.add.reduceat(after_dot.astype(np.int32), seg)
    out = mantissa.astype(np.float64) / _POW10[decimals]
    out = np.where(first == 45, -out, out)
    return out.reshape(n_lines, N_WORDS)


def _raise_first_bad_line(raw: bytes, name: str) -> None:
    for lineno, line in enumerate(raw.decode("ascii", "replace").splitlines(), start=1):
        words = line.split()
        if len(words) != N_WORDS:
            raise ValueError(
                f"{name}, line {lineno}: expected {N_WORDS} words, found {len(words)}"
                " (is this an OMNI2 hourly omni2_YYYY.dat file? truncated download?)"
            )
        for k, word in enumerate(words, start=1):
            try:
                float(word)
            except ValueError:
                raise ValueError(
                    f"{name}, line {lineno}, word {k}: {word!r} is not a number"
                ) from None
    raise ValueError(f"{name}: empty file, no OMNI2 lines")


def _times(table: np.ndarray, name: str) -> pd.DatetimeIndex:
    year, doy, hour = (table[:, i].astype(int) for i in range(3))
    bad = (doy < 1) | (doy > 366) | (hour < 0) | (hour > 23)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}, line {i + 1}, words 2-3: day {doy[i]} hour {hour[i]} out of range"
        )
    base = (year - 1970).astype("datetime64[Y]").astype("datetime64[ns]")
    offsets = ((doy - 1) * 24 + hour).astype("timedelta64[h]")
    return pd.DatetimeIndex(base + offsets)


def _kp_from_tenths(x: np.ndarray) -> np.ndarray:
    """OMNI2 Kp x10 (33 = 3+, 37 = 4-) to Kp in thirds (3.333, 3.667)."""
    return np.round(x * 0.3) / 3.0


def parse_omni2(path_or_bytes: str | Path | bytes, *, name: str | None = None) -> xr.Dataset:
    """Parse one OMNI2 hourly file into the canonical vocabulary.

    Parameters
    ----------
    path_or_bytes
        Path to ``omni2_YYYY.dat`` or its bytes.
    name
        How to name the input in error messages (default: the path).

    Returns
    -------
    xr.Dataset
        Hourly, ``time`` = start of interval (UTC); fills are NaN. Units: nT, km s-1, cm-3,
        K, nPa, mV m-1; ``kp`` in thirds (0..9), ``f107`` in sfu.

    Raises
    ------
    ValueError
        On a line with the wrong number of words, a non-numeric word, or an impossible time;
        the message names the file, line and word.
    """
    raw, name = read_input(path_or_bytes, name)
    table = _words(raw, name, NEEDED_WORDS)
    time = _times(table, name)
    data = {}
    for var, (word, fill, scale) in VARIABLE_MAP.items():
        col = table[:, word - 1]
        col = np.where(col >= fill, np.nan, col) * scale
        if var == "kp":
            col = _kp_from_tenths(col * 10.0)
        data[var] = ("time", col.astype("float32"))
    ds = xr.Dataset(data, coords={"time": time})
    return finalize(
        ds,
        source="NASA/GSFC SPDF OMNI2 hourly (King & Papitashvili 2005)",
        source_url=name,
        cadence="1h",
        data_version=DATA_VERSION,
        name=name,
    )


#: an OMNI2 year file must hold all 8,760 / 8,784 hours once its year is this long over
YEAR_SETTLED_AFTER = "400D"


def _validate_year(body: bytes, year: int, url: str) -> None:
    """Parse ``body`` and check it holds every hour it should (a cut body is refused)."""
    ds = parse_omni2(body, name=url)
    check_complete(
        ds,
        pd.Timestamp(year, 1, 1),
        pd.Timestamp(year + 1, 1, 1),
        freq="1h",
        name=url,
        settled_after=YEAR_SETTLED_AFTER,
    )


def file_name(year: int) -> str:
    """Upstream file name for ``year``.

    Parameters
    ----------
    year : int
        Calendar year (UTC).

    Returns
    -------
    str
        ``omni2_<YYYY>.dat``, below the ``low_res_omni`` base URL.
    """
    return f"omni2_{year}.dat"


def get_omni2(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
) -> xr.Dataset:
    """Download (into the cache) and parse OMNI2 hourly data for ``start <= time < end``.

    Years the server does not have (HTTP 404) are skipped with a warning: a missing year is a
    real gap in the record. Each file is parsed before it enters the cache, so a truncated or
    corrupt download never replaces a good cached copy. ``timeout`` [s], ``retries`` and
    ``backoff`` [s] go to :func:`data_sources.http.fetch_bytes`.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the hour labels (interval start), ``end`` exclusive; one file per
        calendar year touched is downloaded.
    base_url : str, optional
        Folder holding ``omni2_YYYY.dat``; default :func:`data_sources.config.base_url`
        (``"omni2"``: SPDF, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; files go to ``<cache_dir>/omni2/``. Default
        ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Download again even when a cached copy exists (default False: a cached year is
        reused as is).
    timeout : float, optional
        Per-request timeout [s] (default 30).
    retries : int, optional
        Retries after a failed request (default 3).
    backoff : float, optional
        Initial wait between retries [s], doubled each retry (default 1).

    Returns
    -------
    xr.Dataset
        Hourly OMNI2 on ``time`` (naive UTC, start of the hour), clipped to
        ``[start, end)``: see :func:`parse_omni2` for variables and units (nT, km s-1,
        cm-3, K, nPa, mV m-1, Kp 0..9, F10.7 in sfu). ``attrs["source_url"]`` is the base URL.

    Raises
    ------
    ValueError
        If no year in the span is on the server, or a download does not parse or is
        incomplete.
    """
    base = (base_url or config.base_url("omni2")).rstrip("/")
    cache = Path(cache_dir or config.cache_dir()) / "omni2"
    start, end = to_utc(start), to_utc(end)
    parts = []
    for year in range(start.year, (end - pd.Timedelta("1ns")).year + 1):
        url = f"{base}/{file_name(year)}"
        try:
            path = cached_download(
                url,
                cache / file_name(year),
                refresh=refresh,
                validate=lambda body, u=url, y=year: _validate_year(body, y, u),  # type: ignore[misc]
                timeout=timeout,
                retries=retries,
                backoff=backoff,
            )
        except NotFoundError:
            log.warning("OMNI2 %s not on the server: a gap in the record", url)
            continue
        parts.append(parse_omni2(path, name=url))
    if not parts:
        raise ValueError(f"no OMNI2 data between {start} and {end} at {base}")
    ds = xr.concat(parts, dim="time", combine_attrs="override") if len(parts) > 1 else parts[0]
    ds.attrs["source_url"] = base
    return clip_time(ds, start, end)


def mirror_files(data_dir: Path) -> dict[str, Path]:
    """Upstream paths served by a mirror: every recorded ``omni2_YYYY`` file in ``data_dir``.

    The recorded files are byte-for-byte upstream files (some stored with another suffix);
    where two hold the same year, ``omni2_low_res`` wins over ``omni2_low_res_dynaml``.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder (the one with ``omni2_low_res/`` and ``omni2_low_res_dynaml/``).

    Returns
    -------
    dict of str to Path
        URL path below the mirror root (``spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/
        omni2_YYYY.dat``) -> recorded file.
    """
    prefix = "spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni"
    files: dict[str, Path] = {}
    for folder in ("omni2_low_res_dynaml", "omni2_low_res"):
        for path in sorted((Path(data_dir) / folder).glob("omni2_*")):
            stem = path.stem.split("_")
            if len(stem) >= 2 and stem[1].isdigit() and len(stem[1]) == 4:
                files[f"{prefix}/{file_name(int(stem[1]))}"] = path
    return files
