"""The training loss: per-lead persistence scaling (forecasting.models.losses)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from forecasting.models import losses, pipeline
from forecasting.models.tft import TFTConfig, fit, get_config
from forecasting.schema import QUANTILES


def test_each_lead_is_divided_by_its_scale():
    from pytorch_forecasting.metrics import QuantileLoss

    torch.manual_seed(0)
    y_pred = torch.randn(5, 4, len(QUANTILES)).sort(dim=-1).values
    target = torch.randn(5, 4)
    scale = [1.0, 2.0, 4.0, 8.0]
    plain = QuantileLoss(quantiles=list(QUANTILES)).loss(y_pred, target)
    scaled = losses.make_loss(QUANTILES, 1, [scale]).metrics[0].loss(y_pred, target)
    assert torch.allclose(scaled, plain / torch.tensor(scale)[None, :, None])
    # the forecast quantiles are read from the network output as before
    plain_q = QuantileLoss(quantiles=list(QUANTILES)).to_quantiles(y_pred)
    assert torch.equal(
        losses.make_loss(QUANTILES, 1, [scale]).metrics[0].to_quantiles(y_pred), plain_q
    )


def test_a_batch_of_another_horizon_is_refused():
    loss = losses.make_loss(QUANTILES, 1, [[1.0, 2.0]]).metrics[0]
    with pytest.raises(ValueError, match="3 leads in the batch but 2 lead scales"):
        loss.loss(torch.zeros(2, 3, len(QUANTILES)), torch.zeros(2, 3))


@pytest.mark.parametrize(
    "scales, match",
    [
        ([[1.0, 0.0], [1.0, 1.0]], "finite and > 0"),
        ([[1.0, np.nan], [1, 1]], "finite"),
        ([[1.0]], "1 rows"),
    ],
)
def test_bad_scales_are_refused(scales, match):
    with pytest.raises(ValueError, match=match):
        losses.make_loss(QUANTILES, 2, scales)


def test_persistence_scales_follow_each_targets_lag():
    """A ramp of 1 per hour: persistence from ``lag`` hours back misses lead h by h + lag - 1."""
    hours = np.arange(200, dtype=float)
    y = np.stack([hours, 2 * hours], axis=1)
    y[150, 0] = np.nan  # a gap is skipped, not propagated
    source = SimpleNamespace(
        y=torch.tensor(y, dtype=torch.float),
        horizon=4,
        normalizers=[SimpleNamespace(lag=1), SimpleNamespace(lag=3)],
    )
    scales = losses.persistence_scales(source, np.arange(10, 180))
    assert scales[0] == pytest.approx([1, 2, 3, 4])
    assert scales[1] == pytest.approx([6, 8, 10, 12])


def test_loss_scale_is_checked_and_old_configs_load_unscaled():
    with pytest.raises(ValueError, match="loss_scale must be one of .*not 'lead'"):
        TFTConfig(loss_scale="lead")
    d = TFTConfig(loss_scale="persistence").to_dict()
    assert TFTConfig.from_dict(d).loss_scale == "persistence"
    del d["loss_scale"]
    assert TFTConfig.from_dict(d).loss_scale == "none"


def test_fit_trains_and_validates_on_the_scaled_loss(tiny_tft, omni_2005_2006):
    frame = pipeline.feature_frame(omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00")))
    config = get_config("quick", **{**tiny_tft, "loss_scale": "persistence"})
    model = fit(frame, train_years=(2005,), val_years=(2006,), config=config, progress=False)
    scales = model.metadata["loss_lead_scales"]
    assert [len(row) for row in scales] == [config.horizon, config.horizon]
    dst, kp = np.array(scales[0]), np.array(scales[1])
    assert 0 < dst[0] < dst[-1] < 100  # nT: persistence errors grow with lead
    assert 0 < kp[0] < kp[-1] < 9
    heads = model.network.loss.metrics
    assert [list(h.lead_scale) for h in heads] == scales
    assert np.isfinite(model.metadata["best_val_loss"])
