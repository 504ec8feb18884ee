"""Kp in 3-hour UTC blocks and SWPC's time and number formats, shared by the products.

SWPC tabulates Kp per synoptic 3-hour block (00-03UT ... 21-00UT). The store holds Kp hourly,
each hour of a block carrying the block's value, known at the block's end
(:func:`data_sources.timeconv.interval_end`). A forecast's lead ``L`` verifies the hour
labelled ``init_time + L - 1 h``; the forecast Kp of a block is the largest hourly median
the lead grid holds inside it (the block's Kp is the largest disturbance in it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike, known_at, to_utc
from forecasting.schema import G_SCALE, exceedance_probability

BLOCK = pd.Timedelta("3h")
HOUR = pd.Timedelta("1h")
#: the row labels of SWPC's Kp tables
BLOCK_LABELS: tuple[str, ...] = tuple(f"{h:02d}-{(h + 3) % 24:02d}UT" for h in range(0, 24, 3))
#: NOAA G-scale names (SWPC "NOAA Scale" wording)
G_NAMES: dict[str, str] = {
    "G1": "Minor",
    "G2": "Moderate",
    "G3": "Strong",
    "G4": "Severe",
    "G5": "Extreme",
}


def _empty() -> pd.Series:
    return pd.Series(dtype=float, index=pd.DatetimeIndex([]))


def swpc_time(t: TimeLike) -> str:
    """Format a time as SWPC's issue time: ``2024 May 10 2000 UTC``.

    Parameters
    ----------
    t : TimeLike
        The time (UTC; aware times are converted).

    Returns
    -------
    str
        ``YYYY Mon DD HHMM UTC``.
    """
    return to_utc(t).strftime("%Y %b %d %H%M UTC")


def time_tag(t: TimeLike) -> str:
    """Format a time as SWPC's JSON ``time_tag``: ``2024-05-10 18:00:00``.

    Parameters
    ----------
    t : TimeLike
        The time (UTC; aware times are converted).

    Returns
    -------
    str
        ``YYYY-MM-DD HH:MM:SS`` (UTC, no zone suffix, as SWPC writes it).
    """
    return to_utc(t).strftime("%Y-%m-%d %H:%M:%S")


def round_third(kp: float) -> float:
    """Round Kp to the nearest third (SWPC prints thirds as .00, .33, .67).

    Parameters
    ----------
    kp : float
        Kp (0..9, any real value).

    Returns
    -------
    float
        ``round(3 kp) / 3``: e.g. 4.6 -> 4.667 (5-), 5.1 -> 5.0 (5o).
    """
    return round(float(kp) * 3.0) / 3.0


def g_scale(kp: float) -> str | None:
    """Name the NOAA G level of a Kp value (already on thirds).

    The lowest Kp of each level comes from :data:`forecasting.schema.G_SCALE`: G1 from 5-
    (14/3), G2 from 6- (17/3), G3 from 7- (20/3), G4 from 8- (23/3, 9- still G4), G5 at 9o;
    a tolerance of 1e-6 lets float32 thirds reach their level.

    Parameters
    ----------
    kp : float
        Kp in thirds (see :func:`round_third`).

    Returns
    -------
    str or None
        ``"G1"`` .. ``"G5"``; ``None`` below 5- or for NaN.
    """
    if not np.isfinite(kp):
        return None
    level = None
    for name, low in G_SCALE.items():
        if kp >= low - 1e-6:
            level = name
    return level


def observed_kp_blocks(observed: xr.Dataset | None, issue_time: TimeLike) -> pd.Series:
    """Observed Kp per 3-h UTC block known at ``issue_time``.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (UTC naive, start of hour; canonical names). ``None``:
        empty result.
    issue_time : TimeLike
        Issue time (UTC); only values whose hour ended by then count
        (:func:`data_sources.timeconv.known_at`).

    Returns
    -------
    pandas.Series
        Kp in thirds (the block's largest hourly value) indexed by block start (00, 03 ...
        21 UTC); empty when ``observed`` has no ``kp`` or nothing is known yet.
    """
    t = to_utc(issue_time)
    if observed is None or "kp" not in observed:
        return _empty()
    s = known_at(observed[["kp"]], t)["kp"].to_series().dropna()
    if s.empty:
        return _empty()
    return s.groupby(s.index.floor(BLOCK)).max().map(round_third)


def observed_hourly(observed: xr.Dataset | None, name: str, issue_time: TimeLike) -> pd.Series:
    """Hourly observed ``name`` known at ``issue_time``.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (UTC naive, start of hour; canonical names). ``None``:
        empty result.
    name : str
        Canonical variable (``dst``, ``kp`` ...).
    issue_time : TimeLike
        Issue time (UTC); only values whose hour ended by then count
        (:func:`data_sources.timeconv.known_at`).

    Returns
    -------
    pandas.Series
        Values in the variable's unit (Dst [nT], Kp in thirds), NaN dropped, indexed by hour
        label (start of hour, UTC naive); empty if ``name`` is absent.
    """
    if observed is None or name not in observed:
        return _empty()
    return known_at(observed[[name]], to_utc(issue_time))[name].to_series().dropna()


def forecast_hourly(forecast: xr.Dataset | None, name: str) -> pd.DataFrame:
    """Quantiles of ``name`` per verifying hour label (rows) for the last issue time.

    Columns are the quantile levels; empty if the forecast lacks ``name``.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast in the :mod:`forecasting.schema` layout (``init_time``, ``lead_time``,
        ``quantile``); only the last ``init_time`` is used. ``None``: empty result.
    name : str
        Forecast variable (``dst`` [nT], ``kp``).

    Returns
    -------
    pandas.DataFrame
        Rows: verifying hour label ``init_time + lead_time - 1 h`` (UTC naive); columns: the
        quantile levels (floats, e.g. 0.05 .. 0.95); values in the variable's unit.
    """
    if forecast is None or name not in forecast:
        return pd.DataFrame()
    fc = forecast.isel(init_time=-1)
    init = pd.Timestamp(fc["init_time"].values)
    labels = init + pd.TimedeltaIndex(fc["lead_time"].values) - HOUR
    da = fc[name].transpose("lead_time", "quantile")
    return pd.DataFrame(da.values, index=labels, columns=[float(q) for q in fc["quantile"].values])


def median_column(frame: pd.DataFrame) -> pd.Series:
    """Pick the 0.5 quantile column (nearest level if 0.5 is absent).

    Parameters
    ----------
    frame : pandas.DataFrame
        Quantiles per hour, columns the quantile levels (as :func:`forecast_hourly`).

    Returns
    -------
    pandas.Series
        The median (or nearest-level) column.
    """
    cols = np.asarray(frame.columns, dtype=float)
    return frame.iloc[:, int(np.argmin(np.abs(cols - 0.5)))]


def forecast_kp_blocks(forecast: xr.Dataset | None) -> pd.Series:
    """Forecast Kp per 3-h UTC block: the largest hourly median in the block.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast in the :mod:`forecasting.schema` layout (``init_time``, ``lead_time``,
        ``quantile``); only the last ``init_time`` is used. ``None``: empty result.

    Returns
    -------
    pandas.Series
        Kp clipped to 0..9 and rounded to thirds, indexed by block start (UTC naive); empty
        when the forecast has no ``kp``.
    """
    frame = forecast_hourly(forecast, "kp")
    if frame.empty:
        return _empty()
    med = median_column(frame).dropna()
    return med.groupby(med.index.floor(BLOCK)).max().clip(0.0, 9.0).map(round_third)


def kp_exceedance_hourly(forecast: xr.Dataset | None, threshold: float) -> pd.Series:
    """P(Kp >= ``threshold``) per verifying hour label for the last issue time.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast in the :mod:`forecasting.schema` layout (``init_time``, ``lead_time``,
        ``quantile``); only the last ``init_time`` is used. ``None``: empty result.
    threshold : float
        Kp level in thirds (e.g. ``G_SCALE["G1"]`` = 14/3).

    Returns
    -------
    pandas.Series
        Probability in [0, 1] from the forecast quantiles
        (:func:`forecasting.schema.exceedance_probability`), indexed by verifying hour label
        ``init_time + lead_time - 1 h``; empty when the forecast has no ``kp``.
    """
    if forecast is None or "kp" not in forecast:
        return _empty()
    fc = forecast.isel(init_time=[-1])
    p = exceedance_probability(fc, "kp", threshold).isel(init_time=0)
    init = pd.Timestamp(fc["init_time"].values[0])
    labels = init + pd.TimedeltaIndex(fc["lead_time"].values) - HOUR
    return pd.Series(p.values, index=labels)


def fmt_kp(kp: float) -> str:
    """Format Kp as SWPC prints a table entry: two decimals (``4.67``).

    Parameters
    ----------
    kp : float
        Kp, already on thirds.

    Returns
    -------
    str
        ``f"{kp:.2f}"``.
    """
    return f"{kp:.2f}"


def fmt_kp_short(kp: float) -> str:
    """Format Kp as SWPC prints it in a sentence: ``5`` for a whole value, else ``5.67``.

    Parameters
    ----------
    kp : float
        Kp, already on thirds.

    Returns
    -------
    str
        No decimals for a whole value, two otherwise.
    """
    return f"{kp:.0f}" if abs(kp - round(kp)) < 1e-6 else f"{kp:.2f}"
