"""Issue 9's done-when tables for one registered TFT: the validation years, then the test years.

Everything that is chosen (the quantile calibration, the blend weights) is fitted on the
VALIDATION years only and then applied, unchanged, to the test years, which are scored once.
Forecasts are made at hourly issue times, leads 1..24 h, for:

* ``tft`` (raw quantiles), ``tft_cal`` (conformal calibration of the quantiles, then the
  Platt recalibration of the event probabilities, both fitted on the validation years as
  :func:`forecasting.models.train.calibrate_model` does);
* every baseline of :func:`forecasting.models.baselines.all_baselines`, fitted on the training
  years;
* ``blend``: ``tft_cal`` with O'Brien-McPherron for Dst and with persistence for Kp,
  weights per lead fitted on the validation years (:func:`forecasting.models.ensemble.fit_weights`),
  with its own event recalibration.

The event decisions P(event) >= p* take p* chosen on the validation years by maximum HSS
(:func:`forecasting.verification.scores.choose_decision_thresholds`), as training does.

Scores come from :mod:`forecasting.verification.scores`; storm time is
:func:`~forecasting.verification.scores.storm_time` (issue times within 24 h of an hour with
Dst <= -100 nT). Each model-vs-baseline pair is scored on the pairs where both forecast.

Usage::

    SUPERSTORM_HOME=H python benchmarks/storm_report.py --version V --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_sources import timeconv  # noqa: E402
from data_sources.store import Store  # noqa: E402
from forecasting import schema, splits  # noqa: E402
from forecasting.models import calibration, event_calibration, registry  # noqa: E402
from forecasting.models.baselines import all_baselines  # noqa: E402
from forecasting.models.ensemble import BlendWeights, blend_forecasts, fit_weights  # noqa: E402
from forecasting.models.predict import TFTForecaster  # noqa: E402
from forecasting.models.train import split_of  # noqa: E402
from forecasting.verification import scores  # noqa: E402

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
SHOW = (1, 3, 6, 12, 24)
#: the best baseline in storm time at every lead on the validation and test years (the
#: storm-time table of every model against every baseline shows it)
BEST_BASELINE = "obrien_mcpherron"
BLEND_MEMBERS = {"dst": ("tft_cal", BEST_BASELINE), "kp": ("tft_cal", "persistence")}
DECISION = {
    "G1": scores.Event("kp", schema.G_SCALE["G1"]),
    "D100": scores.Event("dst", -100.0),
}
EVENTS = {
    "P(G1) Kp>=5-": scores.Event("kp", schema.G_SCALE["G1"]),
    "P(Dst<=-100)": scores.Event("dst", -100.0),
}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def issue_times(ds: xr.Dataset, years: list[int]) -> pd.DatetimeIndex:
    """Hourly issue times of ``years`` that have Dst at the issue hour (data present)."""
    t = pd.DatetimeIndex(ds["time"].values)
    return t[t.year.isin(years) & np.isfinite(ds["dst"].values)]


def make_forecasts(model, ds: xr.Dataset, split, parts: dict, out: Path) -> dict:
    """Forecasts per part (name -> years) and model (netCDF cached in ``out``)."""
    base = all_baselines()
    train_ds = split.select(ds, "train")
    for b in base:
        b.fit(train_ds, lead_times=LEADS)
    tft = TFTForecaster(model)
    fcs: dict[str, dict[str, xr.Dataset]] = {}
    for part, years in parts.items():
        inits = issue_times(ds, years)
        fcs[part] = {}
        for f in [tft, *base]:
            path = out / f"fc_{part}_{f.name}.nc"
            if path.exists():
                fcs[part][f.name] = xr.load_dataset(path)
                continue
            _log(f"forecast {part} {f.name}: {len(inits)} issue times")
            fc = f.forecast(ds, inits, LEADS)
            fc.to_netcdf(path)
            fcs[part][f.name] = fc
    return fcs


def add_postprocessed(fcs: dict, ds: xr.Dataset, val_years: list[int], out: Path) -> dict:
    """``tft_cal`` and ``blend`` fitted on the validation forecasts, applied to both parts."""
    table = calibration.fit_calibration(
        fcs["validate"]["tft"], ds, fitted_on="years " + ", ".join(map(str, val_years))
    )
    (out / "calibration.json").write_text(json.dumps(table, indent=1, default=str))
    for part in fcs:
        fcs[part]["tft_cal"] = calibration.apply_calibration(fcs[part]["tft"], ds, table)
    fitted_on = "years " + ", ".join(map(str, val_years))
    events = event_calibration.fit_event_calibration(
        fcs["validate"]["tft_cal"], ds, fitted_on=fitted_on
    )
    (out / "event_calibration.json").write_text(json.dumps(events, indent=1))
    for part in fcs:
        fcs[part]["tft_cal"] = event_calibration.attach_event_calibration(
            fcs[part]["tft_cal"], events
        )
    names = list(dict.fromkeys(m for ms in BLEND_MEMBERS.values() for m in ms))
    weights: dict = {}
    for target, ms in BLEND_MEMBERS.items():
        w = fit_weights({m: fcs["validate"][m][[target]] for m in ms}, ds, targets=(target,))
        weights[target] = {
            h: [float(w.weights(target, h)[ms.index(n)]) if n in ms else 0.0 for n in names]
            for h in w.table[target]
        }
    bw = BlendWeights(names, weights, {"fitted_on": val_years})
    bw.save(out / "blend_weights.json")
    for part in fcs:
        fcs[part]["blend"] = blend_forecasts({m: fcs[part][m] for m in names}, bw)
    blend_events = event_calibration.fit_event_calibration(
        fcs["validate"]["blend"], ds, fitted_on=fitted_on
    )
    for part in fcs:
        fcs[part]["blend"] = event_calibration.attach_event_calibration(
            fcs[part]["blend"], blend_events
        )
    return fcs


def decision_table(fcs: dict, ds: xr.Dataset, chosen: dict) -> list[str]:
    """HSS of the event decisions P >= p* (p* chosen on the validation years) vs persistence.

    Persistence is deterministic (its quantiles are all the last value), so its decision is
    "the last known value reaches the level"; each model is scored on the pairs where it and
    persistence forecast.
    """
    lines = [
        "",
        "HSS of the event decisions P(event) >= p* (p* chosen on the validation "
        "years; persistence: last value reaches the level), pairs where both forecast:",
        "",
    ]
    leads = (1, 3, 6, 9, 12, 18, 24)
    lines += _head("model, event (p*)", [f"{h} h" for h in leads])
    for label, ev in {"G1 Kp>=5-": DECISION["G1"], "Dst<=-100": DECISION["D100"]}.items():
        for k in ("tft_cal", "blend", "persistence"):
            cut = scores.common_pairs({k: fcs[k], "p": fcs["persistence"]}, ds, ev.target)
            fc = cut[k]
            p_star = 0.5 if k == "persistence" else chosen[k][ev.name]["threshold"]
            prob = scores.event_probability(fc, ev, recalibrate=False)  # the decision score
            obs = timeconv.observed_for(fc, ds, ev.target)
            occ = ev.occurred(obs).astype(float).where(np.isfinite(obs))
            d = scores.decision_scores(prob, occ, p_star)
            lines.append(
                _row(f"{k}, {label} ({p_star:.2f})", [_at(d["hss"], h) for h in leads], "{:.3f}")
            )
    return lines


def _at(da: xr.DataArray, h: int) -> float:
    return float(da.sel(lead_time=pd.Timedelta(hours=h)).values)


def _row(name: str, vals: list[float], fmt: str = "{:.2f}") -> str:
    return f"| {name} | " + " | ".join(fmt.format(v) for v in vals) + " |"


def _head(first: str, cols: list[str]) -> list[str]:
    return [f"| {first} | " + " | ".join(cols) + " |", "|---" * (1 + len(cols)) + "|"]


def _vs_cells(
    fcs: dict, ds: xr.Dataset, model: str, base: str, init_mask=None, digits: int = 1
) -> list[str]:
    """``model / base (ratio)`` Dst RMSE per shown lead, on the pairs where both forecast
    (only the issue times of ``init_mask``, a boolean DataArray over ``init_time``, if given)."""
    cut = scores.common_pairs({model: fcs[model], base: fcs[base]}, ds, "dst", init_mask=init_mask)
    sm, sb = (scores.score(cut[k], ds, "dst")["rmse"] for k in (model, base))
    return [
        f"{_at(sm, h):.{digits}f} / {_at(sb, h):.{digits}f} ({_at(sm, h) / _at(sb, h):.2f})"
        for h in SHOW
    ]


def regime_table(
    fcs: dict, ds: xr.Dataset, storm: xr.DataArray, model: str = "tft_cal"
) -> list[str]:
    """Storm-time Dst RMSE of ``model`` against the best baseline, by the regime known at issue.

    The regime is the calibration's (:func:`forecasting.models.calibration.issue_regime` with
    its default edges and the solar-wind driver): 0 = quiet at issue (the storm has not yet
    shown in Dst, Kp or VBs), higher = a storm under way. It tells a loss at a storm's onset,
    which no input known at issue can foresee, from a loss inside a storm.
    """
    init = fcs[model]["init_time"].values
    regime = calibration.issue_regime(ds, init, vbs_edges=calibration.VBS_EDGES)
    base = BEST_BASELINE
    lines = [
        "",
        f"Storm-time Dst RMSE [nT] by the regime known at issue, {model} / {base} (ratio):",
        "",
    ]
    lines += _head("regime at issue (issue times)", [f"{h} h" for h in SHOW])
    for r in range(int(regime.max(initial=0)) + 1):
        mask = storm.copy(data=storm.values & (regime == r))
        if not mask.values.any():
            continue
        cells = _vs_cells(fcs, ds, model, base, mask)
        label = "0, quiet at issue" if r == 0 else str(r)
        lines.append(f"| {label} ({int(mask.values.sum())}) | " + " | ".join(cells) + " |")
    return lines


def common_pairs_table(fcs: dict, ds: xr.Dataset, models: list[str], base: str) -> list[str]:
    """All-hours Dst RMSE of each model against ``base`` on the pairs where both forecast.

    The own-pairs table can compare different hours: where the solar wind is missing for a
    whole year the TFT does not forecast, persistence still does.
    """
    lines = ["", f"All-hours Dst RMSE [nT], pairs where both forecast (model / {base}, ratio):", ""]
    lines += _head("model vs baseline", [f"{h} h" for h in SHOW])
    for m in models:
        cells = _vs_cells(fcs, ds, m, base, digits=2)
        lines.append(f"| {m} vs {base} | " + " | ".join(cells) + " |")
    return lines


def tables(fcs: dict, ds: xr.Dataset, base_rates: dict, chosen: dict) -> str:
    """The markdown tables of one part."""
    init = pd.DatetimeIndex(fcs["tft"]["init_time"].values)
    storm = scores.storm_time(init, ds)
    models = ["tft", "tft_cal", "blend"]
    baselines = [m for m in fcs if m not in models]
    lines = [f"{len(init)} hourly issue times, {int(storm.sum())} in storm time.", ""]
    # storm-time Dst RMSE, each model vs each baseline on their shared pairs
    lines += ["Storm-time Dst RMSE [nT], pairs where both forecast (model / baseline, ratio):", ""]
    lines += _head("model vs baseline", [f"{h} h" for h in SHOW])
    for m in models:
        for b in baselines:
            lines.append(f"| {m} vs {b} | " + " | ".join(_vs_cells(fcs, ds, m, b, storm)) + " |")
    # every storm hour persistence forecasts
    cut = scores.common_pairs({"persistence": fcs["persistence"]}, ds, "dst", init_mask=storm)
    n_p = scores.score(cut["persistence"], ds, "dst")["n"]
    n_m = {
        m: scores.score(scores.common_pairs({m: fcs[m]}, ds, "dst", init_mask=storm)[m], ds, "dst")[
            "n"
        ]
        for m in models
    }
    lines += regime_table(fcs, ds, storm)
    lines += ["", "Storm-time pairs forecast (persistence n vs model n):", ""]
    lines += _head("n", [f"{h} h" for h in SHOW])
    lines.append(_row("persistence", [_at(n_p, h) for h in SHOW], "{:.0f}"))
    for m in models:
        lines.append(_row(m, [_at(n_m[m], h) for h in SHOW], "{:.0f}"))
    # all-hours RMSE, coverage (all and storm), Kp HSS>=5
    every = list(fcs)
    allh = {k: scores.score(v, ds, "dst") for k, v in fcs.items()}
    lines += ["", "All-hours Dst RMSE [nT] (each model on its own pairs):", ""]
    lines += _head("model", [f"{h} h" for h in SHOW])
    for k in every:
        lines.append(_row(k, [_at(allh[k]["rmse"], h) for h in SHOW]))
    lines += common_pairs_table(fcs, ds, [m for m in models if m in fcs], "persistence")
    for target in ("dst", "kp"):
        for label, mask in (("all hours", None), ("storm time", storm)):
            lines += ["", f"{target} 80 % interval coverage, {label}:", ""]
            lines += _head("model", [f"{h} h" for h in SHOW])
            for k in models:
                fc = fcs[k] if mask is None else fcs[k].sel(init_time=init[mask.values])
                s = scores.score(fc, ds, target)
                lines.append(_row(k, [_at(s["coverage_80"], h) for h in SHOW]))
    lines += [
        "",
        "Kp HSS of the median, Kp >= 5 (each on the pairs where it and persistence forecast):",
        "",
    ]
    lines += _head("model", [f"{h} h" for h in (3, 6, 9, 12, 18, 24)])
    for k in [*models, "persistence"]:
        cut = scores.common_pairs({k: fcs[k], "p": fcs["persistence"]}, ds, "kp")
        s = scores.score(cut[k], ds, "kp")
        lines.append(
            _row(
                k,
                [
                    float(s["hss"].sel(threshold=5.0, lead_time=pd.Timedelta(hours=h)))
                    for h in (3, 6, 9, 12, 18, 24)
                ],
                "{:.3f}",
            )
        )
    lines += ["", "Brier skill vs climatology (base rate of the training years):", ""]
    lines += _head("model, event", [f"{h} h" for h in SHOW])
    for k in models:
        for label, ev in EVENTS.items():
            p = scores.event_probability(fcs[k], ev)
            obs = timeconv.observed_for(fcs[k], ds, ev.target)
            occurred = ev.occurred(obs).astype(float).where(np.isfinite(obs))
            bss = scores.brier_skill_score(p, occurred, base_rates[label])
            lines.append(_row(f"{k}, {label}", [_at(bss, h) for h in SHOW], "{:.3f}"))
    lines += decision_table(fcs, ds, chosen)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Make the forecasts, fit on validation, print and write both parts' tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--version", default="latest")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--test-years", default=None, help="e.g. 2015-2024 (default: the split's)")
    p.add_argument(
        "--validate-only",
        action="store_true",
        help="score the validation years only (to choose between models; the test years stay unseen)",
    )
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model = registry.load(args.version)
    model.metadata.pop("calibration", None)  # raw forecasts; the calibration is refitted here
    split = split_of(model)
    ds = splits.load_evaluation_data(split, store=Store())
    years = sorted(set(pd.DatetimeIndex(ds["time"].values).year))
    val_years = split.years("validate", years)
    test_years = split.years("test", years)
    if args.test_years:
        lo, hi = (int(x) for x in args.test_years.split("-"))
        test_years = [y for y in test_years if lo <= y <= hi]
    _log(f"model {model.version}; validate {val_years}; test {test_years}")
    train_ds = split.select(ds, "train")
    t = pd.DatetimeIndex(train_ds["time"].values)
    base_rates = {
        label: float(
            ev.occurred(train_ds[ev.target]).where(np.isfinite(train_ds[ev.target])).mean()
        )
        for label, ev in EVENTS.items()
    }
    _log(f"base rates (training years {t.year.min()}-{t.year.max()}): {base_rates}")
    parts = (
        {"validate": val_years}
        if args.validate_only
        else {"validate": val_years, "test": test_years}
    )
    fcs = make_forecasts(model, ds, split, parts, args.out)
    fcs = add_postprocessed(fcs, ds, val_years, args.out)
    chosen = {
        k: scores.choose_decision_thresholds(fcs["validate"][k], ds) for k in ("tft_cal", "blend")
    }
    text = [f"# Storm-time report: {model.version}", ""]
    for part, years in parts.items():
        text += [f"## {part} years {years}", "", tables(fcs[part], ds, base_rates, chosen), ""]
    md = "\n".join(text)
    (args.out / "storm_report.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
