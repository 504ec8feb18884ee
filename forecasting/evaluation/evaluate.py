"""Score forecasters on the test years and write the skill report.

``evaluate(forecasters, ds, split)`` fits the baselines on the training years, issues
forecasts every ``init_every`` through the test years, and scores every model per target and
lead on the SAME samples (the init/lead pairs where every model forecasting that target and
the observation are finite), so the numbers are comparable across models. It also finds the
intense storms (Dst <= -100 nT) in the test years with :func:`forecasting.storms.storm_catalog`
and measures peak-Dst and peak-timing errors per storm and lead.

``write_skill_report(results)`` writes ``reports/skill.nc`` (contract variables ``rmse, mae,
r, skill_vs_persistence, crps, coverage_80, hss`` on ``(target, model, lead_time)`` plus
extras) and ``reports/skill.md``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from data_sources.netcdf import write_netcdf_atomic
from forecasting import schema
from forecasting.models import baselines
from forecasting.models.base import MODEL_NAMES
from forecasting.splits import YearSplit
from forecasting.storms import storm_catalog
from forecasting.verification import scores as verification

MODELS: tuple[str, ...] = MODEL_NAMES
TARGETS: tuple[str, ...] = ("dst", "kp")
#: the event behind ``hss``/``pod``/``far``/``tss`` in skill.nc (Dst <= -50 nT, Kp >= 5)
PRIMARY_EVENT: dict[str, float] = {"dst": -50.0, "kp": 5.0}
METRICS = ("rmse", "mae", "r", "pe", "skill_vs_persistence", "crps", "coverage_80", "n")
EVENT_METRICS = ("pod", "far", "hss", "tss")
DEFAULT_LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


def _fit_if_needed(f, train: xr.Dataset, lead, targets) -> None:
    if isinstance(f, baselines.ResidualQuantileForecaster) and not f.is_fitted:
        wanted = [t for t in targets if t in f.supported and t in train]
        f.fit(train, lead_times=lead, targets=wanted)


def issue_times_in_test(
    ds: xr.Dataset, split: YearSplit, init_every: str = "3h"
) -> pd.DatetimeIndex:
    """Issue times in the test years, every ``init_every``, where the last hour's Dst is known."""
    test = split.select(ds, "test")
    times = pd.DatetimeIndex(test.indexes["time"])
    if len(times) == 0:
        raise ValueError(f"dataset has no hours in the test years {split.test}")
    init = pd.date_range(times.min().ceil(init_every), times.max() + timeconv.HOUR, freq=init_every)
    dst = ds["dst"].to_series()
    ok = dst.reindex(init - timeconv.HOUR).notna().to_numpy()
    return init[ok]


