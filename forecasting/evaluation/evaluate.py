"""Score forecasters on held-out years and write the skill report.

``evaluate(forecasters, ds, split)`` fits the baselines on the training years, issues
forecasts every ``init_every`` through the test years (or the validation years with
``part="validate"``), and scores every model per target and lead on the SAME samples (the
init/lead pairs where every model forecasting that target and the observation are finite), so
the numbers are comparable across models. On top of the all-hours scores it measures, all with
:mod:`forecasting.verification.scores`:

* storm time (issue times within 24 h of an hour with observed Dst <= -100 nT), each model
  paired with the reference model (the TFT) on the hours where both forecast;
* per intense storm (:func:`forecasting.storms.storm_catalog`), peak-Dst and peak-timing
  errors per lead;
* the Brier skill score against the training-years climatology and a reliability table for
  P(G1: Kp >= 5-) and P(Dst <= -100 nT);
* HSS/TSS of the event decisions ``P(event) >= p*`` for P(Kp >= 5..9) and
  P(Dst <= -50/-100/-250 nT), with ``p*`` chosen per model and event on the VALIDATION years
  (the TFT's stored thresholds when it has them).

``write_skill_report(results)`` writes ``reports/skill.nc`` (CF-1.8; contract variables
``rmse, mae, r, skill_vs_persistence, crps, coverage_80, hss`` on ``(target, model,
lead_time)`` plus the above; labels are char-array auxiliary coordinates ``model_name`` etc.,
read them back with :func:`read_skill`) and ``reports/skill.md``, where every table compares
the TFT with the best baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from data_sources import config, timeconv
from data_sources.netcdf import NETCDF_LOCK, write_bytes_atomic, write_netcdf_atomic
from forecasting import schema
from forecasting.models import baselines
from forecasting.models.base import BASELINE_NAMES, MODEL_NAMES, Forecaster
from forecasting.splits import YearSplit
from forecasting.storms import storm_catalog
from forecasting.verification import scores as verification

MODELS: tuple[str, ...] = MODEL_NAMES
TARGETS: tuple[str, ...] = ("dst", "kp")
#: the event behind ``hss``/``pod``/``far``/``tss`` in skill.nc (Dst <= -50 nT, Kp >= 5)
PRIMARY_EVENT: dict[str, float] = {"dst": -50.0, "kp": 5.0}
METRICS = ("rmse", "mae", "r", "pe", "skill_vs_persistence", "crps", "coverage_80", "n")
EVENT_METRICS = ("pod", "far", "hss", "tss")
STORM_METRICS = ("rmse", "mae", "crps", "coverage_80")
DECISION_METRICS = ("pod", "far", "hss", "tss")
DEFAULT_LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
#: the model every storm-time row is paired with (when it is evaluated)
REFERENCE = "tft"


def _fit_if_needed(
    f: Forecaster, train: xr.Dataset, lead: pd.TimedeltaIndex, targets: Sequence[str]
) -> None:
    if isinstance(f, baselines.ResidualQuantileForecaster) and not f.is_fitted:
        wanted = [t for t in targets if t in f.supported and t in train]
        f.fit(train, lead_times=lead, targets=wanted)


def issue_times_in(
    ds: xr.Dataset, split: YearSplit, part: str = "test", init_every: str = "3h"
) -> pd.DatetimeIndex:
    """Issue times in the ``part`` years, every ``init_every``, where the last hour's Dst is known.

    Parameters
    ----------
    ds
        Hourly dataset.
    split
        Year split.
    part
        ``test`` or ``validate``.
    init_every
        Spacing (pandas offset, a whole number of hours).

    Returns
    -------
    pandas.DatetimeIndex
        The issue times.

    Raises
    ------
    ValueError
        If ``init_every`` is not a positive whole number of hours
        (:func:`data_sources.timeconv.hour_spacing`) or the ``part`` years hold no hour.
    """
    timeconv.hour_spacing(init_every, "the issue-time spacing")
    held = split.select(ds, part)
    times = pd.DatetimeIndex(held.indexes["time"])
    if len(times) == 0:
        raise ValueError(f"dataset has no hours in the {part} years {getattr(split, part)}")
    init = pd.date_range(times.min().ceil(init_every), times.max() + timeconv.HOUR, freq=init_every)
    dst = ds["dst"].to_series()
    ok = dst.reindex(init - timeconv.HOUR).notna().to_numpy()
    return init[ok]


def issue_times_in_test(
    ds: xr.Dataset, split: YearSplit, init_every: str = "3h"
) -> pd.DatetimeIndex:
    """:func:`issue_times_in` for the test years.

    Parameters
    ----------
    ds : xr.Dataset
        Hourly dataset on ``time`` (naive UTC hour labels) holding ``dst`` [nT].
    split : YearSplit
        Year split; its ``test`` years are used.
    init_every : str
        Spacing of issue times (pandas offset, ``"3h"``).

    Returns
    -------
    pd.DatetimeIndex
        Naive UTC issue times in the test years where the hour before (``t - 1 h``) has Dst.
    """
    return issue_times_in(ds, split, "test", init_every)


def model_version(forecaster: Forecaster) -> str:
    """The version a forecaster reports (``version`` attribute or property; ``""`` if none).

    Parameters
    ----------
    forecaster : Forecaster
        Any forecaster (the TFT reports its registry version, baselines theirs).

    Returns
    -------
    str
        The version as a string; ``""`` when absent or empty.
    """
    return str(getattr(forecaster, "version", "") or "")


def evaluate(
    forecasters: Sequence,
    ds: xr.Dataset,
    split: YearSplit | None = None,
    *,
    part: str = "test",
    init_every: str = "3h",
    lead_times: ArrayLike = DEFAULT_LEADS,
    storms: bool = True,
    targets: Sequence[str] = TARGETS,
    init_times: ArrayLike | None = None,
    storm_threshold: float = -100.0,
    decisions: bool = True,
    decision_criterion: str = "hss",
    version_selector: str = "",
) -> xr.Dataset:
    """Score ``forecasters`` on the ``part`` years of ``ds``.

    Parameters
    ----------
    forecasters
        Objects following the Forecaster contract. Unfitted baselines are fitted on the
        training years; other models (the TFT) must come trained.
    ds
        Hourly dataset covering training, validation and scored years.
    split
        Year split (default :class:`YearSplit`).
    part
        The years scored: ``test`` (default) or ``validate``.
    init_every
        Issue-time spacing (``"1h"`` or ``"3h"``).
    lead_times
        Leads (default 1..24 h).
    storms
        Also compute storm-time and per-storm scores.
    targets
        Targets scored.
    init_times
        Explicit issue times (overrides ``init_every``).
    storm_threshold
        Storm level [nT] for storm time and the storm catalogue.
    decisions
        Also score the event decisions (thresholds chosen on the validation years).
    decision_criterion
        ``hss`` or ``tss``: what the decision probability maximises.
    version_selector
        How the scored TFT was picked (``latest``, ``current`` or a name), recorded.

    Returns
    -------
    xr.Dataset
        Metrics on ``(target, model, lead_time)`` (``hss`` etc. for :data:`PRIMARY_EVENT`,
        ``hss_dst100`` for Dst <= -100 nT); ``storm_time_*`` (each model and the reference
        on their shared storm-time pairs), ``brier``/``brier_skill`` and ``reliability_*``
        on ``event``, ``decision_*`` on ``(event, model[, lead_time])``, and with ``storms``
        ``storm_peak_error`` / ``storm_timing_error`` on ``(model, storm, lead_time)``.
    """
    split = split or YearSplit()
    if part not in ("test", "validate"):
        raise ValueError(f"part={part!r}: score the 'test' or the 'validate' years")
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
        else issue_times_in(ds, split, part, init_every)
    )
    if len(init) == 0:
        raise ValueError(f"no issue times with data in the {part} years")
    persistence = next((f for f in forecasters if f.name == "persistence"), None)
    if persistence is None:
        persistence = baselines.Persistence()
    for f in [*forecasters, persistence]:
        _fit_if_needed(f, train, lead, targets)
    fcs = {f.name: f.forecast(ds, init, lead, targets=tuple(targets)) for f in forecasters}
    pers_fc = fcs.get("persistence") or persistence.forecast(ds, init, lead, targets=tuple(targets))

    common = {t: _common_forecasts(fcs, pers_fc, ds, t) for t in targets}
    res = _all_hours(common, pers_fc, ds, targets, names, lead)
    res = res.merge(_probabilistic(common, ds, train, names, lead), join="outer")
    threshold_source = ""
    if decisions:
        dec = _decisions(forecasters, fcs, common, ds, split, part, lead, decision_criterion)
        threshold_source = dec.attrs.get("decision_threshold_source", "")
        res = res.merge(dec, join="outer")
    if storms and "dst" in targets:
        st = _storm_time(forecasters, ds, split, part, init, lead, targets, storm_threshold)
        res = res.merge(st, join="outer")
    held = split.select(ds, part)[targets[0]].to_series().dropna()
    years = sorted({int(y) for y in held.index.year})
    ref = REFERENCE if REFERENCE in names else names[0]
    res.attrs.update(
        scored_part=part,
        scored_years=",".join(map(str, years)),
        test_years=",".join(map(str, years)) if part == "test" else "",
        split=f"train {split.train}, validate {split.validate}, test {split.test}",
        init_every=str(init_every) if init_times is None else "explicit",
        n_init=len(init),
        first_init=str(init.min()),
        last_init=str(init.max()),
        model_versions=";".join(f"{f.name}={model_version(f)}" for f in forecasters),
        version_selector=version_selector or "given",
        reference_model=ref,
        samples="common: pairs where every model for the target and the observation are finite",
        storm_time=(
            f"hourly issue times within 24 h of an hour with observed Dst <= {storm_threshold:g} nT; "
            f"each model paired with {ref} on the pairs where both forecast"
        ),
        crps_method="2 x mean pinball loss over quantiles " + ",".join(map(str, schema.QUANTILES)),
        event_rule="median beyond threshold; hss/pod/far/tss: Dst <= -50 nT, Kp >= 5",
        decision_rule=(
            f"P(event) >= p*, p* maximising {decision_criterion.upper()} on the validation years "
            f"{split.validate}"
        ),
        brier_reference="climatological event frequency of the training years",
        decision_threshold_source=threshold_source,
    )
    if storms and "dst" in targets:
        res = res.merge(
            _storm_scores(forecasters, ds, split, part, init, lead, storm_threshold), join="outer"
        )
    return res


def _common_forecasts(
    fcs: dict[str, xr.Dataset], pers_fc: xr.Dataset, ds: xr.Dataset, target: str
) -> dict[str, xr.Dataset]:
    """Every model's forecast of ``target`` on the pairs where all of them are finite.

    The pairs kept are those where every model, persistence and the observation are finite.
    """
    have = {n: fc for n, fc in fcs.items() if target in fc}
    if not have:
        return {}
    with_pers = {**have, "__persistence__": pers_fc}
    cut = verification.common_pairs(with_pers, ds, target)
    cut.pop("__persistence__")
    return cut


def _all_hours(
    common: dict[str, dict[str, xr.Dataset]],
    pers_fc: xr.Dataset,
    ds: xr.Dataset,
    targets: Sequence[str],
    names: list[str],
    lead: pd.TimedeltaIndex,
) -> xr.Dataset:
    shape = (len(targets), len(names), len(lead))
    out = {k: np.full(shape, np.nan) for k in (*METRICS, *EVENT_METRICS, "hss_dst100")}
    for i, target in enumerate(targets):
        for n, fc in common[target].items():
            pfc = (
                pers_fc[[target]].reindex(init_time=fc["init_time"]).where(np.isfinite(fc[target]))
            )
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
    return xr.Dataset(
        {k: (("target", "model", "lead_time"), v) for k, v in out.items()}, coords=coords
    )


def _occurred(ev: verification.Event, fc: xr.Dataset, ds: xr.Dataset) -> xr.DataArray:
    obs = timeconv.observed_for(fc, ds, ev.target)
    return ev.occurred(obs).astype(float).where(np.isfinite(obs))


def _probabilistic(
    common: dict[str, dict[str, xr.Dataset]],
    ds: xr.Dataset,
    train: xr.Dataset,
    names: list[str],
    lead: pd.TimedeltaIndex,
) -> xr.Dataset:
    """Brier score, BSS vs training climatology and reliability for the probability events."""
    events = [e for e in verification.PROBABILITY_EVENTS if e.target in common]
    if not events:
        return xr.Dataset()
    bins = 10
    shape = (len(events), len(names), len(lead))
    bs, bss = np.full(shape, np.nan), np.full(shape, np.nan)
    rel = {k: np.full((*shape, bins), np.nan) for k in ("fp", "of", "count")}
    base = np.full(len(events), np.nan)
    for i, ev in enumerate(events):
        if ev.target in train:
            tr = train[ev.target]
            base[i] = float(ev.occurred(tr).where(np.isfinite(tr)).mean())
        for n, fc in common[ev.target].items():
            j = names.index(n)
            p = verification.event_probability(fc, ev)
            o = _occurred(ev, fc, ds)
            bs[i, j] = verification.brier_score(p, o).values
            if np.isfinite(base[i]):
                bss[i, j] = verification.brier_skill_score(p, o, base[i]).values
            t = verification.reliability_table(p, o, bins=bins)
            for key, var in (("fp", "forecast_probability"), ("of", "observed_frequency")):
                rel[key][i, j] = t[var].transpose("lead_time", "prob_bin").values
            rel["count"][i, j] = t["count"].transpose("lead_time", "prob_bin").values
            centres, bounds = t["prob_bin"].values, t["prob_bin_bounds"].values
    dims = ("prob_event", "model", "lead_time")
    rdims = (*dims, "prob_bin")
    return xr.Dataset(
        {
            "brier": (dims, bs),
            "brier_skill": (dims, bss),
            "event_base_rate": (("prob_event",), base),
            "reliability_forecast_probability": (rdims, rel["fp"]),
            "reliability_observed_frequency": (rdims, rel["of"]),
            "reliability_count": (rdims, rel["count"]),
            "prob_bin_bounds": (("prob_bin", "nv"), bounds),
        },
        coords={
            "prob_event": [e.name for e in events],
            "model": names,
            "lead_time": lead.values,
            "prob_bin": centres,
        },
    )


def _threshold_table(
    forecaster: Forecaster, fc_validate: xr.Dataset | None, ds: xr.Dataset, criterion: str
) -> dict:
    """The model's stored decision thresholds, else those chosen on its validation forecast.

    Stored thresholds are the TFT's ``metadata.json``; otherwise they are chosen on its
    validation-years forecast.
    """
    meta = getattr(getattr(forecaster, "model", None), "metadata", None) or {}
    stored = meta.get("decision_thresholds")
    if stored:
        return {k: {**v, "source": "stored with the model"} for k, v in stored.items()}
    if fc_validate is None:
        return {}
    chosen = verification.choose_decision_thresholds(fc_validate, ds, criterion=criterion)
    return {k: {**v, "source": "chosen on the validation years"} for k, v in chosen.items()}


def _decisions(
    forecasters: Sequence[Forecaster],
    fcs: dict[str, xr.Dataset],
    common: dict[str, dict[str, xr.Dataset]],
    ds: xr.Dataset,
    split: YearSplit,
    part: str,
    lead: pd.TimedeltaIndex,
    criterion: str,
) -> xr.Dataset:
    """HSS/TSS/POD/FAR of ``P(event) >= p*`` with ``p*`` from the validation years."""
    events = [e for e in verification.DECISION_EVENTS if e.target in common]
    names = [f.name for f in forecasters]
    if not events:
        return xr.Dataset()
    val_init = None
    if part != "validate":
        try:
            val_init = issue_times_in(ds, split, "validate", "3h")
        except ValueError:
            val_init = None
    shape = (len(events), len(names), len(lead))
    out = {k: np.full(shape, np.nan) for k in DECISION_METRICS}
    thr = np.full((len(events), len(names)), np.nan)
    source = []
    targets = tuple(sorted({e.target for e in events}))
    for j, f in enumerate(forecasters):
        has_stored = bool(
            getattr(getattr(f, "model", None), "metadata", {}).get("decision_thresholds")
        )
        if part == "validate":
            fc_val = fcs[f.name]
        elif has_stored or val_init is None or len(val_init) == 0:
            fc_val = None
        else:
            fc_val = f.forecast(ds, val_init, lead, targets=targets)
        table = _threshold_table(f, fc_val, ds, criterion)
        source.append(
            f"{f.name}: " + ("; ".join(sorted({v["source"] for v in table.values()})) or "none")
        )
        for i, ev in enumerate(events):
            try:
                p_star = verification.decision_threshold({"decision_thresholds": table}, ev)
            except ValueError:
                continue
            thr[i, j] = p_star
            fc = common[ev.target].get(f.name)
            if fc is None:
                continue
            d = verification.decision_scores(  # on the decision score p* was chosen on
                verification.event_probability(fc, ev, recalibrate=False),
                _occurred(ev, fc, ds),
                p_star,
            )
            for k in DECISION_METRICS:
                out[k][i, j] = d[k].values
    dims = ("event", "model", "lead_time")
    res = xr.Dataset(
        {f"decision_{k}": (dims, v) for k, v in out.items()},
        coords={"event": [e.name for e in events], "model": names, "lead_time": lead.values},
    )
    res["decision_threshold"] = (("event", "model"), thr)
    res.attrs["decision_threshold_source"] = " | ".join(source)
    return res


def _storm_time(
    forecasters: Sequence[Forecaster],
    ds: xr.Dataset,
    split: YearSplit,
    part: str,
    init: pd.DatetimeIndex,
    lead: pd.TimedeltaIndex,
    targets: Sequence[str],
    threshold: float,
) -> xr.Dataset:
    """Storm-time scores from HOURLY storm-time issue times (issue 9's definition).

    Every model and the reference are scored on their shared storm-time pairs.
    """
    names = [f.name for f in forecasters]
    ref = REFERENCE if REFERENCE in names else names[0]
    held = split.select(ds, part).sel(time=slice(init.min(), init.max()))
    hourly = pd.date_range(init.min(), init.max(), freq="1h")
    mask = verification.storm_time(hourly, held, threshold=threshold)
    storm_init = hourly[mask.values]
    dst = ds["dst"].to_series()
    storm_init = storm_init[dst.reindex(storm_init - timeconv.HOUR).notna().to_numpy()]
    lead = lead.values
    if len(storm_init) == 0:
        out = xr.Dataset()
        out["n_storm_issue_times"] = 0
        return out
    fcs = {f.name: f.forecast(ds, storm_init, lead, targets=tuple(targets)) for f in forecasters}
    mask = None  # type: ignore[assignment]  # every issue time forecast here is storm time
    shape = (len(targets), len(names), len(lead))
    model_side = {k: np.full(shape, np.nan) for k in STORM_METRICS}
    ref_side = {k: np.full(shape, np.nan) for k in STORM_METRICS}
    n = np.full(shape, np.nan)
    for i, target in enumerate(targets):
        if target not in fcs.get(ref, {}):
            continue
        for j, name in enumerate(names):
            if target not in fcs[name]:
                continue
            p = verification.paired_scores(fcs[name], fcs[ref], ds, target, init_mask=mask)
            for k in STORM_METRICS:
                model_side[k][i, j] = p[f"{k}_a"].values
                ref_side[k][i, j] = p[f"{k}_b"].values
            n[i, j] = p["n"].values
    dims = ("target", "model", "lead_time")
    data = {f"storm_time_{k}": (dims, v) for k, v in model_side.items()}
    data.update({f"storm_time_{k}_of_reference": (dims, v) for k, v in ref_side.items()})
    data["storm_time_n"] = (dims, n)
    out = xr.Dataset(data, coords={"target": list(targets), "model": names, "lead_time": lead})
    out["n_storm_issue_times"] = len(storm_init)
    return out


def _storm_scores(
    forecasters: Sequence[Forecaster],
    ds: xr.Dataset,
    split: YearSplit,
    part: str,
    init: pd.DatetimeIndex,
    lead: pd.TimedeltaIndex,
    threshold: float,
) -> xr.Dataset:
    """Peak errors per storm from HOURLY issue times around each storm.

    3-hourly inits at a fixed lead would skip the peak hour; each model is scored on its own
    forecasts.
    """
    held = split.select(ds, part).sel(time=slice(init.min(), init.max()))
    cat = storm_catalog(held, threshold)
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


# --------------------------------------------------------------------------- skill.nc (CF)

#: metrics whose unit is the target's own (Dst: nT; Kp is dimensionless)
_TARGET_UNIT_METRICS = {
    "rmse",
    "mae",
    "crps",
    "storm_time_rmse",
    "storm_time_mae",
    "storm_time_crps",
    "storm_time_rmse_of_reference",
    "storm_time_mae_of_reference",
    "storm_time_crps_of_reference",
}
TARGET_UNITS: dict[str, str] = {"dst": "nT", "kp": "1"}
_LONG_NAMES: dict[str, str] = {
    "rmse": "root-mean-square error of the median forecast",
    "mae": "mean absolute error of the median forecast",
    "r": "Pearson correlation of the median forecast with the observation",
    "pe": "prediction efficiency 1 - MSE/var(obs)",
    "skill_vs_persistence": "1 - MSE/MSE_persistence",
    "crps": "continuous ranked probability score (2 x mean pinball loss)",
    "coverage_80": "fraction of observations in [q0.1, q0.9] (nominal 0.8)",
    "n": "number of (issue time, lead) pairs scored",
    "pod": "probability of detection, median beyond the primary event threshold",
    "far": "false alarm ratio, median beyond the primary event threshold",
    "hss": "Heidke skill score, Dst <= -50 nT / Kp >= 5, median forecast",
    "tss": "true skill statistic, median beyond the primary event threshold",
    "hss_dst100": "Heidke skill score, Dst <= -100 nT, median forecast",
    "storm_time_n": "storm-time pairs shared by the model and the reference model",
    "n_storm_issue_times": "number of storm-time issue times",
    "brier": "Brier score of P(event)",
    "brier_skill": "Brier skill score of P(event) vs training-years climatology",
    "event_base_rate": "training-years climatological event frequency",
    "reliability_forecast_probability": "mean forecast probability in the bin",
    "reliability_observed_frequency": "observed event frequency in the bin",
    "reliability_count": "number of forecasts in the bin",
    "decision_threshold": "decision probability p* (decide event when P >= p*)",
    "decision_pod": "probability of detection of the decision P >= p*",
    "decision_far": "false alarm ratio of the decision P >= p*",
    "decision_hss": "Heidke skill score of the decision P >= p*",
    "decision_tss": "true skill statistic of the decision P >= p*",
    "storm_peak_error": "forecast minus observed storm peak Dst at fixed lead",
    "storm_timing_error": "forecast minus observed storm peak time at fixed lead",
}
#: label coordinates written as char arrays (dimension -> variable holding the labels)
LABELS: dict[str, str] = {
    "model": "model_name",
    "event": "event_name",
    "prob_event": "prob_event_name",
    "storm": "storm_name",
}


def _long_name(k: str) -> str:
    if k.startswith("storm_time_") and k not in _LONG_NAMES:
        base = k.removeprefix("storm_time_").removesuffix("_of_reference")
        side = " of the reference model on the same pairs" if k.endswith("_reference") else ""
        return f"storm-time {_LONG_NAMES.get(base, base)}{side}"
    return _LONG_NAMES.get(k, k.replace("_", " "))


def skill_dataset(results: xr.Dataset) -> xr.Dataset:
    """``results`` on the contract grid: every target and model of :data:`MODELS` (NaN where absent).

    Parameters
    ----------
    results : xr.Dataset
        Output of :func:`evaluate`: metrics on ``(target, model, lead_time)`` (and the
        event, storm and probability-bin dims of the storm, decision and reliability
        scores).

    Returns
    -------
    xr.Dataset
        ``results`` reindexed to ``target`` = :data:`TARGETS` and ``model`` = :data:`MODELS`
        (then any other evaluated model); metrics in the target's units (nT for Dst).

    Raises
    ------
    ValueError
        If a contract metric (``rmse, mae, r, skill_vs_persistence, crps, coverage_80,
        hss``) is missing.
    """
    models = list(MODELS) + [m for m in results.model.values if m not in MODELS]
    out = results.reindex(target=list(TARGETS), model=models)
    for k in ("rmse", "mae", "r", "skill_vs_persistence", "crps", "coverage_80", "hss"):
        if k not in out:
            raise ValueError(f"results lack {k!r}; pass the output of evaluate()")
    return out


def cf_skill(results: xr.Dataset) -> xr.Dataset:
    """The CF-1.8 on-disk form of :func:`skill_dataset`.

    A variable on ``target`` becomes one variable per target (``dst_rmse`` in nT,
    ``kp_rmse`` dimensionless) so that every variable has one real unit; string labels become
    char-array auxiliary coordinates (``model_name``, ``event_name``, ``storm_name``) on
    dimensions without coordinate variables. :func:`read_skill` undoes both.

    Parameters
    ----------
    results : xr.Dataset
        Output of :func:`evaluate`: metrics on ``(target, model, lead_time)`` (and the
        event, storm and probability-bin dims of the storm, decision and reliability
        scores).

    Returns
    -------
    xr.Dataset
        CF-1.8 dataset: ``<target>_<metric>`` variables with ``units``/``long_name``,
        ``lead_time`` as ``forecast_period``, label coordinates, and attrs ``Conventions``,
        ``title``, ``source``, ``references``.
    """
    skill = skill_dataset(results)
    out = xr.Dataset(attrs=dict(skill.attrs))
    for k, da in skill.data_vars.items():
        if "target" in da.dims:
            for t in skill["target"].values:
                v = da.sel(target=t, drop=True)
                unit = TARGET_UNITS[str(t)] if k in _TARGET_UNIT_METRICS else "1"
                v.attrs = {
                    "long_name": f"{t} {_long_name(str(k))}",
                    "units": unit,
                    "metric": k,
                    "target": str(t),
                }
                out[f"{t}_{k}"] = v
        else:
            v = da.copy()
            v.attrs = {"long_name": _long_name(str(k)), "units": da.attrs.get("units", "1")}
            if k in ("storm_peak_error",):
                v.attrs["units"] = "nT"
            if k == "storm_timing_error":
                v.attrs["units"] = "h"
            if k == "prob_bin_bounds":
                v.attrs = {}
            out[k] = v
    out = out.drop_vars(["target"], errors="ignore")
    for dim, label in LABELS.items():
        if dim in out.dims and dim in out.coords:
            names = [str(x) for x in out[dim].values]
            out = out.drop_vars(dim).assign_coords({label: (dim, np.array(names, dtype=str))})
            out[label].attrs["long_name"] = f"{dim} name"
    if "storm_common_name" in out:
        out["storm_common_name"].attrs["long_name"] = "storm common name"
    if "storm_peak_dst" in out:
        out["storm_peak_dst"].attrs.update(long_name="observed storm peak Dst", units="nT")
    if "storm_peak_time" in out:
        out["storm_peak_time"].attrs.update(long_name="observed storm peak time (hour label)")
    out["lead_time"].attrs.update(standard_name="forecast_period", long_name="lead time")
    if "prob_bin" in out.coords:
        out["prob_bin"].attrs.update(
            long_name="forecast probability bin centre", units="1", bounds="prob_bin_bounds"
        )
    out.attrs.update(
        Conventions="CF-1.8",
        title="superstorm forecast skill report",
        source="superstorm forecasting.evaluation.evaluate",
        references="Gneiting & Raftery 2007 (CRPS); Heidke 1926; Hanssen & Kuipers 1965; "
        "Brier 1950",
    )
    for k, v in list(out.attrs.items()):
        if v is None:
            out.attrs[k] = ""
    return out


def _nc_encoding(ds: xr.Dataset) -> dict:
    enc: dict[str, dict] = {}
    for name in (*LABELS.values(), "storm_common_name"):
        if name in ds:
            enc[name] = {"dtype": "S1"}
    if "lead_time" in ds:
        enc["lead_time"] = {"units": "hours", "dtype": "int32"}
    if "prob_bin_bounds" in ds:
        enc["prob_bin_bounds"] = {"_FillValue": None}
    if "storm_peak_time" in ds:
        enc["storm_peak_time"] = {"units": "hours since 1970-01-01 00:00:00", "dtype": "float64"}
    return enc


def read_skill(path: str | Path) -> xr.Dataset:
    """Read a ``skill.nc`` back into the contract layout of :func:`skill_dataset`.

    Parameters
    ----------
    path
        The file written by :func:`write_skill_report`.

    Returns
    -------
    xr.Dataset
        Metrics on ``(target, model, lead_time)`` with string ``model``/``event``/``storm``
        coordinates (files written before the CF layout are returned as they are).
    """
    with NETCDF_LOCK, xr.open_dataset(path) as f:
        ds = f.load()
    for dim, label in LABELS.items():
        if label in ds.coords:
            names = [x.decode() if isinstance(x, bytes) else str(x) for x in ds[label].values]
            ds = ds.drop_vars(label).assign_coords({dim: names})
    if "storm_common_name" in ds.coords:
        v = ds["storm_common_name"].values
        ds = ds.assign_coords(
            storm_common_name=("storm", [x.decode() if isinstance(x, bytes) else str(x) for x in v])
        )
    split = [k for k, v in ds.data_vars.items() if "metric" in v.attrs and "target" in v.attrs]
    if not split:
        return ds
    metrics = list(dict.fromkeys(ds[k].attrs["metric"] for k in split))
    targets = [t for t in TARGETS if any(ds[k].attrs["target"] == t for k in split)]
    out = ds.drop_vars(split)
    for m in metrics:
        parts = []
        for t in targets:
            name = f"{t}_{m}"
            if name in ds:
                parts.append(ds[name].expand_dims(target=[t]))
        da = xr.concat(parts, dim="target").reindex(target=targets)
        da.attrs = {"long_name": _long_name(m), "units": "target units (nT for dst, 1 for kp)"}
        out[m] = da
    return out


def write_skill_report(
    results: xr.Dataset,
    out_dir: str | Path | None = None,
    *,
    leads_h: Sequence[int] = (1, 3, 6, 12, 24),
) -> tuple[Path, Path]:
    """Write ``skill.nc`` (CF-1.8, :func:`cf_skill`) and ``skill.md`` under ``out_dir``.

    Both are written atomically and readable by all (mode 0644).

    Parameters
    ----------
    results : xr.Dataset
        Output of :func:`evaluate`: metrics on ``(target, model, lead_time)`` (and the
        event, storm and probability-bin dims of the storm, decision and reliability
        scores).
    out_dir : str or Path, optional
        Folder to write (created if needed); default :func:`data_sources.config.reports_dir`
        (``$SUPERSTORM_HOME/reports``, never the current directory).
    leads_h : Sequence[int]
        Lead times [h] shown as columns of the ``skill.md`` tables.

    Returns
    -------
    (Path, Path)
        The netCDF and Markdown paths.
    """
    out_dir = Path(out_dir) if out_dir is not None else config.reports_dir()
    cf = cf_skill(results)
    nc = out_dir / "skill.nc"
    write_netcdf_atomic(cf, nc, encoding=_nc_encoding(cf))  # 0644, as every writer
    md = out_dir / "skill.md"
    write_bytes_atomic(_markdown(results, leads_h), md)
    return nc, md


# --------------------------------------------------------------------------- skill.md


def _lead_index(da: xr.DataArray, leads_h: Sequence[int]) -> list[tuple[int, int]]:
    hours = list((pd.TimedeltaIndex(da.lead_time.values) / timeconv.HOUR).astype(int))
    return [(h, hours.index(h)) for h in leads_h if h in hours]


def _cell(v: float, fmt: str) -> str:
    return "n/a" if v is None or not np.isfinite(v) else format(v, fmt)


def _best_baseline(
    da: xr.DataArray, ref: str, *, lower: bool = True
) -> tuple[list[str], np.ndarray]:
    """Per lead: the best baseline on ``da`` (model, lead_time).

    Baselines are the models of :data:`forecasting.models.base.BASELINE_NAMES`; a combination
    such as the stored blend (which holds ``ref``) is never a baseline. Where no such model was
    scored, every model other than ``ref`` counts.
    """
    others = [m for m in da.model.values if m != ref and m in BASELINE_NAMES]
    if not others:
        others = [m for m in da.model.values if m != ref]
    sub = da.sel(model=others).transpose("model", "lead_time").values
    names, vals = [], []
    for j in range(sub.shape[1]):
        col = sub[:, j]
        if not np.isfinite(col).any():
            names.append("")
            vals.append(np.nan)
            continue
        k = int(np.nanargmin(col) if lower else np.nanargmax(col))
        names.append(str(others[k]))
        vals.append(col[k])
    return names, np.asarray(vals, dtype=float)


def _header(cols: list[tuple[int, int]], first: str = "model") -> list[str]:
    return [
        f"| {first} | " + " | ".join(f"{h} h" for h, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]


def _table(
    da: xr.DataArray, leads_h: Sequence[int], fmt: str, ref: str, *, lower: bool | None = True
) -> list[str]:
    """All models, then the best baseline and the reference's difference from it."""
    cols = _lead_index(da, leads_h)
    lines = _header(cols)
    for m in da.model.values:
        vals = [da.sel(model=m).values[j] for _, j in cols]
        if np.all(~np.isfinite(vals)):
            continue
        lines.append(f"| {m} | " + " | ".join(_cell(v, fmt) for v in vals) + " |")
    if lower is None or ref not in da.model.values:
        return lines
    names, best = _best_baseline(da, ref, lower=lower)
    own = da.sel(model=ref).values
    if np.all(~np.isfinite(own)):
        return lines
    lines.append(
        "| **best baseline** | "
        + " | ".join(f"{_cell(best[j], fmt)} ({names[j]})" if names[j] else "n/a" for _, j in cols)
        + " |"
    )
    lines.append(
        f"| **{ref} - best** | "
        + " | ".join(_cell(own[j] - best[j], "+" + fmt) for _, j in cols)
        + " |"
    )
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


def _storm_time_md(res: xr.Dataset, target: str, leads_h: Sequence[int], ref: str) -> list[str]:
    if "storm_time_rmse" not in res or ref not in res.model.values:
        return []
    st = {
        k: res[k].sel(target=target) for k in map(str, res.data_vars) if k.startswith("storm_time_")
    }
    if "storm_time_rmse" not in st or np.all(np.isnan(st["storm_time_rmse"].sel(model=ref))):
        return []
    unit = "nT" if target == "dst" else "Kp units"
    names, _ = _best_baseline(st["storm_time_rmse"], ref, lower=True)
    cols = _lead_index(st["storm_time_rmse"], leads_h)
    lines = [
        "",
        f"### Storm time ({int(res['n_storm_issue_times'])} hourly issue times within 24 h of an "
        "hour with Dst <= -100 nT)",
        "",
        f"Best baseline per lead = lowest storm-time RMSE; {ref} and that baseline are scored on "
        "the pairs where both forecast (``pairs``).",
        "",
        *_header(cols, "metric"),
    ]

    def at(k: str, model: str, j: int) -> float:
        return float(st[k].sel(model=model).values[j]) if model else np.nan

    for metric, fmt, label in (
        ("rmse", ".2f", f"RMSE [{unit}]"),
        ("mae", ".2f", f"MAE [{unit}]"),
        ("crps", ".2f", f"CRPS [{unit}]"),
        ("coverage_80", ".2f", "80 % coverage"),
    ):
        ref_v = [at(f"storm_time_{metric}_of_reference", names[j], j) for _, j in cols]
        base_v = [at(f"storm_time_{metric}", names[j], j) for _, j in cols]
        lines.append(f"| {ref} {label} | " + " | ".join(_cell(v, fmt) for v in ref_v) + " |")
        lines.append(
            f"| best baseline {label} | "
            + " | ".join(
                f"{_cell(v, fmt)} ({names[j]})" if names[j] else "n/a"
                for v, (_, j) in zip(base_v, cols, strict=True)
            )
            + " |"
        )
        if metric == "rmse":
            ratio = [
                a / b if b and np.isfinite(b) else np.nan
                for a, b in zip(ref_v, base_v, strict=True)
            ]
            lines.append(
                f"| {ref} / best RMSE | " + " | ".join(_cell(v, ".2f") for v in ratio) + " |"
            )
    pairs = [at("storm_time_n", names[j], j) for _, j in cols]
    own = [float(st["storm_time_n"].sel(model=ref).values[j]) for _, j in cols]
    own_rmse = [float(st["storm_time_rmse"].sel(model=ref).values[j]) for _, j in cols]
    lines.append("| pairs | " + " | ".join(_cell(v, ".0f") for v in pairs) + " |")
    lines.append(
        f"| {ref} RMSE on all its storm pairs [{unit}] | "
        + " | ".join(
            f"{_cell(r, '.2f')} ({_cell(n, '.0f')})" for r, n in zip(own_rmse, own, strict=True)
        )
        + " |"
    )
    return lines


def _probability_md(res: xr.Dataset, leads_h: Sequence[int], ref: str) -> list[str]:
    if "brier_skill" not in res or ref not in res.model.values:
        return []
    lines = [
        "",
        "## Event probabilities",
        "",
        "P(event) from the forecast quantiles (CDF linear between quantiles). Brier skill score "
        "= 1 - BS/BS_clim against the training years' event frequency (> 0: better than "
        "climatology). Best baseline per lead = highest BSS.",
    ]
    for ev in res.prob_event.values:
        bss = res["brier_skill"].sel(prob_event=ev)
        if np.all(np.isnan(bss.sel(model=ref))):
            continue
        base = float(res["event_base_rate"].sel(prob_event=ev))
        lines += ["", f"### Brier skill, P({ev}) (climatology {base:.4f})", ""]
        lines += _table(bss, leads_h, ".3f", ref, lower=False)
        lines += _reliability_md(res, str(ev), ref)
    return lines


def _reliability_md(res: xr.Dataset, ev: str, ref: str) -> list[str]:
    hours = list((pd.TimedeltaIndex(res.lead_time.values) / timeconv.HOUR).astype(int))
    h = next((x for x in (3, 1) if x in hours), hours[0])
    j = hours.index(h)
    names, _ = _best_baseline(res["brier_skill"].sel(prob_event=ev), ref, lower=False)
    best = names[j]
    models = [m for m in (ref, best) if m]
    lines = [
        "",
        f"Reliability of P({ev}) at {h} h (forecast probability / observed frequency / count per "
        "bin; a calibrated forecast has equal first two):",
        "",
        "| bin | " + " | ".join(f"{m}" for m in models) + " |",
        "|---|" + "---:|" * len(models),
    ]
    fp = res["reliability_forecast_probability"].sel(prob_event=ev).isel(lead_time=j)
    of = res["reliability_observed_frequency"].sel(prob_event=ev).isel(lead_time=j)
    ct = res["reliability_count"].sel(prob_event=ev).isel(lead_time=j)
    bounds = res["prob_bin_bounds"].values
    for b in range(res.sizes["prob_bin"]):
        cells = []
        for m in models:
            c = float(ct.sel(model=m).values[b])
            if not np.isfinite(c) or c == 0:
                cells.append("-")
                continue
            cells.append(
                f"{float(fp.sel(model=m).values[b]):.2f} / {float(of.sel(model=m).values[b]):.2f}"
                f" / {c:.0f}"
            )
        lines.append(f"| {bounds[b][0]:.1f}-{bounds[b][1]:.1f} | " + " | ".join(cells) + " |")
    return lines


def _decision_md(res: xr.Dataset, leads_h: Sequence[int], ref: str) -> list[str]:
    if "decision_hss" not in res or ref not in res.model.values:
        return []
    cols = _lead_index(res["decision_hss"], leads_h)
    lines = [
        "",
        "## Event decisions",
        "",
        f"Decide 'event' when P(event) >= p*; {res.attrs.get('decision_rule', '')}. "
        f"Thresholds: {res.attrs.get('decision_threshold_source', '')}. Cells: HSS / TSS. "
        "Best baseline per lead = highest HSS.",
        "",
        "| event | model | p* | " + " | ".join(f"{h} h" for h, _ in cols) + " |",
        "|---|---|---:|" + "---:|" * len(cols),
    ]
    for ev in res.event.values:
        hss = res["decision_hss"].sel(event=ev)
        tss = res["decision_tss"].sel(event=ev)
        thr = res["decision_threshold"].sel(event=ev)
        if np.all(np.isnan(hss.sel(model=ref))) and np.all(np.isnan(hss)):
            continue
        names, _ = _best_baseline(hss, ref, lower=False)
        cells = [
            f"{_cell(float(hss.sel(model=ref).values[j]), '.2f')} / "
            f"{_cell(float(tss.sel(model=ref).values[j]), '.2f')}"
            for _, j in cols
        ]
        lines.append(
            f"| {ev} | {ref} | {_cell(float(thr.sel(model=ref)), '.2f')} | "
            + " | ".join(cells)
            + " |"
        )
        cells = []
        for _, j in cols:
            m = names[j]
            if not m:
                cells.append("n/a")
                continue
            cells.append(
                f"{_cell(float(hss.sel(model=m).values[j]), '.2f')} / "
                f"{_cell(float(tss.sel(model=m).values[j]), '.2f')} ({m}, p* "
                f"{_cell(float(thr.sel(model=m)), '.2f')})"
            )
        lines.append(f"| {ev} | best baseline | | " + " | ".join(cells) + " |")
    return lines


def _storms_md(res: xr.Dataset, ref: str) -> list[str]:
    if "storm_peak_error" not in res or not res.sizes.get("storm", 0):
        return []
    lead_pick = [
        h for h in (1, 3, 6, 12) if pd.Timedelta(hours=h).to_timedelta64() in res.lead_time.values
    ]
    best = ""
    if "storm_time_rmse" in res and ref in res.model.values:
        names, _ = _best_baseline(res["storm_time_rmse"].sel(target="dst"), ref, lower=True)
        hours = list((pd.TimedeltaIndex(res.lead_time.values) / timeconv.HOUR).astype(int))
        best = names[hours.index(3)] if 3 in hours else names[0]
    models = [m for m in (ref, best) if m and m in res["storm_peak_error"].model.values]
    if not models:
        models = [str(m) for m in res["storm_peak_error"].model.values]
    lines = [
        "",
        "## Intense storms (Dst <= -100 nT)",
        "",
        "Peak error = forecast minimum - observed minimum of the median at a fixed lead "
        "(nT; positive = too weak); timing = forecast minus observed peak time (h). "
        f"Rows: {ref} and the best storm-time baseline at 3 h ({best or 'n/a'}); skill.nc holds "
        "every model.",
        "",
        "| storm | name | observed peak [nT] | model | "
        + " | ".join(f"peak err {h} h | timing {h} h" for h in lead_pick)
        + " |",
        "|---|---|---:|---|" + "---:|---:|" * len(lead_pick),
    ]
    for s in res.storm.values:
        row = res.sel(storm=s)
        for m in models:
            cells = []
            for h in lead_pick:
                lt = pd.Timedelta(hours=h).to_timedelta64()
                pe = float(row["storm_peak_error"].sel(model=m, lead_time=lt))
                te = float(row["storm_timing_error"].sel(model=m, lead_time=lt))
                cells += [_cell(np.round(pe) + 0.0, "+.0f"), _cell(np.round(te) + 0.0, "+.0f")]
            lines.append(
                f"| {s} | {row['storm_common_name'].item()} | {float(row['storm_peak_dst']):.0f} "
                f"| {m} | " + " | ".join(cells) + " |"
            )
    return lines


def _criteria_md(res: xr.Dataset, leads_h: Sequence[int], ref: str) -> list[str]:
    """Give issue 9's done-when figures in one place.

    Storm-time Dst RMSE against EVERY baseline (each pair on the hours where both forecast),
    all-hours 6-h RMSE against persistence, 80 % coverage (all hours and storm time), Kp HSS
    (>= 5) against persistence and Brier skill.
    """
    if ref not in res.model.values:
        return []
    cols = _lead_index(res["rmse"], leads_h)
    others = [str(m) for m in res.model.values if str(m) != ref]
    lines = ["", "## Storm-time criteria (issue 9)", ""]

    def v(da: xr.DataArray, j: int) -> float:
        return float(da.values[j])

    st = res.get("storm_time_rmse")
    if st is not None and "dst" in st.target.values:
        own = st.sel(target="dst")
        of_ref = res["storm_time_rmse_of_reference"].sel(target="dst")
        n = res["storm_time_n"].sel(target="dst")
        lines += [
            f"Storm-time Dst RMSE [nT] ({int(res['n_storm_issue_times'])} hourly issue times "
            f"within 24 h of an hour with Dst <= -100 nT); cells: {ref} / baseline (ratio; "
            "pairs), each pair on the hours where both forecast.",
            "",
            *_header(cols, "baseline"),
        ]
        for m in others:
            if np.all(np.isnan(own.sel(model=m))):
                continue
            cells = []
            for _, j in cols:
                a, b = v(of_ref.sel(model=m), j), v(own.sel(model=m), j)
                r = a / b if np.isfinite(b) and b > 0 else np.nan
                cells.append(
                    f"{_cell(a, '.2f')} / {_cell(b, '.2f')} ({_cell(r, '.2f')}; "
                    f"{_cell(v(n.sel(model=m), j), '.0f')})"
                )
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append(
            f"| {ref}, all its storm pairs | "
            + " | ".join(
                f"{_cell(v(own.sel(model=ref), j), '.2f')} ({_cell(v(n.sel(model=ref), j), '.0f')})"
                for _, j in cols
            )
            + " |"
        )
        lines.append("")
    h6 = [j for h, j in cols if h == 6]
    if h6 and "persistence" in res.model.values:
        lines += [
            f"All-hours 6-h RMSE: {ref} / persistence (common pairs):",
            "",
            "| target | " + ref + " | persistence | ratio |",
            "|---|---:|---:|---:|",
        ]
        for t in res.target.values:
            a = v(res["rmse"].sel(target=t, model=ref), h6[0])
            b = v(res["rmse"].sel(target=t, model="persistence"), h6[0])
            r = a / b if np.isfinite(b) and b > 0 else np.nan
            lines.append(f"| {t} | {_cell(a, '.2f')} | {_cell(b, '.2f')} | {_cell(r, '.2f')} |")
        lines.append("")
    lines += [f"80 % interval coverage of {ref} (0.78-0.82 wanted):", "", *_header(cols, "hours")]
    for t in res.target.values:
        lines.append(
            f"| {t}, all hours | "
            + " | ".join(
                _cell(v(res["coverage_80"].sel(target=t, model=ref), j), ".2f") for _, j in cols
            )
            + " |"
        )
        if "storm_time_coverage_80" in res:
            cov = res["storm_time_coverage_80"].sel(target=t, model=ref)
            lines.append(
                f"| {t}, storm time | "
                + " | ".join(_cell(v(cov, j), ".2f") for _, j in cols)
                + " |"
            )
    lines.append("")
    if "kp" in res.target.values and "persistence" in res.model.values:
        lines += [f"Kp HSS (Kp >= 5): {ref} against persistence:", "", *_header(cols, "rule")]
        for m in (ref, "persistence"):
            hss = res["hss"].sel(target="kp", model=m)
            lines.append(
                f"| {m}, median | " + " | ".join(_cell(v(hss, j), ".3f") for _, j in cols) + " |"
            )
        ev = verification.Event("kp", schema.G_SCALE["G1"]).name
        if "decision_hss" in res and ev in res.event.values:
            for m in (ref, "persistence"):
                d = res["decision_hss"].sel(event=ev, model=m)
                p = _cell(float(res["decision_threshold"].sel(event=ev, model=m)), ".2f")
                lines.append(
                    f"| {m}, P({ev}) >= {p} | "
                    + " | ".join(_cell(v(d, j), ".3f") for _, j in cols)
                    + " |"
                )
        lines.append("")
    if "brier_skill" in res:
        lines += [
            "Brier skill vs climatology (> 0 wanted at every lead):",
            "",
            *_header(cols, "event, model"),
        ]
        for e in res.prob_event.values:
            bss = res["brier_skill"].sel(prob_event=e)
            names, _ = _best_baseline(bss, ref, lower=False)
            lines.append(
                f"| P({e}), {ref} | "
                + " | ".join(_cell(v(bss.sel(model=ref), j), ".3f") for _, j in cols)
                + " |"
            )
            lines.append(
                f"| P({e}), best baseline | "
                + " | ".join(
                    f"{_cell(v(bss.sel(model=names[j]), j), '.3f')} ({names[j]})"
                    if names[j]
                    else "n/a"
                    for _, j in cols
                )
                + " |"
            )
    return lines


def _markdown(res: xr.Dataset, leads_h: Sequence[int]) -> str:
    a = res.attrs
    ref = a.get("reference_model", REFERENCE)
    part = a.get("scored_part", "test")
    years = a.get("scored_years", a.get("test_years", "?"))
    lines = [
        "# Forecast skill",
        "",
        f"Scored: the **{part}** years with data, {years} ({a.get('split', '')}). "
        f"Model versions: {a.get('model_versions', '?')} (TFT version selected as "
        f"`{a.get('version_selector', '?')}`). "
        f"{a.get('n_init', '?')} issue times ({a.get('init_every', '?')} spacing, "
        f"{a.get('first_init', '?')} to {a.get('last_init', '?')}). All-hours tables score every "
        "model on the same samples per target: the (issue time, lead) pairs where all models and "
        "the observation exist. Every table ends with the best baseline per lead and "
        f"{ref}'s difference from it.",
        "",
        "Point metrics use the median forecast. CRPS is approximated as twice the mean pinball loss "
        "over the 7 forecast quantiles (0.05-0.95); coverage_80 is the share of observations inside "
        "the 0.1-0.9 quantiles (0.80 if calibrated). Events: the median beyond the threshold "
        "(HSS at Dst <= -50 nT and Kp >= 5). Skill vs persistence = 1 - MSE/MSE_persistence.",
        "",
        "Burton and O'Brien-McPherron hold the last known solar wind constant over the forecast "
        "(no solar-wind forecast is used), so their skill is expected mostly at the first hours; "
        "they do not forecast Kp and give nothing while plasma is missing. Dst in the recorded "
        "OMNI2 files is provisional or quick-look for recent years, and years without data are "
        "gaps, not zeros.",
    ]
    lines += _criteria_md(res, leads_h, ref)
    lower = {
        "rmse": True,
        "mae": True,
        "crps": True,
        "r": False,
        "skill_vs_persistence": False,
        "hss": False,
    }
    for target in [t for t in TARGETS if t in res.target.values]:
        unit = "nT" if target == "dst" else "Kp units"
        lines += ["", f"## {target}", ""]
        lines += _summary(res, target)
        lines += _storm_time_md(res, target, leads_h, ref)
        for k, title, fmt in (
            ("rmse", f"RMSE [{unit}], all hours", ".2f"),
            ("mae", f"MAE [{unit}]", ".2f"),
            ("r", "Pearson r", ".3f"),
            ("skill_vs_persistence", "Skill vs persistence", ".3f"),
            ("crps", f"CRPS [{unit}]", ".2f"),
            ("coverage_80", "80 % interval coverage", ".2f"),
            (
                "hss",
                "HSS of the median (" + ("Dst <= -50 nT" if target == "dst" else "Kp >= 5") + ")",
                ".3f",
            ),
        ):
            if k in res:
                lines += ["", f"### {title}", ""]
                lines += _table(res[k].sel(target=target), leads_h, fmt, ref, lower=lower.get(k))
    lines += _probability_md(res, leads_h, ref)
    lines += _decision_md(res, leads_h, ref)
    lines += _storms_md(res, ref)
    lines.append("")
    return "\n".join(lines)
