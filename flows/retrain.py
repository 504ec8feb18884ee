"""Weekly / on-demand retraining with a guarded promotion.

A candidate TFT is trained (:func:`forecasting.models.train.train`), then it and the current
(promoted) model forecast the *same* held-out issue times; the candidate is promoted only if
it is not worse under a configurable :class:`PromotionRule` (default: mean Dst CRPS over
leads 1-24 h may not exceed the current model's by more than 0 %). Every decision is
appended to ``$SUPERSTORM_HOME/models/promotions.jsonl`` (the rule, both scores, the
outcome) and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xarray as xr
from prefect import flow, task

from data_sources import config

log = logging.getLogger(__name__)

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


@dataclass(frozen=True)
class PromotionRule:
    """When a candidate may replace the current model.

    Attributes
    ----------
    target, metric
        What to compare (``dst``/``kp``; ``crps``, ``rmse``, ``mae``: lower is better).
    tolerance
        Relative slack: promote if ``candidate <= current * (1 + tolerance)``.
    init_every
        Spacing of the held-out issue times.
    """

    target: str = "dst"
    metric: str = "crps"
    tolerance: float = 0.0
    init_every: str = "6h"

    def __post_init__(self) -> None:
        if self.metric not in ("crps", "rmse", "mae"):
            raise ValueError(f"PromotionRule.metric={self.metric!r}: use crps, rmse or mae")
        if self.tolerance < 0:
            raise ValueError(f"PromotionRule.tolerance={self.tolerance} must be >= 0")


def held_out_score(forecaster, ds: xr.Dataset, init_times, rule: PromotionRule) -> float:
    """Mean over leads of ``rule.metric`` for ``rule.target`` on ``init_times`` of ``ds``."""
    from forecasting.verification.scores import score

    fc = forecaster.forecast(ds, init_times, LEADS, targets=(rule.target,))
    return float(score(fc, ds, rule.target)[rule.metric].mean("lead_time"))


def decide(candidate: float, current: float | None, rule: PromotionRule) -> tuple[bool, str]:
    """``(promote, reason)`` for the candidate's and the current model's scores."""
    if current is None:
        return True, "no current model: the candidate becomes current"
    if not np.isfinite(candidate):
        return False, f"candidate {rule.metric} is not finite"
    if not np.isfinite(current):
        return True, f"current {rule.metric} is not finite"
    limit = current * (1 + rule.tolerance)
    if candidate <= limit:
        return (
            True,
            f"candidate {rule.metric} {candidate:.4g} <= current {current:.4g} x (1 + {rule.tolerance})",
        )
    return (
        False,
        f"candidate {rule.metric} {candidate:.4g} > current {current:.4g} x (1 + {rule.tolerance})",
    )


def record_decision(entry: dict) -> None:
    """Append one decision to ``$SUPERSTORM_HOME/models/promotions.jsonl``."""
    path = config.home() / "models" / "promotions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(entry, default=str) + "\n")
        fh.flush()


def run_retrain(
    preset: str = "quick",
    *,
    data=None,
    held_out: tuple[str, str] | None = None,
    rule: PromotionRule | None = None,
    overrides: dict | None = None,
    train_fn: Callable[..., str] | None = None,
) -> dict:
    """Train a candidate, compare it with the current model on one held-out period, maybe promote.

    Parameters
    ----------
    preset, data, overrides
        Passed to :func:`forecasting.models.train.train` (``promote=False``).
    held_out
        ``(start, end)`` of the comparison period (default: the preset's test years).
    rule
        :class:`PromotionRule` (default: Dst CRPS, no slack).
    train_fn
        Replaces :func:`forecasting.models.train.train` (tests).
    """
    from forecasting.models import registry
    from forecasting.models.predict import TFTForecaster
    from forecasting.models.train import default_split
    from forecasting.models.train import train as train_default
    from forecasting.splits import load_period

    rule = rule or PromotionRule()
    version = (train_fn or train_default)(preset, data=data, overrides=overrides, promote=False)
    if held_out is None:
        split = default_split(preset)
        test = split.test
        held_out = (f"{test[0]}-01-01", f"{(test[1] or test[0]) + 1}-01-01")
    start, end = pd.Timestamp(held_out[0]), pd.Timestamp(held_out[1])
    ds = data if isinstance(data, xr.Dataset) else load_period(start - pd.Timedelta("30D"), end)
    ds = ds.sel(time=slice(start - pd.Timedelta("30D"), end))
    inits = pd.date_range(
        start + pd.Timedelta("7D"), end - pd.Timedelta("1D"), freq=rule.init_every
    )
    cand = held_out_score(TFTForecaster(registry.load(version)), ds, inits, rule)
    current_version = registry.current()
    cur = (
        held_out_score(TFTForecaster(registry.load("current")), ds, inits, rule)
        if current_version
        else None
    )
    promote, reason = decide(cand, cur, rule)
    if promote:
        registry.promote(version)
    entry = {
        "decided": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "candidate": version,
        "current": current_version,
        "rule": asdict(rule),
        "held_out": [str(start), str(end)],
        "n_issue_times": len(inits),
        "candidate_score": cand,
        "current_score": cur,
        "promoted": promote,
        "reason": reason,
    }
    record_decision(entry)
    log.info("retrain: %s %s (%s)", version, "PROMOTED" if promote else "kept out", reason)
    return entry


retrain_task = task(name="train-evaluate-promote")(run_retrain)


@flow(name="retrain", log_prints=True)
def retrain_flow(
    preset: str = "quick",
    metric: str = "crps",
    target: str = "dst",
    tolerance: float = 0.0,
    held_out_start: str | None = None,
    held_out_end: str | None = None,
) -> dict:
    """Weekly / on demand: train, compare with the current model, promote if not worse."""
    held = (held_out_start, held_out_end) if held_out_start and held_out_end else None
    res = retrain_task(
        preset, held_out=held, rule=PromotionRule(target=target, metric=metric, tolerance=tolerance)
    )
    print(f"retrain: {res['candidate']} promoted={res['promoted']} ({res['reason']})")
    return res
