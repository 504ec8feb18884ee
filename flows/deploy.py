"""Scheduled deployments: forecast hourly at :05, verify daily, retrain weekly.

``serve_all()`` registers the three deployments with their schedules on the Prefect API
(``PREFECT_API_URL``; e.g. a local ``prefect server start --host 127.0.0.1``) and serves them
from this process (``prefect.serve``): scheduled and manually triggered runs execute here.
Without ``PREFECT_API_URL`` Prefect starts a temporary local server for the process.

The forecast runs at minute 5 of every hour so that the hour just ended has reached the
real-time feeds; verification at 00:30 UTC scores the day before; retraining on Sundays at
03:00 UTC.

The hourly deployment runs one flow run at a time (``concurrency_limit=1``; a late run is
queued, not run beside the one in progress); the alert log serialises runs anyway, this keeps
a slow hour from stacking up overlapping runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Schedules:
    """Cron schedules (UTC) of the deployments."""

    forecast: str = "5 * * * *"
    verify: str = "30 0 * * *"
    retrain: str = "0 3 * * 0"
    timezone: str = "UTC"
    forecast_concurrency: int = 1
    forecast_parameters: dict = field(default_factory=dict)
    verify_parameters: dict = field(default_factory=dict)
    retrain_parameters: dict = field(default_factory=dict)


def deployments(schedules: Schedules | None = None) -> list:
    """Build the three ``RunnerDeployment`` objects (not yet registered).

    Parameters
    ----------
    schedules : Schedules, optional
        Cron schedules (UTC), concurrency and parameters; default :class:`Schedules`
        (forecast hourly at :05, verify 00:30 daily, retrain Sundays 03:00).

    Returns
    -------
    list of prefect.deployments.runner.RunnerDeployment
        ``forecast/hourly`` (one run at a time), ``verify/daily``, ``retrain/weekly``.
    """
    from prefect.schedules import Cron

    from flows.forecast import forecast_flow
    from flows.retrain import retrain_flow
    from flows.verify import verify_flow

    s = schedules or Schedules()
    return [
        forecast_flow.to_deployment(
            name="hourly",
            schedule=Cron(s.forecast, timezone=s.timezone),
            parameters=dict(s.forecast_parameters),
            concurrency_limit=s.forecast_concurrency,
            tags=["superstorm", "operations"],
            description="Hourly forecast, archive, alerts, delivery, dashboards (at :05 UTC).",
        ),
        verify_flow.to_deployment(
            name="daily",
            schedule=Cron(s.verify, timezone=s.timezone),
            parameters=dict(s.verify_parameters),
            tags=["superstorm", "verification"],
            description="Score yesterday's archived forecasts; rolling scorecard.",
        ),
        retrain_flow.to_deployment(
            name="weekly",
            schedule=Cron(s.retrain, timezone=s.timezone),
            parameters=dict(s.retrain_parameters),
            tags=["superstorm", "training"],
            description="Train, compare with the current model, promote if not worse.",
        ),
    ]


def serve_all(schedules: Schedules | None = None, *, limit: int | None = None) -> None:
    """Register the deployments with their schedules and serve them (blocks until stopped).

    Parameters
    ----------
    schedules : Schedules, optional
        As for :func:`deployments`.
    limit : int, optional
        Most flow runs this process executes at once (``prefect.serve``'s ``limit``);
        ``None``: Prefect's default (no limit).
    """
    from prefect import serve

    serve(*deployments(schedules), limit=limit)


if __name__ == "__main__":  # python -m flows.deploy
    serve_all()
