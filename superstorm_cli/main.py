"""``superstorm`` command line: one sub-command module per job.

Each module in :data:`COMMANDS` has ``register(subparsers)`` that adds its parser(s) and sets
``func`` on them; heavy imports stay inside the handlers so ``superstorm --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

COMMANDS = (
    "superstorm_cli.ingest",
    "superstorm_cli.mirror",
    "superstorm_cli.train",
    "superstorm_cli.forecast",
    "superstorm_cli.alerts",
    "superstorm_cli.dashboard",
    "superstorm_cli.backtest",
    "superstorm_cli.demo",
    "superstorm_cli.prune",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superstorm", description="Space-weather forecasting: Dst and Kp, alerts, dashboards."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
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
