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
    """File name -> text of the four products (pure: nothing is written).

    Parameters
    ----------
    forecast
        The primary forecast (:mod:`forecasting.schema`), or ``None`` when none was made.
    observed
        Hourly inputs; only values known at ``issue_time`` are used.
    messages
        The alert log's messages (``AlertLog.messages()`` rows).
    issue_time
        The run's issue time (UTC).
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

    Returns
    -------
    dict
        File name -> written path.
    """
    out = Path(out_dir)
    texts = render_products(forecast, observed, messages, issue_time)
    return {name: write_bytes_atomic(text, out / name) for name, text in texts.items()}
