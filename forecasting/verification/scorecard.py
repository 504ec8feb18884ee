"""Rolling scorecard of archived operational forecasts, pooled exactly from daily sums.

Each day's rows (one per ``day, model, model_version, target, lead_h``) keep the additive
sums of :func:`forecasting.verification.scores.pooled_sums` beside that day's metrics. The
rolling scorecard adds the sums over the window per model version and lead, then computes
RMSE, MAE, bias, r, CRPS, coverage and skill from them with
:func:`forecasting.verification.scores.metrics_from_sums`: the result equals scoring every pair
of the window at once. (Averaging daily RMSEs or correlations weighted by counts does not:
RMSE is the root of a pooled mean, and r depends on the pooled means and variances.)
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from forecasting.verification import scores

KEY: list[str] = ["day", "model", "model_version", "target", "lead_h"]
GROUP: list[str] = ["model", "model_version", "target", "lead_h"]
METRICS: tuple[str, ...] = (
    "rmse",
    "mae",
    "bias",
    "r",
    "crps",
    "coverage_80",
    "skill_vs_persistence",
)
COLUMNS: list[str] = KEY + list(METRICS) + list(scores.SUM_FIELDS)


def day_rows(
    forecast: xr.Dataset,
    observed: xr.Dataset,
    target: str,
    *,
    day: pd.Timestamp,
    model: str,
    persistence: xr.Dataset | None = None,
) -> pd.DataFrame:
    """One day's scorecard rows for ``forecast[target]`` (one per lead).

    Parameters
    ----------
    forecast
        The model's forecasts issued on ``day``.
    observed
        Hourly observations known by now.
    target
        ``dst`` [nT] or ``kp``.
    day
        The UTC day (midnight).
    model
        Model name.
    persistence
        Persistence forecasts of the same issue times (for ``skill_vs_persistence``).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`.
    """
    sums = scores.pooled_sums(forecast, observed, target, persistence=persistence)
    df = sums.to_dataframe().reset_index()
    df["lead_h"] = (pd.TimedeltaIndex(df["lead_time"]) / pd.Timedelta("1h")).astype(int)
    df = df.drop(columns="lead_time")
    mets = scores.metrics_from_sums(df)
    for m in METRICS:
        df[m] = mets[m]
    df["day"] = pd.Timestamp(day).strftime("%Y-%m-%d")
    df["model"] = model
    df["model_version"] = str(forecast.attrs.get("model_version", ""))
    df["target"] = target
    return df[COLUMNS]


def merge_daily(daily: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """``daily`` with the days of ``new`` replaced by ``new`` (a re-run replaces its day).

    Parameters
    ----------
    daily : pd.DataFrame or None
        The scorecard so far (:data:`COLUMNS`, ``day`` as ``YYYY-MM-DD`` UTC strings);
        ``None`` or empty when there is none yet.
    new : pd.DataFrame
        Rows of one or more days (:func:`day_rows`); every row of ``daily`` on those days
        is dropped.

    Returns
    -------
    pd.DataFrame
        The merged rows sorted by :data:`KEY`, index 0..n-1.
    """
    if daily is not None and not new.empty:
        daily = daily[~daily["day"].isin(new["day"].unique())]
    out = new if daily is None or daily.empty else pd.concat([daily, new], ignore_index=True)
    return out.sort_values(KEY).reset_index(drop=True)


def rolling(daily: pd.DataFrame, *, window_days: int = 30) -> pd.DataFrame:
    """The scorecard of the last ``window_days`` days, pooled from the daily sums.

    Parameters
    ----------
    daily
        Daily rows (:data:`COLUMNS`).
    window_days
        Window length [days], ending at the latest day in ``daily``.

    Returns
    -------
    pandas.DataFrame
        ``window_end`` + :data:`GROUP` + :data:`METRICS` + ``n, days`` + the pooled sums.

    Raises
    ------
    ValueError
        When ``daily`` lacks the sums (a scorecard written before they were kept).
    """
    missing = [c for c in scores.SUM_FIELDS if c not in daily]
    if missing:
        raise ValueError(
            f"daily scorecard lacks the sums {missing}; it predates pooled scoring: delete "
            "scorecard_daily.csv and re-run `superstorm verify` for the days you need"
        )
    if window_days < 1:
        raise ValueError(f"window_days={window_days} must be >= 1")
    last = pd.Timestamp(daily["day"].max())
    recent = daily[pd.to_datetime(daily["day"]) > last - pd.Timedelta(days=window_days)]
    grouped = recent.groupby(GROUP, sort=True)
    sums = grouped[list(scores.SUM_FIELDS)].sum()
    days = grouped["day"].nunique().rename("days")
    mets = scores.metrics_from_sums(sums)
    out = pd.concat([mets[list(METRICS)], sums["n"], days, sums.drop(columns="n")], axis=1)
    out = out.reset_index()
    out.insert(0, "window_end", last.strftime("%Y-%m-%d"))
    return out


def to_dataset(table: pd.DataFrame, *, window_days: int) -> xr.Dataset:
    """The rolling scorecard as a dataset on ``(model, model_version, target, lead_h)``.

    Parameters
    ----------
    table : pd.DataFrame
        Output of :func:`rolling` (one ``window_end`` for all rows).
    window_days : int
        Window length [days] the table pools, stored as an attribute.

    Returns
    -------
    xr.Dataset
        One variable per metric, count and pooled sum on the dims of :data:`GROUP`
        (``lead_h`` [h]); attrs ``window_days``, ``window_end`` (``YYYY-MM-DD``, ``""`` for an
        empty table), ``title``, ``pooling``.
    """
    ds = table.set_index(GROUP).drop(columns="window_end").to_xarray()
    ds["lead_h"].attrs.update(units="h", long_name="lead time")
    ds.attrs.update(
        window_days=window_days,
        window_end=str(table["window_end"].iloc[0]) if len(table) else "",
        title="superstorm rolling scorecard of archived operational forecasts",
        pooling="metrics computed from sums pooled over the window (exact)",
    )
    return ds
