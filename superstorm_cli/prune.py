"""``superstorm prune``: delete old inputs, archived forecasts, Prefect runs and orphan temp files."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``prune`` sub-command (``func=run``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser(
        "prune",
        help="apply the retention policy ([retention] in config.toml): old inputs, archive, "
        "Prefect run history, quarantined store files, orphan temporary files",
    )
    p.add_argument("--inputs-days", type=float, default=None, help="keep per-run inputs this long")
    p.add_argument(
        "--archive-days", type=float, default=None, help="keep archived forecasts this long"
    )
    p.add_argument(
        "--prefect-days", type=float, default=None, help="keep finished Prefect runs this long"
    )
    p.add_argument(
        "--temp-hours",
        type=float,
        default=None,
        help="remove orphan temporary files older than this (default 1)",
    )
    p.add_argument("--no-prefect", action="store_true", help="leave Prefect's run history alone")
    p.add_argument("--dry-run", action="store_true", help="list what would go; delete nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Apply the retention policy (``superstorm prune``) and print what went.

    The policy is :meth:`forecasting.retention.RetentionPolicy.from_config`: defaults, then
    ``[retention]`` of ``config.toml``, then the options given here.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``inputs_days`` (float or None): keep per-run input snapshots this many days;
        - ``archive_days`` (float or None): keep archived forecasts this many days;
        - ``prefect_days`` (float or None): keep finished Prefect flow runs this many days;
        - ``temp_hours`` (float or None): remove orphan temporary files (``.part``, ``.tmp``)
          older than this many hours (default 1);
        - ``no_prefect`` (bool): leave Prefect's run history alone;
        - ``dry_run`` (bool): list what would be removed, delete nothing;
        - ``json`` (bool): print :meth:`forecasting.retention.PruneReport.as_dict` as JSON
          instead of the one-line-per-kind summary.

        None in one of the four durations keeps the configured (or default) value.

    Returns
    -------
    int
        Exit status: 0, or 1 when a file could not be removed (the report's ``errors``).
    """
    from forecasting.retention import RetentionPolicy, prune

    policy = RetentionPolicy.from_config(
        inputs_days=args.inputs_days,
        archive_days=args.archive_days,
        prefect_days=args.prefect_days,
        temp_hours=args.temp_hours,
    )
    report = prune(policy, dry_run=args.dry_run, prefect=not args.no_prefect)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.summary())
    return 1 if report.errors else 0
