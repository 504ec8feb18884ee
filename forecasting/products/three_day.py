"""``3-day-forecast.txt``: the Kp outlook by UTC day, laid out like SWPC's *3-Day Forecast*.

SWPC's product (``services.swpc.noaa.gov/text/3-day-forecast.txt``, section A) states the
greatest observed 3-hour Kp of the past 24 hours, the greatest expected 3-hour Kp of the three
UTC days, and a "Kp index breakdown" table of 8 blocks (00-03UT ... 21-00UT) by day, a value
at or above G1 followed by its NOAA Scale level, e.g. ``5.67 (G2)``. SWPC's *Geomagnetic
Forecast* (``3-day-geomag-forecast.txt``) adds the storm probabilities per day; this product
carries that block too (Active = Kp >= 4, Minor storm = G1, Moderate storm = G2,
Strong-Extreme storm = G3 or more).

The three days are the UTC day of the issue time and the two after it. Blocks that ended by the
issue time hold the observed Kp; later blocks hold the forecast (:mod:`.blocks`); blocks beyond
the lead grid read ``n/a``. A day's probability of a level is 1 when an observed block of that
day reached it, else the largest hourly ``P(Kp >= level)`` of the day's forecast hours (a lower
bound of the chance of at least one such block); printed in percent, clipped to 01..99 as SWPC
does, ``--`` when the day has neither observations nor forecast hours.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike, to_utc
from forecasting.products.blocks import (
    BLOCK,
    BLOCK_LABELS,
    G_NAMES,
    fmt_kp,
    fmt_kp_short,
    forecast_kp_blocks,
    g_scale,
    kp_exceedance_hourly,
    observed_kp_blocks,
    swpc_time,
)
from forecasting.schema import G_SCALE

FILENAME = "3-day-forecast.txt"
#: probability rows of SWPC's Geomagnetic Forecast: label -> lowest Kp
PROBABILITY_ROWS: tuple[tuple[str, float], ...] = (
    ("Active", 4.0),
    ("Minor storm", G_SCALE["G1"]),
    ("Moderate storm", G_SCALE["G2"]),
    ("Strong-Extreme storm", G_SCALE["G3"]),
)
COLUMN = 13  # SWPC's column width in the breakdown table


def _scale_words(kp: float) -> str:
    level = g_scale(kp)
    return f"(NOAA Scale {level})" if level else "(below NOAA Scale levels)"


def _cell(kp: float | None) -> str:
    if kp is None or not np.isfinite(kp):
        return "n/a"
    level = g_scale(kp)
    return fmt_kp(kp) + (f" ({level})" if level else "")


def _span(days: list[pd.Timestamp]) -> str:
    return f"{days[0]:%b %d}-{days[-1]:%b %d %Y}"


def breakdown_table(days: list[pd.Timestamp], kp: pd.Series) -> list[str]:
    """Lay out the "Kp index breakdown" table: a header of days, one row per 3-hour block.

    Parameters
    ----------
    days : list of pandas.Timestamp
        The UTC days (midnight, naive) of the columns, oldest first.
    kp : pandas.Series
        Kp in thirds by block start (observed where ended, else forecast); a block it lacks
        (or NaN) reads ``n/a``.

    Returns
    -------
    list of str
        The header line then 8 rows (``00-03UT`` .. ``21-00UT``), columns 13 characters wide
        as SWPC's; a value at G1 or above carries its level, e.g. ``5.67 (G2)``.
    """
    lines = [(" " * COLUMN + "".join(f"{d:%b %d}".ljust(COLUMN) for d in days)).rstrip()]
    for i, label in enumerate(BLOCK_LABELS):
        cells = []
        for d in days:
            start = d + i * BLOCK
            cells.append(_cell(kp.get(start)).ljust(COLUMN))
        lines.append((label.ljust(COLUMN + 1) + "".join(cells)).rstrip())
    return lines


def day_probabilities(
    forecast: xr.Dataset | None, observed_blocks: pd.Series, days: list[pd.Timestamp]
) -> list[tuple[str, list[float]]]:
    """Compute the storm probabilities per UTC day for the probability block.

    Rows are :data:`PROBABILITY_ROWS`: Active (Kp >= 4), Minor storm (G1, Kp >= 5- = 14/3),
    Moderate storm (G2, >= 6- = 17/3), Strong-Extreme storm (G3 or more, >= 7- = 20/3).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast with ``kp`` quantiles (last ``init_time`` used), or ``None``.
    observed_blocks : pandas.Series
        Observed Kp in thirds by block start (:func:`~.blocks.observed_kp_blocks`).
    days : list of pandas.Timestamp
        The UTC days (midnight, naive).

    Returns
    -------
    list of (str, list of float)
        ``(row label, [P per day])``: 1.0 when an observed block of the day reached the
        level, else the largest hourly ``P(Kp >= level)`` of the day's forecast hours (a lower
        bound of the chance of at least one such block), NaN when the day has neither.
    """
    rows = []
    for label, low in PROBABILITY_ROWS:
        hourly = kp_exceedance_hourly(forecast, low)
        values = []
        for d in days:
            end = d + pd.Timedelta("1D")
            obs = observed_blocks[(observed_blocks.index >= d) & (observed_blocks.index < end)]
            if (obs >= low - 1e-6).any():
                values.append(1.0)
                continue
            p = hourly[(hourly.index >= d) & (hourly.index < end)].dropna()
            values.append(float(p.max()) if len(p) else float("nan"))
        rows.append((label, values))
    return rows


def _percent(p: float) -> str:
    if not np.isfinite(p):
        return "--"
    return f"{int(np.clip(round(p * 100), 1, 99)):02d}"


def _rationale(fc_blocks: pd.Series, days: list[pd.Timestamp], observed: pd.Series) -> str:
    today = observed[(observed.index >= days[0]) & (observed.index < days[1])]
    seen = g_scale(float(today.max())) if len(today) else None
    head = f"{seen} ({G_NAMES[seen]}) observed on {days[0]:%d %b}. " if seen else ""
    return head + _expected(fc_blocks, days)


def _expected(fc_blocks: pd.Series, days: list[pd.Timestamp]) -> str:
    said = []
    for d in days:
        day = fc_blocks[(fc_blocks.index >= d) & (fc_blocks.index < d + pd.Timedelta("1D"))]
        level = g_scale(float(day.max())) if len(day) else None
        if level:
            said.append(f"{level} ({G_NAMES[level]}) on {d:%d %b}")
    if not said:
        return "No G1 (Minor) or greater geomagnetic storms are expected."
    return (
        "Geomagnetic storm levels are expected: "
        + "; ".join(said)
        + " (median of the model's forecast Kp)."
    )


def three_day_forecast(
    forecast: xr.Dataset | None, observed: xr.Dataset | None, issue_time: TimeLike
) -> str:
    r"""Render the text of ``3-day-forecast.txt``.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        Forecast dataset (:mod:`forecasting.schema`) with ``kp`` quantiles [Kp units]; the
        last ``init_time`` is used. ``None``: observations only, every later block ``n/a``.
    observed : xarray.Dataset or None
        Hourly observations (``time``; ``kp``); only values known at ``issue_time`` are used.
    issue_time : TimeLike
        The run's issue time (UTC); day 1 is its UTC day.

    Returns
    -------
    str
        The product, lines ending in ``\n``.
    """
    t = to_utc(issue_time)
    days = [t.floor("1D") + pd.Timedelta(days=k) for k in range(3)]
    obs = observed_kp_blocks(observed, t)
    fc = forecast_kp_blocks(forecast)
    fc = fc[(fc.index >= days[0]) & (fc.index < days[-1] + pd.Timedelta("1D"))]
    # a block is observed once it has ended; the forecast fills the rest
    kp = pd.concat([fc, obs[obs.index >= days[0]]])
    kp = kp[~kp.index.duplicated(keep="last")].sort_index()

    model = "no forecast"
    if forecast is not None:
        model = (
            f"model {forecast.attrs.get('model', '?')} {forecast.attrs.get('model_version', '')}"
        )
    recent = obs[obs.index + BLOCK > t - pd.Timedelta("24h")]
    if len(recent):
        kmax = float(recent.max())
        observed_line = (
            f"The greatest observed 3 hr Kp over the past 24 hours was {fmt_kp_short(kmax)} "
            f"{_scale_words(kmax)}."
        )
    else:
        observed_line = "The greatest observed 3 hr Kp over the past 24 hours is not known."
    if len(fc):
        fmax = float(fc.max())
        expected_line = (
            f"The greatest expected 3 hr Kp for {_span(days)} is {fmt_kp(fmax)} "
            f"{_scale_words(fmax)}."
        )
    else:
        expected_line = f"No Kp forecast is available for {_span(days)}."
    last_obs = obs.index.max() + BLOCK if len(obs) else None
    last_fc = fc.index.max() + BLOCK if len(fc) else None
    source = (
        f"Observed through {last_obs:%b %d %H}UT; " if last_obs is not None else "No observed Kp; "
    ) + (f"forecast through {last_fc:%b %d %H}UT." if last_fc is not None else "no forecast.")
    starts = [d + i * BLOCK for d in days for i in range(len(BLOCK_LABELS))]
    if any(s not in kp.index for s in starts):
        source += " n/a: beyond the forecast's lead times."
    probs = day_probabilities(forecast, obs, days)

    lines = [
        ":Product: 3-Day Forecast",
        f":Issued: {swpc_time(t)}",
        f"# Prepared by superstorm ({model}); not an official NOAA SWPC product",
        "# Layout of SWPC's 3-Day Forecast, section A, and of its Geomagnetic Forecast",
        "#",
        "#             3-Day Forecast",
        "#",
        "A. Geomagnetic Activity Observation and Forecast",
        "",
        *textwrap.wrap(observed_line, 72),
        *textwrap.wrap(expected_line, 72),
        "",
        f"Kp index breakdown {_span(days)}",
        "",
        *breakdown_table(days, kp),
        "",
        *textwrap.wrap(source, 72),
        "",
        f"Geomagnetic Activity Probabilities {days[0]:%d %b}-{days[-1]:%d %b}",
        *[f"{label:<22}" + "/".join(_percent(p) for p in values) for label, values in probs],
        "",
        *textwrap.wrap("Rationale: " + _rationale(fc, days, obs), 72),
    ]
    return "\n".join(lines) + "\n"
