"""Backtest flow: split a window into blocks, run them on a task runner, combine.

``backtest_flow`` (Prefect) maps :func:`run_block` over blocks of issue times; each block is
one call of :func:`forecasting.evaluation.backtest.backtest` (the science) and its forecast is
written as one netCDF file, atomically (temporary file + rename). A block whose file exists is skipped,
so after a crash re-running the same command recomputes only the missing blocks. The blocks
are then combined into one file.

Task runners: Prefect's ``ThreadPoolTaskRunner`` by default; a ``prefect_dask.DaskTaskRunner``
when ``dask`` is given: ``"local"`` starts a small ``distributed.LocalCluster``; any other
value is a scheduler address (``tcp://host:8786``) of an existing cluster.
:func:`run_backtest` picks the runner and runs the flow.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from data_sources.netcdf import NETCDF_LOCK, write_bytes_atomic, write_netcdf_atomic
from data_sources.timeconv import TimeLike
from forecasting.evaluation import backtest as bt
from forecasting.models.base import Forecaster

log = logging.getLogger(__name__)

STAMP = "%Y%m%dT%H%M"


@dataclass(frozen=True)
class Block:
    """Issue times ``[start, end)`` of one block and its file name."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def filename(self) -> str:
        """``block_<start>_<end>.nc`` (``YYYYmmddTHHMM`` UTC stamps)."""
        return f"block_{self.start.strftime(STAMP)}_{self.end.strftime(STAMP)}.nc"