def evaluate(
    forecasters: Sequence,
    ds: xr.Dataset,
    split: YearSplit | None = None,
    *,
    init_every: str = "3h",
    lead_times=DEFAULT_LEADS,
    storms: bool = True,
    targets: Sequence[str] = TARGETS,
    init_times=None,
    storm_threshold: float = -100.0,
) -> xr.Dataset:
    """Score ``forecasters`` on the test years of ``ds``.

    Parameters
    ----------
    forecasters
        Objects following the Forecaster contract. Unfitted baselines are fitted on the
        training years; other models (the TFT) must come trained.
    ds
        Hourly dataset covering training and test years (``load_recorded_omni`` or
        ``build_dataset``).
    split
        Year split (default :class:`YearSplit`).
    init_every
        Issue-time spacing in the test years (``"1h"`` or ``"3h"``).
    lead_times
        Leads (default 1..24 h).
    storms
        Also compute per-storm peak errors for Dst.
    init_times
        Explicit issue times (overrides ``init_every``).

    Returns
    -------
    xr.Dataset
        Metrics on ``(target, model, lead_time)`` (``hss`` etc. for :data:`PRIMARY_EVENT`,
        ``hss_dst100`` for Dst <= -100 nT) and, with ``storms``, ``storm_peak_error`` /
        ``storm_timing_error`` on ``(model, storm, lead_time)``.
    """
    split = split or YearSplit()
    lead = pd.TimedeltaIndex(lead_times)
    targets = [t for t in targets if t in ds]
    if not targets:
        raise ValueError(f"dataset holds none of the targets {TARGETS}")
    if not forecasters:
        raise ValueError("no forecasters to evaluate")
    names = [f.name for f in forecasters]
    if len(set(names)) != len(names):
        raise ValueError(f"forecaster names must be unique; got {names}")
    train = split.select(ds, "train")
    init = (
        pd.DatetimeIndex(init_times)
        if init_times is not None
        else issue_times_in_test(ds, split, init_every)
    )
    if len(init) == 0:
        raise ValueError("no issue times with data in the test years")
    persistence = next((f for f in forecasters if f.name == "persistence"), None)
    if persistence is None:
        persistence = baselines.Persistence()
    for f in [*forecasters, persistence]:
        _fit_if_needed(f, train, lead, targets)
    fcs = {f.name: f.forecast(ds, init, lead, targets=tuple(targets)) for f in forecasters}
    pers_fc = fcs.get("persistence") or persistence.forecast(ds, init, lead, targets=tuple(targets))

    shape = (len(targets), len(names), len(lead))
    out = {k: np.full(shape, np.nan) for k in (*METRICS, *EVENT_METRICS, "hss_dst100")}
    for i, target in enumerate(targets):
        obs = timeconv.observed_for(next(iter(fcs.values())), ds, target)
        have = [n for n in names if target in fcs[n]]
        ok = np.isfinite(obs) & np.isfinite(schema.median(pers_fc, target).drop_vars("quantile"))
        for n in have:
            ok = ok & np.isfinite(fcs[n][target]).all("quantile")
        for n in have:
            fc = fcs[n][[target]].where(ok)
            fc.attrs = fcs[n].attrs
            pfc = pers_fc[[target]].where(ok)
            s = verification.score(fc, ds, target, persistence=pfc)
            j = names.index(n)
            for k in METRICS:
                out[k][i, j] = s[k].values
            if "threshold" in s.dims:
                prim = s.sel(threshold=PRIMARY_EVENT[target])
                for k in EVENT_METRICS:
                    out[k][i, j] = prim[k].values
                if target == "dst" and -100.0 in s.threshold.values:
                    out["hss_dst100"][i, j] = s["hss"].sel(threshold=-100.0).values
    coords = {"target": list(targets), "model": names, "lead_time": lead.values}
    res = xr.Dataset(
        {k: (("target", "model", "lead_time"), v) for k, v in out.items()}, coords=coords
    )
    dst_test = split.select(ds, "test")[targets[0]].to_series().dropna()
    test_years = sorted({int(y) for y in dst_test.index.year})
    res.attrs.update(
        test_years=",".join(map(str, test_years)),
        split=f"train {split.train}, validate {split.validate}, test {split.test}",
        init_every=str(init_every) if init_times is None else "explicit",
        n_init=len(init),
        first_init=str(init.min()),
        last_init=str(init.max()),
        samples="common: pairs where every model for the target and the observation are finite",
        crps_method="2 x mean pinball loss over quantiles " + ",".join(map(str, schema.QUANTILES)),
        event_rule="median beyond threshold; hss/pod/far/tss: Dst <= -50 nT, Kp >= 5",
    )
    if storms and "dst" in targets:
        res = res.merge(_storm_scores(forecasters, ds, split, init, lead, storm_threshold))
    return res


