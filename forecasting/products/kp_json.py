"""``kp-forecast.json``: the layout of SWPC's ``products/noaa-planetary-k-index-forecast.json``.

A JSON array whose first row is the header ``["time_tag", "kp", "observed", "noaa_scale"]``;
each later row is one 3-hour block: ``time_tag`` the block start (``YYYY-MM-DD HH:MM:SS``
UTC), ``kp`` the value as a string with two decimals, ``observed`` one of ``"observed"``,
``"estimated"`` or ``"predicted"``, ``noaa_scale`` ``"G1"`` .. ``"G5"`` or ``null``.

Blocks that ended by the issue time are ``observed``, or ``estimated`` when the Kp input came
from SWPC's real-time estimate (the variable's ``input_source`` attribute names ``swpc``);
later blocks are ``predicted`` (:func:`forecasting.products.blocks.forecast_kp_blocks`).
"""

from __future__ import annotations

import json

import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike, to_utc
from forecasting.products.blocks import (
    fmt_kp,
    forecast_kp_blocks,
    g_scale,
    observed_kp_blocks,
    time_tag,
)

HISTORY = pd.Timedelta("7D")
FILENAME = "kp-forecast.json"
HEADER: tuple[str, ...] = ("time_tag", "kp", "observed", "noaa_scale")


def _observed_word(observed: xr.Dataset | None) -> str:
    if observed is None or "kp" not in observed:
        return "observed"
    return (
        "estimated" if "swpc" in str(observed["kp"].attrs.get("input_source", "")) else "observed"
    )


def kp_forecast_rows(
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    issue_time: TimeLike,
    *,
    history: pd.Timedelta = HISTORY,
) -> list[list]:
    """Build the rows of ``kp-forecast.json`` (header first).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast dataset with ``kp`` quantiles; the last ``init_time`` is used (or ``None``).
    observed : xarray.Dataset or None
        Hourly observations (``kp`` in thirds on ``time``); Kp blocks known at ``issue_time``
        within ``history`` before it.
    issue_time : TimeLike
        The run's issue time (UTC).
    history : pandas.Timedelta
        How far back observed blocks are listed (default 7 days: SWPC's file starts about a
        week back).

    Returns
    -------
    list of list
        :data:`HEADER` then one row per 3-h block, oldest first: observed (or estimated)
        blocks, then ``"predicted"`` blocks after the newest observed one. ``kp`` is a
        two-decimal string in thirds, ``noaa_scale`` its G level (:func:`~.blocks.g_scale`)
        or ``None``.
    """
    t = to_utc(issue_time)
    obs = observed_kp_blocks(observed, t)
    obs = obs[obs.index >= (t - history).floor("3h")]
    word = _observed_word(observed)
    fc = forecast_kp_blocks(forecast)
    if len(obs):
        fc = fc[fc.index > obs.index.max()]
    rows: list[list] = [list(HEADER)]
    rows += [[time_tag(s), fmt_kp(v), word, g_scale(v)] for s, v in obs.items()]
    rows += [[time_tag(s), fmt_kp(v), "predicted", g_scale(v)] for s, v in fc.items()]
    return rows


def kp_forecast_json(
    forecast: xr.Dataset | None, observed: xr.Dataset | None, issue_time: TimeLike
) -> str:
    """Render the text of ``kp-forecast.json`` (see :func:`kp_forecast_rows`).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast with ``kp`` quantiles (last ``init_time`` used), or ``None``.
    observed : xarray.Dataset or None
        Hourly observations with ``kp`` (thirds), or ``None``.
    issue_time : TimeLike
        The run's issue time (UTC).

    Returns
    -------
    str
        Compact JSON (no spaces) of the rows, 7 days of history.
    """
    return json.dumps(kp_forecast_rows(forecast, observed, issue_time), separators=(",", ":"))
