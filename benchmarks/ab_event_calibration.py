"""Cross-fitted A/B of the per-lead event recalibration on the validation years.

Takes a TFT forecast of the validation years as it is served before the event recalibration
(quantile calibration applied, hourly issue times) and the hourly dataset it verifies
against. For each validation year the Platt maps
(:func:`forecasting.models.event_calibration.fit_event_calibration`) and the decision
probabilities (:func:`forecasting.verification.scores.choose_decision_threshold`) are fitted
on the OTHER years and applied to this one, so every score is out of sample. Prints markdown
tables per event and lead: Brier skill against the fitting years' base rate, raw vs
recalibrated, and the HSS of one pooled decision threshold chosen on the raw probability
(what the alert rules do) vs on the recalibrated one. Never pass the test years. Usage::

    .venv/bin/python benchmarks/ab_event_calibration.py --forecast FC.nc --data DS.nc
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_sources import timeconv  # noqa: E402
from forecasting import schema  # noqa: E402
from forecasting.models import event_calibration as ec  # noqa: E402
from forecasting.splits import DEFAULT_TEST_FIRST_YEAR  # noqa: E402
from forecasting.verification import scores  # noqa: E402

LEADS = (1, 3, 6, 12, 18, 24)
EVENTS = {
    "P(G1) Kp>=5-": scores.Event("kp", schema.G_SCALE["G1"]),
    "P(G2) Kp>=6-": scores.Event("kp", schema.G_SCALE["G2"]),
    "P(Dst<=-50)": scores.Event("dst", -50.0),
    "P(Dst<=-100)": scores.Event("dst", -100.0),
}


def _outcome(fc: xr.Dataset, ds: xr.Dataset, ev: scores.Event) -> xr.DataArray:
    obs = timeconv.observed_for(fc, ds, ev.target)
    return ev.occurred(obs).astype(float).where(np.isfinite(obs))


def rows(fc: xr.Dataset, ds: xr.Dataset, label: str, ev: scores.Event) -> list[str]:
    """The table rows of one event: BSS raw/recalibrated, decision HSS raw/recalibrated."""
    init = pd.DatetimeIndex(fc.indexes["init_time"])
    years = sorted(int(y) for y in np.unique(init.year))
    if len(years) < 2 or max(years) >= DEFAULT_TEST_FIRST_YEAR:
        raise SystemExit(
            f"need two or more validation years before {DEFAULT_TEST_FIRST_YEAR}, got {years}"
        )
    out: dict[str, list[xr.DataArray]] = {k: [] for k in ("raw", "cal", "dec_raw", "dec_cal")}
    bss: dict[str, list[tuple[xr.DataArray, xr.DataArray, float]]] = {"raw": [], "cal": []}
    for year in years:
        fit, test = fc.isel(init_time=init.year != year), fc.isel(init_time=init.year == year)
        o_fit, o_test = _outcome(fit, ds, ev), _outcome(test, ds, ev)
        table = ec.fit_event_calibration(fit, ds, events=(ev,))
        cal_fit = ec.attach_event_calibration(fit, table)
        cal_test = ec.attach_event_calibration(test, table)
        base = float(o_fit.mean())
        p_raw = scores.event_probability(test, ev, recalibrate=False)
        p_cal = scores.event_probability(cal_test, ev)
        bss["raw"].append((p_raw, o_test, base))
        bss["cal"].append((p_cal, o_test, base))
        for key, f, t in (("dec_raw", fit, test), ("dec_cal", cal_fit, cal_test)):
            recal = key == "dec_cal"
            chosen = scores.choose_decision_threshold(
                scores.event_probability(f, ev, recalibrate=recal), o_fit
            )
            if chosen["threshold"] is None:
                continue
            p = scores.event_probability(t, ev, recalibrate=recal)
            valid = np.isfinite(p) & np.isfinite(o_test)
            out[key].append(scores.contingency(p >= chosen["threshold"], o_test > 0.5, valid))
    lines = []
    for key, name in (("raw", "Brier skill, raw"), ("cal", "Brier skill, recalibrated")):
        p = xr.concat([b[0] for b in bss[key]], "init_time")
        o = xr.concat([b[1] for b in bss[key]], "init_time")
        ref = xr.concat([xr.full_like(b[1], b[2]) for b in bss[key]], "init_time")
        s = 1 - scores.brier_score(p, o) / scores.brier_score(ref, o)
        lines.append(_line(f"{label} {name}", s))
    for key, name in (("dec_raw", "HSS, p* on raw"), ("dec_cal", "HSS, p* on recalibrated")):
        if out[key]:
            total = sum(out[key][1:], out[key][0])
            lines.append(_line(f"{label} {name}", scores.hss(total)))
    return lines


def _line(name: str, da: xr.DataArray) -> str:
    cells = [f"{float(da.sel(lead_time=pd.Timedelta(hours=h))):.3f}" for h in LEADS]
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    """Print the cross-fitted tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--forecast", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    args = p.parse_args(argv)
    fc, ds = xr.load_dataset(args.forecast), xr.load_dataset(args.data)
    print("| event, score | " + " | ".join(f"{h} h" for h in LEADS) + " |")
    print("|---" * (len(LEADS) + 1) + "|")
    for label, ev in EVENTS.items():
        for line in rows(fc, ds, label, ev):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
