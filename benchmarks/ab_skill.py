"""A/B of TFT training options by STORM-TIME skill on the validation years.

Trains one reduced-preset TFT per variant on the training years, forecasts the validation
years (every storm-time issue hour plus every ``--every`` hours otherwise) and scores it beside
O'Brien-McPherron and persistence on the same issue times:

* storm time = issue times within 24 h of an hour with Dst <= -100 nT (issue 9);
* storm-time Dst RMSE at 1/3/6/12 h, each pair on the hours where both forecast;
* all-hours 6-h Dst RMSE (TFT and persistence), 80 % interval coverage (all / storm);
* Kp HSS (>= 5) of the median at 3..24 h vs persistence of the last complete Kp block.

The dataset is a ``build_dataset`` netCDF (the store filled by ``ingest_recorded``); never
pass the test years. Usage::

    .venv/bin/python benchmarks/ab_skill.py --data DS.nc --variant base '{}' \\
        --variant physics '{"physics": "obrien_mcpherron"}' --out /tmp/ab.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

# run this checkout's code, not whatever the virtualenv has installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from forecasting.splits import DEFAULT_TEST_FIRST_YEAR, FULL_SPLIT  # noqa: E402

warnings.filterwarnings("ignore")

#: reduced preset for the A/Bs (the full preset takes too long on 2 shared cores)
REDUCED = dict(
    encoder_length=48,
    hidden_size=16,
    attention_head_size=2,
    hidden_continuous_size=8,
    batch_size=128,
    max_epochs=5,
    patience=2,
    limit_train_batches=50,
    limit_val_batches=20,
    val_stride=6,
    threads=1,
)
LEADS = (1, 3, 6, 12)
#: Kp >= 5 (NOAA G1), forecasting.schema.G_SCALE; minus a hair for float thirds
G1 = 5.0 - 1e-6


def storm_issue_mask(dst: pd.Series, times: pd.DatetimeIndex, *, margin_h: int = 24) -> np.ndarray:
    """Issue times within ``margin_h`` h of an hour with Dst <= -100 nT."""
    storm_hours = dst.index[dst.to_numpy() <= -100.0]
    near = pd.Series(0.0, index=dst.index)
    near.loc[storm_hours] = 1.0
    near = near.rolling(2 * margin_h + 1, center=True, min_periods=1).max()
    return near.reindex(times).fillna(0.0).to_numpy() > 0


def issue_times(ds: xr.Dataset, years, every: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Hourly storm-time issue times plus every ``every`` h otherwise, in ``years``."""
    dst = ds["dst"].to_series().astype(float)
    start = pd.Timestamp(f"{min(years)}-01-03")
    end = pd.Timestamp(f"{max(years)}-12-30")
    hours = pd.date_range(start, end, freq="1h")
    storm = storm_issue_mask(dst, hours)
    keep = storm | (hours.hour % every == 0)
    return hours[keep], storm[keep]


def rmse(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.sqrt(np.mean((a[ok] - b[ok]) ** 2))) if ok.any() else float("nan"), int(
        ok.sum()
    )


def hss(fc: np.ndarray, obs: np.ndarray, threshold: float) -> float:
    ok = np.isfinite(fc) & np.isfinite(obs)
    f, o = fc[ok] >= threshold, obs[ok] >= threshold
    a, b = np.sum(f & o), np.sum(f & ~o)
    c, d = np.sum(~f & o), np.sum(~f & ~o)
    den = (a + c) * (c + d) + (a + b) * (b + d)
    return float(2 * (a * d - b * c) / den) if den else float("nan")


def score(fc: xr.Dataset, ds: xr.Dataset, storm: np.ndarray) -> dict:
    """The issue-9 table for one TFT forecast beside O'Brien-McPherron and persistence."""
    from data_sources import timeconv
    from forecasting.models.baselines import OBrienMcPherron, Persistence

    init = pd.DatetimeIndex(fc.indexes["init_time"])
    lead = pd.TimedeltaIndex(fc.indexes["lead_time"])
    obs = {n: timeconv.observed_for(fc, ds, n).values for n in ("dst", "kp")}
    q = fc["quantile"].values
    med = {n: fc[n].sel(quantile=0.5, method="nearest").values for n in ("dst", "kp")}
    lo = fc["dst"].isel(quantile=int(np.argmin(abs(q - 0.1)))).values
    hi = fc["dst"].isel(quantile=int(np.argmin(abs(q - 0.9)))).values
    om = OBrienMcPherron().point(ds, init, lead, "dst")
    pers = Persistence().point(ds, init, lead, "dst")
    pers_kp = Persistence().point(ds, init, lead, "kp")
    out: dict = {"n_issue": int(len(init)), "n_storm_issue": int(storm.sum())}
    for L in LEADS:
        k = L - 1
        s = storm
        t_om, n_om = rmse(med["dst"][s, k], obs["dst"][s, k] + 0 * om[s, k])
        o_om, _ = rmse(om[s, k], obs["dst"][s, k] + 0 * med["dst"][s, k])
        t_p, n_p = rmse(med["dst"][s, k], obs["dst"][s, k] + 0 * pers[s, k])
        p_p, _ = rmse(pers[s, k], obs["dst"][s, k] + 0 * med["dst"][s, k])
        out[f"storm_{L}h"] = dict(
            tft_vs_om=round(t_om, 2),
            om=round(o_om, 2),
            n_om=n_om,
            tft_vs_pers=round(t_p, 2),
            pers=round(p_p, 2),
            n_pers=n_p,
        )
        ok = np.isfinite(obs["dst"][:, k]) & np.isfinite(lo[:, k])
        inside = (obs["dst"][:, k] >= lo[:, k]) & (obs["dst"][:, k] <= hi[:, k])
        out[f"coverage80_{L}h"] = round(float(inside[ok].mean()), 3)
        out[f"coverage80_storm_{L}h"] = round(float(inside[ok & storm].mean()), 3)
    out["all_6h"] = dict(
        tft=round(rmse(med["dst"][:, 5], obs["dst"][:, 5] + 0 * pers[:, 5])[0], 2),
        pers=round(rmse(pers[:, 5], obs["dst"][:, 5] + 0 * med["dst"][:, 5])[0], 2),
        om=round(rmse(om[:, 5], obs["dst"][:, 5] + 0 * med["dst"][:, 5])[0], 2),
    )
    for L in (3, 6, 12, 24):
        k = L - 1
        out[f"kp_hss5_{L}h"] = dict(
            tft=round(hss(med["kp"][:, k], obs["kp"][:, k], G1), 3),
            pers=round(hss(pers_kp[:, k], obs["kp"][:, k], G1), 3),
        )
    return out


