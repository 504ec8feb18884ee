"""Geomagnetic storm catalog from hourly Dst (and Kp where given).

A storm is a run of hours with ``Dst <= threshold`` (Gonzalez et al. 1994: moderate
<= -50 nT, intense <= -100 nT, superstorm <= -250 nT); runs separated by less than
``min_separation`` (from the end of one to the start of the next) are merged into one storm.
``start`` / ``end`` are the first / last hourly label at or below the threshold, ``peak_time``
the label of the minimum Dst. ``peak_kp`` is the largest Kp from 12 h before ``start`` to
``end`` (Kp usually peaks before Dst).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from forecasting.schema import exceeds

#: well-known storms: (peak date, name). A storm is named when its peak Dst date is within
#: one day of a listed date.
KNOWN_STORMS: tuple[tuple[str, str], ...] = (
    ("1989-03-14", "March 1989 (Quebec blackout)"),
    ("2000-04-07", "April 2000"),
    ("2000-07-16", "Bastille Day 2000"),
    ("2001-03-31", "March 2001"),
    ("2003-10-30", "Halloween 2003"),
    ("2003-11-20", "November 2003"),
    ("2004-11-08", "November 2004"),
    ("2015-03-17", "St. Patrick's Day 2015"),
    ("2015-06-23", "June 2015 solstice"),
    ("2017-09-08", "September 2017"),
    ("2018-08-26", "August 2018"),
    ("2023-04-24", "April 2023"),
    ("2024-05-11", "Gannon (Mother's Day) May 2024"),
    ("2024-10-11", "October 2024"),
)

STORM_COLUMNS = ("name", "common_name", "start", "end", "peak_time", "peak_dst", "peak_kp", "hours")


def _as_series(x: pd.Series | xr.DataArray | None, what: str) -> pd.Series | None:
    if x is None:
        return None
    if isinstance(x, xr.DataArray):
        if x.dims != ("time",):
            raise ValueError(f"{what} must be a 1-D DataArray along 'time'; dims are {x.dims}")
        x = x.to_series()
    if not isinstance(x, pd.Series) or not isinstance(x.index, pd.DatetimeIndex):
        raise ValueError(f"{what} must be a pandas Series with a DatetimeIndex or a DataArray")
    return x.astype(float).sort_index()


def find_storms(
    dst: pd.Series | xr.DataArray,
    threshold: float = -100.0,
    *,
    min_separation: str | pd.Timedelta = "48h",
    kp: pd.Series | xr.DataArray | None = None,
) -> pd.DataFrame:
    """Storms in an hourly Dst series.

    Parameters
    ----------
    dst
        Hourly Dst [nT] labelled by interval start (NaN allowed: missing hours are not storm
        hours and do not split a storm shorter than ``min_separation``).
    threshold
        Storm hours have ``Dst <= threshold`` [nT] (default -100: intense storms).
    min_separation
        Runs closer than this (end of one to start of next) are one storm.
    kp
        Optional hourly Kp; adds ``peak_kp``.

    Returns
    -------
    pandas.DataFrame
        Columns ``start, end, peak_time, peak_dst, peak_kp, hours`` (``hours`` = number of
        hours at or below the threshold), one row per storm, sorted by ``start``.
    """
    s = _as_series(dst, "dst")
    assert s is not None
    kps = _as_series(kp, "kp")
    sep = pd.Timedelta(min_separation)
    cols = ["start", "end", "peak_time", "peak_dst", "peak_kp", "hours"]
    below = s[exceeds("dst", s, threshold)]
    if below.empty:
        return pd.DataFrame(columns=cols)
    t = below.index
    new = np.r_[True, np.diff(t.values) >= sep.to_timedelta64()]
    group = np.cumsum(new)
    rows = []
    for g in np.unique(group):
        part = below[group == g]
        start, end = part.index[0], part.index[-1]
        window = s.loc[start:end]
        peak_time = window.idxmin()
        peak_kp = np.nan
        if kps is not None:
            kwin = kps.loc[start - pd.Timedelta("12h") : end]
            peak_kp = float(kwin.max()) if kwin.notna().any() else np.nan
        rows.append(
            dict(
                start=start,
                end=end,
                peak_time=peak_time,
                peak_dst=float(window.min()),
                peak_kp=peak_kp,
                hours=int(len(part)),
            )
        )
    return pd.DataFrame(rows, columns=cols)


def common_name(peak_time: pd.Timestamp) -> str:
    """The well-known name of a storm peaking at ``peak_time`` (``""`` when not listed).

    Parameters
    ----------
    peak_time : pd.Timestamp
        Time of the storm's minimum Dst (naive UTC); its date is compared with
        :data:`KNOWN_STORMS` within one day.

    Returns
    -------
    str
        The name (``"St. Patrick's Day 2015"``), or ``""``.
    """
    day = pd.Timestamp(peak_time).normalize()
    for date, name in KNOWN_STORMS:
        if abs(day - pd.Timestamp(date)) <= pd.Timedelta("1D"):
            return name
    return ""


def storm_catalog(
    ds: xr.Dataset,
    threshold: float = -100.0,
    *,
    min_separation: str | pd.Timedelta = "48h",
) -> pd.DataFrame:
    """Storm catalog of a dataset holding ``dst`` (and optionally ``kp``).

    Each storm is named by its peak date (``'2015-03-17'``); ``common_name`` adds the
    well-known name from :data:`KNOWN_STORMS` where the date matches within one day.

    Parameters
    ----------
    ds : xr.Dataset
        Hourly dataset on ``time`` (naive UTC hour labels) with ``dst`` [nT] and optionally
        ``kp`` (for ``peak_kp``).
    threshold : float
        Storm level [nT]: hours with ``Dst <= threshold`` (-100: intense, Gonzalez et al.
        1994; -50 moderate, -250 superstorm).
    min_separation : str or pd.Timedelta
        Runs of storm hours closer than this (end of one to start of the next) are one
        storm (``"48h"``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORM_COLUMNS`, indexed by ``name``.
    """
    if "dst" not in ds:
        raise ValueError(f"dataset has no 'dst' variable (it has {sorted(map(str, ds.data_vars))})")
    kp = ds["kp"] if "kp" in ds else None
    storms = find_storms(ds["dst"], threshold, min_separation=min_separation, kp=kp)
    names = [pd.Timestamp(p).strftime("%Y-%m-%d") for p in storms["peak_time"]]
    # two storms peaking on the same day (only with a short min_separation) get the hour too
    dup = pd.Series(names).duplicated(keep=False).to_numpy()
    names = [
        pd.Timestamp(p).strftime("%Y-%m-%dT%H") if d else n
        for n, p, d in zip(names, storms["peak_time"], dup, strict=True)
    ]
    storms.insert(0, "common_name", [common_name(p) for p in storms["peak_time"]])
    storms.insert(0, "name", names)
    return storms.set_index("name", drop=False)[list(STORM_COLUMNS)]
