"""``superstorm train`` and ``superstorm evaluate``: fit the TFT, score it beside the baselines."""

from __future__ import annotations

import argparse


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
        help="afterwards score it on the test years (writes reports/skill.md, .nc)",
    )
    p.add_argument("--reports", default="reports", help="folder for the skill report")
    p.set_defaults(func=run_train)

    e = sub.add_parser("evaluate", help="score a trained TFT and the baselines on the test years")
    e.add_argument("--version", default="latest", help="registry version (latest, current, name)")
    e.add_argument("--data", default=None, help="recorded data folder (default ../shared/data)")
    e.add_argument("--reports", default="reports", help="folder for skill.md and skill.nc")
    e.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    from forecasting.models.train import evaluate_version, train

    if args.horizon < 1:
        raise ValueError(f"--horizon {args.horizon}: give a positive number of hours (24 or 72)")
    overrides = {"horizon": args.horizon} if args.horizon != 24 else None
    version = train(args.preset, data=args.data, promote=args.promote, overrides=overrides)
    print(f"trained TFT version {version}")
    if args.evaluate:
        evaluate_version(version, data=args.data, out_dir=args.reports)
        print(f"wrote {args.reports}/skill.md and {args.reports}/skill.nc")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from forecasting.models.train import evaluate_version

    evaluate_version(args.version, data=args.data, out_dir=args.reports)
    print(f"wrote {args.reports}/skill.md and {args.reports}/skill.nc")
    return 0