def score_degraded(model, ds: xr.Dataset, times, storm: np.ndarray, years) -> dict:
    """Plasma (v_sw, n_p, p_dyn) removed over the validation years: TFT vs persistence.

    The worst case of a saturated plasma instrument: every encoder window lacks the plasma
    (the ring-current baselines give nothing). Scores on the same issue times as above.
    """
    from data_sources import timeconv
    from forecasting.models.baselines import Persistence
    from forecasting.models.predict import predict_many

    bad = ds.copy(deep=True)
    in_years = np.isin(pd.DatetimeIndex(bad.indexes["time"]).year, list(years))
    for name in ("v_sw", "n_p", "p_dyn"):
        if name in bad:
            bad[name].values[in_years] = np.nan
    fc = predict_many(model, bad, times, interpret=False)
    obs = timeconv.observed_for(fc, ds, "dst").values
    med = fc["dst"].sel(quantile=0.5, method="nearest").values
    pers = Persistence().point(ds, times, pd.TimedeltaIndex(fc.indexes["lead_time"]), "dst")
    out = {"nan_forecasts": int(np.isnan(med[:, 0]).sum())}
    for L in LEADS:
        k = L - 1
        out[f"storm_{L}h"] = dict(
            tft=round(rmse(med[storm, k], obs[storm, k])[0], 2),
            pers=round(rmse(pers[storm, k], obs[storm, k])[0], 2),
        )
    out["all_6h"] = dict(
        tft=round(rmse(med[:, 5], obs[:, 5])[0], 2), pers=round(rmse(pers[:, 5], obs[:, 5])[0], 2)
    )
    return out


def run_variant(name: str, overrides: dict, ds: xr.Dataset, args) -> dict:
    from forecasting.models import pipeline
    from forecasting.models.predict import predict_many
    from forecasting.models.tft import fit, get_config

    config = get_config("quick", **{**REDUCED, **overrides})
    keep = ds.sel(time=slice(None, f"{max(args.val_years)}-12-31T23:00"))
    frame = pipeline.feature_frame(keep)
    t0 = time.time()
    model = fit(frame, train_years=args.train_years, val_years=args.val_years, config=config)
    train_s = time.time() - t0
    times, storm = issue_times(keep, args.val_years, args.every)
    fc = predict_many(model, keep, times, interpret=False)
    if args.save_dir:
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
        fc.to_netcdf(Path(args.save_dir) / f"fc_{name}.nc")
    res = score(fc, keep, storm)
    if args.degraded:
        res["degraded"] = score_degraded(model, keep, times, storm, args.val_years)
    res.update(
        variant=name,
        overrides=overrides,
        train_s=round(train_s, 1),
        epochs=model.metadata["epochs_run"],
        best_val_loss=model.metadata["best_val_loss"],
        nan_forecasts=int(np.isnan(fc["dst"].sel(quantile=0.5).values[:, 0]).sum()),
    )
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="build_dataset netCDF (train + validation years)")
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    (t0, t1), (v0, v1) = FULL_SPLIT["train"], FULL_SPLIT["validate"]
    p.add_argument("--train-years", type=int, nargs="+", default=list(range(t0, t1 + 1)))
    p.add_argument("--val-years", type=int, nargs="+", default=list(range(v0, v1 + 1)))
    p.add_argument("--every", type=int, default=3, help="non-storm issue-time step [h]")
    p.add_argument("--out", required=True)
    p.add_argument("--save-dir", default=None)
    p.add_argument("--degraded", action="store_true", help="also score with the plasma removed")
    args = p.parse_args(argv)
    if max(args.val_years) >= DEFAULT_TEST_FIRST_YEAR:
        raise SystemExit(
            f"validation years must not include the test years ({DEFAULT_TEST_FIRST_YEAR}+)"
        )
    ds = xr.open_dataset(args.data).load()
    results = []
    for name, js in args.variant:
        res = run_variant(name, json.loads(js), ds, args)
        results.append(res)
        print(json.dumps(res), file=sys.stderr, flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
