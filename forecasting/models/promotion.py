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
skill report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.timeconv import TimeLike
from forecasting.verification import scores


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
        (``dst=tft;kp=persistence``) and ``model``/``model_version`` name each source.

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
    first = forecasts[next(iter(choice.values()))]
    out.attrs = dict(first.attrs)
    out.attrs.update(
        primary=";".join(f"{t}={m}" for t, m in choice.items()),
        model="+".join(dict.fromkeys(choice.values())),
        model_version=";".join(
            f"{m}={forecasts[m].attrs.get('model_version', '')}"
            for m in dict.fromkeys(choice.values())
        ),
    )
    return out
