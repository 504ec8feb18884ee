"""``superstorm backtest``: replay a model over a past window in blocks (Prefect flow)."""

from __future__ import annotations

import argparse

from superstorm_cli.common import progress_bar, utc_time


class _ModelName(argparse.Action):
    """``--model NAME``; its help lists :data:`forecasting.models.base.MODEL_NAMES`, imported
    only when the help is shown (``superstorm --help`` stays fast)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values)

    @property
    def help(self) -> str:
        from forecasting.models.base import MODEL_NAMES

        return f"model to replay: {', '.join(MODEL_NAMES)} (tft = the registry's model)"

    @help.setter
    def help(self, value: str | None) -> None:
        """argparse sets ``help`` in ``__init__``; the names come from the registry instead."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backtest",
        help="forecast every issue time of a past window from the data available then",
        description=(
            "Backtest a model (tft = the registry's model, or a baseline) over [start, end): "
            "one forecast per issue time, blocks run on threads or Dask, one netCDF per block "
            "(a re-run skips blocks already written), combined at the end. Baselines are "
            "fitted on the data before --start (or at every --refit origin)."
        ),
    )
    p.add_argument("--model", required=True, action=_ModelName)
    p.add_argument("--version", default="latest", help="registry version for --model tft")
    p.add_argument(
        "--start", type=utc_time, required=True, help="first issue time (UTC), e.g. 2000-01-01"
    )
    p.add_argument(
        "--end", type=utc_time, required=True, help="end of the window (exclusive), e.g. 2001-01-01"
    )
    p.add_argument("--every", default="1h", help="spacing of issue times (default 1h)")
    p.add_argument("--lead-hours", type=int, default=24, help="leads 1..N h (default 24)")
    p.add_argument(
        "--refit", default=None, help="rolling-origin refit frequency, e.g. 6MS (baselines)"
    )
    p.add_argument(
        "--as-of",
        default="ideal",
        choices=["ideal", "realtime", "archive", "l1"],
        help="publication latencies of the inputs (forecasting.latency): ideal (none), "
        "realtime, archive, or l1 (realtime, with the solar wind known by the L1 rule: "
        "the lead an L1 monitor gives before the bow shock)",
    )
    p.add_argument("--block", default="30D", help="issue-time span per block (default 30D)")
    p.add_argument(
        "--dask",
        default=None,
        help="'local' for a local Dask cluster or a scheduler address tcp://host:8786 "
        "(default: threads)",
    )
    p.add_argument("--workers", type=int, default=1, help="local Dask workers (default 1)")
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default $SUPERSTORM_HOME/backtests/<model>_<start>_<end>)",
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="first ingest this recorded folder into the store through a loopback mirror "
        "(default: use the store as `superstorm ingest` left it)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from data_sources import config
    from flows.backtest import make_blocks, run_backtest
    from forecasting import latency
    from forecasting.evaluation import backtest as bt

    start, end = pd.Timestamp(args.start), pd.Timestamp(args.end)
    bt.issue_times(start, end, args.every)  # validates the window before loading anything
    model = bt.load_model(args.model, version=args.version)
    refit = args.refit
    if bt.needs_fit(model) and refit is None:
        refit = [start]  # fit once on everything before the window
    if refit is not None and args.model == "tft":
        raise ValueError("--refit is for the baselines; retrain the TFT with `superstorm train`")
    dataset = bt.load_data(
        start, end, history="366D", lead=f"{args.lead_hours}h", data_dir=args.data
    )
    if args.as_of == "l1":
        # the whole window in the L1 view at once, so a block's first issue times keep the
        # lead hour that the solar wind measured at L1 before the block's start gives
        dataset = latency.l1_view(dataset)
    out = (
        Path(args.out)
        if args.out
        else (config.home() / "backtests" / f"{args.model}_{start:%Y%m%dT%H%M}_{end:%Y%m%dT%H%M}")
    )
    blocks = make_blocks(start, end, every=args.every, block=args.block, refit=refit)
    with progress_bar(len(blocks), "backtest", "block") as step:
        res = run_backtest(
            model,
            dataset,
            start=start,
            end=end,
            out_dir=out,
            dask=args.dask,
            workers=args.workers,
            every=args.every,
            lead_hours=args.lead_hours,
            refit=_refit_arg(refit),
            as_of=args.as_of if args.as_of != "ideal" else False,
            block=args.block,
            progress=step,
        )
    print(f"{res['path']}  ({res['blocks']} blocks, {res['computed']} computed)")
    return 0


def _refit_arg(refit):
    """The flow takes a frequency string or explicit origins as strings."""
    if refit is None or isinstance(refit, str):
        return refit
    return [str(t) for t in refit]
