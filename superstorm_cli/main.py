"""``superstorm`` command line: one sub-command module per job.

Each module in :data:`COMMANDS` has ``register(subparsers)`` that adds its parser(s) and sets
``func`` on them; heavy imports stay inside the handlers so ``superstorm --help`` is fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from superstorm_cli import alerts, backtest, dashboard, demo, forecast, ingest, mirror, train

COMMANDS = (ingest, mirror, train, forecast, alerts, dashboard, backtest, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superstorm", description="Space-weather forecasting: Dst and Kp, alerts, dashboards."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"superstorm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
