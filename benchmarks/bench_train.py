"""Samples/s of the pre-windowed TFT input pipeline vs the stock TimeSeriesDataSet dataloader.

Same model, same windows (one gap-free stretch of real OMNI2 hours), same batch size:

1. data loading alone: one pass over the windows, batches only;
2. a training-step loop: forward, quantile loss, backward, Adam step on each batch.

Usage::

    .venv/bin/python benchmarks/bench_train.py [--windows 4000] [--batch-size 128]
        [--steps 30] [--preset quick] [--threads 1] [--year 2005]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")


def _setup(args):
    from data_sources.mirror.server import default_data_dir
    from forecasting.models import pipeline
    from forecasting.models.tft import build_network, get_config
    from forecasting.splits import load_recorded_omni

    config = get_config(args.preset, threads=args.threads)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ds = load_recorded_omni(default_data_dir(), [args.year])
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


def _loaders(stock, fast, rows, batch_size):
    return {
        "stock TimeSeriesDataSet": lambda: stock.to_dataloader(
            train=True, batch_size=batch_size, num_workers=0
        ),
        "pre-windowed tensors": lambda: fast.loader(rows, batch_size=batch_size, shuffle=True),
    }


def bench_loading(loaders) -> dict[str, float]:
    """Samples per second for one pass of batches (no model)."""
    out = {}
    for name, make in loaders.items():
        loader = make()
        n, t0 = 0, time.perf_counter()
        for x, _ in loader:
            n += x["encoder_cont"].shape[0]
        out[name] = n / (time.perf_counter() - t0)
    return out


def bench_training(loaders, network, steps: int) -> dict[str, float]:
    """Samples per second for ``steps`` optimisation steps (forward, loss, backward, step)."""
    out = {}
    state = {k: v.clone() for k, v in network.state_dict().items()}
    for name, make in loaders.items():
        network.load_state_dict(state)
        network.train()
        opt = torch.optim.Adam(network.parameters(), lr=1e-3)
        it = iter(make())
        n, t0 = 0, time.perf_counter()
        for _ in range(steps):
            try:
                x, y = next(it)
            except StopIteration:
                it = iter(make())
                x, y = next(it)
            out_ = network(x)
            loss = network.loss(out_["prediction"], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += x["encoder_cont"].shape[0]
        out[name] = n / (time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--preset", default="quick")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--year", type=int, default=2005)
    args = p.parse_args(argv)
    config, stock, fast, rows, network = _setup(args)
    loaders = _loaders(stock, fast, rows, args.batch_size)
    print(
        f"{len(rows)} windows (encoder {config.encoder_length} h, horizon {config.horizon} h), "
        f"batch {args.batch_size}, preset {args.preset}, {args.threads} thread(s)"
    )
    for title, res in (
        ("data loading", bench_loading(loaders)),
        (f"training steps ({args.steps})", bench_training(loaders, network, args.steps)),
    ):
        s, f = res["stock TimeSeriesDataSet"], res["pre-windowed tensors"]
        print(
            f"{title:>22}: stock {s:10.0f} samples/s | pre-windowed {f:10.0f} samples/s "
            f"| ratio {f / s:6.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