def _storm_scores(forecasters, ds, split, init, lead, threshold) -> xr.Dataset:
    """Peak errors per storm from HOURLY issue times around each storm (3-hourly inits at a
    fixed lead would skip the peak hour), each model on its own forecasts."""
    test = split.select(ds, "test").sel(time=slice(init.min(), init.max()))
    cat = storm_catalog(test, threshold)
    if cat.empty:
        return xr.Dataset()
    span = lead.max()
    hours = [
        pd.date_range(st - pd.Timedelta("24h") - span, en + pd.Timedelta("24h"), freq="1h")
        for st, en in zip(cat["start"], cat["end"], strict=True)
    ]
    storm_init = pd.DatetimeIndex(np.unique(np.concatenate([h.values for h in hours])))
    dst = ds["dst"].to_series()
    storm_init = storm_init[dst.reindex(storm_init - timeconv.HOUR).notna().to_numpy()]
    per_model = []
    for f in forecasters:
        fc = f.forecast(ds, storm_init, lead, targets=("dst",))
        if "dst" not in fc:
            continue
        pe = verification.storm_peak_errors(fc, ds, cat.reset_index(drop=True), "dst")
        per_model.append(pe[["peak_error", "timing_error"]].expand_dims(model=[f.name]))
    st = xr.concat(per_model, dim="model").rename(
        peak_error="storm_peak_error", timing_error="storm_timing_error"
    )
    st = st.assign_coords(
        storm_common_name=("storm", cat["common_name"].to_numpy(dtype=str)),
        storm_peak_dst=("storm", cat["peak_dst"].to_numpy(dtype=float)),
        storm_peak_time=("storm", pd.DatetimeIndex(cat["peak_time"]).values),
    )
    return st.transpose("model", "storm", "lead_time")


# --------------------------------------------------------------------------- report


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def skill_dataset(results: xr.Dataset) -> xr.Dataset:
    """``results`` on the contract grid: every target and model of :data:`MODELS` (NaN where absent)."""
    models = list(MODELS) + [m for m in results.model.values if m not in MODELS]
    out = results.reindex(target=list(TARGETS), model=models)
    for k in ("rmse", "mae", "r", "skill_vs_persistence", "crps", "coverage_80", "hss"):
        if k not in out:
            raise ValueError(f"results lack {k!r}; pass the output of evaluate()")
    units = {
        "rmse": "same as target (nT for dst)",
        "mae": "same as target",
        "crps": "same as target",
    }
    for k in out.data_vars:
        out[k].attrs.setdefault("units", units.get(k, "1"))
    out["hss"].attrs["long_name"] = "Heidke skill score, Dst <= -50 nT / Kp >= 5, median forecast"
    out["coverage_80"].attrs["long_name"] = "fraction of observations in [q0.1, q0.9] (nominal 0.8)"
    return out


