"""Samples/s of the pre-windowed TFT input pipeline vs the stock TimeSeriesDataSet dataloader.

Same model, same windows (one gap-free stretch of real OMNI2 hours, ingested through the
loopback mirror into a temporary store and read back with ``build_dataset``):

1. data loading alone: one pass over the windows, batches only;
2. a training-step loop: forward, quantile loss, backward, Adam step on each batch.

Paths: the stock ``TimeSeriesDataSet`` dataloader and the pre-windowed tensors at
``--batch-size`` with the per-tensor Adam loop, the pre-windowed tensors with the fused Adam
that :func:`forecasting.models.tft.train_fast` sets, and that at ``--fast-batch-size``.
Samples/s are given per wall second and per CPU second of this process (``time.process_time``):
on a shared machine the CPU figure is the stable one; the training paths take turns for
``--repeats`` rounds and the median is shown. The last line projects one training run of the
preset from the tuned rate.

Usage::

    .venv/bin/python benchmarks/bench_train.py [--windows 4000] [--batch-size 128]
        [--fast-batch-size 512] [--samples 3072] [--repeats 3] [--preset quick] [--threads 1]
        [--year 2005] [--processes 2] [--cores 2] [--fit-samples 24576]

With ``--processes N`` (default 2) it then times whole training steps through
:func:`forecasting.models.tft.fit` on ``--cores`` cores: one process against N DDP processes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

# run this checkout's code, not whatever the virtualenv has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")


def recorded_year(year: int, last: int | None = None):
    """OMNI2 ``year`` (to ``last``) through the loopback mirror into a temporary store, via
    ``build_dataset``."""
    from data_sources.dataset import build_dataset
    from data_sources.ingest import ingest_recorded
    from data_sources.store import Store

    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        store = Store(Path(tmp) / "store")
        start, end = f"{year}-01-01", f"{(last or year) + 1}-01-01"
        ingest_recorded(store=store, sources=["omni2"], spans={"omni2": (start, end)})
        return build_dataset(start, end, store=store).load()


def _setup(args):
    from forecasting.models import pipeline
    from forecasting.models.tft import build_network, get_config

    config = get_config(args.preset, threads=args.threads)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ds = recorded_year(args.year)
    frame = pipeline.feature_frame(ds)
    unknown = pipeline.unknown_reals(frame)
    reals = list(pipeline.CALENDAR) + unknown
    e, d = config.encoder_length, config.horizon
    valid = pipeline.valid_issue_rows(frame, reals, encoder_length=e, horizon=d)
    norm = pipeline.fit_normalisation(
        frame, np.arange(len(frame)), reals, dst_center=config.dst_center
    )
    # longest run of consecutive valid issue rows, cut to --windows
    breaks = np.flatnonzero(np.diff(valid) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks + 1, [len(valid)]])
    k = int(np.argmax(ends - starts))
    rows = valid[starts[k] : ends[k]][: args.windows]
    part = frame.iloc[rows[0] - e : rows[-1] + d]
    stock = pipeline.stock_dataset(part, unknown, norm, encoder_length=e, horizon=d)
    assert len(stock) == len(rows), (len(stock), len(rows))
    network = build_network(stock, config)
    fast = pipeline.WindowSource(frame, stock.get_parameters())
    return config, stock, fast, rows, network


STOCK, FAST = "stock TimeSeriesDataSet", "pre-windowed tensors"
TUNED = "pre-windowed + fused Adam"


def _loaders(stock, fast, rows, batch_size, fast_batch_size):
    """Path name -> (make a loader, fused Adam)."""
    return {
        STOCK: (
            lambda: stock.to_dataloader(train=True, batch_size=batch_size, num_workers=0),
            False,
        ),
        FAST: (lambda: fast.loader(rows, batch_size=batch_size, shuffle=True), False),
        TUNED: (lambda: fast.loader(rows, batch_size=batch_size, shuffle=True), True),
        f"{TUNED}, batch {fast_batch_size}": (
            lambda: fast.loader(rows, batch_size=fast_batch_size, shuffle=True),
            True,
        ),
    }


def bench_loading(loaders) -> dict[str, tuple[float, float]]:
    """(wall, CPU) samples per second for one pass of batches (no model)."""
    out = {}
    for name, (make, fused) in loaders.items():
        if fused:
            continue  # same batches as its plain twin
        loader = make()
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        for x, _ in loader:
            n += x["encoder_cont"].shape[0]
        out[name] = (n / (time.perf_counter() - t0), n / (time.process_time() - c0))
    return out


def bench_training(loaders, network, samples: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) samples per second over ``samples`` windows of optimisation steps.

    Each step: forward, quantile loss, backward, gradient-norm clip (as Lightning does with
    ``gradient_clip_val``), Adam step. The paths take turns, ``repeats`` rounds, so that the
    load of a shared machine falls on all of them alike; the median round is reported.
    """
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in loaders}
    state = {k: v.clone() for k, v in network.state_dict().items()}
    for _ in range(repeats):
        for name, (make, fused) in loaders.items():
            network.load_state_dict(state)
            network.train()
            opt = torch.optim.Adam(network.parameters(), lr=1e-3, fused=fused)
            batches = _endless(make)
            _step(network, opt, *next(batches))  # warm-up
            n, t0, c0 = 0, time.perf_counter(), time.process_time()
            while n < samples:
                n += _step(network, opt, *next(batches))
            runs[name].append((n / (time.perf_counter() - t0), n / (time.process_time() - c0)))
    return {
        name: (float(np.median([w for w, _ in r])), float(np.median([c for _, c in r])))
        for name, r in runs.items()
    }


