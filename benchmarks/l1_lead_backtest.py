"""Backtest with the lead an L1 monitor gives, beside the current availability rules.

Baselines fitted on OMNI2 2005 (each on the view it is judged on), hourly issue times over
2006, leads 1..24 h, three input-availability profiles (``forecasting.latency``):

* ``ideal``: values known the instant their hour ends (``timeconv.known_at``);
* ``realtime``: the current operational profile (SWPC solar wind 5 min after the hour
  ends, Kyoto Dst 1 h, GFZ Kp 1 h);
* ``l1``: ``realtime`` with the solar wind known by the L1 rule (bow-shock hour h known at
  h + 1 h - travel time from L1 + 5 min, from each hour's speed; ``latency.l1_view``).

Scores: RMSE of the median per lead, all hours and storm time (target hours with observed
Dst <= -50 nT, or Kp >= 5). Run from the repository root:

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/l1_lead_backtest.py <data_dir>
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from data_sources.omni2 import parse_omni2
from forecasting import latency, schema
from forecasting.evaluation.backtest import backtest
from forecasting.models.baselines import Burton, OBrienMcPherron, Persistence

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
SHOWN = (1, 2, 3, 6, 12, 24)
STORM = {"dst": (-50.0, True), "kp": (5.0, False)}


def rmse_by_lead(fc: xr.Dataset, obs: xr.Dataset, name: str, storm: bool) -> pd.Series:
    med = schema.median(fc, name).drop_vars("quantile", errors="ignore")
    truth = timeconv.observed_for(fc, obs, name)
    err = med - truth
    if storm:
        thr, below = STORM[name]
        err = err.where(truth <= thr if below else truth >= thr)
    r = np.sqrt((err**2).mean("init_time"))
    return pd.Series(r.values, index=(fc.lead_time.values / np.timedelta64(1, "h")).astype(int))


def main(data_dir: Path) -> None:
    folder = data_dir / "omni2_low_res_dynaml"
    ds = xr.concat([parse_omni2(folder / f"omni2_{y}.csv") for y in (2005, 2006)], dim="time")
    views = {"ideal": ds, "realtime": ds, "l1": latency.l1_view(ds)}
    print(f"L1 view: mean lead {views['l1'].attrs['l1_lead_hours_mean']} h per row")
    rows = []
    for model_cls, targets in (
        (Persistence, ("dst", "kp")),
        (Burton, ("dst",)),
        (OBrienMcPherron, ("dst",)),
    ):
        for profile, view in views.items():
            train = latency.as_of(
                view.sel(time=slice("2005-01-01", "2005-12-31")),
                pd.Timestamp("2006-01-01"),
                profile,
            )
            model = model_cls().fit(train, lead_times=LEADS, targets=list(targets))
            model.lookback = pd.Timedelta("6h")
            fc = backtest(
                model,
                view,
                start="2006-01-01",
                end="2007-01-01",
                every="1h",
                lead_times=LEADS,
                targets=targets,
                as_of=False if profile == "ideal" else profile,
            )
            for name in targets:
                for storm in (False, True):
                    r = rmse_by_lead(fc, ds, name, storm)
                    rows.append(
                        {
                            "model": model_cls.name,
                            "target": name,
                            "profile": profile,
                            "hours": "storm" if storm else "all",
                            **{f"{k}h": round(float(r[k]), 2) for k in SHOWN},
                        }
                    )
            print(f"done {model_cls.name} {profile}", flush=True)
    table = pd.DataFrame(rows).sort_values(["target", "hours", "model", "profile"], kind="stable")
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for _, row in table.iterrows():
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
