"""The promotion gate, and which model is primary per target.

A retrained candidate replaces the current model only if, on the VALIDATION years:

1. it is not worse than the current model: all-hours ``rule.metric`` (mean over leads
   1..``rule.max_lead_h``, on the pairs where both forecast) and storm-time RMSE at every
   lead <= ``rule.max_lead_h`` (paired);
2. it is not worse than the best baseline in storm time at any lead <= ``rule.max_lead_h``:
   storm-time RMSE of the candidate, paired with each baseline on the hours where both
   forecast, against the lowest of the baselines' RMSEs at that lead.

"Not worse" allows the relative ``rule.tolerance``. Storm time is
:func:`forecasting.verification.scores.storm_time` (issue times within 24 h of an hour with
observed Dst <= -100 nT). Without any storm-time issue time the storm checks cannot be made
and the candidate is kept out (``rule.require_storms``), so a quiet validation period never
promotes an unchecked model. :func:`gate_scores` computes the figures, :func:`decide` applies
the rule; both go into the decision record.

:func:`primary_model` picks, per target, the model that verified best in a scorecard or a
skill report. In operations :func:`choose_primary` picks the forecast flow's primary model per
target from the validation-year evidence that :func:`load_primary_evidence` finds (a
validation skill report, else the promotion record): the model with the lowest storm-time RMSE
relative to the TFT on their shared pairs; without evidence the TFT runs unchecked and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike
from forecasting.verification import scores

if TYPE_CHECKING:
    from forecasting.splits import YearSplit


@dataclass(frozen=True)
class GateRule:
    """When a candidate may replace the current model.

    Attributes
    ----------
    targets
        Targets checked (``dst`` and/or ``kp``).
    metric
        All-hours metric against the current model (``crps``, ``rmse``, ``mae``: lower is
        better).
    max_lead_h
        Leads checked, 1..max_lead_h [h].
    tolerance
        Relative slack: "not worse" is ``candidate <= other * (1 + tolerance)``.
    storm_threshold
        Storm level [nT] defining storm time.
    init_every
        Spacing of the all-hours issue times (storm time is issued hourly).
    require_storms
        Refuse promotion when the validation years hold no storm-time issue time.
    """

    targets: tuple[str, ...] = ("dst",)
    metric: str = "crps"
    max_lead_h: int = 12
    tolerance: float = 0.0
    storm_threshold: float = -100.0
    init_every: str = "6h"
    require_storms: bool = True

    def __post_init__(self) -> None:
        """Check the rule's values.

        Raises
        ------
        ValueError
            If ``metric``, ``tolerance``, ``max_lead_h`` or ``targets`` is out of range.
        """
        if self.metric not in ("crps", "rmse", "mae"):
            raise ValueError(f"GateRule.metric={self.metric!r}: use crps, rmse or mae")
        if self.tolerance < 0:
            raise ValueError(f"GateRule.tolerance={self.tolerance} must be >= 0")
        if self.max_lead_h < 1:
            raise ValueError(f"GateRule.max_lead_h={self.max_lead_h} must be >= 1 h")
        bad = [t for t in self.targets if t not in ("dst", "kp")]
        if bad or not self.targets:
            raise ValueError(f"GateRule.targets={self.targets}: use 'dst' and/or 'kp'")


@dataclass
class GateDecision:
    """The outcome of :func:`decide`: ``promote``, the reasons, and every figure compared."""

    promote: bool
    reasons: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """The reasons on one line."""
        return "; ".join(self.reasons)


def gate_issue_times(
    observed: xr.Dataset, start: TimeLike, end: TimeLike, rule: GateRule
) -> tuple[pd.DatetimeIndex, xr.DataArray]:
    """Give the gate's issue times in ``[start, end)`` and the storm-time mask on them.

    Issue times are every ``rule.init_every`` plus every hour of storm time, kept only where
    the Dst of the hour before is observed.

    Parameters
    ----------
    observed : xr.Dataset
        Hourly observations on ``time`` (UTC naive, label = start of hour) holding ``dst``
        [nT].
    start, end : TimeLike
        UTC bounds of the validation period, ``end`` exclusive.
    rule : GateRule
        Supplies ``init_every`` and ``storm_threshold`` [nT].

    Returns
    -------
    (pandas.DatetimeIndex, xr.DataArray)
        Issue times (where the last hour's Dst is known) and the boolean storm-time mask on
        ``init_time`` (:func:`forecasting.verification.scores.storm_time`).
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    hourly = pd.date_range(start.ceil("1h"), end - pd.Timedelta("1h"), freq="1h")
    dst = observed["dst"].to_series()
    hourly = hourly[dst.reindex(hourly - pd.Timedelta("1h")).notna().to_numpy()]
    storm = scores.storm_time(hourly, observed, threshold=rule.storm_threshold)
    every = pd.date_range(start.ceil(rule.init_every), end, freq=rule.init_every)
    init = hourly.intersection(every).union(hourly[storm.values])
    return init, scores.storm_time(init, observed, threshold=rule.storm_threshold)


def held_out_years(start: TimeLike, end: TimeLike) -> list[int]:
    """Give the calendar years that the period ``[start, end)`` touches.

    Parameters
    ----------
    start, end : TimeLike
        UTC bounds, ``end`` exclusive.

    Returns
    -------
    list of int
        Sorted years.

    Raises
    ------
    ValueError
        If ``end`` is not after ``start``.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        raise ValueError(
            f"comparison period {start:%Y-%m-%d} .. {end:%Y-%m-%d}: the end must be after the "
            "start (it is exclusive), e.g. 2011-01-01 .. 2015-01-01"
        )
    return list(range(start.year, (end - pd.Timedelta("1ns")).year + 1))


def refuse_trained_years(split: YearSplit, start: TimeLike, end: TimeLike, version: str) -> None:
    """Refuse a comparison period that holds years the candidate trained on.

    A candidate scored on its own training years looks better than it is, and the gate would
    promote it on that.

    Parameters
    ----------
    split : forecasting.splits.YearSplit
        The candidate's split (its training years are refused).
    start, end : TimeLike
        UTC bounds of the comparison period, ``end`` exclusive.
    version : str
        The candidate (named in the message).

    Raises
    ------
    ValueError
        If the period touches a training year; the message names the years and the fix.
    """
    overlap = split.years("train", held_out_years(start, end))
    if overlap:
        raise ValueError(
            f"comparison period {pd.Timestamp(start):%Y-%m-%d} .. {pd.Timestamp(end):%Y-%m-%d} "
            f"holds {overlap}, which candidate {version} trained on; give a period outside its "
            "training years (by default the gate uses its validation years)"
        )


def unseen_issue_times(
    init: pd.DatetimeIndex, storm_mask: xr.DataArray, trained: Sequence[int]
) -> tuple[pd.DatetimeIndex, xr.DataArray]:
    """Drop the issue times of years the current model trained on.

    After a change of split (e.g. more validation years) the current model may have trained on
    part of the candidate's validation years; scored there it would look better than it is.
    The gate then compares every model on the remaining years only.

    Parameters
    ----------
    init : pandas.DatetimeIndex
        The gate's issue times (:func:`gate_issue_times`).
    storm_mask : xr.DataArray
        Boolean storm-time mask on ``init_time``.
    trained : sequence of int
        Training years of the current model.

    Returns
    -------
    (pandas.DatetimeIndex, xr.DataArray)
        The issue times outside ``trained`` and their storm-time mask.
    """
    keep = ~init.year.isin(list(trained))
    return init[keep], storm_mask.isel(init_time=np.flatnonzero(keep))


def nothing_unseen(years: Sequence[int], candidate: str, current: str | None) -> GateDecision:
    """Keep the candidate out when every year of the period trained the current model.

    Parameters
    ----------
    years : sequence of int
        The comparison period's years.
    candidate, current : str
        The two versions (named in the reason).

    Returns
    -------
    GateDecision
        ``promote=False``, with the reason and the fix.
    """
    return GateDecision(
        False,
        [
            f"every year of the comparison period ({list(years)}) is a training year of the "
            f"current model {current}: nothing to compare on fairly; give a period neither "
            "model trained on (held_out_start / held_out_end), or promote by hand after "
            f"review (forecasting.models.registry.promote({candidate!r}))"
        ],
    )


def _leads(fc: xr.Dataset, rule: GateRule) -> np.ndarray:
    lead = pd.TimedeltaIndex(fc["lead_time"].values)
    return lead[lead <= pd.Timedelta(hours=rule.max_lead_h)].values


def gate_scores(
    candidate: xr.Dataset,
    current: xr.Dataset | None,
    baselines: dict[str, xr.Dataset],
    observed: xr.Dataset,
    storm_mask: xr.DataArray,
    rule: GateRule,
) -> dict:
    """Compute the figures the gate compares, per target (JSON-ready).

    Parameters
    ----------
    candidate, current : xr.Dataset
        Forecasts (:func:`forecasting.schema.make_forecast` schema) of the candidate and of
        the current model (``current`` None: no current model) on the gate's issue times.
    baselines : dict of str to xr.Dataset
        Baseline name -> forecast on the same issue times.
    observed : xr.Dataset
        Hourly observations on ``time`` holding the targets (``dst`` [nT], ``kp``).
    storm_mask : xr.DataArray
        Boolean storm-time mask on ``init_time`` (:func:`gate_issue_times`).
    rule : GateRule
        The gate rule (targets, metric, leads checked).

    Returns
    -------
    dict
        ``{target: {"lead_h", "storm_issue_times", "vs_current": {...}, "vs_baselines":
        {name: {"candidate_rmse", "baseline_rmse", "n"}}}}``; RMSE lists per lead [target units].
    """

    def cut(fc: xr.Dataset) -> xr.Dataset:
        return fc.sel(lead_time=_leads(candidate, rule))

    out: dict = {}
    cand = cut(candidate)
    lead_h = [int(x / np.timedelta64(1, "h")) for x in cand["lead_time"].values]
    for target in rule.targets:
        if target not in candidate:
            out[target] = {"error": "the candidate does not forecast it"}
            continue
        entry: dict = {"lead_h": lead_h, "storm_issue_times": int(storm_mask.sum())}
        if current is not None and target in current:
            cur = cut(current)
            allh = scores.paired_scores(cand, cur, observed, target)
            st = scores.paired_scores(cand, cur, observed, target, init_mask=storm_mask)
            entry["vs_current"] = {
                f"candidate_{rule.metric}": float(allh[f"{rule.metric}_a"].mean()),
                f"current_{rule.metric}": float(allh[f"{rule.metric}_b"].mean()),
                "candidate_storm_rmse": _list(st["rmse_a"]),
                "current_storm_rmse": _list(st["rmse_b"]),
                "storm_n": _list(st["n"]),
            }
        vs = {}
        for name, fc in baselines.items():
            if target not in fc:
                continue
            p = scores.paired_scores(cand, cut(fc), observed, target, init_mask=storm_mask)
            vs[name] = {
                "candidate_rmse": _list(p["rmse_a"]),
                "baseline_rmse": _list(p["rmse_b"]),
                "n": _list(p["n"]),
            }
        entry["vs_baselines"] = vs
        out[target] = entry
    return out


def _list(da: xr.DataArray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in da.values]


def _worse(a: float | None, b: float | None, tol: float) -> bool | None:
    """Tell whether ``a`` is worse (higher) than ``b`` beyond ``tol``; None if either is missing."""
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b):
        return None
    return a > b * (1 + tol)


def decide(figures: dict, rule: GateRule, *, has_current: bool) -> GateDecision:
    """Apply the gate to :func:`gate_scores` figures.

    Parameters
    ----------
    figures : dict
        Output of :func:`gate_scores`.
    rule : GateRule
        The gate rule (its ``tolerance`` and ``require_storms`` apply here).
    has_current : bool
        Whether a current model exists (without one only the baseline check applies).

    Returns
    -------
    GateDecision
        ``promote`` True only if every check passed; ``reasons`` lists each failure (or
        the checks passed).
    """
    fails: list[str] = []
    passed: list[str] = []
    tol = rule.tolerance
    for target in rule.targets:
        f = figures.get(target, {})
        if "error" in f:
            fails.append(f"{target}: {f['error']}")
            continue
        leads = f.get("lead_h", [])
        if f.get("storm_issue_times", 0) == 0:
            msg = f"{target}: no storm-time issue time in the validation period"
            (fails if rule.require_storms else passed).append(msg + " (storm checks not made)")
        if has_current:
            vc = f.get("vs_current")
            if vc is None:
                fails.append(f"{target}: the current model does not forecast it")
            else:
                c, k = vc[f"candidate_{rule.metric}"], vc[f"current_{rule.metric}"]
                w = _worse(c, k, tol)
                if w is None:
                    fails.append(f"{target}: all-hours {rule.metric} not comparable ({c}, {k})")
                elif w:
                    fails.append(f"{target}: all-hours {rule.metric} {c:.4g} > current {k:.4g}")
                else:
                    passed.append(f"{target}: all-hours {rule.metric} {c:.4g} <= current {k:.4g}")
                if f.get("storm_issue_times", 0):
                    for h, a, b in zip(
                        leads, vc["candidate_storm_rmse"], vc["current_storm_rmse"], strict=True
                    ):
                        if _worse(a, b, tol):
                            fails.append(
                                f"{target}: storm-time RMSE at {h} h {a:.4g} > current {b:.4g}"
                            )
        if f.get("storm_issue_times", 0):
            vb = f.get("vs_baselines", {})
            if not vb:
                fails.append(f"{target}: no baseline forecast to compare with")
            for j, h in enumerate(leads):
                pairs = [
                    (n, v["candidate_rmse"][j], v["baseline_rmse"][j])
                    for n, v in vb.items()
                    if v["baseline_rmse"][j] is not None and v["candidate_rmse"][j] is not None
                ]
                if not pairs:
                    fails.append(f"{target}: no storm-time pairs with any baseline at {h} h")
                    continue
                name, cand, best = min(pairs, key=lambda x: x[2])
                if _worse(cand, best, tol):
                    fails.append(
                        f"{target}: storm-time RMSE at {h} h {cand:.4g} > best baseline "
                        f"{name} {best:.4g}"
                    )
            if not any(r.startswith(f"{target}: storm-time RMSE") for r in fails):
                passed.append(
                    f"{target}: storm-time RMSE not worse than the best baseline at 1-{leads[-1]} h"
                    if leads
                    else f"{target}: no leads checked"
                )
    if not has_current:
        passed.append("no current model")
    promote = not fails
    return GateDecision(promote=promote, reasons=fails if fails else passed, figures=figures)


# --------------------------------------------------------------------------- primary model


def _ranking(
    scored: pd.DataFrame | xr.Dataset, target: str, metric: str, max_lead_h: int
) -> pd.Series:
    if isinstance(scored, xr.Dataset):
        if metric not in scored or "target" not in scored[metric].dims:
            raise ValueError(f"skill report has no {metric!r} on target (it has {list(scored)})")
        da = scored[metric].sel(target=target)
        lead_h = pd.TimedeltaIndex(da["lead_time"].values) / pd.Timedelta("1h")
        da = da.isel(lead_time=np.flatnonzero(lead_h <= max_lead_h))
        return da.mean("lead_time", skipna=True).to_series().dropna()
    need = {"model", "target", "lead_h", metric}
    if not need <= set(scored.columns):
        raise ValueError(f"scorecard lacks columns {sorted(need - set(scored.columns))}")
    t = scored[(scored["target"] == target) & (scored["lead_h"] <= max_lead_h)]
    if "model_version" in t:
        newest = t.sort_values("model_version").groupby("model")["model_version"].last()
        t = t[t["model_version"].to_numpy() == newest.reindex(t["model"]).to_numpy()]
    return t.groupby("model")[metric].mean().dropna()


def primary_model(
    scored: pd.DataFrame | xr.Dataset,
    target: str,
    *,
    metric: str = "crps",
    max_lead_h: int = 24,
    candidates: tuple[str, ...] | None = None,
) -> str:
    """Pick the model that verified best for ``target``: lowest mean ``metric`` over leads.

    With a scorecard that has ``model_version``, only each model's newest version counts.

    Parameters
    ----------
    scored : pandas.DataFrame or xr.Dataset
        A rolling scorecard (:func:`forecasting.verification.scorecard.rolling`, a
        DataFrame with columns ``model``, ``target``, ``lead_h`` and the metric) or a skill
        report (:func:`forecasting.evaluation.evaluate.read_skill`, metrics on ``(model,
        target, lead_time)``). A storm-time metric (``storm_time_rmse``) ranks by storm time.
    target : str
        ``dst`` or ``kp``.
    metric : str, default "crps"
        Lower-is-better metric (``crps``, ``rmse``, ``mae``, ``storm_time_rmse``), in the
        target's unit (nT for Dst).
    max_lead_h : int, default 24
        Leads averaged, 1..max_lead_h [h].
    candidates : tuple of str, optional
        Only these models may be chosen (e.g. the ones the flow can run); ``None``: any.

    Returns
    -------
    str
        The model name.

    Raises
    ------
    ValueError
        When no model has a finite score for ``target``.
    """
    ranks = _ranking(scored, target, metric, max_lead_h)
    if candidates is not None:
        ranks = ranks[ranks.index.isin(candidates)]
    ranks = ranks[np.isfinite(ranks.to_numpy(dtype=float))]
    if ranks.empty:
        raise ValueError(f"no model has a finite {metric} for {target} in the scores given")
    return str(ranks.astype(float).idxmin())


def primary_by_target(
    scored: pd.DataFrame | xr.Dataset | None,
    targets: tuple[str, ...] = ("dst", "kp"),
    *,
    default: str,
    candidates: tuple[str, ...] | None = None,
    metric: str = "crps",
) -> dict[str, str]:
    """:func:`primary_model` for each target, ``default`` where nothing has been verified yet.

    Parameters
    ----------
    scored : pandas.DataFrame or xr.Dataset or None
        Rolling scorecard or skill report (see :func:`primary_model`; None: nothing verified
        yet).
    targets : tuple of str, default ("dst", "kp")
        Targets to choose for.
    default : str
        The model used where no score exists (the promoted TFT, or the fallback).
    candidates : tuple of str, optional
        Models that ran in this forecast (only these may be chosen).
    metric : str, default "crps"
        Ranking metric (lower is better), averaged over leads 1-24 h.

    Returns
    -------
    dict
        Target -> model name.
    """
    out = {}
    for t in targets:
        try:
            out[t] = (
                default
                if scored is None
                else primary_model(scored, t, metric=metric, candidates=candidates)
            )
        except ValueError:
            out[t] = default
    return out


def primary_attr(choice: dict[str, str]) -> str:
    """Write the forecast attribute ``primary`` (target -> model, ``dst=tft;kp=persistence``).

    Parameters
    ----------
    choice : dict of str to str
        Target -> primary model name.

    Returns
    -------
    str
        ``target=model`` pairs joined by ``;`` (read back by :func:`parse_primary_attr`).
    """
    return ";".join(f"{t}={m}" for t, m in choice.items())


def parse_primary_attr(value: object) -> dict[str, str]:
    """Read the forecast attribute ``primary`` written by :func:`primary_attr`.

    Parameters
    ----------
    value : object
        The attribute (``dst=tft;kp=persistence``), or ``""``/None when absent.

    Returns
    -------
    dict of str to str
        Target -> model; pieces without ``=`` are skipped (empty for an absent attribute).
    """
    pairs = [p.split("=", 1) for p in str(value or "").split(";") if "=" in p]
    return {k: v for k, v in pairs}


def merge_primary(forecasts: dict[str, xr.Dataset], choice: dict[str, str]) -> xr.Dataset:
    """One forecast holding each target from its primary model (``choice``: target -> model).

    Parameters
    ----------
    forecasts : dict of str to xr.Dataset
        Model name -> forecast dataset on the same issue and lead times (and quantiles).
    choice : dict of str to str
        :func:`primary_by_target` output (target -> model name).

    Returns
    -------
    xr.Dataset
        The targets of the chosen models; ``attrs["primary"]`` records the choice
        (``dst=tft;kp=persistence``) and ``model``/``model_version`` name each source; each
        target keeps its model's variable attributes (units, event recalibration).

    Raises
    ------
    ValueError
        When a chosen model did not run or does not forecast its target.
    """
    parts = []
    for target, name in choice.items():
        fc = forecasts.get(name)
        if fc is None or target not in fc:
            raise ValueError(
                f"primary model {name!r} for {target} has no {target} forecast "
                f"(models run: {sorted(forecasts)})"
            )
        parts.append(fc[[target]])
    out = xr.merge(parts, join="exact", combine_attrs="drop")
    for part in parts:  # merge drops variable attrs: keep units and event recalibration
        for var in part.data_vars:
            out[var].attrs = dict(part[var].attrs)
    first = forecasts[next(iter(choice.values()))]
    out.attrs = dict(first.attrs)
    out.attrs.update(
        primary=primary_attr(choice),
        model="+".join(dict.fromkeys(choice.values())),
        model_version=";".join(
            f"{m}={forecasts[m].attrs.get('model_version', '')}"
            for m in dict.fromkeys(choice.values())
        ),
    )
    return out


# ------------------------------------------------------------ primary model in operations

#: where :func:`load_primary_evidence` looks for a validation-year skill report, relative to
#: the reports folder (``superstorm evaluate --part validate`` writes it)
VALIDATION_REPORT = "validation/skill.nc"


@dataclass(frozen=True)
class PrimaryEvidence:
    """How each model verified against the TFT on the validation years, per target.

    Attributes
    ----------
    source
        Where the figures come from (a skill report or a promotion record, with its path).
    ratios
        Target -> model -> storm-time RMSE ratio [1]: the model's mean storm-time RMSE over
        leads 1..``max_lead_h`` divided by the reference's (the TFT's) on the same pairs
        (below 1: the model verified better than the TFT). The reference itself is 1.
    max_lead_h
        Leads averaged, 1..max_lead_h [h].
    """

    source: str
    ratios: dict[str, dict[str, float]]
    max_lead_h: int = 12


@dataclass(frozen=True)
class PrimaryChoice:
    """The model whose forecast is primary for each target, and why.

    Attributes
    ----------
    models
        Target -> model name (e.g. ``{"dst": "tft", "kp": "persistence"}``).
    basis
        Target -> the reason for the choice, with its figures and evidence source.
    """

    models: dict[str, str]
    basis: dict[str, str]

    def attrs(self) -> dict[str, str]:
        """Give the choice as forecast attributes (``primary``, ``primary_basis``).

        Returns
        -------
        dict
            ``primary`` (``dst=tft;kp=persistence``) and ``primary_basis`` (one reason per
            target, ``" | "``-separated).
        """
        return {
            "primary": primary_attr(self.models),
            "primary_basis": " | ".join(f"{t}: {b}" for t, b in self.basis.items()),
        }


def _mean_ratio(model_rmse: list, ref_rmse: list) -> float:
    """Mean of ``model_rmse`` over mean of ``ref_rmse``, on the leads where both are finite."""
    a = np.array([np.nan if v is None else v for v in model_rmse], dtype=float)
    b = np.array([np.nan if v is None else v for v in ref_rmse], dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any() or b[ok].mean() <= 0:
        return float("nan")
    return float(a[ok].mean() / b[ok].mean())


def report_storm_ratios(
    report: xr.Dataset, target: str, *, reference: str = "tft", max_lead_h: int = 12
) -> dict[str, float]:
    """Storm-time RMSE ratios of every model to ``reference`` from a skill report.

    Parameters
    ----------
    report
        A skill report (:func:`forecasting.evaluation.evaluate.read_skill`) holding
        ``storm_time_rmse`` and ``storm_time_rmse_of_reference`` on ``(target, model,
        lead_time)``: each model and the reference on their shared storm-time pairs.
    target
        ``dst`` or ``kp``.
    reference
        The report's reference model (its ``reference_model`` attribute; the TFT).
    max_lead_h
        Leads averaged, 1..max_lead_h [h].

    Returns
    -------
    dict
        Model -> ratio [1] (see :class:`PrimaryEvidence`); empty when the report has no
        storm-time figures for ``target`` or does not score ``reference``.
    """
    need = ("storm_time_rmse", "storm_time_rmse_of_reference")
    if any(k not in report for k in need) or "target" not in report["storm_time_rmse"].dims:
        return {}
    if target not in report["target"].values or reference not in report["model"].values:
        return {}
    lead_h = pd.TimedeltaIndex(report["lead_time"].values) / pd.Timedelta("1h")
    keep = np.flatnonzero(lead_h <= max_lead_h)
    own = report["storm_time_rmse"].sel(target=target).isel(lead_time=keep)
    ref = report["storm_time_rmse_of_reference"].sel(target=target).isel(lead_time=keep)
    out: dict[str, float] = {}
    for m in report["model"].values:
        r = _mean_ratio(list(own.sel(model=m).values), list(ref.sel(model=m).values))
        if np.isfinite(r):
            out[str(m)] = r
    if out:
        out[reference] = 1.0
    return out


def record_storm_ratios(
    entry: dict, target: str, *, reference: str = "tft", max_lead_h: int = 12
) -> dict[str, float]:
    """Storm-time RMSE ratios of every baseline to the candidate from a promotion record.

    Parameters
    ----------
    entry
        One decision of ``promotions.jsonl`` (:func:`flows.retrain.run_retrain`), whose
        ``figures`` come from :func:`gate_scores` on the validation years.
    target
        ``dst`` or ``kp``.
    reference
        The name the candidate (the TFT) runs under in the forecast flow.
    max_lead_h
        Leads averaged, 1..max_lead_h [h].

    Returns
    -------
    dict
        Model -> ratio [1] (see :class:`PrimaryEvidence`); empty when the record holds no
        storm-time pairs for ``target``.
    """
    fig = (entry.get("figures") or {}).get(target) or {}
    lead_h = fig.get("lead_h") or []
    keep = [i for i, h in enumerate(lead_h) if h <= max_lead_h]
    out: dict[str, float] = {}
    for name, v in (fig.get("vs_baselines") or {}).items():
        base = [v["baseline_rmse"][i] for i in keep]
        cand = [v["candidate_rmse"][i] for i in keep]
        r = _mean_ratio(base, cand)
        if np.isfinite(r):
            out[str(name)] = r
    if out:
        out[reference] = 1.0
    return out


def load_primary_evidence(
    version: str | None,
    reports_dir: str | Path,
    record: str | Path,
    *,
    reference: str = "tft",
    targets: tuple[str, ...] = ("dst", "kp"),
    max_lead_h: int = 12,
    versions: dict[str, str] | None = None,
) -> tuple[PrimaryEvidence | None, str]:
    """Find the validation-year evidence about TFT ``version``, best source first.

    Sources, in order: a skill report scored on the validation years
    (``<reports_dir>/validation/skill.nc``, then ``<reports_dir>/skill.nc``) whose
    ``model_versions`` name ``version``; then the newest ``promotions.jsonl`` decision whose
    candidate is ``version``. A test-year report is never used: the primary model is chosen
    on the validation years only. A model of ``versions`` (the stored blend, whose weights
    are refitted now and then) keeps its figures only where the report scored that same
    version; figures about another fit of it are left out, and the source says so.

    Parameters
    ----------
    version
        The registry version of the TFT that runs (None: no TFT, nothing to check).
    reports_dir
        Folder of the skill reports (``$SUPERSTORM_HOME/reports``).
    record
        The promotion record (``$SUPERSTORM_HOME/models/promotions.jsonl``).
    reference
        The TFT's model name.
    targets
        Targets to gather ratios for.
    max_lead_h
        Leads averaged, 1..max_lead_h [h].
    versions
        Model name -> the version that runs (e.g. ``{"blend": "<tft version>@<fit time>"}``);
        such a model's figures count only when the report names that version. ``None``: no
        check beyond the TFT's.

    Returns
    -------
    (PrimaryEvidence or None, str)
        The evidence, or None and why there is none (a sentence for the log).
    """
    if not version:
        return None, "no TFT version runs"
    reports_dir, record = Path(reports_dir), Path(record)
    seen: list[str] = []
    for path in (reports_dir / VALIDATION_REPORT, reports_dir / "skill.nc"):
        if not path.exists():
            continue
        from forecasting.evaluation.evaluate import read_skill

        try:
            report = read_skill(path)
        except (OSError, ValueError) as exc:
            seen.append(f"{path} unreadable ({exc})")
            continue
        part = str(report.attrs.get("scored_part", ""))
        if part != "validate":
            seen.append(f"{path} scores the {part or 'unknown'} years, not the validation years")
        elif f"{reference}={version}" not in versions_of(report, reference):
            seen.append(f"{path} scores another TFT ({report.attrs.get('model_versions')})")
        else:
            ratios = {
                t: report_storm_ratios(report, t, reference=reference, max_lead_h=max_lead_h)
                for t in targets
            }
            years = report.attrs.get("scored_years", "")
            source = f"validation skill report {path} (years {years})"
            for name, want in (versions or {}).items():
                scored = next((v.split("=", 1)[1] for v in versions_of(report, name)), None)
                if scored is not None and scored != want:
                    for r in ratios.values():
                        r.pop(name, None)
                    source += f"; {name} left out: it scored {name} {scored}, {want} runs"
            return PrimaryEvidence(source, ratios, max_lead_h), ""
    if record.exists():
        import json

        entry = None
        for line in record.read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("candidate") == version:
                entry = e
        if entry is not None:
            ratios = {
                t: record_storm_ratios(entry, t, reference=reference, max_lead_h=max_lead_h)
                for t in targets
            }
            return PrimaryEvidence(
                f"promotion record {record} ({entry.get('decided', '?')}, validation "
                f"{entry.get('held_out', '?')})",
                ratios,
                max_lead_h,
            ), ""
        seen.append(f"{record} holds no decision on {version}")
    else:
        seen.append(f"no promotion record {record}")
    return None, "; ".join(seen) or f"no skill report in {reports_dir}"


def versions_of(report: xr.Dataset, name: str) -> list[str]:
    """List the ``name=version`` entries of a skill report's ``model_versions`` for ``name``.

    Parameters
    ----------
    report
        A skill report (:func:`forecasting.evaluation.evaluate.read_skill`).
    name
        A model name (``tft``, ``blend`` ...).

    Returns
    -------
    list of str
        The entries (``["blend=20261201T120000-full@20261201T160000Z"]``); empty when the
        report did not score ``name``.
    """
    entries = str(report.attrs.get("model_versions", "")).split(";")
    return [e for e in entries if e.split("=", 1)[0] == name and "=" in e]


def _usable(fc: xr.Dataset | None, target: str) -> bool:
    return fc is not None and target in fc and bool(np.isfinite(fc[target].values).any())


def choose_primary(
    forecasts: dict[str, xr.Dataset],
    evidence: PrimaryEvidence | None,
    *,
    default: str,
    targets: tuple[str, ...] = ("dst", "kp"),
    why_none: str = "",
) -> PrimaryChoice:
    """Choose the primary model per target: the one that verified best on the validation years.

    With ``evidence``, the models are ranked per target by their storm-time RMSE ratio to the
    TFT (:class:`PrimaryEvidence`; lowest first, the TFT winning ties) and the first with a
    finite forecast this hour is chosen. Without evidence (or none for a target) the
    ``default`` model (the TFT when one runs, else the fallback) is chosen, unchecked, and
    the basis says so. A target no model forecasts finitely keeps the first ranked model
    that has the variable (its forecast is NaN, so the alerts issue a FORECAST_UNAVAILABLE
    notice) and is left out when none of them ran: a model outside the ranking never
    stands in silently.

    Parameters
    ----------
    forecasts
        Model name -> this hour's forecast (the models that ran).
    evidence
        :func:`load_primary_evidence` output (None: nothing verified).
    default
        The model used where nothing is verified.
    targets
        Targets to choose for.
    why_none
        Why there is no evidence (put in the basis).

    Returns
    -------
    PrimaryChoice
        The model and the reason per target.
    """
    models: dict[str, str] = {}
    basis: dict[str, str] = {}
    for t in targets:
        ratios = (evidence.ratios.get(t) if evidence is not None else None) or {}
        if ratios:
            ranking = sorted(ratios, key=lambda m: (ratios[m], m != default))
            lead = evidence.max_lead_h if evidence is not None else 12
            figures = ", ".join(f"{m} {ratios[m]:.2f}" for m in ranking)
            why = (
                f"verified best on the validation years (storm-time RMSE 1-{lead} h relative "
                f"to {default}: {figures}; {evidence.source if evidence else ''})"
            )
        else:
            ranking = [default]
            detail = (
                f"{evidence.source} has no storm-time figures for {t}"
                if evidence is not None
                else why_none
            )
            why = f"{default} unchecked: no validation-year evidence" + (
                f" ({detail})" if detail else ""
            )
        chosen = next((m for m in ranking if _usable(forecasts.get(m), t)), None)
        if chosen is None:
            chosen = next((m for m in ranking if t in forecasts.get(m, {})), None)
            if chosen is None:
                continue  # no verified model ran for t: no primary forecast of it
            why = f"no model has a finite {t} forecast this hour; " + why
        elif chosen != ranking[0]:
            skipped = ranking[: ranking.index(chosen)]
            why = f"{', '.join(skipped)}: no finite {t} forecast this hour (not run or NaN); " + why
        models[t] = chosen
        basis[t] = f"{chosen}: {why}"
    return PrimaryChoice(models, basis)
