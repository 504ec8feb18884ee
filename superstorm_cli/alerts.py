"""``superstorm alerts list``: the alert log (serial, kind, level, probability, window, status)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``alerts`` command group."""
    p = sub.add_parser("alerts", help="alert log: watches, warnings, alerts, all-clears")
    g = p.add_subparsers(dest="alerts_command", required=True)
    ls = g.add_parser("list", help="list alerts (active ones unless --all)")
    ls.add_argument("--json", action="store_true", help="JSON records instead of a table")
    ls.add_argument(
        "--all",
        action="store_true",
        help="every message (extensions, cancellations, all-clears, ended alerts)",
    )
    ls.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    from forecasting.alerting.log import AlertLog, default_path, feed_record

    if not default_path().exists():
        records = []
    else:
        log = AlertLog()
        msgs = log.messages() if args.all else log.messages(status="active")
        records = [feed_record(m) for m in msgs]
    if args.json:
        print(json.dumps(records, indent=1))
        return 0
    if not records:
        print("no alerts" if args.all else "no active alerts")
        return 0
    print(
        f"{'serial':>6}  {'kind':<11} {'level':<7} {'prob':>5}  {'issued':<20} "
        f"{'valid from':<20} {'valid to':<20} status"
    )
    for r in records:
        p = "" if r["probability"] is None else f"{r['probability']:.2f}"
        print(
            f"{r['serial']:>6}  {r['kind']:<11} {r['level']:<7} {p:>5}  {r['issued']:<20} "
            f"{r['valid_start']:<20} {(r['valid_end'] or 'open'):<20} {r['status']}"
            + ("" if r["action"] in ("issue", "escalate") else f" ({r['action']})")
        )
    return 0
