"""NOAA SWPC real-time products (``services.swpc.noaa.gov``): L1 solar wind, Kp and Dst.

Products read here (all rolling windows of the last ~7 days, so the getters refresh by
default):

* ``products/solar-wind/plasma-7-day.json`` — 1-minute density, speed, temperature;
* ``products/solar-wind/mag-7-day.json`` — 1-minute IMF in GSM (``lon_gsm``/``lat_gsm``
  are dropped);
* ``products/noaa-planetary-k-index.json`` — 3-hourly estimated planetary Kp and its ap
  (``a_running``); ``station_count`` is dropped;
* ``products/kyoto-dst.json`` — hourly quick-look Kyoto Dst as relayed by SWPC.

The JSON products are arrays whose first row is a header and whose values are strings, with
JSON ``null`` for a gap; ``time_tag`` carries no zone and is UTC. Some SWPC products are now
served as arrays of objects (``[{"time_tag": ..., "Kp": 2.33, ...}]``); both layouts are read.
Times label the start of the interval (a 1-minute average, a 3-hour Kp interval, a Dst hour).

Also :func:`parse_ace_list` for the SWPC ACE 1-minute text lists (``ace_swepam_1m.txt``,
``ace_mag_1m.txt`` and their daily archives ``YYYYMMDD_ace_*_1m.txt``).

Data: NOAA Space Weather Prediction Center, public domain. Every value here is
``data_version = "real-time"``: it is what the real-time systems published, not the later
definitive OMNI / Kyoto / GFZ values.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import clip_time, finalize, read_input
from data_sources.derived import dynamic_pressure
from data_sources.http import DownloadError, cached_download
from data_sources.resample import hourly_means, sample_step
from data_sources.timeconv import TimeLike, to_utc_index

log = logging.getLogger(__name__)

SOURCE = "swpc"
DATA_VERSION = "real-time"
HOST = "services.swpc.noaa.gov"

#: product key -> upstream path below the base URL
PRODUCTS: dict[str, str] = {
    "plasma": "products/solar-wind/plasma-7-day.json",
    "mag": "products/solar-wind/mag-7-day.json",
    "kp": "products/noaa-planetary-k-index.json",
    "dst": "products/kyoto-dst.json",
}

#: One table per product: native column -> canonical name (``None``: read and dropped).
#: ``time_tag`` is the time column of every product. Any other column raises.
VARIABLE_MAP: dict[str, dict[str, str | None]] = {
    "plasma": {"density": "n_p", "speed": "v_sw", "temperature": "t_p"},
    "mag": {
        "bx_gsm": "bx_gsm",
        "by_gsm": "by_gsm",
        "bz_gsm": "bz_gsm",
        "bt": "b_total",
        "lon_gsm": None,
        "lat_gsm": None,
    },
    "kp": {"Kp": "kp", "a_running": "ap", "station_count": None},
    "dst": {"dst": "dst"},
}

#: Upstream header rows (array layout), in the order SWPC serves the columns.
HEADERS: dict[str, list[str]] = {
    "plasma": ["time_tag", "density", "speed", "temperature"],
    "mag": ["time_tag", "bx_gsm", "by_gsm", "bz_gsm", "lon_gsm", "lat_gsm", "bt"],
    "kp": ["time_tag", "Kp", "a_running", "station_count"],
    "dst": ["time_tag", "dst"],
}

CADENCE = {"plasma": "1min", "mag": "1min", "kp": "3h", "dst": "1h"}


# ----------------------------------------------------------------------------- JSON products
def _rows(raw: bytes, name: str) -> tuple[list[str], list[list], int]:
    """``(header, rows, first row number)`` from either layout; errors name file and row."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not valid JSON ({exc}); truncated download?") from None
    if not isinstance(doc, list) or not doc:
        raise ValueError(
            f"{name}: expected a non-empty JSON array of rows, got {type(doc).__name__}"
        )
    if isinstance(doc[0], dict):
        header = list(doc[0])
        rows = []
        for i, rec in enumerate(doc):
            if not isinstance(rec, dict) or set(rec) != set(header):
                raise ValueError(
                    f"{name}, row {i}: keys {sorted(rec) if isinstance(rec, dict) else rec!r} "
                    f"differ from the first row's {sorted(header)}"
                )
            rows.append([rec[k] for k in header])
        return header, rows, 0
    header = doc[0]
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise ValueError(f"{name}, row 0: expected a header row of column names, got {header!r}")
    rows = doc[1:]
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(header):
            raise ValueError(
                f"{name}, row {i}: expected {len(header)} values {header}, got {row!r}"
            )
    return header, rows, 1


