"""Write every SWPC-layout product of one run into a folder, each file whole or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import xarray as xr

from data_sources.netcdf import write_bytes_atomic
from data_sources.timeconv import TimeLike
from forecasting.products import alerts_json, dst_json, kp_json, three_day


def render_products(
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    messages: Iterable[Mapping],
    issue_time: TimeLike,
) -> dict[str, str]:
    """Render the four products to text (pure: nothing is written).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        The primary forecast (:mod:`forecasting.schema`), or ``None`` when none was made.
    observed : xarray.Dataset or None
        Hourly inputs on ``time`` (``kp`` in thirds, ``dst`` [nT]); only values known at
        ``issue_time`` are used.
    messages : iterable of mapping
        The alert log's messages (``AlertLog.messages()`` rows).
    issue_time : TimeLike
        The run's issue time (UTC).

    Returns
    -------
    dict of str to str
        File name (``3-day-forecast.txt``, ``kp-forecast.json``, ``dst-forecast.json``,
        ``alerts.json``) -> its text.
    """
    return {
        three_day.FILENAME: three_day.three_day_forecast(forecast, observed, issue_time),
        kp_json.FILENAME: kp_json.kp_forecast_json(forecast, observed, issue_time),
        dst_json.FILENAME: dst_json.dst_forecast_json(forecast, observed, issue_time),
        alerts_json.FILENAME: alerts_json.alerts_json(messages, issue_time),
    }


def write_products(
    out_dir: str | Path,
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    messages: Iterable[Mapping],
    issue_time: TimeLike,
) -> dict[str, Path]:
    """Render the products (:func:`render_products`) and write them into ``out_dir``.

    Each file is written atomically (:func:`data_sources.netcdf.write_bytes_atomic`): a reader
    sees the old file or the new one, never half of one.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Destination folder (usually ``$SUPERSTORM_HOME/products``).
    forecast : xarray.Dataset or None
        The primary forecast, or ``None`` when none was made.
    observed : xarray.Dataset or None
        Hourly inputs; only values known at ``issue_time`` are used.
    messages : iterable of mapping
        The alert log's messages (``AlertLog.messages()`` rows).
    issue_time : TimeLike
        The run's issue time (UTC).

    Returns
    -------
    dict of str to pathlib.Path
        File name -> written path.
    """
    out = Path(out_dir)
    texts = render_products(forecast, observed, messages, issue_time)
    return {name: write_bytes_atomic(text, out / name) for name, text in texts.items()}
