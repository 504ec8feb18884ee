"""``superstorm backtest``: replay a model over a past window in blocks (Prefect flow)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from superstorm_cli.common import progress_bar, utc_time

if TYPE_CHECKING:
    import pandas as pd


class _ModelName(argparse.Action):
    """Action of ``--model NAME``; its help lists the model names when shown.

    :data:`forecasting.models.base.MODEL_NAMES` is imported only when the help is shown
    (``superstorm --help`` stays fast).
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        """Store ``values`` (the model name) on ``namespace`` unchecked (the loader checks it).

        Parameters
        ----------
        parser : argparse.ArgumentParser
            The ``backtest`` parser (unused).
        namespace : argparse.Namespace
            The namespace being filled; gets ``model``.
        values : str
            The name typed after ``--model``.
        option_string : str, optional
            ``"--model"`` (unused).
        """
        setattr(namespace, self.dest, values)

    @property
    def help(self) -> str:
        from forecasting.models.base import MODEL_NAMES

        return f"model to replay: {', '.join(MODEL_NAMES)} (tft = the registry's model)"

    @help.setter
    def help(self, value: str | None) -> None:
        """Ignore the help that argparse sets in ``__init__``; the names come from the registry."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``backtest`` sub-command (``func=run``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
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
    """Backtest a model over ``[--start, --end)`` and print where the result went.

    Loads the model (:func:`forecasting.evaluation.backtest.load_model`) and the hourly
    inputs from the store (366 days of history before ``--start`` and ``--lead-hours`` after
    ``--end``), splits the window into blocks (:func:`flows.backtest.make_blocks`) and runs
    them through :func:`flows.backtest.run_backtest` with a progress bar of one step per block.
    A baseline that needs fitting and has no ``--refit`` is fitted once on all data before
    ``--start``. Prints ``<combined netCDF>  (<n> blocks, <m> computed)``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``model`` (str): ``tft`` (the registry's model) or a baseline name;
        - ``version`` (str): registry version for ``tft`` (default ``latest``);
        - ``start``, ``end`` (pandas.Timestamp): naive UTC window of issue times, ``end``
          exclusive;
        - ``every`` (str): pandas offset between issue times (default ``1h``);
        - ``lead_hours`` (int): leads 1..N h forecast and verified (default 24);
        - ``refit`` (str or None): rolling-origin refit frequency, e.g. ``6MS``
          (baselines only);
        - ``as_of`` (str): input latencies, ``ideal`` (none), ``realtime``, ``archive``
          or ``l1`` (realtime with the L1 solar-wind lead, :func:`forecasting.latency.l1_view`);
        - ``block`` (str): issue-time span per block (default ``30D``);
        - ``dask`` (str or None): ``local`` or a scheduler address (``tcp://host:8786``);
          None runs the blocks on threads;
        - ``workers`` (int): local Dask workers;
        - ``out`` (str or None): output folder (default
          ``$SUPERSTORM_HOME/backtests/<model>_<start>_<end>``);
        - ``data`` (str or None): a recorded folder ingested into the store first.

    Returns
    -------
    int
        Exit status 0. Bad input raises ``ValueError`` (an empty window, ``--refit`` with
        ``tft``), which :func:`superstorm_cli.main.main` turns into exit status 2.
    """
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


def _refit_arg(refit: str | list[pd.Timestamp] | None) -> str | list[str] | None:
    """Convert ``refit`` for the flow, which takes a frequency string or origins as strings."""
    if refit is None or isinstance(refit, str):
        return refit
    return [str(t) for t in refit]
