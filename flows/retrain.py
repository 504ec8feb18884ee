"""Weekly / on-demand retraining with a guarded promotion.

A candidate TFT is trained (:func:`forecasting.models.train.train`), then it, the current
(promoted) model and the baselines forecast the *same* issue times of the VALIDATION years;
:mod:`forecasting.models.promotion` decides (the gate: not worse than the current model, and not
worse than the best baseline in storm time at any lead <= 12 h). This flow only orchestrates:
every decision, with the rule and all its figures, is appended to
``$SUPERSTORM_HOME/models/promotions.jsonl`` and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xarray as xr
from prefect import flow, task

from data_sources import config
from forecasting.models.promotion import (
    GateRule,
    decide,
    gate_issue_times,
    gate_scores,
    held_out_years,
    nothing_unseen,
    refuse_trained_years,
    unseen_issue_times,
)

log = logging.getLogger(__name__)

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


def record_decision(entry: dict) -> None:
    """Append one decision to ``$SUPERSTORM_HOME/models/promotions.jsonl``.

    Parameters
    ----------
    entry : dict
        The decision record (candidate, current, rule, held-out period, figures, promoted,
        reason); written as one JSON line, values that are not JSON (timestamps) as strings.
    """
    path = config.home() / "models" / "promotions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()


def _baseline_forecasts(
    fit_ds: xr.Dataset,
    ds: xr.Dataset,
    inits: pd.DatetimeIndex,
    leads: pd.TimedeltaIndex,
    targets: Sequence[str],
) -> dict:
    """Fit every baseline on ``fit_ds`` (the data before the validation period), forecast ``inits``."""
    from forecasting.models.baselines import all_baselines

    out = {}
    for b in all_baselines():
        wanted = [t for t in targets if t in b.supported and t in fit_ds]
        if not wanted:
            continue
        b.fit(fit_ds, lead_times=leads, targets=wanted)
        out[b.name] = b.forecast(ds, inits, leads, targets=tuple(wanted))
    return out


def run_retrain(
    preset: str = "quick",
    *,
    data: xr.Dataset | None = None,
    held_out: tuple[str, str] | None = None,
    rule: GateRule | None = None,
    overrides: dict | None = None,
    train_fn: Callable[..., str] | None = None,
) -> dict:
    """Train a candidate, gate it on the validation years, maybe promote it.

    Parameters
    ----------
    preset, data, overrides
        Passed to :func:`forecasting.models.train.train` (``promote=False``).
    held_out
        ``(start, end)`` of the comparison period (default: the preset's validation years).
        A period holding any of the candidate's training years is refused; years the current
        model trained on (after a change of split) are left out of every comparison
        (:func:`forecasting.models.promotion.unseen_issue_times`), and the record lists the
        ``compared_years``.
    rule
        :class:`forecasting.models.promotion.GateRule` (default: Dst, leads <= 12 h, no slack).
    train_fn
        Replaces :func:`forecasting.models.train.train` (tests).

    Returns
    -------
    dict
        The decision record (also appended to ``promotions.jsonl``).

    Raises
    ------
    ValueError
        If the comparison period holds a training year of the candidate (checked before
        training against the preset's split, and after it against the candidate's own).
    """
    from forecasting.models import registry
    from forecasting.models.predict import TFTForecaster
    from forecasting.models.train import default_split, split_of
    from forecasting.models.train import train as train_default
    from forecasting.splits import load_period

    rule = rule or GateRule()
    split = default_split(preset)
    if held_out is None:
        val = split.validate
        held_out = (f"{val[0]}-01-01", f"{(val[1] or val[0]) + 1}-01-01")
    start, end = pd.Timestamp(held_out[0]), pd.Timestamp(held_out[1])
    years = held_out_years(start, end)
    refuse_trained_years(split, start, end, f"of preset {preset!r}")
    version = (train_fn or train_default)(preset, data=data, overrides=overrides, promote=False)
    candidate = registry.load(version)
    refuse_trained_years(split_of(candidate), start, end, version)
    full = (
        data
        if isinstance(data, xr.Dataset)
        else load_period(pd.Timestamp(f"{start.year - 1}-01-01"), end + pd.Timedelta("2D"))
    )
    fit_ds = full.sel(time=slice(None, start - pd.Timedelta("1ns")))
    ds = full.sel(time=slice(start - pd.Timedelta("30D"), end + pd.Timedelta("2D")))
    inits, storm = gate_issue_times(ds, start, end, rule)
    targets = tuple(rule.targets)
    current_version = registry.current()
    current = registry.load("current") if current_version else None
    seen = split_of(current).years("train", years) if current is not None else []
    inits, storm = unseen_issue_times(inits, storm, seen)
    if len(inits):
        cand_fc = TFTForecaster(candidate).forecast(ds, inits, LEADS, targets=targets)
        cur_fc = (
            TFTForecaster(current).forecast(ds, inits, LEADS, targets=targets)
            if current is not None
            else None
        )
        base_fc = _baseline_forecasts(fit_ds, ds, inits, LEADS, targets)
        figures = gate_scores(cand_fc, cur_fc, base_fc, ds, storm, rule)
        decision = decide(figures, rule, has_current=current is not None)
    else:
        figures = {}
        decision = nothing_unseen(years, version, current_version)
    if decision.promote:
        registry.promote(version)
    entry = {
        "decided": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "candidate": version,
        "current": current_version,
        "rule": asdict(rule),
        "held_out": [str(start), str(end)],
        "compared_years": sorted(set(years) - set(seen)),
        "n_issue_times": len(inits),
        "n_storm_issue_times": int(storm.sum()),
        "figures": figures,
        "promoted": decision.promote,
        "reason": decision.reason,
    }
    record_decision(entry)
    log.info(
        "retrain: %s %s (%s)",
        version,
        "PROMOTED" if decision.promote else "kept out",
        entry["reason"],
    )
    return entry


retrain_task = task(name="train-evaluate-promote")(run_retrain)


def fit_promoted_blend(version: str) -> str:
    """Fit and store the blend of a newly promoted TFT, so the hourly forecast runs it.

    A failure is logged (with the command that retries it) and the promotion stands: the
    forecast then runs without a blend.

    Parameters
    ----------
    version
        The promoted registry version.

    Returns
    -------
    str
        The stored ``blend.json`` path, or ``""`` when the fit failed.
    """
    from forecasting.models import stored_blend

    try:
        record = stored_blend.fit_blend(version)
    except (ValueError, OSError) as exc:
        log.warning(
            "retrain: blend of %s not fitted (%s); retry with `superstorm blend --version %s`",
            version,
            exc,
            version,
        )
        return ""
    log.info("retrain: stored the blend of %s at %s", version, record.path)
    return str(record.path)


blend_task = task(name="fit-blend")(fit_promoted_blend)


@flow(name="retrain", log_prints=True)
def retrain_flow(
    preset: str = "quick",
    metric: str = "crps",
    max_lead_h: int = 12,
    tolerance: float = 0.0,
    held_out_start: str | None = None,
    held_out_end: str | None = None,
    blend: bool = True,
) -> dict:
    """Weekly / on demand: train, gate on the validation years, promote if it passes.

    A promoted model then gets its blend (:func:`fit_promoted_blend`).

    Parameters
    ----------
    preset : str
        Training preset of :func:`forecasting.models.train.train` (default ``quick``).
    metric : {"crps", "rmse", "mae"}
        All-hours metric compared with the current model (lower is better).
    max_lead_h : int
        Leads checked, 1..``max_lead_h`` [h] (default 12).
    tolerance : float
        Relative slack: "not worse" is ``candidate <= other * (1 + tolerance)`` (default 0).
    held_out_start, held_out_end : str, optional
        UTC bounds (ISO dates, end exclusive) of the comparison period; both or neither
        (neither: the preset's validation years).
    blend : bool
        Fit and store the blend of a promoted model (default True).

    Returns
    -------
    dict
        The decision record of :func:`run_retrain` (also in ``promotions.jsonl``), with
        ``blend`` (the stored file, ``""`` when its fit failed) after a promotion.

    Raises
    ------
    ValueError
        If only one of ``held_out_start`` / ``held_out_end`` is given.
    """
    if bool(held_out_start) != bool(held_out_end):
        raise ValueError(
            f"held_out_start={held_out_start!r}, held_out_end={held_out_end!r}: give both bounds "
            "of the comparison period, or neither (the preset's validation years)"
        )
    held = (held_out_start, held_out_end) if held_out_start and held_out_end else None
    rule = GateRule(metric=metric, max_lead_h=max_lead_h, tolerance=tolerance)
    res = retrain_task(preset, held_out=held, rule=rule)
    print(f"retrain: {res['candidate']} promoted={res['promoted']} ({res['reason']})")
    if res["promoted"] and blend:
        res["blend"] = blend_task(res["candidate"])
    return res