def _table(da: xr.DataArray, leads_h: Sequence[int], fmt: str) -> list[str]:
    hours = (pd.TimedeltaIndex(da.lead_time.values) / timeconv.HOUR).astype(int)
    cols = [h for h in leads_h if h in set(hours)]
    lines = [
        "| model | " + " | ".join(f"{h} h" for h in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for m in da.model.values:
        row = da.sel(model=m)
        vals = [row.isel(lead_time=list(hours).index(h)).item() for h in cols]
        if np.all(np.isnan(vals)):
            continue
        cells = ["n/a" if np.isnan(v) else format(v, fmt) for v in vals]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def _summary(res: xr.Dataset, target: str) -> list[str]:
    rm = res["rmse"].sel(target=target)
    lines = []
    for h in (1, 6, 24):
        lt = pd.Timedelta(hours=h).to_timedelta64()
        if lt not in rm.lead_time.values:
            continue
        col = rm.sel(lead_time=lt).dropna("model")
        if col.size == 0:
            continue
        best = str(col.model.values[int(np.argmin(col.values))])
        lines.append(f"- lead {h} h: lowest RMSE {float(col.min()):.2f} ({best})")
    return lines


def write_skill_report(
    results: xr.Dataset,
    out_dir: str | Path = "reports",
    *,
    leads_h: Sequence[int] = (1, 3, 6, 12, 24),
) -> tuple[Path, Path]:
    """Write ``skill.nc`` and ``skill.md`` under ``out_dir`` (atomic writes).

    Returns
    -------
    (Path, Path)
        The netCDF and Markdown paths.
    """
    out_dir = Path(out_dir)
    skill = skill_dataset(results)
    nc = out_dir / "skill.nc"
    write_netcdf_atomic(skill, nc)
    md = out_dir / "skill.md"
    text = _markdown(results, leads_h)
    _atomic_write(md, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return nc, md


def _markdown(res: xr.Dataset, leads_h: Sequence[int]) -> str:
    a = res.attrs
    lines = [
        "# Forecast skill",
        "",
        f"Test years with data: {a.get('test_years', '?')} ({a.get('split', '')}). "
        f"{a.get('n_init', '?')} issue times ({a.get('init_every', '?')} spacing, "
        f"{a.get('first_init', '?')} to {a.get('last_init', '?')}). Every model is scored on the same "
        "samples per target: the (issue time, lead) pairs where all models and the observation exist.",
        "",
        "Point metrics use the median forecast. CRPS is approximated as twice the mean pinball loss "
        "over the 7 forecast quantiles (0.05-0.95); coverage_80 is the share of observations inside "
        "the 0.1-0.9 quantiles (0.80 if calibrated). Events: the median beyond the threshold "
        "(HSS at Dst <= -50 nT and Kp >= 5). Skill vs persistence = 1 - MSE/MSE_persistence.",
        "",
        "Burton and O'Brien-McPherron hold the last known solar wind constant over the forecast "
        "(no solar-wind forecast is used), so their skill is expected mostly at the first hours; "
        "they do not forecast Kp. Dst in the recorded OMNI2 files is provisional or quick-look for "
        "recent years, and years without a recorded file are gaps, not zeros.",
    ]
    for target in [t for t in TARGETS if t in res.target.values]:
        unit = "nT" if target == "dst" else "Kp units"
        lines += ["", f"## {target}", ""]
        lines += _summary(res, target)
        for k, title, fmt in (
            ("rmse", f"RMSE [{unit}]", ".2f"),
            ("mae", f"MAE [{unit}]", ".2f"),
            ("r", "Pearson r", ".3f"),
            ("skill_vs_persistence", "Skill vs persistence", ".3f"),
            ("crps", f"CRPS [{unit}]", ".2f"),
            ("coverage_80", "80 % interval coverage", ".2f"),
            ("hss", "HSS (" + ("Dst <= -50 nT" if target == "dst" else "Kp >= 5") + ")", ".3f"),
        ):
            if k in res:
                lines += ["", f"### {title}", ""] + _table(res[k].sel(target=target), leads_h, fmt)
    if "storm_peak_error" in res and res.sizes.get("storm", 0):
        lead_pick = [
            h for h in (1, 3, 6) if pd.Timedelta(hours=h).to_timedelta64() in res.lead_time.values
        ]
        lines += [
            "",
            "## Intense storms (Dst <= -100 nT) in the test years",
            "",
            "Peak error = forecast minimum - observed minimum of the median at a fixed lead "
            "(nT; positive = too weak); timing = forecast minus observed peak time (h).",
            "",
        ]
        head = (
            "| storm | name | observed peak [nT] | model | "
            + " | ".join(f"peak err {h} h | timing {h} h" for h in lead_pick)
            + " |"
        )
        lines += [head, "|---|---|---:|---|" + "---:|---:|" * len(lead_pick)]
        for s in res.storm.values:
            row = res.sel(storm=s)
            for m in res.model.values:
                cells = []
                for h in lead_pick:
                    lt = pd.Timedelta(hours=h).to_timedelta64()
                    pe = float(row["storm_peak_error"].sel(model=m, lead_time=lt))
                    te = float(row["storm_timing_error"].sel(model=m, lead_time=lt))
                    cells += [
                        "n/a" if np.isnan(pe) else f"{pe:+.0f}",
                        "n/a" if np.isnan(te) else f"{te:+.0f}",
                    ]
                lines.append(
                    f"| {s} | {row['storm_common_name'].item()} | {float(row['storm_peak_dst']):.0f} "
                    f"| {m} | " + " | ".join(cells) + " |"
                )
    lines.append("")
    return "\n".join(lines)
