"""CF-1.8 metadata for every netCDF file superstorm writes: the one home for it.

The store, the forecast archive and the skill report call these functions just before
writing, so ``cfchecks`` (the CF Conventions compliance checker) finds no error in any of them:

- ``Conventions = "CF-1.8"`` on the file;
- the interval convention made explicit: labels are the START of each averaging interval,
  so ``time`` gets ``bounds = "time_bnds"`` holding ``[start, start + cadence)`` and every
  averaged variable says ``cell_methods = "time: mean"`` (CF-1.8 section 7.3); indices that are
  not a mean of the hour they label (Kp, ap: 3-hourly; daily values) carry no cell method;
- a ``standard_name`` only where the CF standard-name table has one (time; the solar-wind and
  index quantities have none there).

Units strings must be valid UDUNITS (so F10.7's "sfu" is written ``10-22 W m-2 Hz-1``;
the vocabulary holds that, and the long name says "solar flux units").

References
----------
Eaton, B. et al. (2018). NetCDF Climate and Forecast (CF) Metadata Conventions, version 1.8.
https://cfconventions.org/Data/cf-conventions/cf-conventions-1.8/cf-conventions.html
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

CONVENTIONS = "CF-1.8"

#: Variables whose hourly value is the mean over the hour it labels (OMNI2, Kyoto Dst, AE).
HOURLY_MEANS = frozenset(
    {"bx_gsm", "by_gsm", "bz_gsm", "b_total", "v_sw", "n_p", "t_p", "p_dyn", "e_y", "dst", "ae"}
)

#: Name of the bounds variable of ``time`` (dims ``time``, ``nv``).
TIME_BOUNDS = "time_bnds"


def time_axis_attrs() -> dict[str, str]:
    """Attributes of a ``time`` coordinate that labels the start of each interval.

    Returns
    -------
    dict of str to str
        ``standard_name``, ``long_name`` (start of the averaging interval, UTC) and
        ``axis = "T"``; a new dict on each call.
    """
    return {
        "standard_name": "time",
        "long_name": "start of the averaging interval (UTC)",
        "axis": "T",
    }


def add_time_bounds(ds: xr.Dataset, cadence: pd.Timedelta) -> xr.Dataset:
    """Add ``time_bnds`` = ``[time, time + cadence]`` and the CF attributes that point to it.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset with a ``time`` dimension whose labels are interval starts (naive UTC).
    cadence : pandas.Timedelta
        Length of the interval each label stands for (e.g. 1 hour).

    Returns
    -------
    xarray.Dataset
        A copy with ``time_bnds`` (dims ``time``, ``nv``), ``time.bounds`` and the time-axis
        attributes; averaged variables get ``cell_methods = "time: mean"``.
    """
    out = ds.copy()
    start = out["time"].values.astype("datetime64[ns]")
    end = start + np.timedelta64(pd.Timedelta(cadence).value, "ns")
    out[TIME_BOUNDS] = (("time", "nv"), np.stack([start, end], axis=1))
    out["time"].attrs.update(time_axis_attrs(), bounds=TIME_BOUNDS)
    for name in out.data_vars:
        if name in HOURLY_MEANS and out[name].dims == ("time",):
            out[name].attrs["cell_methods"] = "time: mean"
    out.attrs["Conventions"] = CONVENTIONS
    return out


def strip_time_bounds(ds: xr.Dataset) -> xr.Dataset:
    """Drop what :func:`add_time_bounds` added, so a file reads back as it was built.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset as read from a file written with :func:`add_time_bounds`.

    Returns
    -------
    xarray.Dataset
        A copy without ``time_bnds``, the ``Conventions`` attribute, the time-axis attributes
        and ``cell_methods = "time: mean"``.
    """
    out = ds.drop_vars(TIME_BOUNDS, errors="ignore")
    out.attrs.pop("Conventions", None)
    for key in ("bounds", *time_axis_attrs()):
        out["time"].attrs.pop(key, None)
    for name in out.data_vars:
        if out[name].attrs.get("cell_methods") == "time: mean":
            del out[name].attrs["cell_methods"]
    return out


def bounds_encoding(time_encoding: dict) -> dict[str, dict]:
    """Encoding for ``time_bnds``: the same units and calendar as ``time`` (CF 7.1).

    Parameters
    ----------
    time_encoding : dict
        The netCDF encoding of ``time`` (e.g. ``{"units": "hours since 1963-01-01",
        "calendar": "standard", "dtype": "int32"}``); other keys are ignored.

    Returns
    -------
    dict of str to dict
        ``{"time_bnds": {...}}`` with the ``units``, ``calendar`` and ``dtype`` of ``time``,
        ready to merge into ``to_netcdf(encoding=...)``.
    """
    return {
        TIME_BOUNDS: {k: v for k, v in time_encoding.items() if k in ("units", "calendar", "dtype")}
    }


def cadence_of(ds: xr.Dataset) -> pd.Timedelta:
    """The spacing of ``ds.time`` (smallest step; 1 h for a single time).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset with a sorted ``time`` dimension.

    Returns
    -------
    pandas.Timedelta
        The smallest positive difference between consecutive times.
    """
    times = pd.DatetimeIndex(ds["time"].values).as_unit("ns")
    steps = np.diff(times.asi8)
    steps = steps[steps > 0]
    return pd.Timedelta(int(steps.min()), "ns") if steps.size else pd.Timedelta(hours=1)


def make_readable(path: str | os.PathLike) -> None:
    """Give a written file the permissions of a normal file (0666 less the umask; 0644 usually).

    Temporary files from :func:`tempfile.mkstemp` are created 0600, which left every store and
    archive file unreadable to the operators' group.

    Parameters
    ----------
    path : str or os.PathLike
        The file to change.
    """
    mask = os.umask(0)
    os.umask(mask)
    Path(path).chmod(0o666 & ~mask)