def _step(network, opt, x, y) -> int:
    loss = network.loss(network(x)["prediction"], y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(network.parameters(), 0.1)
    opt.step()
    return int(x["encoder_cont"].shape[0])


def _endless(make):
    while True:
        yield from make()


def bench_processes(args, processes: int) -> dict[int, float]:
    """Wall samples/s of whole training steps in ``fit``: 1 process, then ``processes`` (DDP).

    The same cores either way: one process with ``args.cores`` torch threads, or ``processes``
    processes (Lightning DDP on gloo) with ``args.cores // processes`` threads each. Each run
    trains one epoch of ``args.fit_samples`` windows of ``args.year`` (split between the ranks)
    and validates one batch of the next year; the rate is the rank-0 progress line's (windows
    of all ranks per second from the first step).
    """
    import re

    from forecasting.models import pipeline
    from forecasting.models.tft import fit, get_config

    frame = pipeline.feature_frame(recorded_year(args.year, args.year + 1))
    rates = {}
    for devices in (1, processes):
        config = get_config(
            args.preset,
            threads=max(1, args.cores // devices),
            batch_size=args.batch_size,
            max_epochs=1,
            limit_train_batches=max(devices, args.fit_samples // args.batch_size),
            limit_val_batches=1,
            snapshots=1,
        )
        with tempfile.TemporaryDirectory(prefix="bench_train_fit_") as tmp:
            log = Path(tmp) / "progress.txt"

            def sink(line: str, log: Path = log) -> None:  # called in the rank-0 worker
                with open(log, "a") as f:
                    f.write(line + "\n")

            fit(
                frame,
                train_years=(args.year,),
                val_years=(args.year + 1,),
                config=config,
                devices=devices,
                progress=sink,
            )
            line = log.read_text().splitlines()[-1]
        rates[devices] = float(re.search(r"(\d+) samples/s", line).group(1))
    return rates


def projection(config, cpu_rate: float, cores: int = 2) -> str:
    """Minutes one training run of ``config`` takes at ``cpu_rate`` samples per CPU second.

    Training windows = ``max_epochs * limit_train_batches * batch_size`` (early stopping can
    only shorten it); validation forward passes cost about a third of a training step per
    window. ``cores`` processes (``fit(devices=cores)``, DDP) are assumed to scale linearly.
    """
    from forecasting.splits import PRESET_SPLITS

    train = config.max_epochs * config.limit_train_batches * config.batch_size
    first, last = PRESET_SPLITS[config.preset]["validate"]
    val = (last - first + 1) * 8760 // config.val_stride
    if config.limit_val_batches:
        val = min(val, config.limit_val_batches * config.batch_size)
    cpu_s = (train + config.max_epochs * val / 3) / cpu_rate
    return (
        f"{config.preset} preset: {train} training windows + {config.max_epochs} x {val} "
        f"validation windows at {cpu_rate:.0f} samples/CPU-s = {cpu_s / 60:.1f} CPU-min, "
        f"{cpu_s / 60 / cores:.1f} min on {cores} quiet cores (fit(devices={cores}))"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--fast-batch-size", type=int, default=512)
    p.add_argument("--samples", type=int, default=3072, help="windows per training benchmark")
    p.add_argument("--repeats", type=int, default=3, help="rounds of the training benchmark")
    p.add_argument("--preset", default="quick")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--year", type=int, default=2005)
    p.add_argument(
        "--processes",
        type=int,
        default=2,
        help="also time fit() in this many DDP processes against one (0: skip)",
    )
    p.add_argument("--cores", type=int, default=2, help="cores the fit() comparison shares out")
    p.add_argument(
        "--fit-samples",
        type=int,
        default=24576,
        help="windows per fit() run (enough that DDP start-up costs are amortised)",
    )
    args = p.parse_args(argv)
    config, stock, fast, rows, network = _setup(args)
    loaders = _loaders(stock, fast, rows, args.batch_size, args.fast_batch_size)
    print(
        f"{len(rows)} windows (encoder {config.encoder_length} h, horizon {config.horizon} h), "
        f"batch {args.batch_size}, preset {args.preset}, {args.threads} thread(s)"
    )
    training = bench_training(loaders, network, args.samples, args.repeats)
    for title, res in (
        ("data loading", bench_loading(loaders)),
        (f"training steps ({args.samples} windows, median of {args.repeats} rounds)", training),
    ):
        print(f"{title}: samples/s (wall | CPU) and CPU ratio to the stock path")
        base = res[STOCK][1]
        for name, (wall, cpu) in res.items():
            print(f"  {name:>36}: {wall:10.0f} | {cpu:10.0f}   {cpu / base:6.2f}x")
    full = replace(config, batch_size=args.batch_size)
    print("projection, " + projection(full, training[TUNED][1]))
    if args.processes > 1:
        rates = bench_processes(args, args.processes)
        one, many = rates[1], rates[args.processes]
        print(
            f"whole steps in fit() on {args.cores} cores (wall samples/s): 1 process x "
            f"{args.cores} threads {one:.0f}; {args.processes} DDP processes x "
            f"{max(1, args.cores // args.processes)} thread(s) {many:.0f} ({many / one:.2f}x); "
            f"against the stock path at {args.threads} thread(s) "
            f"{many / training[STOCK][0]:.2f}x (wall)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
