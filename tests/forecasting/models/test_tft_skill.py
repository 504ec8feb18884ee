"""Storm-time TFT options: physics decoder input, Kp anchor, storm weights, plasma dropout.

Each is causal (only data known at the issue time), old configs keep their behaviour, and a
forecast with the plasma missing for hours still comes out and says what was missing.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from data_sources import timeconv
from forecasting.models import pipeline
from forecasting.models.baselines import Burton, OBrienMcPherron
from forecasting.models.predict import predict_many
from forecasting.models.tft import TFTConfig, fit, get_config

warnings.filterwarnings("ignore")


@pytest.fixture(scope="module")
def small_ds(omni_2005_2006) -> xr.Dataset:
    """Nov 2005 - Jan 2006 of the recorded OMNI2 files (real data)."""
    return omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def skill_model(tiny_tft, small_ds):
    """A tiny TFT with the physics decoder input, Kp anchor, storm weights and dropout."""
    settings = {k: v for k, v in tiny_tft.items() if k != "val_stride"}
    config = get_config(
        "quick",
        **settings,
        physics="obrien_mcpherron",
        physics_residual=False,
        kp_center="last_block",
        storm_weight=5.0,
        plasma_dropout=0.3,
    )
    frame = pipeline.feature_frame(small_ds)
    return fit(frame, train_years=(2005,), val_years=(2006,), config=config, progress=False)


@pytest.mark.parametrize(
    ("column", "baseline"), [("dst_obrien_mcpherron", OBrienMcPherron), ("dst_burton", Burton)]
)
def test_physics_trajectory_is_the_baseline(small_ds, column, baseline):
    """The decoder input at issue time t equals the ring-current baseline issued at t."""
    frame = pipeline.feature_frame(small_ds)
    traj = pipeline.physics_trajectory(frame, column, 24)
    times = pd.date_range("2005-11-20", periods=200, freq="7h")
    rows = pd.DatetimeIndex(frame.index).get_indexer(times)
    ref = baseline().point(small_ds, times, pd.to_timedelta(range(1, 25), unit="h"), "dst")
    ok = np.isfinite(ref) & np.isfinite(traj[rows])
    assert ok.mean() > 0.8
    np.testing.assert_allclose(traj[rows][ok], ref[ok], rtol=1e-4, atol=0.05)


def test_physics_input_is_causal(small_ds, skill_model):
    """Values labelled >= t (not known at t) change neither the physics input nor the forecast."""
    t = pd.Timestamp("2006-01-10T05:00")
    known = timeconv.known_at(small_ds, t)
    spoiled = small_ds.copy(deep=True)
    late = pd.DatetimeIndex(spoiled.indexes["time"]) >= t
    for name in ("v_sw", "bz_gsm", "n_p", "dst", "kp", "p_dyn"):
        spoiled[name].values[late] = spoiled[name].values[late] * 3 + 50
    a = predict_many(skill_model, small_ds, [t], interpret=False)
    b = predict_many(skill_model, spoiled, [t], interpret=False)
    c = predict_many(skill_model, known, [t], interpret=False)
    for name in ("dst", "kp"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-5)
        np.testing.assert_allclose(a[name].values, c[name].values, rtol=1e-5)
    # and the solar wind of t - 1 h does move the physics input (it is used)
    frame = pipeline.feature_frame(small_ds)
    row = pd.DatetimeIndex(frame.index).get_loc(t)
    before = pipeline.physics_trajectory(frame, "dst_obrien_mcpherron", 24)[row]
    frame.loc[t - pd.Timedelta("1h"), "bz_gsm"] = -20.0
    after = pipeline.physics_trajectory(frame, "dst_obrien_mcpherron", 24)[row]
    assert after[5] < before[5] - 10


def test_kp_anchor_is_last_complete_block():
    """Centre = Kp labelled t - 3 h, which lies in the last COMPLETE block at every phase."""
    norm = pipeline.kp_normalizer("last_block")
    kp = pd.Series(
        np.repeat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
        index=pd.date_range("2005-01-01", periods=18, freq="1h"),
    )
    for t in pd.date_range("2005-01-01T06:00", "2005-01-01T17:00", freq="1h"):
        enc = kp[kp.index < t].to_numpy()
        # the last complete block by t is the one ending at floor(t, 3 h)
        complete = kp[timeconv.interval_end("kp", kp.index) <= t].iloc[-1]
        center = norm.fit(pd.Series(enc)).center_
        assert center == complete, t
        # vectorised form used by the pre-windowed batches
        vec = pipeline._encoder_scale(norm, torch.tensor(enc, dtype=torch.float)[None, :])
        assert float(vec[0, 0]) == complete
        assert float(vec[0, 1]) >= pipeline.KP_MIN_SCALE
        # changing the block in progress does not move the centre
        spoiled = enc.copy()
        spoiled[-2:] = 9.0
        assert norm.fit(pd.Series(spoiled)).center_ == center or (t.hour % 3 == 0)


def test_storm_weights_mark_storm_windows(small_ds):
    frame = pipeline.feature_frame(small_ds)
    rows = np.arange(100, len(frame) - 30)
    w = pipeline.storm_weights(frame, rows, 4.0, threshold=-50.0)
    labels = pd.DatetimeIndex(frame.index)[rows]
    dst = frame["target_dst"]
    storm_hours = dst.index[dst <= -50]
    assert len(storm_hours)  # the record has moderate storms in these months
    near = np.array([np.min(np.abs((storm_hours - t) / pd.Timedelta("1h"))) <= 24 for t in labels])
    assert set(np.unique(w)) == {1.0, 4.0}
    assert (w[near] == 4.0).all()
    assert (w[~near] == 1.0).mean() > 0.95
    assert (pipeline.storm_weights(frame, rows, 1.0) == 1.0).all()


def test_plasma_missing_still_forecasts_and_says_so(small_ds, skill_model):
    """Plasma gone for 12 h before the issue time: finite forecasts, inputs_missing names it."""
    t = pd.Timestamp("2006-01-12T00:00")
    ds = small_ds.copy(deep=True)
    gap = (pd.DatetimeIndex(ds.indexes["time"]) >= t - pd.Timedelta("12h")) & (
        pd.DatetimeIndex(ds.indexes["time"]) < t
    )
    for name in ("v_sw", "n_p", "p_dyn"):
        if name in ds:
            ds[name].values[gap] = np.nan
    times = pd.date_range(t - pd.Timedelta("3h"), t, freq="1h")
    fc = predict_many(skill_model, ds, times, interpret=False)
    assert np.isfinite(fc["dst"].values).all() and np.isfinite(fc["kp"].values).all()
    missing = json.loads(fc.attrs["inputs_missing"])
    assert missing.get("v_sw") == len(times) and missing.get("n_p") == len(times)
    assert "bz_gsm" not in missing
    clean = predict_many(skill_model, small_ds, times, interpret=False)
    assert json.loads(clean.attrs["inputs_missing"]) == {}
    assert not np.allclose(fc["dst"].values, clean["dst"].values)


def test_plasma_dropout_masks_inputs_and_flags(small_ds, skill_model):
    frame = pipeline.feature_frame(small_ds)
    source = skill_model.source(frame)
    rows = source.valid_rows()[:8]
    x, _ = source.batch(rows)
    hours = torch.tensor([0, 1, 5, 24, 0, 3, 2, 24])
    masked = source.mask_plasma(
        {k: (v.clone() if torch.is_tensor(v) else v) for k, v in x.items()}, hours
    )
    e = source.encoder_length
    v = source.reals.index("v_sw")
    flag = source.reals.index("v_sw_isnan")
    bz = source.reals.index("bz_gsm")
    flag_on = float(source.flag_on[source.flag_pos.index(flag)])
    for b, h in enumerate(hours.tolist()):
        enc, orig = masked["encoder_cont"][b], x["encoder_cont"][b]
        if h == 0:
            assert torch.equal(enc, orig)
            continue
        assert (enc[e - h :, v] == 0).all() and (enc[e - h :, flag] == flag_on).all()
        assert torch.equal(enc[: e - h], orig[: e - h])  # older hours untouched
        assert torch.equal(enc[:, bz], orig[:, bz])  # the IMF is not plasma
        assert (masked["decoder_cont"][b][:, source.phys_pos] == 0).all()  # persistence
    assert "v_sw_isnan" in skill_model.features and "n_p_isnan" in skill_model.features


def test_old_configs_keep_their_behaviour():
    old = {
        k: v
        for k, v in TFTConfig().to_dict().items()
        if k
        not in (
            "kp_center",
            "physics",
            "storm_weight",
            "plasma_dropout",
            "dst_center",
            "physics_residual",
        )
    }
    config = TFTConfig.from_dict(old)
    assert (config.kp_center, config.physics, config.storm_weight, config.plasma_dropout) == (
        "global",
        "none",
        1.0,
        0.0,
    )
    assert config.known_reals == list(pipeline.CALENDAR) and config.flags == ()
    assert config.physics_residual is False
    # new models get the storm-time options (issue 9; A/B in the branch report)
    new = get_config("quick")
    assert (new.physics, new.physics_residual, new.kp_center) == (
        "obrien_mcpherron",
        True,
        "last_block",
    )
    assert new.storm_weight > 1 and new.plasma_dropout > 0
    for bad in (
        {"physics": "dessler"},
        {"kp_center": "mean"},
        {"storm_weight": 0.5},
        {"plasma_dropout": 1.0},
        {"physics_residual": True, "physics": "none"},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            get_config("quick", **bad)


def test_training_prints_progress(tiny_tft, small_ds):
    lines: list[str] = []
    frame = pipeline.feature_frame(small_ds)
    fit(
        frame,
        train_years=(2005,),
        val_years=(2006,),
        config=get_config("quick", **{**tiny_tft, "max_epochs": 2}),
        progress=lines.append,
    )
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2") and "val_loss" in lines[0] and "left" in lines[0]


def test_physics_residual_target_and_forecast(small_ds, skill_model):
    """Residual mode: target = Dst - (trajectory - centre); forecasts add the offset back."""
    frame = pipeline.feature_frame(small_ds)
    params = skill_model.dataset_parameters
    plain = pipeline.WindowSource(frame, params)
    resid = pipeline.WindowSource(frame, params, physics_residual=True)
    rows = plain.valid_rows()[::97][:16]
    (xp, _), (xr_, _) = plain.batch(rows), resid.batch(rows)
    offset = resid.physics_offset(rows, xp["target_scale"][0])
    assert offset.abs().max() > 1.0  # the trajectory moves away from the last Dst
    torch.testing.assert_close(xr_["decoder_target"][0], xp["decoder_target"][0] - offset)
    torch.testing.assert_close(xr_["decoder_target"][1], xp["decoder_target"][1])
    # same network read as a residual model: its Dst forecast shifts by exactly the offset
    from dataclasses import replace

    from forecasting.models.tft import TFTModel

    as_resid = TFTModel(
        network=skill_model.network, config=replace(skill_model.config, physics_residual=True)
    )
    times = pd.DatetimeIndex(frame.index)[rows]
    a = predict_many(skill_model, small_ds, times, interpret=False)["dst"].values
    b = predict_many(as_resid, small_ds, times, interpret=False)["dst"].values
    np.testing.assert_allclose(b - a, offset.numpy()[:, :, None].repeat(a.shape[-1], -1), atol=1e-3)
