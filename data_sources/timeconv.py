"""Time conventions in one place: when a value becomes known, and what a forecast targets.

Labels are the START of each averaging interval (OMNI's convention). A value labelled ``h``
becomes known when its interval ENDS:

* hourly values (``dst``, solar wind): ``h + 1 h``;
* 3-hourly ``kp`` / ``ap`` (hourly series repeat the value over its 3 hours):
  ``floor(h, 3 h) + 3 h``, so Kp for 00-03 UT is unknown at 01:00 and 02:00;
* daily ``f107``, ``sunspot_number``, ``ap_daily``: ``floor(h, 1 day) + 1 day``.

A forecast issued at ``init_time`` t may use only values with ``interval_end <= t``.

Forecast target: for ``lead_time`` L the target is the hourly value labelled
``t + L - 1 h``, i.e. ``valid_time = t + L`` is the END of the target hour. Lead 1 h is the
hour that starts at the issue time. For ``kp`` the hourly value is the Kp of the 3-hour
interval in force in that hour, so leads 3, 6, ..., 24 h from a 3-hour boundary are the
next eight Kp intervals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeAlias

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

HOUR = pd.Timedelta("1h")

#: anything the project accepts as one instant: an ISO 8601 string, a datetime, a
#: numpy datetime64 or a pandas Timestamp (aware values are converted to UTC)
TimeLike: TypeAlias = str | date | datetime | np.datetime64 | pd.Timestamp

#: day/month orders that cannot be told apart (``05/10/2024``: 5 October or May 10?)
_AMBIGUOUS = re.compile(r"^\s*\d{1,2}[/.]\d{1,2}[/.]\d{2,4}")


def to_utc(t: TimeLike) -> pd.Timestamp:
    """The instant ``t`` as a timezone-naive UTC :class:`pandas.Timestamp`.

    Parameters
    ----------
    t
        An ISO 8601 string (``"2024-05-10T18:00"``, ``"2024-05-10T18:00+02:00"``), a
        :class:`datetime.datetime`, :class:`numpy.datetime64` or :class:`pandas.Timestamp`.
        Naive values are taken as UTC; aware values are converted to UTC.

    Returns
    -------
    pandas.Timestamp
        Naive, in UTC.

    Raises
    ------
    ValueError
        If ``t`` is a string in a day/month order that is ambiguous (``05/10/2024``), or
        not a time at all; the message names the value and the format to use.
    """
    if isinstance(t, str) and _AMBIGUOUS.match(t):
        raise ValueError(
            f"time {t!r} is ambiguous (day/month order); use ISO 8601, e.g. '2024-10-05T00:00'"
        )
    try:
        ts = pd.Timestamp(t)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{t!r} is not a time; use ISO 8601, e.g. '2024-05-10T18:00'") from exc
    if ts is pd.NaT:
        raise ValueError(f"{t!r} is not a time (NaT); use ISO 8601, e.g. '2024-05-10T18:00'")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def hour_spacing(offset: object, name: str = "spacing") -> pd.Timedelta:
    """Check a spacing of issue times: a positive whole number of hours.

    Issue times are whole UTC hours, so a spacing such as ``"90min"`` or ``"0h"`` cannot
    be used; this names the value and the fix instead of failing later inside pandas.

    Parameters
    ----------
    offset : object
        A pandas offset string (``"1h"``, ``"6h"``) or ``Timedelta``.
    name : str, default "spacing"
        What the value is called in the error (a config field or a CLI option).

    Returns
    -------
    pandas.Timedelta
        The spacing.

    Raises
    ------
    ValueError
        If ``offset`` is not a positive whole number of hours.
    """
    try:
        spacing = pd.Timedelta(offset)
    except (TypeError, ValueError):
        spacing = pd.NaT
    if pd.isna(spacing) or spacing <= pd.Timedelta(0) or spacing % HOUR:
        raise ValueError(
            f"{name} must be a positive whole number of hours (pandas offset, e.g. '1h' or "
            f"'6h'), not {offset!r}"
        )
    return spacing


def utc_now() -> pd.Timestamp:
    """The current wall-clock time as a naive UTC :class:`pandas.Timestamp`.

    Returns
    -------
    pandas.Timestamp
        Now, timezone-naive, in UTC (not rounded to the hour).
    """
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def to_utc_index(times: object) -> pd.DatetimeIndex:
    """Naive UTC ``DatetimeIndex`` (nanoseconds) from anything :func:`pandas.to_datetime` reads.

    Parameters
    ----------
    times
        Sequence of times; aware values are converted to UTC, naive ones taken as UTC.

    Returns
    -------
    pandas.DatetimeIndex
        Naive UTC, ``datetime64[ns]``.
    """
    idx = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).tz_convert(None)
    return idx.astype("datetime64[ns]")


#: interval length of each variable's native cadence (default: 1 hour)
INTERVAL: dict[str, pd.Timedelta] = {
    "kp": pd.Timedelta("3h"),
    "ap": pd.Timedelta("3h"),
    "f107": pd.Timedelta("1D"),
    "f107_adj": pd.Timedelta("1D"),
    "sunspot_number": pd.Timedelta("1D"),
    "ap_daily": pd.Timedelta("1D"),
}


def interval_end(name: str, labels: pd.DatetimeIndex | np.ndarray) -> pd.DatetimeIndex:
    """When the value of ``name`` labelled ``labels`` becomes known (end of its interval).

    Parameters
    ----------
    name : str
        Canonical variable name; decides the interval length (:data:`INTERVAL`: 3 h for
        ``kp``/``ap``, 1 day for ``f107``, ``f107_adj``, ``sunspot_number``, ``ap_daily``,
        1 h for everything else).
    labels : pandas.DatetimeIndex or numpy.ndarray of datetime64
        Naive UTC labels, the START of each value's interval. For 3-hourly and daily
        variables an hourly label inside the interval is allowed (hourly series repeat the
        value): it is floored to the interval start first.

    Returns
    -------
    pandas.DatetimeIndex
        Naive UTC end of each interval, same length as ``labels``: ``label + 1 h`` for hourly
        variables, ``floor(label, step) + step`` otherwise.
    """
    labels = pd.DatetimeIndex(labels)
    step = INTERVAL.get(name, HOUR)
    if step == HOUR:
        return labels + HOUR
    return labels.floor(step) + step


def known_at(ds: xr.Dataset, t: TimeLike, *, names: Sequence[str] | None = None) -> xr.Dataset:
    """``ds`` as it was knowable at issue time ``t``: later values are set to NaN.

    Only data variables along ``time`` are masked; ``*_qc`` flags follow their variable.
    The time axis itself is cut at ``t`` (labels ``>= t`` are dropped), so the result ends
    with the hour labelled ``t - 1 h``.

    Parameters
    ----------
    ds : xr.Dataset
        Dataset on a naive UTC ``time`` axis labelled by interval start (hourly, as
        :func:`data_sources.dataset.build_dataset` gives).
    t : TimeLike
        Issue time (``init_time``), naive UTC. A value is kept only if its
        :func:`interval_end` is ``<= t``.
    names : sequence of str, optional
        Variables to mask; default every data variable along ``time``. A ``*_qc`` name is
        masked by its base variable's interval and set to flag 2 (not NaN) where late.

    Returns
    -------
    xr.Dataset
        A new dataset cut to labels ``< t``, with values not yet known at ``t`` (e.g. the
        3-hourly Kp block still in progress, today's daily F10.7) set to NaN.
    """
    t = pd.Timestamp(t)
    out = ds.sel(time=slice(None, t - pd.Timedelta("1ns")))
    labels = out.indexes["time"]
    for name in names or [str(v) for v in out.data_vars if "time" in out[v].dims]:
        base = name[:-3] if name.endswith("_qc") else name
        late = np.asarray(interval_end(base, labels) > t)
        if late.any():
            if name.endswith("_qc"):
                out[name] = out[name].where(~xr.DataArray(late, dims="time"), 2)
            else:
                out[name] = out[name].where(~xr.DataArray(late, dims="time"))
    return out


def latest_known(values: pd.Series, name: str, t: TimeLike) -> tuple[float, pd.Timestamp | None]:
    """The newest finite value of ``name`` known at ``t`` and the end of its interval.

    Parameters
    ----------
    values
        Series of ``name`` labelled by interval start (hourly series of 3-hourly Kp repeat
        the value over its block).
    name
        Variable name (decides the interval: see :data:`INTERVAL`).
    t
        Issue time (UTC); a value is known once its interval has ended (``interval_end <= t``).

    Returns
    -------
    tuple
        ``(value, interval end)``; ``(nan, None)`` if nothing finite is known at ``t``.
        The age of the input at ``t`` is ``t - interval end``.
    """
    s = values.dropna().sort_index()
    if s.empty:
        return float("nan"), None
    ends = interval_end(name, s.index)
    ok = np.flatnonzero(np.asarray(ends <= to_utc(t)))
    if not len(ok):
        return float("nan"), None
    return float(s.iloc[ok[-1]]), pd.Timestamp(ends[ok[-1]])


def target_labels(init_time: ArrayLike, lead_time: ArrayLike) -> np.ndarray:
    """Hourly labels of the forecast targets: ``init_time + lead_time - 1 h``, shape (init, lead).

    Parameters
    ----------
    init_time : array_like of datetime64
        Issue times, naive UTC; a scalar is taken as one issue time.
    lead_time : array_like of timedelta64
        Lead times (e.g. 1 h .. 24 h); a scalar is taken as one lead.

    Returns
    -------
    numpy.ndarray
        ``datetime64[ns]`` of shape ``(n_init, n_lead)``: the interval-start label of the
        hour each forecast verifies against (its ``valid_time`` minus 1 h).
    """
    init = pd.DatetimeIndex(np.atleast_1d(init_time)).values
    lead = pd.TimedeltaIndex(np.atleast_1d(lead_time)).values
    return init[:, None] + lead[None, :] - np.timedelta64(1, "h")


def observed_for(
    forecast: xr.Dataset, observed: xr.Dataset | xr.DataArray, name: str
) -> xr.DataArray:
    """The observed values that verify ``forecast[name]``, on ``(init_time, lead_time)``.

    ``observed`` is an hourly series labelled by interval start (a dataset holding ``name``
    or a DataArray). Missing hours give NaN.

    Parameters
    ----------
    forecast : xr.Dataset
        Forecast dataset with ``init_time`` (naive UTC) and ``lead_time`` (timedelta)
        coordinates; only those coordinates are read.
    observed : xr.Dataset or xr.DataArray
        Hourly observations on ``time`` (naive UTC, interval start), in the variable's own
        unit (e.g. Dst in nT, Kp 0..9).
    name : str
        Variable to pick from ``observed`` when it is a Dataset (ignored for a DataArray).

    Returns
    -------
    xr.DataArray
        Observed values on ``(init_time, lead_time)``, the target hour of each forecast
        (:func:`target_labels`), carrying the observed variable's attrs (units).
    """
    series = observed[name] if isinstance(observed, xr.Dataset) else observed
    s = series.to_series()
    labels = target_labels(forecast["init_time"].values, forecast["lead_time"].values)
    vals = s.reindex(pd.DatetimeIndex(labels.ravel())).to_numpy().reshape(labels.shape)
    return xr.DataArray(
        vals,
        dims=("init_time", "lead_time"),
        coords={"init_time": forecast["init_time"], "lead_time": forecast["lead_time"]},
        attrs=dict(series.attrs),
    )
