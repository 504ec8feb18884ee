"""``superstorm train`` and ``superstorm evaluate``: fit the TFT, score it beside the baselines."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate`` sub-commands."""
    p = sub.add_parser("train", help="train the Temporal Fusion Transformer (Dst, Kp quantiles)")
    p.add_argument(
        "--preset",
        choices=("quick", "full"),
        default="quick",
        help="quick: < 2 min demo model; full: the real model (< 1 h on 2 cores)",
    )
    p.add_argument("--data", default=None, help="recorded data folder (default ../shared/data)")
    p.add_argument("--promote", action="store_true", help="make the new version `current`")
    p.add_argument(
        "--horizon",
        type=int,
        default=24,
        help="forecast lead times 1..HORIZON hours (24; 72 for the 3-day variant)",
    )
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="afterwards score it on the test years (writes $SUPERSTORM_HOME/reports/skill.md, .nc)",
    )
    p.add_argument(
        "--reports",
        default=None,
        help="folder for the skill report (default $SUPERSTORM_HOME/reports)",
    )
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="score a trained TFT and the baselines on the test years")
    e.add_argument("--version", default="latest", help="registry version (latest, current, name)")
    e.add_argument("--data", default=None, help="recorded data folder (default ../shared/data)")
    e.add_argument(
        "--reports",
        default=None,
        help="folder for skill.md and skill.nc (default $SUPERSTORM_HOME/reports)",
    )
    e.set_defaults(func=run_evaluate)


def _reports(args: argparse.Namespace):
    from data_sources import config

    return Path(args.reports) if args.reports else config.reports_dir()


def run_train(args: argparse.Namespace) -> int:
    from forecasting.models.train import evaluate_version, train

    if args.horizon < 1:
        raise ValueError(f"--horizon {args.horizon}: give a positive number of hours (24 or 72)")
    overrides = {"horizon": args.horizon} if args.horizon != 24 else None
    version = train(args.preset, data=args.data, promote=args.promote, overrides=overrides)
    print(f"trained TFT version {version}")
    if args.evaluate:
        reports = _reports(args)
        evaluate_version(version, data=args.data, out_dir=reports)
        print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from forecasting.models.train import evaluate_version

    reports = _reports(args)
    evaluate_version(args.version, data=args.data, out_dir=reports)
    print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'}")
    return 0
