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

import numpy as np
import pandas as pd
import xarray as xr

HOUR = pd.Timedelta("1h")

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
    """When the value of ``name`` labelled ``labels`` becomes known (end of its interval)."""
    labels = pd.DatetimeIndex(labels)
    step = INTERVAL.get(name, HOUR)
    if step == HOUR:
        return labels + HOUR
    return labels.floor(step) + step


def known_at(ds: xr.Dataset, t, *, names=None) -> xr.Dataset:
    """``ds`` as it was knowable at issue time ``t``: later values are set to NaN.

    Only data variables along ``time`` are masked; ``*_qc`` flags follow their variable.
    The time axis itself is cut at ``t`` (labels ``>= t`` are dropped), so the result ends
    with the hour labelled ``t - 1 h``.
    """
    t = pd.Timestamp(t)
    out = ds.sel(time=slice(None, t - pd.Timedelta("1ns")))
    labels = out.indexes["time"]
    for name in names or [v for v in out.data_vars if "time" in out[v].dims]:
        base = name[:-3] if name.endswith("_qc") else name
        late = np.asarray(interval_end(base, labels) > t)
        if late.any():
            if name.endswith("_qc"):
                out[name] = out[name].where(~xr.DataArray(late, dims="time"), 2)
            else:
                out[name] = out[name].where(~xr.DataArray(late, dims="time"))
    return out


def target_labels(init_time, lead_time) -> np.ndarray:
    """Hourly labels of the forecast targets: ``init_time + lead_time - 1 h``, shape (init, lead)."""
    init = pd.DatetimeIndex(np.atleast_1d(init_time)).values
    lead = pd.TimedeltaIndex(np.atleast_1d(lead_time)).values
    return init[:, None] + lead[None, :] - np.timedelta64(1, "h")


def observed_for(
    forecast: xr.Dataset, observed: xr.Dataset | xr.DataArray, name: str
) -> xr.DataArray:
    """The observed values that verify ``forecast[name]``, on ``(init_time, lead_time)``.

    ``observed`` is an hourly series labelled by interval start (a dataset holding ``name``
    or a DataArray). Missing hours give NaN.
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
