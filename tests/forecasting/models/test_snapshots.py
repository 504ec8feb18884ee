"""Snapshot ensemble: members kept by training, quantiles averaged, stored and loaded safely."""

from __future__ import annotations

import copy
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting.models import pipeline, registry
from forecasting.models.predict import predict_many
from forecasting.models.tft import TFTConfig, TFTModel, fit, get_config

warnings.filterwarnings("ignore")


@pytest.fixture(scope="module")
def ds(omni_2005_2006) -> xr.Dataset:
    return omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def ensemble(ds, tiny_tft) -> TFTModel:
    config = get_config("quick", **{**tiny_tft, "max_epochs": 2, "patience": 5, "snapshots": 2})
    frame = pipeline.feature_frame(ds)
    return fit(frame, train_years=[2005], val_years=[2006], config=config, progress=False)


INIT = pd.date_range("2006-01-10", periods=12, freq="7h")


def _single(model: TFTModel, state: dict | None = None) -> TFTModel:
    net = copy.deepcopy(model.network)
    if state is not None:
        net.load_state_dict(state)
    return TFTModel(
        network=net, config=replace(model.config, snapshots=1), metadata=dict(model.metadata)
    )


def test_training_keeps_the_members_and_forecast_averages_them(ensemble, ds):
    assert len(ensemble.snapshots) == 1
    losses = ensemble.metadata["snapshot_val_loss"]
    assert len(losses) == 2 and losses[0] <= losses[1]
    both = predict_many(ensemble, ds, INIT, interpret=False)
    best = predict_many(_single(ensemble), ds, INIT, interpret=False)
    other = predict_many(_single(ensemble, ensemble.snapshots[0]), ds, INIT, interpret=False)
    assert not np.allclose(best["dst"].values, other["dst"].values)
    # the members' quantiles averaged level by level (Vincentization), then sorted: sorting
    # keeps each forecast's sum over the levels, so the average's sum is exactly the mean of
    # the members' sums (any other combination, or one member alone, breaks this)
    mean = both["dst"].values
    assert (np.diff(mean, axis=-1) >= 0).all()
    members = (best["dst"].values.sum(axis=-1) + other["dst"].values.sum(axis=-1)) / 2
    np.testing.assert_allclose(mean.sum(axis=-1), members, rtol=1e-5, atol=1e-3)
    assert not np.allclose(mean.sum(axis=-1), best["dst"].values.sum(axis=-1), atol=1e-2)


def test_identical_members_equal_the_single_network(ensemble, ds):
    single = _single(ensemble)
    twin = replace(single.config, snapshots=3)
    state = copy.deepcopy(single.network.state_dict())
    same = TFTModel(network=single.network, config=twin, snapshots=[state, state])
    a = predict_many(single, ds, INIT, interpret=False)
    b = predict_many(same, ds, INIT, interpret=False)
    np.testing.assert_allclose(a["dst"].values, b["dst"].values, rtol=1e-5, atol=1e-4)


def test_saved_ensemble_round_trip_and_missing_member_refused(ensemble, ds, tmp_path):
    version = registry.save(ensemble, home=tmp_path)
    folder = tmp_path / "models" / "tft" / version
    assert (folder / "snapshot_1.pt").is_file() and not (folder / "snapshot_2.pt").exists()
    loaded = registry.load(version, home=tmp_path)
    assert loaded.config.snapshots == 2 and len(loaded.snapshots) == 1
    a = predict_many(ensemble, ds, INIT, interpret=False)
    b = predict_many(loaded, ds, INIT, interpret=False)
    np.testing.assert_array_equal(a["dst"].values, b["dst"].values)
    (folder / "snapshot_1.pt").unlink()
    with pytest.raises(registry.UnsafeModelError, match="snapshot_1.pt"):
        registry.load(version, home=tmp_path)


def test_configs_saved_before_snapshots_load_as_single_network():
    d = TFTConfig().to_dict()
    del d["snapshots"]
    assert TFTConfig.from_dict(d).snapshots == 1
    with pytest.raises(ValueError, match="snapshots"):
        TFTConfig(snapshots=0)
