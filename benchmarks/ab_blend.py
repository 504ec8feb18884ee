"""A/B of the quantile-averaging blend on the VALIDATION years, cross-fitted by year.

Reads member forecasts made on hourly issue times of the validation years (netCDF files in
the :func:`forecasting.schema.make_forecast` schema: ``fc_tft.nc``, ``fc_obrien_mcpherron.nc``,
``fc_persistence.nc`` in ``--fc-dir``) and the hourly observations (a ``build_dataset``
netCDF). Weights are fitted on one year (:func:`forecasting.models.ensemble.fit_weights`) and
the blend is scored on the other, both ways; the two out-of-sample halves are pooled and scored
beside the members with :mod:`forecasting.verification.scores` on the pairs where every model
in the table forecasts:

* Dst: RMSE of the median and CRPS (= 2 x mean pinball loss), all hours and storm time (issue
  times within 24 h of an hour with Dst <= -100 nT);
* Kp: HSS of the median for Kp >= 5.

Never pass test-year forecasts. Usage::

    .venv/bin/python benchmarks/ab_blend.py --data DS.nc --fc-dir DIR --out DIR/ab_blend.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting.models.ensemble import (  # noqa: E402
    STORM_WEIGHT,
    BlendWeights,
    blend_forecasts,
    fit_weights,
)
from forecasting.splits import DEFAULT_TEST_FIRST_YEAR  # noqa: E402
from forecasting.verification import scores  # noqa: E402

LEADS_DST = (1, 3, 6, 12, 24)
LEADS_KP = (3, 6, 12, 24)
MEMBERS = {"dst": ("tft", "obrien_mcpherron"), "kp": ("tft", "persistence")}
ALL3 = ("tft", "obrien_mcpherron", "persistence")


def _year(fc: xr.Dataset, years: int | list[int]) -> xr.Dataset:
    keep = pd.DatetimeIndex(fc["init_time"].values).year.isin(np.atleast_1d(years))
    return fc.sel(init_time=keep)


def fit_fold(
    fcs: dict, ds: xr.Dataset, year: list[int], members: dict, storm_weight: float
) -> BlendWeights:
    """Weights per target fitted on the years ``year`` only, over the union of members."""
    names = list(dict.fromkeys(m for ms in members.values() for m in ms))
    table, info = {}, {}
    for target, ms in members.items():
        w = fit_weights(
            {m: _year(fcs[m], year)[[target]] for m in ms},
            ds,
            targets=(target,),
            storm_weight=storm_weight,
        )
        table[target] = {
            h: [float(w.weights(target, h)[ms.index(n)]) if n in ms else 0.0 for n in names]
            for h in w.table[target]
        }
        info[target] = w.info
    return BlendWeights(names, table, {"fitted_year": year, "per_target": info})


def cross_fit(fcs: dict, ds: xr.Dataset, members: dict, storm_weight: float, tag: str, out: Path):
    """Out-of-sample blend over the validation years (each scored by weights fitted on the rest)."""
    parts, weights = [], {}
    years = sorted(set(pd.DatetimeIndex(fcs["tft"]["init_time"].values).year))
    for score_year in years:
        fit_years = [y for y in years if y != score_year]
        w = fit_fold(fcs, ds, fit_years, members, storm_weight)
        w.save(out / f"weights_{tag}_score{score_year}.json")
        weights[score_year] = w
        parts.append(blend_forecasts({m: _year(fcs[m], score_year) for m in w.members}, w))
    blend = xr.concat(parts, dim="init_time").sortby("init_time")
    blend.attrs = parts[0].attrs | {"model": tag}
    return blend, weights


def table_scores(fcs: dict, ds: xr.Dataset, target: str, mask: xr.DataArray | None) -> dict:
    """``score`` of every model on the pairs where all of them forecast."""
    cut = scores.common_pairs(fcs, ds, target, init_mask=mask)
    return {k: scores.score(fc, ds, target) for k, fc in cut.items()}


def _at(da: xr.DataArray, hours: int) -> float:
    return float(da.sel(lead_time=pd.Timedelta(hours=hours)).values)


def main(argv: list[str] | None = None) -> int:
    """Run the A/B and print the markdown tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--fc-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--storm-weight", type=float, default=STORM_WEIGHT)
    args = p.parse_args(argv)
    out = Path(args.out).parent
    ds = xr.load_dataset(args.data)
    fcs = {n: xr.load_dataset(Path(args.fc_dir) / f"fc_{n}.nc") for n in ALL3}
    years = set(pd.DatetimeIndex(fcs["tft"]["init_time"].values).year)
    if len(years) < 2 or max(years) >= DEFAULT_TEST_FIRST_YEAR:
        raise SystemExit(f"give two or more validation years, never the test years; got {years}")
    blend, w2 = cross_fit(fcs, ds, MEMBERS, args.storm_weight, "blend", out)
    blend3, w3 = cross_fit(
        fcs, ds, {"dst": ALL3, "kp": ALL3[::2]}, args.storm_weight, "blend3", out
    )
    models = {**fcs, "blend": blend, "blend3": blend3}
    seeds = sorted(Path(args.fc_dir).glob("fc_tft_seed*.nc"))
    if seeds:  # seed ensemble: equal-weight mean of the TFTs, then blended with the baselines
        tfts = {"tft": fcs["tft"], **{f.stem[3:]: xr.load_dataset(f) for f in seeds}}
        lead = fcs["tft"]["lead_time"].values
        ens = blend_forecasts(tfts, BlendWeights.equal(list(tfts), ("dst", "kp"), lead))
        ens.attrs["model"] = "tft_ens"
        ens_fcs = {**fcs, "tft": ens}
        ens_blend, w_ens = cross_fit(ens_fcs, ds, MEMBERS, args.storm_weight, "ens_blend", out)
        models.update(tft_ens=ens, ens_blend=ens_blend)
        res_members = len(tfts)
    init = pd.DatetimeIndex(fcs["tft"]["init_time"].values)
    storm = scores.storm_time(init, ds)
    res: dict = {
        "seed_members": res_members if seeds else 1,
        "n_issue": len(init),
        "n_storm_issue": int(storm.sum()),
        "storm_weight": args.storm_weight,
    }
    for k in ("blend", "blend3", "ens_blend")[
        : 3 if seeds else 2
    ]:  # the NaN rule: a blend value wherever any member forecasts
        for t in ("dst", "kp"):
            anyf = sum(
                models[m][t].notnull().all("quantile").astype(int) for m in ALL3 if t in models[m]
            )
            res[f"{k}_{t}_nan_where_a_member_forecasts"] = int(
                ((anyf > 0) & models[k][t].isnull().any("quantile")).sum()
            )
    res["om_missing_dst_pairs"] = int(
        (
            fcs["tft"]["dst"].notnull().all("quantile")
            & fcs["obrien_mcpherron"]["dst"].isnull().any("quantile")
        ).sum()
    )
    lines = [f"NaN checks: { {k: v for k, v in res.items() if 'nan' in k or 'missing' in k} }"]
    for label, mask in (("storm time", storm), ("all hours", None)):
        s = table_scores(models, ds, "dst", mask)
        res[f"dst_{label}"] = {
            k: {
                "rmse": [_at(v["rmse"], h) for h in LEADS_DST],
                "crps": [_at(v["crps"], h) for h in LEADS_DST],
                "n": [_at(v["n"], h) for h in LEADS_DST],
            }
            for k, v in s.items()
        }
        n = res[f"dst_{label}"]["tft"]["n"]
        lines.append(f"\nDst {label} (pairs where all {len(models)} forecast; n = {n}):\n")
        lines.append(
            "| model | "
            + " | ".join(f"RMSE {h} h" for h in LEADS_DST)
            + " | "
            + " | ".join(f"CRPS {h} h" for h in LEADS_DST)
            + " |"
        )
        lines.append("|---" * (1 + 2 * len(LEADS_DST)) + "|")
        for k, v in res[f"dst_{label}"].items():
            lines.append(
                f"| {k} | "
                + " | ".join(f"{x:.2f}" for x in v["rmse"])
                + " | "
                + " | ".join(f"{x:.2f}" for x in v["crps"])
                + " |"
            )
    # every hour persistence forecasts (OM missing with the plasma): blend vs tft vs persistence
    for label, mask in (("storm time", storm), ("all hours", None)):
        sub = {k: v for k, v in models.items() if k != "obrien_mcpherron"}
        s = table_scores(sub, ds, "dst", mask)
        res[f"dst_{label}_incl_om_missing"] = {
            k: {
                "rmse": [_at(v["rmse"], h) for h in LEADS_DST],
                "n": [_at(v["n"], h) for h in LEADS_DST],
            }
            for k, v in s.items()
        }
        n = res[f"dst_{label}_incl_om_missing"]["tft"]["n"]
        lines.append(
            f"\nDst {label}, every hour TFT and persistence forecast (OM-missing hours in; n = {n}):\n"
        )
        lines.append("| model | " + " | ".join(f"RMSE {h} h" for h in LEADS_DST) + " |")
        lines.append("|---" * (1 + len(LEADS_DST)) + "|")
        for k, v in res[f"dst_{label}_incl_om_missing"].items():
            lines.append(f"| {k} | " + " | ".join(f"{x:.2f}" for x in v["rmse"]) + " |")
    s = table_scores({k: v for k, v in models.items() if k != "obrien_mcpherron"}, ds, "kp", None)
    res["kp_hss5"] = {
        k: [float(v["hss"].sel(threshold=5.0, lead_time=pd.Timedelta(hours=h))) for h in LEADS_KP]
        for k, v in s.items()
    }
    res["kp_crps"] = {k: [_at(v["crps"], h) for h in LEADS_KP] for k, v in s.items()}
    lines.append("\nKp (all hours): HSS (median >= 5) and CRPS\n")
    lines.append(
        "| model | "
        + " | ".join(f"HSS {h} h" for h in LEADS_KP)
        + " | "
        + " | ".join(f"CRPS {h} h" for h in LEADS_KP)
        + " |"
    )
    lines.append("|---" * (1 + 2 * len(LEADS_KP)) + "|")
    for k in res["kp_hss5"]:
        lines.append(
            f"| {k} | "
            + " | ".join(f"{x:.3f}" for x in res["kp_hss5"][k])
            + " | "
            + " | ".join(f"{x:.3f}" for x in res["kp_crps"][k])
            + " |"
        )
    show = (1, 2, 3, 4, 6, 9, 12, 18, 24)
    lines.append("\nFitted weights of the TFT (the rest to OM for Dst, persistence for Kp):\n")
    lines.append("| weights | " + " | ".join(f"{h} h" for h in show) + " |")
    lines.append("|---" * (1 + len(show)) + "|")
    res["weights"] = {}
    for tag, ws in (("blend", w2), ("blend3", w3)) + ((("ens_blend", w_ens),) if seeds else ()):
        for fy, w in ws.items():
            for t in ("dst", "kp"):
                row = {h: w.weights(t, h).tolist() for h in show}
                res["weights"][f"{tag}_{t}_fit{fy}"] = row
                cells = [
                    "/".join(f"{x:.2f}" for x in row[h])
                    if tag == "blend3" and t == "dst"
                    else f"{row[h][0]:.2f}"
                    for h in show
                ]
                lines.append(f"| {tag} {t}, fit {fy} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(json.dumps(res, indent=1))
    Path(args.out).with_suffix(".md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
