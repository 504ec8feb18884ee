"""Training loss of the TFT: one quantile (pinball) loss per target, optionally per-lead scaled.

pytorch-forecasting computes the loss on forecasts turned back into the target's own units
(``TemporalFusionTransformer.transform_output``), so the plain ``MultiLoss`` of two
``QuantileLoss`` heads weighs every (target, lead) term by its size: on the training years
1998-2012 persistence misses Dst by 2.7 nT at 1 h and 11.7 nT at 24 h, and Kp by 0.6 and 1.1,
so Dst outweighs Kp 4- to 10-fold and 24-h Dst outweighs 1-h Dst about 4-fold. Early
stopping and the kept snapshots then follow the long-lead Dst loss, while the model is judged
lead by lead against its baselines.

With ``lead_scales`` each term is divided by the mean absolute error of persistence at that
lead and target on the training years (:func:`persistence_scales`), so every lead and both
targets count alike: the loss becomes a mean of skill-like ratios, the per-lead analogue of
the scaled errors of Hyndman & Koehler (2006, doi:10.1016/j.ijforecast.2006.03.001).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

#: ``"none"``: the plain quantile loss in target units (models saved before the option);
#: ``"persistence"``: each (target, lead) term divided by persistence's mean absolute error.
LOSS_SCALES = ("none", "persistence")

#: training windows sampled to estimate the persistence scales (enough for 3 digits)
SCALE_SAMPLE = 50_000


@functools.cache
def _scaled_quantile_loss() -> type:
    """Build :class:`LeadScaledQuantileLoss` on first use (pytorch-forecasting is heavy)."""
    from pytorch_forecasting.metrics import QuantileLoss

    class LeadScaledQuantileLoss(QuantileLoss):
        """``QuantileLoss`` whose term at lead ``h`` is divided by ``lead_scale[h]``.

        Parameters
        ----------
        quantiles
            Quantile levels in (0, 1).
        lead_scale
            One positive scale per lead 1..horizon h, in the target's units.
        """

        def __init__(self, quantiles: list[float], lead_scale: Sequence[float]) -> None:
            super().__init__(quantiles=quantiles)
            self.lead_scale = tuple(float(s) for s in lead_scale)

        def loss(self, y_pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            """Pinball losses ``(batch, lead, quantile)``, each lead divided by its scale."""
            losses = super().loss(y_pred, target)
            scale = torch.tensor(self.lead_scale, dtype=losses.dtype, device=losses.device)
            if losses.shape[1] != len(scale):
                raise ValueError(
                    f"{losses.shape[1]} leads in the batch but {len(scale)} lead scales; "
                    "rebuild the loss for this horizon"
                )
            return losses / scale[None, :, None]

    LeadScaledQuantileLoss.__module__ = __name__
    LeadScaledQuantileLoss.__qualname__ = "LeadScaledQuantileLoss"
    return LeadScaledQuantileLoss


def make_loss(
    quantiles: Sequence[float],
    n_targets: int,
    lead_scales: Sequence[Sequence[float]] | None = None,
) -> Any:
    """One quantile head per target, summed: ``MultiLoss([QuantileLoss(q), ...])``.

    Parameters
    ----------
    quantiles : Sequence[float]
        Quantile levels in (0, 1) of every head.
    n_targets : int
        Heads (targets), in the order of :data:`forecasting.models.pipeline.TARGETS`.
    lead_scales : sequence of sequences of float, optional
        Per target, one positive scale per lead (:func:`persistence_scales`); None: the
        plain loss in target units.

    Returns
    -------
    pytorch_forecasting.metrics.MultiLoss
        The loss. Scaling changes only training and validation losses: the quantiles a
        network forecasts are read from its output the same way.

    Raises
    ------
    ValueError
        If ``lead_scales`` does not hold one row per target, or a scale is not positive.
    """
    from pytorch_forecasting.metrics import MultiLoss, QuantileLoss

    q = list(quantiles)
    if lead_scales is None:
        return MultiLoss([QuantileLoss(quantiles=q) for _ in range(n_targets)])
    if len(lead_scales) != n_targets:
        raise ValueError(f"lead_scales has {len(lead_scales)} rows, one per target needed")
    for row in lead_scales:
        if not all(np.isfinite(s) and s > 0 for s in row):
            raise ValueError(f"lead scales must be finite and > 0, not {list(row)}")
    cls = _scaled_quantile_loss()
    return MultiLoss([cls(q, row) for row in lead_scales])


def persistence_scales(source: Any, rows: np.ndarray, *, seed: int = 0) -> list[list[float]]:
    """Mean absolute error of persistence per target and lead on training windows.

    Persistence is the value ``lag`` hours before the issue time, with the ``lag`` of the
    target's normaliser (:func:`forecasting.models.pipeline.kp_normalizer` with
    ``"last_block"``: 3 h, the last complete 3-h Kp block, which cannot leak) and 1 h for a
    normaliser without one (Dst: the last known hour).

    Parameters
    ----------
    source : forecasting.models.pipeline.WindowSource
        The windows (its raw targets ``y`` and normalisers); window ``r`` forecasts grid rows
        ``r .. r + horizon - 1`` at leads 1..horizon h.
    rows : numpy.ndarray
        Grid rows of the training windows.
    seed : int, default 0
        Seed of the :data:`SCALE_SAMPLE` windows drawn when there are more.

    Returns
    -------
    list of list of float
        ``[target][lead - 1]`` mean absolute error in the target's units (nT for Dst),
        floored at 1 % of the target's largest lead error (no lead divides by ~0).

    Raises
    ------
    ValueError
        If a target has no finite pair at some lead.
    """
    rows = np.asarray(rows)
    if len(rows) > SCALE_SAMPLE:
        rows = np.random.default_rng(seed).choice(rows, SCALE_SAMPLE, replace=False)
    target = source.y.numpy()
    leads = rows[:, None] + np.arange(source.horizon)[None, :]
    out = []
    for k, normalizer in enumerate(source.normalizers):
        lag = int(getattr(normalizer, "lag", 1))
        err = np.abs(target[leads, k] - target[rows - lag, k][:, None])
        with np.errstate(invalid="ignore"):
            mae = np.nanmean(err, axis=0)
        if not np.all(np.isfinite(mae)):
            raise ValueError(f"target {k}: no finite persistence pair at some lead")
        out.append([float(v) for v in np.maximum(mae, 0.01 * mae.max())])
    return out
