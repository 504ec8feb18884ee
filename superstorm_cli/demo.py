"""``superstorm demo``: the main job end to end on recorded (or live) data.

Ingest -> dataset summary -> train (quick) -> skill report -> one forecast run at a replayed
issue time -> alerts -> dashboards; prints where to look.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from superstorm_cli.common import utc_time

if TYPE_CHECKING:
    from data_sources.mirror.server import MirrorServer

#: The replayed issue time: the main phase of the May 2024 (Gannon) superstorm, whose
#: sudden commencement came at about 17 UT on 10 May.
DEFAULT_ISSUE_TIME = "2024-05-10 20:00"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command (``func=run``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser("demo", help="ingest, train (quick), forecast, alert, build dashboards")
    p.add_argument("--data", default=None, help="recorded data folder (default: $SUPERSTORM_DATA)")
    p.add_argument(
        "--servers",
        choices=("auto", "mirror", "upstream"),
        default="auto",
        help="auto: the real servers when reachable, else a loopback mirror of --data",
    )
    p.add_argument(
        "--issue-time", type=utc_time, default=DEFAULT_ISSUE_TIME, help="forecast issue time (UTC)"
    )
    p.set_defaults(func=run)


def _upstream_reachable(timeout: float = 3.0) -> bool:
    from data_sources.config import UPSTREAM

    host = urlsplit(UPSTREAM["omni2"]).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float) -> None:
    print(f"    ({time.perf_counter() - t0:.1f} s)", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the demo (``superstorm demo``): ingest, dataset summary, train, forecast, alerts.

    Six steps, each printed with its wall time: ingest the record into the store, summarise
    the hourly dataset (1998 to two days after the issue day), train and promote a quick TFT,
    fit its blend and write the skill reports, one forecast run at ``--issue-time`` (archive, alerts,
    dashboards), the alert log, and where every output lies (:func:`where_to_look`). A
    loopback mirror of the recorded folder, when used, stands in for the upstream servers
    (``SUPERSTORM_MIRROR`` is set for this process) and is stopped at the end.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``data`` (str or None): recorded data folder (default ``$SUPERSTORM_DATA``);
        - ``servers`` (str): ``mirror`` (always a loopback mirror of ``data``), ``upstream``
          (never one) or ``auto`` (a mirror only when ``SUPERSTORM_MIRROR`` is unset and the
          upstream servers cannot be reached within 3 s);
        - ``issue_time`` (pandas.Timestamp): naive UTC issue time of the forecast run
          (default :data:`DEFAULT_ISSUE_TIME`, the May 2024 storm's main phase).

    Returns
    -------
    int
        Exit status 0; a failing step raises (exit status from :func:`superstorm_cli.main.main`).
    """
    from data_sources.mirror.server import default_data_dir, serve_recorded

    data_dir = Path(args.data) if args.data else default_data_dir()
    use_mirror = args.servers == "mirror" or (
        args.servers == "auto"
        and not os.environ.get("SUPERSTORM_MIRROR")
        and not _upstream_reachable()
    )
    server = None
    if use_mirror:
        server = serve_recorded(data_dir)
        os.environ["SUPERSTORM_MIRROR"] = server.url
        print(f"offline: serving the recorded upstream files of {data_dir} at {server.url}")
    try:
        return _run_steps(args, data_dir, server)
    finally:
        if server is not None:
            server.stop()


def _print_ingest(summary: dict[str, dict]) -> None:
    for name, row in summary.items():
        if row.get("error"):
            print(f"  {name:<24} FAILED: {row['error']}")
            continue
        years = row.get("years") or []
        span = f"{min(years)}-{max(years)}" if years else "-"
        print(
            f"  {name:<24} {row.get('files', 0):>4} files  {span:<10} {row.get('times', 0):>8} times"
        )


