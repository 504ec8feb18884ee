"""Backtest throughput: batched vs one-call-per-issue-time, threads vs Dask, one year of TFT.

Run: ``.venv/bin/python benchmarks/bench_backtest.py [--days 14] [--full-year] [--json out.json]``

Measures, on the recorded OMNI2 data (``../shared/data``):

1. issue times per second of :func:`forecasting.evaluation.backtest.backtest` batched (``batch_size``
   issue times per forecaster call) and naive (``batch_size=1``: one call per issue time) for
   the same model and issue times (results checked equal);
2. the Prefect block flow (:mod:`flows.backtest`) on the thread-pool and on a local Dask
   cluster (1 worker) over the same window;
3. the one-year figure for the TFT: extrapolated from the batched rate, and measured when
   ``--full-year`` is given. Target: one year of hourly issue times in under 2 minutes.

The TFT is the registry's latest model; if none is registered a ``quick`` one is trained
first (into ``$SUPERSTORM_HOME``) and the script says so. Without a usable TFT (training
failed) the persistence baseline is measured and the script says that instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from forecasting.evaluation import backtest as bt  # noqa: E402

YEAR = 2007  # the quick preset's test year (never trained on)
HOURS_PER_YEAR = 8760


def get_tft():
    """The registry's latest TFT as a Forecaster, training a quick one if none; (model, note)."""
    from forecasting.models import registry
    from forecasting.models.predict import TFTForecaster

    if registry.list_versions():
        return TFTForecaster("latest"), f"registered TFT {registry.resolve('latest')}"
    from forecasting.models.train import train

    t0 = time.perf_counter()
    version = train(preset="quick")
    note = f"no TFT was registered: trained quick TFT {version} in {time.perf_counter() - t0:.0f} s"
    return TFTForecaster(version), note


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_batching(model, ds, start, days: int, naive_n: int) -> dict:
    """Batched over ``days`` days of hourly issue times; naive over the first ``naive_n``."""
    end = pd.Timestamp(start) + pd.Timedelta(days=days)
    fc, t_batch = timed(lambda: bt.backtest(model, ds, start=start, end=end))
    n = fc.sizes["init_time"]
    nend = pd.Timestamp(start) + pd.Timedelta(hours=naive_n)
    naive, t_naive = timed(lambda: bt.backtest(model, ds, start=start, end=nend, batch_size=1))
    same = np.allclose(
        naive["dst"].values,
        fc["dst"].isel(init_time=slice(0, naive_n)).values,
        atol=1e-3,
        equal_nan=True,
    )
    return {
        "batched_issue_times": n,
        "batched_s": t_batch,
        "batched_per_s": n / t_batch,
        "naive_issue_times": naive_n,
        "naive_s": t_naive,
        "naive_per_s": naive_n / t_naive,
        "speedup": (n / t_batch) / (naive_n / t_naive),
        "naive_equals_batched": bool(same),
    }


def bench_runners(model, ds, start, days: int, block: str) -> dict:
    from prefect.testing.utilities import prefect_test_harness

    from flows.backtest import run_backtest

    end = pd.Timestamp(start) + pd.Timedelta(days=days)
    n = len(bt.issue_times(start, end))
    out = {}
    with prefect_test_harness(), tempfile.TemporaryDirectory() as tmp:
        for label, dask in (("threads", None), ("dask_local_1_worker", "local")):
            _, secs = timed(
                lambda d=dask, lb=label: run_backtest(
                    model,
                    ds,
                    start=start,
                    end=end,
                    out_dir=Path(tmp) / lb,
                    block=block,
                    dask=d,
                    threads=2 if d is None else 2,
                )
            )
            out[label] = {"issue_times": n, "s": secs, "per_s": n / secs}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=14, help="days of hourly issue times, batched")
    ap.add_argument("--naive", type=int, default=48, help="issue times for the naive loop")
    ap.add_argument("--flow-days", type=int, default=14, help="days for the threads/Dask flow")
    ap.add_argument("--block", default="7D", help="flow block length")
    ap.add_argument("--full-year", action="store_true", help="also time a whole year, batched")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    ds = bt.load_data(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", history="30D", lead="48h")
    start = f"{YEAR}-03-01"
    report: dict = {
        "data": ds.attrs.get("loaded_from", "?"),
        "year": YEAR,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        tft, note = get_tft()
    except Exception as exc:  # noqa: BLE001 - say why, measure a baseline instead
        tft, note = None, f"no TFT available ({type(exc).__name__}: {exc}); persistence measured"
    print(note)
    report["model_note"] = note

    from forecasting.models.baselines import Persistence

    pers = Persistence().fit(bt.training_data(ds, start), lead_times=bt.DEFAULT_LEAD_TIMES)
    models = {"persistence": pers}
    if tft is not None:
        models["tft"] = tft
    for name, model in models.items():
        r = bench_batching(model, ds, start, args.days, args.naive)
        report[f"{name}_batching"] = r
        print(
            f"[{name}] batched {r['batched_per_s']:.1f} issue times/s ({r['batched_issue_times']} in "
            f"{r['batched_s']:.2f} s); naive {r['naive_per_s']:.1f}/s ({r['naive_issue_times']} in "
            f"{r['naive_s']:.2f} s); speed-up x{r['speedup']:.1f}; equal: {r['naive_equals_batched']}"
        )
        year_s = HOURS_PER_YEAR / r["batched_per_s"]
        report[f"{name}_year_extrapolated_s"] = year_s
        print(
            f"[{name}] one year of hourly issue times, extrapolated: {year_s:.1f} s "
            f"(naive loop: {HOURS_PER_YEAR / r['naive_per_s']:.0f} s)"
        )
    main_model = models.get("tft", pers)
    main_name = "tft" if "tft" in models else "persistence"
    runners = bench_runners(main_model, ds, start, args.flow_days, args.block)
    report[f"{main_name}_runners"] = runners
    for label, r in runners.items():
        print(
            f"[{main_name}] flow on {label}: {r['per_s']:.1f} issue times/s "
            f"({r['issue_times']} in {r['s']:.1f} s, blocks of {args.block}, Prefect overhead included)"
        )
    if args.full_year:
        fc, secs = timed(
            lambda: bt.backtest(main_model, ds, start=f"{YEAR}-01-01", end=f"{YEAR + 1}-01-01")
        )
        report[f"{main_name}_year_actual_s"] = secs
        verdict = "meets" if secs < 120 else "misses"
        print(
            f"[{main_name}] one year measured: {fc.sizes['init_time']} issue times in {secs:.1f} s "
            f"({verdict} the 2-minute target)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