def make_blocks(
    start: TimeLike,
    end: TimeLike,
    *,
    every: str = "1h",
    block: str = "30D",
    refit: str | list[str] | None = None,
) -> list[Block]:
    """Split ``[start, end)`` into blocks of issue times, also cut at refit origins.

    A block never straddles a refit origin, so each block is one fitted model.

    Parameters
    ----------
    start, end : TimeLike
        Issue-time window, UTC, ``end`` exclusive.
    every : str
        Spacing of issue times (pandas duration, default ``"1h"``).
    block : str
        Largest block length (pandas duration, default ``"30D"``); blocks start at
        ``start + k * block`` and at every refit origin.
    refit : str or list of str, optional
        Refit frequency (``"6MS"``) or explicit origin times
        (:func:`forecasting.evaluation.backtest.refit_origins`); ``None``: no refits.

    Returns
    -------
    list of Block
        Consecutive blocks ``[start, end)`` covering every issue time, oldest first.

    Raises
    ------
    ValueError
        If ``block`` is not a positive duration, or the window / ``every`` is invalid.
    """
    times = bt.issue_times(start, end, every)
    size = pd.Timedelta(block)
    if size <= pd.Timedelta(0):
        raise ValueError(f"block={block!r} must be a positive duration, e.g. '30D'")
    edges = set(pd.date_range(times[0], times[-1], freq=size))
    edges |= set(bt.refit_origins(times[0], times[-1] + pd.Timedelta("1ns"), refit))
    edges = sorted(e for e in edges if times[0] <= e <= times[-1])  # type: ignore[assignment]
    stop = times[-1] + pd.Timedelta(every)
    bounds = [*edges, stop]
    return [
        Block(pd.Timestamp(a), pd.Timestamp(b))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def write_atomic(ds: xr.Dataset, path: Path) -> Path:
    """Write ``ds`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset (a block's or the combined forecast).
    path : pathlib.Path
        Destination netCDF file; readers see the old file or the whole new one.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_netcdf_atomic(ds, path)


def _load(path: Path) -> xr.Dataset:
    with NETCDF_LOCK, xr.open_dataset(path) as ds:
        return ds.load()


@task(cache_policy=NO_CACHE, task_run_name="backtest-block-{block.start:%Y%m%dT%H%M}")
def run_block(
    block: Block, model: str | Forecaster, dataset: xr.Dataset, out_dir: str, options: dict
) -> dict:
    """Forecast one block (skipped if its file exists) as a Prefect task.

    Parameters
    ----------
    block : Block
        The issue times ``[start, end)`` to forecast.
    model : str or Forecaster
        A Forecaster (baseline, ``TFTForecaster``) or a model name (``tft``: the registry's
        ``latest``; a baseline name: unfitted, so give ``refit``), loaded in each task (as
        remote Dask workers need).
    dataset : xarray.Dataset
        Hourly inputs and truth on ``time`` (UTC naive, start of hour; ``dst`` [nT], ``kp``,
        solar wind), reaching back far enough for the model's inputs (and training when
        refitting).
    out_dir : str
        Folder of the block files.
    options : dict
        Keyword arguments of :func:`forecasting.evaluation.backtest.backtest` (``every``,
        ``lead_times``, ``targets``, ``refit``, ``as_of``, ``batch_size``).

    Returns
    -------
    dict
        ``path`` (the block's netCDF file) and ``computed`` (``False`` when it was already on
        disk).
    """
    path = Path(out_dir) / block.filename
    if path.exists():
        return {"path": str(path), "computed": False}
    if isinstance(model, str):
        model = bt.load_model(model)
    fc = bt.backtest(model, dataset, start=block.start, end=block.end, **options)
    write_atomic(fc, path)
    return {"path": str(path), "computed": True}


def _manifest(out_dir: Path, settings: dict) -> None:
    """Record the settings; refuse to mix blocks of a different backtest in one folder."""
    path = out_dir / "manifest.json"
    text = json.dumps(settings, indent=1, sort_keys=True, default=str)
    if path.exists():
        old = json.loads(path.read_text())
        if old != json.loads(text):
            raise ValueError(
                f"{out_dir} holds blocks of another backtest ({path}: {old}); "
                "use another --out folder or delete it"
            )
        return
    write_bytes_atomic(text, path)


def _model_version(model: object) -> str:
    """Return the version the blocks are computed with, so a new model never reuses old blocks.

    A model named by a string is loaded in each task as the registry's ``latest`` TFT (or an
    unfitted baseline, whose version is the code's); a Forecaster says its own ``version``.
    """
    if isinstance(model, str):
        if model == "tft":
            from forecasting.models import registry

            return registry.resolve("latest")
        return str(getattr(bt.load_model(model), "version", ""))
    return str(getattr(model, "version", ""))


def _model_label(model: str | Forecaster) -> str:
    return model if isinstance(model, str) else getattr(model, "name", type(model).__name__)


@flow(name="backtest", log_prints=True, validate_parameters=False)
def backtest_flow(
    model: str | Forecaster,
    dataset: xr.Dataset,
    start: str,
    end: str,
    out_dir: str,
    every: str = "1h",
    lead_hours: int = 24,
    targets: tuple[str, ...] = ("dst", "kp"),
    refit: str | list[str] | None = None,
    as_of: str | bool = False,
    block: str = "30D",
    batch_size: int = bt.DEFAULT_BATCH,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Backtest ``model`` over ``[start, end)`` in blocks; return paths and block counts.

    ``model`` is a Forecaster or a model name (loaded in each task, as needed on remote
    Dask workers). ``progress`` (optional) is called with each block's file name as its
    result arrives (computed, already on disk or failed): one step per block of
    :func:`make_blocks`. Raises ``RuntimeError`` naming the failed blocks after all others
    are written; re-running then computes only those.

    Parameters
    ----------
    model : str or Forecaster
        A Forecaster (baseline, ``TFTForecaster``) or a model name (``tft``: the registry's
        ``latest``; a baseline name: unfitted, so give ``refit``), loaded in each task (as
        remote Dask workers need).
    dataset : xarray.Dataset
        Hourly inputs and truth on ``time`` (UTC naive, start of hour; ``dst`` [nT], ``kp``,
        solar wind), reaching back far enough for the model's inputs (and training when
        refitting).
    start, end : str
        Issue-time window, UTC (ISO), ``end`` exclusive.
    out_dir : str
        Folder for ``manifest.json``, the block files and the combined file.
    every : str
        Spacing of issue times (default ``"1h"``).
    lead_hours : int
        Leads 1..``lead_hours`` [h] (default 24).
    targets : tuple of str
        Forecast targets (``dst`` [nT], ``kp``).
    refit : str or list of str, optional
        Refit frequency (``"6MS"``) or explicit origins (rolling-origin evaluation, Tashman
        2000); ``None``: the model as given.
    as_of : str or bool
        ``False``: inputs known at each issue time (interval ended); ``True`` or a latency
        profile name: also hide values not yet published then.
    block : str
        Largest block length (default ``"30D"``).
    batch_size : int
        Issue times per forecaster call.
    progress : callable, optional
        Called with each block's file name as its result arrives.

    Returns
    -------
    dict
        ``path`` (``backtest_<model>_<start>_<end>.nc``), ``blocks`` (count), ``computed``
        (blocks computed in this run) and ``block_paths``.

    Raises
    ------
    ValueError
        If ``out_dir`` holds blocks of a backtest with other settings (``manifest.json``).
    RuntimeError
        Naming the failed blocks, after all others are written.
    """
    out = Path(out_dir)
    options = dict(
        every=every,
        lead_times=pd.to_timedelta(np.arange(1, lead_hours + 1), unit="h"),
        targets=tuple(targets),
        refit=_refit_spec(start, end, refit),
        as_of=as_of,
        batch_size=batch_size,
    )
    settings = dict(
        model=_model_label(model),
        model_version=_model_version(model),
        start=str(pd.Timestamp(start)),
        end=str(pd.Timestamp(end)),
        every=every,
        lead_hours=lead_hours,
        targets=list(targets),
        refit=refit,
        as_of=as_of,
        block=block,
    )
    _manifest(out, settings)
    blocks = make_blocks(start, end, every=every, block=block, refit=refit)
    futures = run_block.map(
        blocks,
        model=unmapped(model),
        dataset=unmapped(dataset),
        out_dir=unmapped(str(out)),
        options=unmapped(options),
    )
    done, failed = collect(blocks, futures, progress)
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(blocks)} backtest blocks failed ({'; '.join(failed)}); "
            "the others are saved: run the same command again to compute only the failed ones"
        )
    combined = combine([Path(d["path"]) for d in done])
    final = (
        out
        / f"backtest_{settings['model']}_{pd.Timestamp(start).strftime(STAMP)}_{pd.Timestamp(end).strftime(STAMP)}.nc"
    )
    write_atomic(combined, final)
    computed = sum(d["computed"] for d in done)
    print(
        f"backtest {settings['model']}: {len(blocks)} blocks ({computed} computed, "
        f"{len(blocks) - computed} already on disk) -> {final}"
    )
    return {
        "path": str(final),
        "blocks": len(blocks),
        "computed": computed,
        "block_paths": [d["path"] for d in done],
    }