def _run_steps(args: argparse.Namespace, data_dir: Path, server: MirrorServer | None = None) -> int:
    import pandas as pd

    from data_sources import config, dataset, ingest
    from forecasting.storms import find_storms

    home = config.home()
    t0 = _step(f"1/6 ingest the record into {home / 'store'}")
    summary = ingest.ingest_recorded(data_dir, mirror=server)
    _print_ingest(summary)
    _done(t0)

    issue = pd.Timestamp(args.issue_time)
    t0 = _step("2/6 hourly dataset built from the store")
    ds = dataset.build_dataset("1998-01-01", issue.ceil("D") + pd.Timedelta("2D"))
    print(dataset.format_summary(dataset.summarize(ds, storms=find_storms(ds["dst"]))))
    _done(t0)

    t0 = _step(
        "3/6 train the TFT (quick preset) from the store, fit its blend, score both beside "
        "the baselines"
    )
    from forecasting.models import registry, train
    from forecasting.models.promotion import VALIDATION_REPORT

    version = train.train(preset="quick", promote=True)
    print(f"  registered and promoted tft/{version} in {registry.root()}")
    from forecasting.models import stored_blend

    blend = stored_blend.fit_blend(version)
    print(f"  blend (TFT + O'Brien-McPherron / persistence) stored: {blend.path}")
    reports = config.reports_dir()
    train.evaluate_version(version, out_dir=reports)
    print(f"  skill report: {reports.resolve() / 'skill.md'}")
    # the validation-year report: the evidence the forecast picks its primary model per target by
    validation = reports / Path(VALIDATION_REPORT).parent
    train.evaluate_version(version, out_dir=validation, part="validate")
    print(f"  validation report: {validation.resolve() / 'skill.md'}")
    _done(t0)

    t0 = _step(f"4/6 forecast run at {issue} UTC (archive, alerts, dashboards)")
    from flows.forecast import forecast_flow

    result = forecast_flow(issue_time=issue.isoformat(), live=False)
    for m in result["models"]:
        print(f"  {m['model']:<18} {m.get('version', ''):<24} {m.get('note', '')}")
    _done(t0)

    print("\n=== 5/6 alert log")
    from forecasting.alerting.log import AlertLog

    messages = AlertLog().messages()
    for row in messages:
        p = row.get("probability")
        print(
            f"  #{row['serial']:>3} {row['action']:<9} {row['kind']:<12} {row['level']:<7} "
            f"{'' if p is None else f'p={p:.2f} '}{row['valid_start']} -> "
            f"{row['valid_end'] or 'open'} [{row['status']}]"
        )
    if not messages:
        print("  no alert conditions at this issue time")

    print("\n=== 6/6 where to look")
    for line in where_to_look(home, reports, result.get("products")):
        print(line)
    return 0


def where_to_look(home: Path, reports: Path, products: dict | None = None) -> list[str]:
    """List the demo's closing lines: every folder and file the run left, one per line.

    Parameters
    ----------
    home : pathlib.Path
        ``$SUPERSTORM_HOME``.
    reports : pathlib.Path
        The skill-report folder (``$SUPERSTORM_HOME/reports``).
    products : dict, optional
        The forecast run's ``products`` entry (``{"dir", "files"}`` or ``{"dir", "error"}``);
        default: the folder ``$SUPERSTORM_HOME/products``.

    Returns
    -------
    list of str
        Lines to print.
    """
    site = home / "site"
    products = products or {}
    product_dir = Path(products.get("dir") or home / "products")
    names = ", ".join(sorted(Path(p).name for p in (products.get("files") or {}).values()))
    note = f"  ({names})" if names else ""
    if products.get("error"):
        note = f"  (not written: {products['error']})"
    return [
        f"  dashboards   : {site / 'index.html'}  (superstorm dashboard serve --dir {site})",
        f"  products     : {product_dir}{note}",
        f"  forecasts    : {home / 'archive'}",
        f"  alerts       : {home / 'alerts' / 'active.json'}  (superstorm alerts list --json)",
        f"  reports      : {reports.resolve()}  (skill.md, skill.nc)",
        f"  store        : {home / 'store'}",
    ]