def _column(values: list, name: str, column: str, first_row: int) -> np.ndarray:
    """Floats from JSON strings/numbers; ``null`` -> NaN; anything else raises naming the row."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            if isinstance(v, bool):
                raise ValueError
            out[i] = float(v)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}, row {i + first_row}, field {column!r}: {v!r} is not a number or null"
            ) from None
    return out


def _times(values: list, name: str, first_row: int) -> pd.DatetimeIndex:
    try:
        return to_utc_index(
            pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
        )
    except (ValueError, TypeError):
        pass
    for i, v in enumerate(values):
        try:
            if not isinstance(v, str):
                raise ValueError
            pd.Timestamp(v)
        except (ValueError, TypeError):
            raise ValueError(
                f"{name}, row {i + first_row}, field 'time_tag': {v!r} is not a date-time"
            ) from None
    raise ValueError(f"{name}: time_tag column could not be read as ISO date-times")


def snap_kp(kp: np.ndarray, name: str = "<kp>") -> np.ndarray:
    """Kp written as decimals (2.33, 2.67) to exact thirds; values off the thirds raise.

    Parameters
    ----------
    kp : numpy.ndarray
        Kp as published (0..9, two decimals); NaN stays NaN.
    name : str, optional
        The file (or URL), for the error message.

    Returns
    -------
    numpy.ndarray
        Kp rounded to the nearest third (0, 1/3, 2/3, 1, ...).

    Raises
    ------
    ValueError
        If a value is more than 0.05 from a third; the message names it and its position.
    """
    thirds = np.round(kp * 3.0) / 3.0
    bad = np.abs(thirds - kp) > 0.05
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"{name}: Kp {kp[i]} (value {i}) is not a multiple of 1/3 (0.33 steps)")
    return thirds


def detect_product(header: list[str]) -> str:
    """The product key whose columns match ``header`` (order ignored).

    Parameters
    ----------
    header : list of str
        The column names of a SWPC JSON product (its first row, or the object keys).

    Returns
    -------
    str
        ``"plasma"``, ``"mag"``, ``"kp"`` or ``"dst"``.

    Raises
    ------
    ValueError
        If no product has exactly these columns; the message lists every product's columns.
    """
    for key, cols in HEADERS.items():
        if set(header) == set(cols):
            return key
    raise ValueError(
        f"columns {header} match no known SWPC product; known: "
        + "; ".join(f"{k}: {v}" for k, v in HEADERS.items())
    )


def parse_swpc_json(
    path_or_bytes: str | Path | bytes, *, name: str | None = None, product: str | None = None
) -> xr.Dataset:
    """Parse one SWPC JSON product into the canonical vocabulary.

    Parameters
    ----------
    path_or_bytes
        Path to the JSON file or its bytes.
    name
        Name of the input in error messages (default: the path).
    product
        ``"plasma"``, ``"mag"``, ``"kp"`` or ``"dst"``; ``None`` detects it from the columns.

    Returns
    -------
    xr.Dataset
        ``time`` (naive UTC, start of interval); plasma: ``n_p`` [cm-3], ``v_sw`` [km s-1],
        ``t_p`` [K]; mag: ``bx_gsm``, ``by_gsm``, ``bz_gsm``, ``b_total`` [nT]; kp: ``kp``
        (thirds), ``ap`` [2 nT]; dst: ``dst`` [nT]. Nulls are NaN. ``data_version`` is
        ``"real-time"``.

    Raises
    ------
    ValueError
        Invalid JSON, a row of the wrong length, an unknown column (the message lists the
        product's columns), a non-numeric value or a bad ``time_tag``, naming file and row.
    """
    raw, name = read_input(path_or_bytes, name)
    header, rows, first = _rows(raw, name)
    if product is None:
        product = detect_product(header)
    if product not in VARIABLE_MAP:
        raise ValueError(f"unknown SWPC product {product!r}; known: {', '.join(VARIABLE_MAP)}")
    vmap = VARIABLE_MAP[product]
    unknown = [h for h in header if h != "time_tag" and h not in vmap]
    if unknown or "time_tag" not in header:
        raise ValueError(
            f"{name}: columns {unknown or header} are not in the {product!r} table "
            f"(expected {HEADERS[product]}); has SWPC changed the product?"
        )
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    data = {}
    time = _times(list(cols[header.index("time_tag")]), name, first)
    for k, col in enumerate(header):
        canonical = vmap.get(col)
        if col == "time_tag" or canonical is None:
            continue
        values = _column(list(cols[k]), name, col, first)
        if canonical == "kp":
            values = snap_kp(values, name)
        data[canonical] = ("time", values.astype("float32"))
    ds = xr.Dataset(data, coords={"time": time})
    return finalize(
        ds,
        source="NOAA SWPC real-time " + PRODUCTS[product],
        source_url=name,
        cadence=CADENCE[product],
        data_version=DATA_VERSION,
        name=name,
    )


def encode_swpc_json(
    ds: xr.Dataset, product: str, *, decimals: dict[str, int] | None = None
) -> bytes:
    """Write ``ds`` into SWPC's array-of-arrays layout for ``product`` (inverse of the parser).

    Values become strings (``"%.{d}f"``), NaN becomes ``null``; columns that ``ds`` lacks
    (e.g. ``station_count``) are written as ``null``: nothing is invented. ``time_tag`` is
    ``YYYY-MM-DD HH:MM:SS.000`` as SWPC writes it.

    Parameters
    ----------
    ds : xr.Dataset
        Variables in canonical names and units on ``time`` (naive UTC, interval start),
        as :func:`parse_swpc_json` gives; native-only columns (``lon_gsm`` ...) may be
        present under their native names.
    product : str
        ``"plasma"``, ``"mag"``, ``"kp"`` or ``"dst"``: decides the header.
    decimals : dict of str to int, optional
        Native column -> decimals written (default 2 for every column).

    Returns
    -------
    bytes
        Compact JSON array of arrays: the header row, then one row of strings per time.
    """
    decimals = decimals or {}
    header = HEADERS[product]
    times = pd.DatetimeIndex(ds["time"].values).strftime("%Y-%m-%d %H:%M:%S.000")
    columns = []
    for col in header[1:]:
        canonical = VARIABLE_MAP[product][col]
        var = canonical if canonical is not None else col
        if var in ds:
            d = decimals.get(col, 2)
            columns.append(
                [None if np.isnan(v) else f"{v:.{d}f}" for v in ds[var].values.astype(float)]
            )
        else:
            columns.append([None] * len(times))
    rows = [header] + [[t, *vals] for t, *vals in zip(times, *columns, strict=True)]
    return json.dumps(rows, separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- ACE text lists
_ACE_KINDS = {
    "mag": (["status", "bx_gsm", "by_gsm", "bz_gsm", "b_total", "lat_gsm", "lon_gsm"]),
    "swepam": (["status", "n_p", "v_sw", "t_p"]),
}


def _ace_fills(header_lines: list[str], kind: str, name: str) -> dict[str, float]:
    """Fill values stated in the list's own ``# Missing data values:`` header line."""
    line = next((h for h in header_lines if "Missing data values" in h), None)
    if line is None:
        raise ValueError(f"{name}: no '# Missing data values' header line; is it an SWPC ACE list?")
    nums = [
        float(x) for x in re.findall(r"-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", line.split(":", 1)[1])
    ]
    if kind == "mag" and len(nums) == 1:
        return dict.fromkeys(_ACE_KINDS["mag"][1:], nums[0])
    if kind == "swepam" and len(nums) == 2:
        return {"n_p": nums[0], "v_sw": nums[0], "t_p": nums[1]}
    raise ValueError(f"{name}: cannot read the fill values from {line.strip()!r}")


def read_ace_table(
    path_or_bytes: str | Path | bytes, *, name: str | None = None
) -> tuple[str, pd.DataFrame]:
    """``(kind, table)`` of an SWPC ACE 1-minute list with its native columns, fills as NaN.

    ``kind`` is ``"mag"`` or ``"swepam"`` (from the header); the table is indexed by time
    and keeps ``status`` (0 nominal, 1-8 bad record, 9 no data) and, for mag, GSM lat/lon.

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        The list (``ace_mag_1m.txt``, ``ace_swepam_1m.txt``, ``YYYYMMDD_ace_*_1m.txt``) or
        its body.
    name : str, optional
        How to name the input in error messages (default: the path).

    Returns
    -------
    tuple of (str, pandas.DataFrame)
        ``kind`` and the table on a naive UTC minute ``DatetimeIndex`` named ``time``:
        mag ``status``, ``bx_gsm``, ``by_gsm``, ``bz_gsm``, ``b_total`` [nT], ``lat_gsm``,
        ``lon_gsm`` [deg]; swepam ``status``, ``n_p`` [cm-3], ``v_sw`` [km s-1], ``t_p`` [K].

    Raises
    ------
    ValueError
        If the header is neither list's, it states no fill values, or a line is malformed
        (naming file, line and field).
    """
    raw, name = read_input(path_or_bytes, name)
    text = raw.decode("ascii", "replace")
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith((":", "#"))]
    joined = "\n".join(header)
    if "Magnetometer" in joined:
        kind = "mag"
    elif "Solar Wind Electron Proton Alpha Monitor" in joined or "SWEPAM" in joined.upper():
        kind = "swepam"
    else:
        raise ValueError(f"{name}: not an SWPC ACE magnetometer or SWEPAM list (header unknown)")
    cols = _ACE_KINDS[kind]
    fills = _ace_fills(header, kind, name)
    n_words = 6 + len(cols)
    times, values = [], []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith((":", "#")):
            continue
        words = line.split()
        if len(words) != n_words:
            raise ValueError(
                f"{name}, line {lineno}: expected {n_words} fields, found {len(words)}"
            )
        try:
            y, mo, d, hhmm = (int(w) for w in words[:4])
            times.append(pd.Timestamp(y, mo, d, hhmm // 100, hhmm % 100))
        except ValueError:
            raise ValueError(
                f"{name}, line {lineno}, fields 1-4: bad date {' '.join(words[:4])!r}"
            ) from None
        row = []
        for k, w in enumerate(words[6:], start=7):
            try:
                row.append(float(w))
            except ValueError:
                raise ValueError(
                    f"{name}, line {lineno}, field {k}: {w!r} is not a number"
                ) from None
        values.append(row)
    if not times:
        raise ValueError(f"{name}: no data lines")
    table = pd.DataFrame(values, columns=cols, index=pd.DatetimeIndex(times, name="time"))
    for col, fill in fills.items():
        table.loc[np.isclose(table[col], fill), col] = np.nan
    return kind, table


def parse_ace_list(
    path_or_bytes: str | Path | bytes, *, name: str | None = None, keep_flagged: bool = False
) -> xr.Dataset:
    """Parse an SWPC ACE 1-minute magnetometer or SWEPAM text list.

    Parameters
    ----------
    path_or_bytes
        The list (``ace_mag_1m.txt``, ``ace_swepam_1m.txt``, ``YYYYMMDD_ace_*_1m.txt``).
    name
        How to name the input in error messages (default: the path).
    keep_flagged
        The lists' status ``S`` is 0 for nominal data, 1-8 for a bad record, 9 for none.
        By default values of rows with ``S != 0`` become NaN (the header calls them bad);
        ``True`` keeps them.

    Returns
    -------
    xr.Dataset
        1-minute; mag: ``bx_gsm``, ``by_gsm``, ``bz_gsm``, ``b_total`` [nT]; swepam: ``n_p``
        [cm-3], ``v_sw`` [km s-1], ``t_p`` [K]. Fills stated in the header are NaN.
    """
    raw, name = read_input(path_or_bytes, name)
    kind, table = read_ace_table(raw, name=name)
    keep = [c for c in table.columns if c not in ("status", "lat_gsm", "lon_gsm")]
    if not keep_flagged:
        table.loc[table["status"] != 0, keep] = np.nan
    ds = xr.Dataset(
        {c: ("time", table[c].to_numpy(dtype="float32")) for c in keep},
        coords={"time": table.index.astype("datetime64[ns]")},
    )
    return finalize(
        ds,
        source=f"NOAA SWPC real-time ACE {kind} 1-minute list",
        source_url=name,
        cadence="1min",
        data_version=DATA_VERSION,
        name=name,
    )


# ----------------------------------------------------------------------------- hourly averages
def to_hourly(ds: xr.Dataset, *, min_coverage: float = 0.5) -> xr.Dataset:
    """Hourly means of a 1-minute dataset, labelled by the start of the hour.

    The hours are *measurement* hours at L1, about an hour ahead of OMNI's bow-shock hours
    (the recorded May 2024 week matches OMNI best moved +1 h). Model inputs use
    :func:`data_sources.propagation.to_bow_shock_hourly` instead, which propagates each
    sample to the nose first and then applies this same coverage rule.

    An hour whose variable has fewer than ``min_coverage * 60`` valid minutes is NaN.
    ``p_dyn`` [nPa] is added from the hourly ``n_p`` and ``v_sw`` when both are present
    (:func:`dynamic_pressure`, OMNI's ``2e-6 n V^2``; OMNI also derives its hourly pressure
    from hourly means).

    Parameters
    ----------
    ds : xr.Dataset
        1-minute data on ``time`` (naive UTC, measurement time at L1), e.g. a
        :func:`parse_swpc_json` plasma or mag product or :func:`parse_ace_list`.
    min_coverage : float, optional
        Fraction (0, 1] of the 60 minutes that must be valid for an hour to get a value
        (default 0.5).

    Returns
    -------
    xr.Dataset
        float32 hourly means on ``time`` (naive UTC, start of the hour at L1), plus
        ``p_dyn`` [nPa] when ``n_p`` and ``v_sw`` are present; annotated (cadence ``"1h"``,
        each variable keeps its ``data_version``).

    Raises
    ------
    ValueError
        If the data are not 1-minute (median step longer than 1 min) or ``min_coverage``
        is outside (0, 1].
    """
    step = sample_step(ds)
    if pd.isna(step) or step > pd.Timedelta("1min"):
        raise ValueError(f"to_hourly expects 1-minute data; median step here is {step}")
    out = hourly_means(ds, min_coverage=min_coverage)
    if "n_p" in out and "v_sw" in out:
        out["p_dyn"] = dynamic_pressure(out["n_p"], out["v_sw"]).astype("float32")
    version = {v: ds[v].attrs.get("data_version", DATA_VERSION) for v in map(str, ds.data_vars)}
    version.setdefault("p_dyn", version.get("n_p", DATA_VERSION))
    return finalize(
        out,
        source=ds.attrs.get("source", SOURCE),
        source_url=ds.attrs.get("source_url", ""),
        cadence="1h",
        data_version=version,
        name=ds.attrs.get("source_url", "<dataset>"),
    )


# ----------------------------------------------------------------------------- getters
def _get(
    product: str,
    start: TimeLike,
    end: TimeLike,
    base_url: str | None,
    cache_dir: str | Path | None,
    refresh: bool,
) -> xr.Dataset:
    base = (base_url or config.base_url(SOURCE)).rstrip("/")
    path = PRODUCTS[product]
    url = f"{base}/{path}"
    dest = Path(cache_dir or config.cache_dir()) / SOURCE / path
    try:
        local = cached_download(
            url,
            dest,
            refresh=refresh,
            validate=lambda body: parse_swpc_json(body, name=url, product=product),
        )
    except DownloadError as exc:
        if not dest.exists():
            raise
        log.warning("%s unreachable (%s); using the cached copy %s", url, exc, dest)
        local = dest
    ds = parse_swpc_json(local, name=url, product=product)
    return clip_time(ds, start, end)


def get_swpc_plasma(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = True,
) -> xr.Dataset:
    """1-minute L1 plasma (``n_p``, ``v_sw``, ``t_p``) from ``plasma-7-day.json``.

    The product is a rolling 7-day window, so ``refresh=True`` fetches it every call; the
    new body replaces the cached copy only after it parsed (a bad body raises and leaves the
    good copy); when the server cannot be reached the cached copy is used with a warning.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the interval-start labels, ``end`` exclusive; the product holds only
        the last ~7 days, so older requests come back empty.
    base_url : str, optional
        Default :func:`data_sources.config.base_url` (``"swpc"``:
        ``https://services.swpc.noaa.gov``, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; the product goes to ``<cache_dir>/swpc/<product path>``.
        Default ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Fetch the product again (conditionally) on this call; default True.

    Returns
    -------
    xr.Dataset
        1-minute ``n_p`` [cm-3], ``v_sw`` [km s-1], ``t_p`` [K] on ``time`` (naive UTC,
        measurement time at L1, start of the minute), ``data_version = "real-time"``.

    Raises
    ------
    DownloadError
        If the server cannot be reached and nothing is cached.
    ValueError
        If the body does not parse (see :func:`parse_swpc_json`).
    """
    return _get("plasma", start, end, base_url, cache_dir, refresh)


def get_swpc_mag(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = True,
) -> xr.Dataset:
    """1-minute L1 IMF in GSM from ``mag-7-day.json`` (see :func:`get_swpc_plasma`).

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the interval-start labels, ``end`` exclusive; the product holds only
        the last ~7 days, so older requests come back empty.
    base_url : str, optional
        Default :func:`data_sources.config.base_url` (``"swpc"``:
        ``https://services.swpc.noaa.gov``, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; the product goes to ``<cache_dir>/swpc/<product path>``.
        Default ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Fetch the product again (conditionally) on this call; default True.

    Returns
    -------
    xr.Dataset
        1-minute ``bx_gsm``, ``by_gsm``, ``bz_gsm``, ``b_total`` [nT] on ``time`` (naive UTC,
        measurement time at L1, start of the minute), ``data_version = "real-time"``.

    Raises
    ------
    DownloadError
        If the server cannot be reached and nothing is cached.
    ValueError
        If the body does not parse (see :func:`parse_swpc_json`).
    """
    return _get("mag", start, end, base_url, cache_dir, refresh)


def get_swpc_kp(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = True,
) -> xr.Dataset:
    """3-hourly estimated planetary Kp and ap (see :func:`get_swpc_plasma`).

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the interval-start labels, ``end`` exclusive; the product holds only
        the last ~7 days, so older requests come back empty.
    base_url : str, optional
        Default :func:`data_sources.config.base_url` (``"swpc"``:
        ``https://services.swpc.noaa.gov``, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; the product goes to ``<cache_dir>/swpc/<product path>``.
        Default ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Fetch the product again (conditionally) on this call; default True.

    Returns
    -------
    xr.Dataset
        3-hourly estimated ``kp`` (0..9 in thirds) and ``ap`` [2 nT] on ``time`` (naive UTC,
        start of the 3-hour interval), ``data_version = "real-time"``.

    Raises
    ------
    DownloadError
        If the server cannot be reached and nothing is cached.
    ValueError
        If the body does not parse (see :func:`parse_swpc_json`).
    """
    return _get("kp", start, end, base_url, cache_dir, refresh)


def get_swpc_dst(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = True,
) -> xr.Dataset:
    """Hourly quick-look Kyoto Dst relayed by SWPC (see :func:`get_swpc_plasma`).

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the interval-start labels, ``end`` exclusive; the product holds only
        the last ~7 days, so older requests come back empty.
    base_url : str, optional
        Default :func:`data_sources.config.base_url` (``"swpc"``:
        ``https://services.swpc.noaa.gov``, or the mirror/config override).
    cache_dir : str or Path, optional
        Download cache root; the product goes to ``<cache_dir>/swpc/<product path>``.
        Default ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Fetch the product again (conditionally) on this call; default True.

    Returns
    -------
    xr.Dataset
        Hourly quick-look ``dst`` [nT] on ``time`` (naive UTC, start of the hour),
        ``data_version = "real-time"``.

    Raises
    ------
    DownloadError
        If the server cannot be reached and nothing is cached.
    ValueError
        If the body does not parse (see :func:`parse_swpc_json`).
    """
    return _get("dst", start, end, base_url, cache_dir, refresh)


# ----------------------------------------------------------------------------- mirror
def encode_mag_from_ace(ace_mag_list: Path) -> bytes:
    """Real ACE 1-minute IMF of one ACE list, written in ``mag-7-day.json``'s layout.

    Rows with a bad status or fills become ``null`` (as SWPC serves gaps); GSM lat/lon are
    the list's own values.

    Parameters
    ----------
    ace_mag_list : Path
        An SWPC ACE magnetometer 1-minute list (e.g. ``20090101_ace_mag_1m.txt``).

    Returns
    -------
    bytes
        The ``mag-7-day.json`` body (IMF in nT, lat/lon in degrees).
    """
    _, table = read_ace_table(ace_mag_list)
    bad = table["status"] != 0
    table.loc[bad, table.columns[1:]] = np.nan
    ds = xr.Dataset(
        {
            "bx_gsm": ("time", table["bx_gsm"].to_numpy()),
            "by_gsm": ("time", table["by_gsm"].to_numpy()),
            "bz_gsm": ("time", table["bz_gsm"].to_numpy()),
            "lon_gsm": ("time", table["lon_gsm"].to_numpy()),
            "lat_gsm": ("time", table["lat_gsm"].to_numpy()),
            "b_total": ("time", table["b_total"].to_numpy()),
        },
        coords={"time": table.index},
    )
    return encode_swpc_json(ds, "mag")


def encode_kp_from_celestrak(celestrak_file: Path, start: str, end: str) -> bytes:
    """Real Kp and ap from a Celestrak SpaceWx file, in ``noaa-planetary-k-index.json``'s layout.

    Kp is written with two decimals (``"8.67"``) and ap as an integer, as SWPC does;
    ``station_count`` is not in Celestrak's record, so it is ``null``.

    Parameters
    ----------
    celestrak_file : Path
        A Celestrak ``SW-*.txt`` file.
    start, end : str
        UTC bounds (ISO 8601) of the interval-start labels kept, ``end`` exclusive.

    Returns
    -------
    bytes
        The ``noaa-planetary-k-index.json`` body: 3-hourly Kp (thirds) and ap [2 nT].
    """
    from data_sources.celestrak import parse_celestrak_sw

    cel = parse_celestrak_sw(celestrak_file)[["kp", "ap"]]
    cel = clip_time(cel, start, end)
    return encode_swpc_json(cel, "kp", decimals={"Kp": 2, "a_running": 0})


#: Week of real Kp served as ``noaa-planetary-k-index.json``: the May 2024 (Gannon) storm.
KP_MIRROR_SPAN = ("2024-05-08", "2024-05-15")


def mirror_files(data_dir: Path) -> dict[str, Path | bytes]:
    """SWPC products served by the loopback mirror.

    ``plasma-7-day.json`` and ``kyoto-dst.json`` are recorded upstream files served as-is.
    ``mag-7-day.json`` holds the real ACE 1-minute IMF of 2009-01-01 and
    ``noaa-planetary-k-index.json`` the real Kp of 2024-05-08..14 from Celestrak's record,
    each re-encoded into the upstream layout (neither product was recorded).

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder (``swpc_rtsw/``, ``swpc_products/``, ``celestrak_sw/``).

    Returns
    -------
    dict of str to Path or bytes
        URL path below the mirror root (``services.swpc.noaa.gov/products/...``) -> recorded
        file or re-encoded body; a product whose recording is absent is left out.
    """
    data_dir = Path(data_dir)
    files: dict[str, Path | bytes] = {}
    plasma = data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json"
    dst = data_dir / "swpc_products" / "kyoto-dst.json"
    ace_mag = data_dir / "swpc_products" / "20090101_ace_mag_1m.txt"
    celestrak_file = data_dir / "celestrak_sw" / "SW-Last5Years.txt"
    if plasma.exists():
        files[f"{HOST}/{PRODUCTS['plasma']}"] = plasma
    if dst.exists():
        files[f"{HOST}/{PRODUCTS['dst']}"] = dst
    if ace_mag.exists():
        files[f"{HOST}/{PRODUCTS['mag']}"] = encode_mag_from_ace(ace_mag)
    if celestrak_file.exists():
        files[f"{HOST}/{PRODUCTS['kp']}"] = encode_kp_from_celestrak(
            celestrak_file, *KP_MIRROR_SPAN
        )
    return files
