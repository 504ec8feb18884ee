"""Daily verification: score yesterday's archived forecasts against the observations since.

For each archived model, the forecasts issued on the UTC day ``day`` are scored with
:func:`forecasting.verification.scores.score` against the observations (store, or a recorded
netCDF file in replays) for ``dst`` and ``kp``, per lead time; persistence forecasts of the
same issue times (when archived) give ``skill_vs_persistence``. Rows are keyed by
``(day, model, model_version, target, lead_h)`` and written to
``$SUPERSTORM_HOME/reports/scorecard_daily.csv`` (a re-run replaces the day's rows); the
rolling scorecard (the last ``window_days`` days per model version, pooled exactly from the
daily sums by :mod:`forecasting.verification.scorecard`) goes to ``reports/scorecard.csv`` and
``reports/scorecard.nc``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import xarray as xr
from prefect import flow, task

from data_sources import config
from data_sources.netcdf import write_bytes_atomic, write_netcdf_atomic
from data_sources.timeconv import TimeLike, known_at, to_utc, utc_now
from forecasting import archive
from forecasting.verification import scorecard

log = logging.getLogger(__name__)

METRICS = scorecard.METRICS
KEY = scorecard.KEY


def reports_dir() -> Path:
    """Return the reports folder.

    Returns
    -------
    pathlib.Path
        ``$SUPERSTORM_HOME/reports`` (not created here).
    """
    return config.home() / "reports"


def _observations(
    start: TimeLike,
    end: TimeLike,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
) -> xr.Dataset | None:
    from data_sources.live import _store_frame

    return _store_frame(
        pd.Timestamp(start),
        pd.Timestamp(end),
        recorded=Path(recorded) if recorded else None,
        store_root=Path(store_root) if store_root else None,
    )


def score_day(
    day: TimeLike,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    now: TimeLike | None = None,
) -> pd.DataFrame:
    """Score every archived model's forecasts issued on UTC day ``day`` (one row per lead).

    Only verification hours that ended by ``now`` (default: the wall clock) are used, so a
    replay does not peek at the future either. Rows hold the metrics and the additive sums
    (:data:`forecasting.verification.scorecard.COLUMNS`).

    Parameters
    ----------
    day : TimeLike
        The UTC day of the issue times (normalised to midnight).
    recorded : str or pathlib.Path, optional
        A recorded observations netCDF (replays) instead of the store.
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    now : TimeLike, optional
        The clock (UTC); default the wall clock. Observations are read from ``day - 1 d`` to
        ``min(now, day + 4 d)`` and only those known at ``now`` count.

    Returns
    -------
    pandas.DataFrame
        One row per ``(model, model_version, target, lead_h)`` for ``dst`` [nT] and ``kp``,
        with ``skill_vs_persistence`` where persistence was archived; empty (with the columns)
        when there are no observations or archived forecasts.
    """
    day = pd.Timestamp(day).normalize()
    now = utc_now() if now is None else to_utc(now)
    obs = _observations(
        day - pd.Timedelta("1D"),
        min(now, day + pd.Timedelta("4D")),
        recorded=recorded,
        store_root=store_root,
    )
    if obs is None:
        log.warning("verify %s: no observations available", day.date())
        return pd.DataFrame(columns=scorecard.COLUMNS)
    obs = known_at(obs, now)
    persistence = None
    try:
        persistence = archive.load_range(day, day + pd.Timedelta("1D"), "persistence")
    except FileNotFoundError:
        pass
    rows = []
    for model in archive.models():
        try:
            fc = archive.load_range(day, day + pd.Timedelta("1D"), model)
        except FileNotFoundError:
            continue
        for target in ("dst", "kp"):
            if target not in fc or target not in obs:
                continue
            pers = persistence if model != "persistence" else None
            rows.append(scorecard.day_rows(fc, obs, target, day=day, model=model, persistence=pers))
    if not rows:
        return pd.DataFrame(columns=scorecard.COLUMNS)
    return pd.concat(rows, ignore_index=True)


def _atomic_csv(df: pd.DataFrame, path: Path) -> None:
    write_bytes_atomic(df.to_csv(index=False), path)


def update_scorecard(day_scores: pd.DataFrame, *, window_days: int = 30) -> dict[str, str]:
    """Merge a day's scores into the daily CSV and rewrite the rolling scorecard (pooled).

    Every file is replaced atomically; the day's earlier rows are replaced, not duplicated.

    Parameters
    ----------
    day_scores : pandas.DataFrame
        Rows from :func:`score_day`.
    window_days : int
        Days pooled in the rolling scorecard (default 30).

    Returns
    -------
    dict of str to str
        ``daily`` -> ``reports/scorecard_daily.csv``, and once it has rows ``rolling`` ->
        ``reports/scorecard.csv`` and ``netcdf`` -> ``reports/scorecard.nc``.
    """
    out = reports_dir()
    daily_path = out / "scorecard_daily.csv"
    daily = pd.read_csv(daily_path, dtype={"model_version": str}) if daily_path.exists() else None
    daily = scorecard.merge_daily(daily, day_scores)
    _atomic_csv(daily, daily_path)
    paths = {"daily": str(daily_path)}
    if daily.empty:
        return paths
    table = scorecard.rolling(daily, window_days=window_days)
    _atomic_csv(table, out / "scorecard.csv")
    write_netcdf_atomic(scorecard.to_dataset(table, window_days=window_days), out / "scorecard.nc")
    paths.update(rolling=str(out / "scorecard.csv"), netcdf=str(out / "scorecard.nc"))
    return paths


def run_verify(
    day: TimeLike | None = None,
    *,
    recorded: str | Path | None = None,
    store_root: str | Path | None = None,
    now: TimeLike | None = None,
    window_days: int = 30,
) -> dict:
    """Score ``day`` (default yesterday, UTC) and update the scorecards.

    Parameters
    ----------
    day : TimeLike, optional
        UTC day of the issue times to score; default the day before ``now``.
    recorded : str or pathlib.Path, optional
        A recorded observations netCDF (replays) instead of the store.
    store_root : str or pathlib.Path, optional
        Store folder; default the configured store.
    now : TimeLike, optional
        The clock (UTC); default the wall clock.
    window_days : int
        Days pooled in the rolling scorecard (default 30).

    Returns
    -------
    dict
        ``day`` (``YYYY-MM-DD``), ``rows`` (score rows written), ``models`` (sorted names)
        and the written paths (see :func:`update_scorecard`).
    """
    now_ts = utc_now() if now is None else to_utc(now)
    day = (now_ts - pd.Timedelta("1D")).normalize() if day is None else pd.Timestamp(day)
    scores = score_day(day, recorded=recorded, store_root=store_root, now=now_ts)
    paths = update_scorecard(scores, window_days=window_days)
    models = sorted(scores["model"].unique()) if not scores.empty else []
    return {
        "day": pd.Timestamp(day).strftime("%Y-%m-%d"),
        "rows": len(scores),
        "models": models,
        **paths,
    }


verify_task = task(name="score-archived-forecasts")(run_verify)


@flow(name="verify", log_prints=True)
def verify_flow(
    day: str | None = None,
    recorded: str | None = None,
    store_root: str | None = None,
    window_days: int = 30,
) -> dict:
    """Daily: score yesterday's archived forecasts; rolling scorecard per model version.

    Parameters
    ----------
    day : str, optional
        UTC day (``YYYY-MM-DD``) to score; default yesterday.
    recorded : str, optional
        A recorded observations netCDF (replays) instead of the store.
    store_root : str, optional
        Store folder; default the configured store.
    window_days : int
        Days pooled in the rolling scorecard (default 30).

    Returns
    -------
    dict
        The summary of :func:`run_verify`.
    """
    res = verify_task(day, recorded=recorded, store_root=store_root, window_days=window_days)
    print(f"verified {res['day']}: {res['rows']} rows for {res['models']}")
    return res
