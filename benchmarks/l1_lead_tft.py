"""Quick TFT trained and judged with the lead an L1 monitor gives, beside the current rule.

Two quick-preset TFTs on recorded OMNI2 (train 2004-2005, validate 2006): ``raw`` on the
archive as it is, ``l1`` on ``forecasting.latency.l1_view`` of it (row h holds the newest
solar-wind hour known at h + 1 h by the L1 rule). Backtest over 2007, issue times every 3 h,
leads 1..24 h: ``raw`` judged with the ``realtime`` profile (today's operations) and with
``l1``; ``l1`` judged with ``l1``. RMSE of the median, all hours and storm time (observed
Dst <= -50 nT, Kp >= 5 at the target hour). CPU, one thread:

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/l1_lead_tft.py [data_dir]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from forecasting import latency
from forecasting.evaluation.backtest import backtest
from forecasting.models import pipeline
from forecasting.models.predict import TFTForecaster
from forecasting.models.tft import fit, get_config
from forecasting.splits import load_recorded_omni

sys.path.insert(0, str(Path(__file__).parent))
from l1_lead_backtest import SHOWN, rmse_by_lead  # noqa: E402

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


def main(data_dir: Path) -> None:
    torch.set_num_threads(1)
    ds = load_recorded_omni(data_dir, [2004, 2005, 2006, 2007])
    view = latency.l1_view(ds)
    config = get_config("quick", threads=1)
    models = {}
    for name, data in (("raw", ds), ("l1", view)):
        t0 = time.time()
        frame = pipeline.feature_frame(data)
        models[name] = TFTForecaster(
            fit(frame, train_years=(2004, 2005), val_years=(2006,), config=config)
        )
        print(f"trained {name} in {time.time() - t0:.0f} s", flush=True)
    runs = {
        "raw model, realtime rule": ("raw", ds, "realtime"),
        "raw model, L1 rule": ("raw", view, "l1"),
        "L1-trained model, L1 rule": ("l1", view, "l1"),
    }
    rows = []
    for label, (model, data, profile) in runs.items():
        t0 = time.time()
        fc = backtest(
            models[model],
            data,
            start="2007-01-01",
            end="2008-01-01",
            every="3h",
            lead_times=LEADS,
            targets=("dst", "kp"),
            as_of=profile,
        )
        print(f"backtest {label} in {time.time() - t0:.0f} s", flush=True)
        for target in ("dst", "kp"):
            for storm in (False, True):
                r = rmse_by_lead(fc, ds, target, storm)
                rows.append(
                    {
                        "run": label,
                        "target": target,
                        "hours": "storm" if storm else "all",
                        **{f"{k}h": round(float(r[k]), 2) for k in SHOWN},
                    }
                )
    table = pd.DataFrame(rows).sort_values(["target", "hours"], kind="stable")
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for _, row in table.iterrows():
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