def collect(
    blocks: list[Block], futures: list[Any], progress: Callable[[str], None] | None = None
) -> tuple[list[dict], list[str]]:
    """Wait for each block's result in order; return the results and the failures.

    Parameters
    ----------
    blocks : list of Block
        The blocks of :func:`make_blocks`.
    futures : list
        One future per block (``run_block.map``), each with ``result()``.
    progress : callable, optional
        Called with the block's file name once its result (or failure) is in.

    Returns
    -------
    tuple
        ``(done, failed)``: :func:`run_block` results, and ``"<file>: <error>"`` lines.
    """
    done: list[dict] = []
    failed: list[str] = []
    for blk, fut in zip(blocks, futures, strict=True):
        try:
            done.append(fut.result())
        except Exception as exc:  # noqa: BLE001 - report every failed block, then raise
            failed.append(f"{blk.filename}: {type(exc).__name__}: {exc}")
        if progress is not None:
            progress(blk.filename)
    return done, failed


def _refit_spec(
    start: TimeLike, end: TimeLike, refit: str | list[str] | None
) -> list[pd.Timestamp] | None:
    """Global refit origins (explicit times) so every block refits at the window's origins."""
    if refit is None:
        return None
    return list(bt.refit_origins(start, end, refit))


def combine(paths: list[Path]) -> xr.Dataset:
    """Concatenate block files along ``init_time`` (sorted), attrs of the window.

    Parameters
    ----------
    paths : list of pathlib.Path
        Block netCDF files (forecast schema: ``init_time``, ``lead_time``, ``quantile``).

    Returns
    -------
    xarray.Dataset
        All blocks' forecasts on ``init_time`` (sorted); attrs of the first block, with
        ``backtest_start`` of the first, ``backtest_end`` and ``data_cutoff`` the latest of
        all, and ``blocks`` (the count).
    """
    parts = [_load(p) for p in sorted(paths)]
    ds = xr.concat(
        parts,
        dim="init_time",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        combine_attrs="override",
    ).sortby("init_time")
    ds.attrs["backtest_start"] = parts[0].attrs.get("backtest_start", "")
    ds.attrs["backtest_end"] = max(p.attrs.get("backtest_end", "") for p in parts)
    ds.attrs["data_cutoff"] = max(p.attrs.get("data_cutoff", "") for p in parts)
    ds.attrs["blocks"] = len(parts)
    return ds


