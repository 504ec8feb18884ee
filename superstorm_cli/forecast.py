"""``superstorm forecast``, ``superstorm replay`` and ``superstorm serve``: operations."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from data_sources.netcdf import NETCDF_LOCK
from superstorm_cli.common import utc_time

if TYPE_CHECKING:
    import pandas as pd


def _common(p: argparse.ArgumentParser, baselines_default: str) -> None:
    p.add_argument(
        "--recorded",
        default=None,
        help="recorded hourly data to use instead of the store: an OMNI2 "
        "omni2_YYYY.dat file or a netCDF hourly dataset",
    )
    p.add_argument(
        "--baselines",
        default=None,
        help=f"comma-separated baselines run beside the primary model, or 'none' "
        "(names of forecasting.models.base.BASELINE_NAMES: persistence, recurrence27, ...; "
        f"default: {baselines_default})",
    )
    p.add_argument(
        "--prefect",
        action="store_true",
        help="run through the Prefect flow (task states, artifact) instead of "
        "calling the steps directly",
    )
    p.add_argument("--no-deliver", action="store_true", help="do not send alert messages")
    p.add_argument("--no-dashboards", action="store_true", help="do not rebuild the site")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``forecast``, ``replay`` and ``serve`` sub-commands.

    Their handlers are :func:`run_forecast`, :func:`run_replay` and :func:`run_serve`;
    ``replay`` also sets ``baselines_default="none"`` (no baselines unless ``--baselines``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    f = sub.add_parser(
        "forecast",
        help="issue one forecast now (or at --issue-time): inputs, "
        "models, archive, alerts, delivery, dashboards",
    )
    f.add_argument(
        "--issue-time", type=utc_time, default=None, help="UTC issue time (default: this hour)"
    )
    f.add_argument("--offline", action="store_true", help="use only the store (no network sources)")
    _common(f, "all")
    f.set_defaults(func=run_forecast)

    r = sub.add_parser(
        "replay",
        help="drive the forecast hour by hour over recorded data as if "
        "live (archive, alert log, JSON feed)",
    )
    r.add_argument("start", type=utc_time, help="first issue time (UTC)")
    r.add_argument("end", type=utc_time, help="end of the replay (exclusive, UTC)")
    _common(r, "none")
    r.set_defaults(func=run_replay, baselines_default="none")

    s = sub.add_parser(
        "serve",
        help="register the scheduled deployments (forecast hourly at :05, "
        "verify daily, retrain weekly) and serve them",
    )
    s.add_argument("--limit", type=int, default=None, help="at most this many concurrent runs")
    s.set_defaults(func=run_serve)


def _baselines(args: argparse.Namespace) -> tuple[str, ...]:
    from forecasting.models.base import BASELINE_NAMES as BASELINES

    value = args.baselines or getattr(args, "baselines_default", None)
    if value is None:
        return BASELINES
    if value == "none":
        return ()
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
    return names


def _recorded(path: str | None) -> str | None:
    """Return a netCDF path for ``--recorded`` (an OMNI2 ``.dat`` file is converted once)."""
    if path is None:
        return None
    src = Path(path)
    if not src.exists():
        raise FileNotFoundError(f"--recorded {src} does not exist")
    if src.suffix == ".nc":
        return str(src)
    from data_sources import config
    from data_sources.omni2 import parse_omni2

    out = config.home() / "runs" / "recorded" / f"{src.stem}.nc"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with NETCDF_LOCK:
            parse_omni2(src).to_netcdf(tmp)
        tmp.replace(out)
    return str(out)


def separate_alert_log(label: str) -> Path:
    """Point this process's alert log at ``$SUPERSTORM_HOME/replays/<label>/alerts.sqlite``.

    The operational alert log only moves forward (an ALERT, its escalation and its ALL CLEAR
    are one story told in issue-time order), so replays and forecasts for a past issue time
    tell theirs in a log of their own, beside the operational one, never in it. Sets
    ``SUPERSTORM_ALERT_LOG`` in ``os.environ``; the file is created by the first run.

    Parameters
    ----------
    label : str
        Folder name of the separate log, e.g. ``20240510T2000`` (a backfill's issue time) or
        ``20240510T0000-20240512T0000`` (a replay's window).

    Returns
    -------
    pathlib.Path
        The separate alert log's path.
    """
    from data_sources import config

    path = config.home() / "replays" / label / "alerts.sqlite"
    os.environ["SUPERSTORM_ALERT_LOG"] = str(path)
    return path


def _is_backfill(t: pd.Timestamp) -> bool:
    """Tell whether ``t`` is older than the newest run in the operational alert log."""
    from forecasting.alerting.log import AlertLog, default_path

    if os.environ.get("SUPERSTORM_ALERT_LOG") or not default_path().exists():
        return False
    last = AlertLog().last_run()
    return last is not None and t < last


def run_forecast(args: argparse.Namespace) -> int:
    """Issue one forecast (``superstorm forecast``) and print its summary.

    Runs inputs, models (the promoted TFT plus the baselines), archive, alerts, delivery and
    dashboards for the whole UTC hour of ``--issue-time``, directly
    (:func:`flows.forecast.run_forecast`, prints the run's summary) or as the Prefect flow
    (:func:`flows.forecast.forecast_flow`, prints its result as JSON). An issue time before
    the operational alert log's newest run is a backfill: its alerts go to a separate log
    (:func:`separate_alert_log`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``issue_time`` (pandas.Timestamp or None): naive UTC issue time, floored to the
          hour (default: the current hour);
        - ``offline`` (bool): inputs from the store only (no network sources);
        - ``recorded`` (str or None): an OMNI2 ``omni2_YYYY.dat`` file or a netCDF hourly
          dataset used instead of the store (implies offline);
        - ``baselines`` (str or None): comma-separated baseline names or ``none``
          (default: every baseline of :data:`forecasting.models.base.BASELINE_NAMES`);
        - ``prefect`` (bool): run through the Prefect flow;
        - ``no_deliver`` (bool): do not send alert messages;
        - ``no_dashboards`` (bool): do not rebuild the site.

    Returns
    -------
    int
        Exit status 0. An unknown baseline or an issue time ahead of the clock raises
        ``ValueError`` (exit status 2 from :func:`superstorm_cli.main.main`).
    """
    from flows import forecast as ff

    recorded = _recorded(args.recorded)
    live = not (args.offline or recorded)
    baselines = _baselines(args)
    deliver, dashboards = not args.no_deliver, not args.no_dashboards
    t = ff.issue_hour(args.issue_time)
    if _is_backfill(t):
        path = separate_alert_log(f"{t:%Y%m%dT%H%M}")
        print(
            f"issue time {t:%Y-%m-%d %H:%M} is before the alert log's newest run: a backfill. "
            f"Forecasts are archived as usual; its alerts go to {path} (the operational log "
            "only moves forward)"
        )
    if args.prefect:
        res = ff.forecast_flow(
            issue_time=t.isoformat(),
            live=live,
            recorded=recorded,
            baselines=list(baselines),
            deliver=deliver,
            dashboards=dashboards,
        )
        print(json.dumps(res, indent=1, default=str))
    else:
        res = ff.run_forecast(
            t,
            live=live,
            recorded=recorded,
            baselines=baselines,
            deliver=deliver,
            dashboards=dashboards,
        )
        print(res["summary"])
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Drive the forecast hour by hour over recorded data as if live (``superstorm replay``).

    Every whole hour of ``[start, end)`` is one run (:func:`flows.forecast.replay`): archive,
    alert log and JSON feed are updated as in operations, the site is rebuilt once at the
    end. Unless ``SUPERSTORM_ALERT_LOG`` is set, alerts go to a separate log
    (:func:`separate_alert_log`). Without ``--prefect`` each alert message is printed as
    ``<issue time>  #<serial> <text>``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``start``, ``end`` (pandas.Timestamp): naive UTC issue-time window, ``end``
          exclusive;
        - ``recorded`` (str or None): an OMNI2 ``.dat`` file or a netCDF hourly dataset used
          instead of the store;
        - ``baselines`` (str or None): comma-separated baseline names (default ``none``,
          from ``baselines_default``);
        - ``prefect`` (bool): run the Prefect flow each hour (slower; same results);
        - ``no_deliver`` (bool): do not send alert messages;
        - ``no_dashboards`` (bool): do not rebuild the site.

    Returns
    -------
    int
        Exit status 0. A window without a whole hour raises ``ValueError`` (exit status 2
        from :func:`superstorm_cli.main.main`).
    """
    from flows import forecast as ff

    if not os.environ.get("SUPERSTORM_ALERT_LOG"):
        path = separate_alert_log(f"{args.start:%Y%m%dT%H%M}-{args.end:%Y%m%dT%H%M}")
        print(f"replay alerts go to {path} (the operational alert log is left as it is)")

    def show(t: pd.Timestamp, res: dict) -> None:
        msgs = res["alerts"]["messages"] if "alerts" in res else []
        for m in msgs:
            if m["action"] != "expire":
                print(f"{t:%Y-%m-%d %H:%M}  #{m['serial']:<4d} {m['text']}")

    runs = ff.replay(
        args.start,
        args.end,
        recorded=_recorded(args.recorded),
        baselines=_baselines(args),
        use_prefect=args.prefect,
        deliver=not args.no_deliver,
        dashboards=not args.no_dashboards,
        on_hour=None if args.prefect else show,
    )
    print(f"replayed {len(runs)} hourly issue times")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Register the scheduled Prefect deployments and serve them (``superstorm serve``).

    Forecast hourly at :05, verify daily, retrain weekly (:func:`flows.deploy.serve_all`);
    blocks until stopped.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``limit`` (int or None): at most this many concurrent flow runs (None: Prefect's
          default).

    Returns
    -------
    int
        Exit status 0 once the server stops.
    """
    from flows.deploy import serve_all

    serve_all(limit=args.limit)
    return 0
