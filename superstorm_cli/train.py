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
    """Add the ``train`` (``func=run_train``) and ``evaluate`` (``func=run_evaluate``) sub-commands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser("train", help="train the Temporal Fusion Transformer (Dst, Kp quantiles)")
    p.add_argument(
        "--preset",
        choices=("quick", "full"),
        default="quick",
        help="quick: < 2 min demo model; full: the real model (< 1 h on 2 cores)",
    )
    _add_data(p)
    p.add_argument("--train-years", metavar="YEARS", help="e.g. 1998-2010 (whole years)")
    p.add_argument("--val-years", metavar="YEARS", help="e.g. 2011-2014")
    p.add_argument("--test-years", metavar="YEARS", help="e.g. 2015- (open-ended) or 2007")
    p.add_argument("--promote", action="store_true", help="make the new version `current`")
    p.add_argument(
        "--horizon",
        type=int,
        default=24,
        help="forecast lead times 1..HORIZON hours (24; 72 for the 3-day variant)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for training (default: the preset's; 1 on a shared machine)",
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
    p.add_argument(
        "--blend",
        action="store_true",
        help="afterwards fit and store its TFT + baseline blend on the validation years "
        "(as `superstorm blend`), before --evaluate scores it",
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
        "--part",
        choices=("test", "validate"),
        default="test",
        help="score the test years (default) or the model's validation years; a validation "
        "report (in $SUPERSTORM_HOME/reports/validation) is what the forecast flow's primary "
        "model per target is chosen on",
    )
    e.add_argument(
        "--reports",
        default=None,
        help="folder for skill.md and skill.nc (default $SUPERSTORM_HOME/reports, "
        "reports/validation with --part validate)",
    )
    e.set_defaults(func=run_evaluate)


def _reports(args: argparse.Namespace) -> Path:
    from data_sources import config

    return Path(args.reports) if args.reports else config.reports_dir()


def ingest_folder(data: str | None) -> None:
    """Ingest the recorded folder ``data`` (if given) into the store; print failures.

    Parameters
    ----------
    data : str or None
        Recorded upstream folder, ingested through a loopback mirror
        (:func:`data_sources.ingest.ingest_recorded`); None or ``""`` does nothing.
    """
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
    """Train a TFT (``superstorm train``), register it, optionally score it.

    The split is :func:`forecasting.splits.configured_split` (the preset's or ``config.toml``'s
    whole-year split, with the ``--*-years`` options replacing its parts); the new registry
    version is printed. With ``--evaluate`` the skill report (``skill.md``, ``skill.nc``) of
    :func:`forecasting.models.train.evaluate_version` is written on the test years.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``preset`` (str): ``quick`` (a < 2 min demo model) or ``full``;
        - ``data`` (str or None): a recorded folder ingested into the store first;
        - ``train_years``, ``val_years``, ``test_years`` (str or None): whole-year ranges such
          as ``1998-2012``, ``2015-`` (open-ended) or ``2007``;
        - ``promote`` (bool): make the new version the registry's ``current``;
        - ``horizon`` (int): forecast leads 1..HORIZON h (default 24; 72 for the 3-day
          outlook);
        - ``threads`` (int or None): torch CPU threads for training (default the preset's);
        - ``progress`` (bool or None): per-epoch progress lines on stderr (None: when stderr
          is a terminal);
        - ``devices`` (int): CPU processes training together (Lightning DDP on gloo);
        - ``blend`` (bool): fit and store the new version's blend
          (:func:`forecasting.models.stored_blend.fit_blend`) and print its weights;
        - ``evaluate`` (bool): score the new version afterwards (and its blend);
        - ``reports`` (str or None): folder of the skill report (default
          ``$SUPERSTORM_HOME/reports``).

    Returns
    -------
    int
        Exit status 0. ``--horizon`` below 1 or a bad year range raises ``ValueError``
        (exit status 2 from :func:`superstorm_cli.main.main`) before anything is ingested.
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
    if args.threads is not None and args.threads < 1:
        raise ValueError(
            f"--threads {args.threads}: give a positive number of CPU threads (e.g. 1)"
        )
    overrides: dict[str, int] = {}
    if args.horizon != 24:
        overrides["horizon"] = args.horizon
    if args.threads is not None:
        overrides["threads"] = args.threads
    version = train(
        args.preset,
        split=split,
        promote=args.promote,
        overrides=overrides or None,
        progress=show_progress(args.progress),
        devices=args.devices,
    )
    print(f"trained TFT version {version}")
    if args.blend:
        from forecasting.models.stored_blend import fit_blend
        from superstorm_cli.blend import SHOW_LEADS

        print(fit_blend(version).summary(SHOW_LEADS))
    if args.evaluate:
        reports = _reports(args)
        evaluate_version(version, split=split, out_dir=reports)
        print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Score a registered TFT beside the baselines (``superstorm evaluate``).

    Writes ``skill.md`` and ``skill.nc`` (:func:`forecasting.models.train.evaluate_version`)
    and prints their paths.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``version`` (str): registry version, ``latest``, ``current`` or a version name;
        - ``data`` (str or None): a recorded folder ingested into the store first;
        - ``test_years`` (str or None): score on these whole years (e.g. ``2015-``) instead
          of the model's own test years;
        - ``part`` (str): ``test`` (default) or ``validate`` (the validation years, written
          under ``reports/validation/``: the evidence the forecast flow picks its primary
          model by);
        - ``reports`` (str or None): output folder (default ``$SUPERSTORM_HOME/reports``).

    Returns
    -------
    int
        Exit status 0.
    """
    import dataclasses

    from forecasting.models import registry
    from forecasting.models.promotion import VALIDATION_REPORT
    from forecasting.models.train import evaluate_version, split_of
    from forecasting.splits import YearSplit, parse_years

    split: YearSplit | None = None
    if args.test_years:
        base = split_of(registry.load(args.version))
        split = dataclasses.replace(base, test=parse_years(args.test_years, "--test-years"))
    if args.part == "validate" and args.test_years:
        raise ValueError("--test-years with --part validate: the validation years are the model's")
    ingest_folder(args.data)
    reports = _reports(args)
    if args.part == "validate" and not args.reports:
        reports = reports / Path(VALIDATION_REPORT).parent
    evaluate_version(args.version, split=split, out_dir=reports, part=args.part)
    print(f"wrote {reports / 'skill.md'} and {reports / 'skill.nc'} ({args.part} years)")
    return 0