def task_runner(
    dask: str | None = None, *, workers: int = 1, threads: int | None = None
) -> TaskRunner[Any]:
    """Choose the Prefect task runner for the blocks.

    Parameters
    ----------
    dask : str, optional
        ``None``: a ``ThreadPoolTaskRunner``; ``"local"``: a ``DaskTaskRunner`` on a
        ``distributed.LocalCluster`` (threads, no processes); otherwise the address of an
        existing Dask scheduler (``tcp://host:8786``).
    workers : int
        Workers of the local Dask cluster (default 1).
    threads : int, optional
        Threads of the thread pool (default ``min(4, cpu count)``) or per local Dask worker
        (default 1).

    Returns
    -------
    prefect.task_runners.TaskRunner
        The runner (``prefect_dask`` is imported only for Dask).
    """
    if dask is None:
        return ThreadPoolTaskRunner(max_workers=threads or max(1, min(4, os.cpu_count() or 1)))
    from prefect_dask import DaskTaskRunner

    if dask == "local":
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": threads or 1,
                "processes": False,
                "dashboard_address": ":0",
            },
        )
    return DaskTaskRunner(address=dask)


def run_backtest(
    model: str | Forecaster,
    dataset: xr.Dataset,
    *,
    start: TimeLike,
    end: TimeLike,
    out_dir: str | Path,
    dask: str | None = None,
    workers: int = 1,
    threads: int | None = None,
    **kwargs: Any,
) -> dict:
    """Run :func:`backtest_flow` on the chosen task runner (see :func:`task_runner`).

    Parameters
    ----------
    model : str or Forecaster
        A Forecaster (baseline, ``TFTForecaster``) or a model name (``tft``: the registry's
        ``latest``; a baseline name: unfitted, so give ``refit``), loaded in each task (as
        remote Dask workers need).
    dataset : xarray.Dataset
        Hourly inputs and truth on ``time`` (UTC naive, start of hour; ``dst`` [nT], ``kp``,
        solar wind), reaching back far enough for the model's inputs (and training when
        refitting).
    start, end : TimeLike
        Issue-time window, UTC, ``end`` exclusive.
    out_dir : str or pathlib.Path
        Output folder (see :func:`backtest_flow`).
    dask, workers, threads
        Task runner choice, as for :func:`task_runner`.
    **kwargs : Any
        Further :func:`backtest_flow` parameters (``every``, ``lead_hours``, ``targets``,
        ``refit``, ``as_of``, ``block``, ``batch_size``, ``progress``).

    Returns
    -------
    dict
        The result of :func:`backtest_flow`.
    """
    runner = task_runner(dask, workers=workers, threads=threads)
    return backtest_flow.with_options(task_runner=runner)(
        model, dataset, str(pd.Timestamp(start)), str(pd.Timestamp(end)), str(out_dir), **kwargs
    )


__all__ = [
    "Block",
    "backtest_flow",
    "collect",
    "combine",
    "make_blocks",
    "run_backtest",
    "run_block",
    "task_runner",
    "write_atomic",
]
