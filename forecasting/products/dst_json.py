"""``dst-forecast.json``: Dst observed and forecast, in the layout of SWPC's JSON products.

Like ``products/kyoto-dst.json`` (header ``["time_tag", "dst"]``, one row per hour, values as
strings) with the ``observed`` column of ``noaa-planetary-k-index-forecast.json`` and one
column per forecast quantile: header ``["time_tag", "dst", "observed", "q0.05", ...,
"q0.95"]``. ``time_tag`` is the hour label (the start of the hourly interval, as Kyoto and
SWPC label Dst) in UTC; ``dst`` [nT] is the observed value, or the forecast median on
``predicted`` rows; the quantile columns are ``null`` on observed rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike, to_utc
from forecasting.products.blocks import (
    forecast_hourly,
    median_column,
    observed_hourly,
    time_tag,
)

HISTORY = pd.Timedelta("7D")
FILENAME = "dst-forecast.json"


def _num(v: float) -> str | None:
    if not np.isfinite(v):
        return None
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def dst_forecast_rows(
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    issue_time: TimeLike,
    *,
    history: pd.Timedelta = HISTORY,
) -> list[list]:
    """Build the rows of ``dst-forecast.json`` (header first).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast (:mod:`forecasting.schema` layout) with ``dst`` quantiles [nT]; the last
        ``init_time`` is used. ``None`` (or no ``dst``): observed rows only.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (UTC naive, start of hour) with ``dst`` [nT]; the
        hours known at ``issue_time`` within ``history`` before it are listed.
    issue_time : TimeLike
        The run's issue time (UTC).
    history : pandas.Timedelta
        How far back observed hours are listed (default 7 days, as SWPC's Kp file).

    Returns
    -------
    list of list
        The header ``["time_tag", "dst", "observed", "q0.05", ...]`` then one row per hour,
        oldest first: observed rows (``"observed"``, quantiles ``None``), then ``"predicted"``
        rows for the forecast hours after the newest observed one (``dst`` the median).
        Numbers are strings [nT]: no decimals when whole, else one; ``None`` for NaN.
    """
    t = to_utc(issue_time)
    frame = forecast_hourly(forecast, "dst")
    quantiles = [float(q) for q in frame.columns] if not frame.empty else []
    header = ["time_tag", "dst", "observed"] + [f"q{q:g}" for q in quantiles]
    rows: list[list] = [header]
    obs = observed_hourly(observed, "dst", t)
    obs = obs[obs.index >= t - history]
    blank = [None] * len(quantiles)
    rows += [[time_tag(h), _num(float(v)), "observed", *blank] for h, v in obs.items()]
    if not frame.empty:
        med = median_column(frame)
        for h, values in frame.iterrows():
            if len(obs) and h <= obs.index.max():
                continue
            rows.append(
                [time_tag(h), _num(float(med[h])), "predicted"]
                + [_num(float(v)) for v in values.to_numpy()]
            )
    return rows


def dst_forecast_json(
    forecast: xr.Dataset | None, observed: xr.Dataset | None, issue_time: TimeLike
) -> str:
    """Render the text of ``dst-forecast.json`` (see :func:`dst_forecast_rows`).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast with ``dst`` quantiles [nT] (last ``init_time`` used), or ``None``.
    observed : xarray.Dataset or None
        Hourly observations with ``dst`` [nT], or ``None``.
    issue_time : TimeLike
        The run's issue time (UTC).

    Returns
    -------
    str
        Compact JSON (no spaces) of the rows, 7 days of history.
    """
    return json.dumps(dst_forecast_rows(forecast, observed, issue_time), separators=(",", ":"))
