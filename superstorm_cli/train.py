"""``superstorm train`` and ``superstorm evaluate``: fit the TFT, score it beside the baselines.

Both read the store (``superstorm ingest`` fills it). ``--data DIR`` first ingests a recorded
folder through the loopback mirror into the store; ``--train-years`` / ``--val-years`` /
``--test-years`` replace the preset's (or ``config.toml``'s) whole-year split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="first ingest this recorded folder into the store through a loopback mirror "
        "(default: use the store as `superstorm ingest` left it)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate`` sub-commands."""
    p = sub.add_parser("train", help="train the Temporal Fusion Transformer (Dst, Kp quantiles)")
    p.add_argument(
        "--preset",
        choices=("quick", "full"),
        default="quick",
        help="quick: < 2 min demo model; full: the real model (< 1 h on 2 cores)",
    )
    _add_data(p)
    p.add_argument("--train-years", metavar="YEARS", help="e.g. 1998-2012 (whole years)")
    p.add_argument("--val-years", metavar="YEARS", help="e.g. 2013-2014")
    p.add_argument("--test-years", metavar="YEARS", help="e.g. 2015- (open-ended) or 2007")
    p.add_argument("--promote", action="store_true", help="make the new version `current`")
    p.add_argument(
        "--horizon",
        type=int,
        default=24,
        help="forecast lead times 1..HORIZON hours (24; 72 for the 3-day variant)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one line per epoch on stderr: epoch, loss, samples/s, time left "
        "(default: on when stderr is a terminal)",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="train in N CPU processes together (Lightning DDP on gloo; default 1)",
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
    _add_data(e)
    e.add_argument(
        "--test-years",
        metavar="YEARS",
        help="score on these years (default: the model's own test years)",
    )
    e.add_argument(
        "--reports",
        default=None,
        help="folder for skill.md and skill.nc (default $SUPERSTORM_HOME/reports)",
    )
    e.set_defaults(func=run_evaluate)


def _reports(args: argparse.Namespace) -> Path:
    from data_sources import config

    return Path(args.reports) if args.reports else config.reports_dir()


def ingest_folder(data: str | None) -> None:
    """Ingest the recorded folder ``data`` (if given) into the store; print failures."""
    if not data:
        return
    from data_sources.ingest import ingest_recorded

    summary = ingest_recorded(data)
    failed = {k: v["error"] for k, v in summary.items() if v.get("error")}
    for name, error in failed.items():
        print(f"ingest {name}: FAILED: {error}")
    print(f"ingested {data} into the store ({len(summary) - len(failed)} sources)")


def show_progress(asked: bool | None) -> bool:
    """Whether ``superstorm train`` prints its per-epoch progress lines.

    Parameters
    ----------
    asked
        ``--progress`` (True), ``--no-progress`` (False) or neither (None).

    Returns
    -------
    bool
        ``asked`` when given, else whether stderr is a terminal (an interactive run).
    """
    if asked is not None:
        return bool(asked)
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def run_train(args: argparse.Namespace) -> int:
    """Run ``superstorm train``: ingest ``--data`` if given, train, register, evaluate.

    Parameters
    ----------
    args
        The parsed ``train`` options.

    Returns
    -------
    int
        0 on success (errors raise and the CLI turns them into exit status 2).
    """
    from forecasting.models.train import evaluate_version, train
    from forecasting.splits import configured_split

    if args.horizon < 1:
        raise ValueError(f"--horizon {args.horizon}: give a positive number of hours (24 or 72)")
    if args.devices < 1:
        raise ValueError(f"--devices {args.devices}: give 1 or more CPU processes")
    split = configured_split(
        args.preset, train=args.train_years, validate=args.val_years, test=args.test_years
    )
    ingest_folder(args.data)
    overrides = {"horizon": args.horizon} if args.horizon != 24 else None
    version = train(
        args.preset,
        split=split,
        promote=args.promote,
        overrides=overrides,
        progress=show_progress(args.progress),
        devices=args.devices,
    )
    print(f"trained TFT version {version}")
    if args.evaluate:
        reports = _reports(args)
        evaluate_version(version, split=split, out_dir=reports)
        print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from forecasting.models import registry
    from forecasting.models.train import evaluate_version, split_of
    from forecasting.splits import YearSplit, parse_years

    split: YearSplit | None = None
    if args.test_years:
        base = split_of(registry.load(args.version))
        split = dataclasses.replace(base, test=parse_years(args.test_years, "--test-years"))
    ingest_folder(args.data)
    reports = _reports(args)
    evaluate_version(args.version, split=split, out_dir=reports)
    print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'}")
    return 0
