"""TFT: the fast pipeline equals the stock TimeSeriesDataSet path; tiny training works,
is deterministic and yields schema-valid, ordered quantile forecasts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from forecasting import schema
from forecasting.models import pipeline
from forecasting.models.predict import TFTForecaster, predict, predict_many
from forecasting.models.tft import fit, get_config

warnings.filterwarnings("ignore")


@pytest.fixture(scope="module")
def tiny(tiny_tft) -> dict:
    """The shared tiny TFT, with a few more batches and the default validation stride."""
    settings = {k: v for k, v in tiny_tft.items() if k != "val_stride"}
    # the input layout the stock TimeSeriesDataSet reproduces (no per-window physics input,
    # no residual target, no dropout); the Kp anchor is per window in both paths
    plain = dict(physics="none", physics_residual=False, plasma_dropout=0.0, storm_weight=1.0)
    return {**settings, **plain, "limit_train_batches": 3, "limit_val_batches": 2}


@pytest.fixture(scope="module")
def small_ds(omni_2005_2006) -> xr.Dataset:
    """Nov 2005 - Jan 2006 of the recorded OMNI2 files (real data, ~2200 hours)."""
    return omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def tiny_model(tiny, small_ds):
    frame = pipeline.feature_frame(small_ds)
    return fit(frame, train_years=(2005,), val_years=(2006,), config=get_config("quick", **tiny))


def _compare(a, b, key):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), key
        for u, v in zip(a, b, strict=True):
            _compare(u, v, key)
        return
    assert a.dtype == b.dtype, (key, a.dtype, b.dtype)
    assert a.shape == b.shape, (key, a.shape, b.shape)
    assert torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-6), key


def test_fast_batches_equal_stock_dataloader(small_ds, tiny_model):
    """Same windows -> identical batch dicts and identical network outputs."""
    frame = pipeline.feature_frame(small_ds)
    source = tiny_model.source(frame)
    rows = source.valid_rows()
    # the first stretch of 40 consecutive complete windows
    start = next(i for i in range(len(rows) - 40) if rows[i + 39] - rows[i] == 39)
    i0 = rows[start]
    e, d = tiny_model.config.encoder_length, tiny_model.config.horizon
    params = tiny_model.dataset_parameters
    norm = pipeline.Normalisation(
        scalers=params["scalers"], target_normalizer=params["target_normalizer"]
    )
    stock = pipeline.stock_dataset(
        frame.iloc[i0 - e : i0 + 39 + d], tiny_model.features, norm, encoder_length=e, horizon=d
    )
    assert len(stock) == 40
    xs, ys = next(iter(stock.to_dataloader(train=False, batch_size=40, shuffle=False)))
    xf, yf = source.batch(np.arange(i0, i0 + 40))
    assert set(xs) == set(xf)
    for key in xs:
        _compare(xs[key], xf[key], key)
    _compare(ys[0], yf[0], "y")
    assert ys[1] is None and yf[1] is None
    net = tiny_model.network.eval()
    with torch.no_grad():
        for a, b in zip(net(xs)["prediction"], net(xf)["prediction"], strict=True):
            assert torch.allclose(a, b, atol=1e-5)


def test_batches_skip_gappy_windows(small_ds, tiny_model):
    frame = pipeline.feature_frame(small_ds)
    frame.iloc[500, frame.columns.get_loc("target_dst")] = np.nan
    frame.iloc[900, frame.columns.get_loc("v_sw")] = np.nan
    rows = tiny_model.source(frame).valid_rows()
    e, d = tiny_model.config.encoder_length, tiny_model.config.horizon
    assert not np.isin(np.arange(500 - d + 1, 501), rows).any()  # decoder covers row 500
    assert not np.isin(np.arange(901, 901 + e), rows).any()  # encoder covers row 900
    assert 500 - d in rows or np.isnan(frame["target_dst"].iloc[500 - d : 500]).any()


def test_forecast_schema_and_quantiles(small_ds, tiny_model):
    t = pd.Timestamp("2006-01-10T05:00")
    fc = predict(tiny_model, small_ds, t)
    schema.validate_forecast(fc)
    assert fc.attrs["model"] == "tft"
    assert fc.attrs["data_cutoff"] == "2006-01-10T05:00:00Z"
    assert fc.sizes == {"init_time": 1, "lead_time": 24, "quantile": len(schema.QUANTILES)}
    assert (fc.lead_time.values == pd.to_timedelta(range(1, 25), "h").values).all()
    for name in ("dst", "kp"):
        vals = fc[name].values
        assert np.isfinite(vals).all()
        assert (np.diff(vals, axis=-1) >= 0).all()
    assert ((fc.kp.values >= 0) & (fc.kp.values <= 9)).all()
    assert "encoder_variables" in fc.attrs["variable_importance"]
    # raw network quantiles are used as they come: check the 0.05 < 0.95 spread is real
    assert (fc.dst.sel(quantile=0.95) - fc.dst.sel(quantile=0.05) > 0).all()


def test_predict_many_equals_single(small_ds, tiny_model):
    times = pd.date_range("2006-01-05", periods=5, freq="7h")
    many = predict_many(tiny_model, small_ds, times, batch_size=2)
    for k, t in enumerate(times):
        one = predict(tiny_model, small_ds, t)
        np.testing.assert_allclose(many.dst.values[k], one.dst.values[0], atol=1e-4)
        np.testing.assert_allclose(many.kp.values[k], one.kp.values[0], atol=1e-5)


def test_forecaster_protocol(small_ds, tiny_model):
    f = TFTForecaster(tiny_model)
    assert f.name == "tft"
    fc = f.forecast(small_ds, ["2006-01-12T00:00"], pd.to_timedelta([3, 6], "h"), targets=("kp",))
    assert list(fc.data_vars) == ["kp"] and fc.sizes["lead_time"] == 2
    with pytest.raises(ValueError, match="lead times"):
        f.forecast(small_ds, ["2006-01-12T00:00"], pd.to_timedelta([30], "h"))
    with pytest.raises(ValueError, match="on the hour"):
        f.forecast(small_ds, ["2006-01-12T00:30"], pd.to_timedelta([1], "h"))
    with pytest.raises(ValueError, match="needs 24 h of data"):
        f.forecast(small_ds, ["2005-11-01T03:00"], pd.to_timedelta([1], "h"))


def test_training_is_deterministic(tiny, small_ds, tiny_model):
    frame = pipeline.feature_frame(small_ds)
    again = fit(frame, train_years=(2005,), val_years=(2006,), config=get_config("quick", **tiny))
    t = "2006-01-20T12:00"
    a, b = predict(tiny_model, small_ds, t), predict(again, small_ds, t)
    np.testing.assert_array_equal(a.dst.values, b.dst.values)
    np.testing.assert_array_equal(a.kp.values, b.kp.values)
    assert tiny_model.metadata["history"] == again.metadata["history"]
    other = fit(
        frame,
        train_years=(2005,),
        val_years=(2006,),
        config=get_config("quick", **{**tiny, "seed": 7}),
    )
    assert not np.array_equal(predict(other, small_ds, t).dst.values, a.dst.values)


def test_bad_split_is_explained(tiny, small_ds):
    frame = pipeline.feature_frame(small_ds)
    with pytest.raises(ValueError, match="no complete windows"):
        fit(frame, train_years=(1999,), val_years=(2006,), config=get_config("quick", **tiny))


def test_missing_encoder_inputs_give_nan(small_ds, tiny_model):
    t = pd.Timestamp("2006-01-25T00:00")
    gap = small_ds.copy(deep=True)
    for name in gap.data_vars:
        gap[name] = gap[name].where((gap.time < t - pd.Timedelta("30h")) | (gap.time >= t))
    fc = predict_many(tiny_model, gap, [t, t + pd.Timedelta("48h")])
    assert np.isnan(fc.dst.values[0]).all() and np.isfinite(fc.dst.values[1]).all()
    assert fc.attrs["n_init_skipped_missing_inputs"] == 1


@pytest.mark.parametrize(
    ("dst_center", "kp_center"), [("last", "last_block"), ("mean", "global"), ("last", "global")]
)
def test_fast_batches_equal_stock_for_both_dst_centres(small_ds, dst_center, kp_center):
    """The vectorised Dst and Kp scaling equals the stock per-window fit for every centre."""
    frame = pipeline.feature_frame(small_ds)
    unknown = pipeline.unknown_reals(frame)
    reals = list(pipeline.CALENDAR) + unknown
    e, d = 24, 24
    rows = pipeline.valid_issue_rows(frame, reals, encoder_length=e, horizon=d)
    norm = pipeline.fit_normalisation(
        frame, rows, reals, dst_center=dst_center, kp_center=kp_center
    )
    start = next(i for i in range(len(rows) - 30) if rows[i + 29] - rows[i] == 29)
    i0 = rows[start]
    stock = pipeline.stock_dataset(
        frame.iloc[i0 - e : i0 + 29 + d], unknown, norm, encoder_length=e, horizon=d
    )
    xs, _ = next(iter(stock.to_dataloader(train=False, batch_size=30, shuffle=False)))
    source = pipeline.WindowSource(frame, stock.get_parameters())
    xf, _ = source.batch(np.arange(i0, i0 + 30))
    _compare(xs["target_scale"], xf["target_scale"], "target_scale")
    center, scale = xf["target_scale"][0][:, 0], xf["target_scale"][0][:, 1]
    dst = torch.as_tensor(frame["target_dst"].to_numpy(), dtype=torch.float)
    last = dst[torch.arange(i0, i0 + 30) - 1]  # the hour labelled t - 1 h: known at t
    if dst_center == "last":
        assert torch.equal(center, last)
        assert (scale >= pipeline.DST_MIN_SCALE).all()
    else:
        assert not torch.equal(center, last)


def test_last_value_normalizer_fit_and_vectorised_nan():
    """Stock fit: centre = last finite value, scale floored; vectorised twin skips NaN too."""
    norm = pipeline.dst_normalizer("last")
    y = torch.tensor([-10.0, -12.0, -11.0, -131.0])
    norm.fit(y)
    assert float(norm.center_) == -131.0
    assert float(norm.scale_) == pytest.approx(float(y.std()), rel=1e-5)
    quiet = torch.tensor([-3.0, -4.0, -3.0, -5.0])
    norm.fit(quiet)
    assert float(norm.center_) == -5.0 and float(norm.scale_) == pipeline.DST_MIN_SCALE
    enc = torch.stack([y, torch.tensor([-3.0, -4.0, -7.0, float("nan")])])
    par = pipeline._encoder_scale(norm, enc)
    assert par[0, 0] == -131.0 and par[1, 0] == -7.0
    assert par[1, 1] == pipeline.DST_MIN_SCALE
    with pytest.raises(ValueError, match="dst_center"):
        pipeline.dst_normalizer("median")


def test_config_dst_center_option():
    from forecasting.models.tft import TFTConfig

    assert get_config("quick").dst_center == "last"
    old = get_config("quick").to_dict()
    del old["dst_center"]  # a config saved before the option existed
    assert TFTConfig.from_dict(old).dst_center == "mean"
    assert TFTConfig.from_dict(get_config("quick").to_dict()).dst_center == "last"
    with pytest.raises(ValueError, match="dst_center"):
        get_config("quick", dst_center="median")


def test_config_refuses_window_sizes_the_normalisers_cannot_use():
    assert get_config("full").encoder_length == 48 and get_config("quick").encoder_length == 48
    assert get_config("quick", encoder_length=6).encoder_length == 6
    for bad in (5, 0, -5, 4.5, "48h"):
        with pytest.raises(ValueError, match=f"encoder_length must be .* not {bad!r}; e.g. 48"):
            get_config("full", encoder_length=bad)
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match=f"horizon must be .* not {bad!r}"):
            get_config("quick", horizon=bad)


def test_72_hour_variant_forecasts_three_days(tiny, small_ds):
    """``horizon=72`` (the 3-day Kp variant): 72 lead times, schema-valid, Kp within 0..9."""
    frame = pipeline.feature_frame(small_ds)
    model = fit(
        frame,
        train_years=(2005,),
        val_years=(2006,),
        config=get_config("quick", **{**tiny, "horizon": 72}),
    )
    t = pd.Timestamp("2006-01-20 06:00")
    fc = predict(model, small_ds, t)
    assert fc.sizes["lead_time"] == 72
    assert pd.Timedelta(fc.lead_time.values[-1]) == pd.Timedelta("72h")
    kp = fc.kp.values
    assert np.isfinite(kp).all() and kp.min() >= 0 and kp.max() <= 9
    assert (np.diff(kp, axis=-1) >= 0).all()


def test_lr_patience_reaches_the_scheduler(tiny_model):
    """Default: constant learning rate (as models saved before the option); else halved."""
    from forecasting.models.tft import TFTConfig

    assert tiny_model.network.hparams.reduce_on_plateau_patience == 1000
    old = get_config("quick").to_dict()
    del old["lr_patience"]
    assert TFTConfig.from_dict(old).lr_patience == 1000
    # the calibration spacing: hourly for the full preset (also for full configs saved before
    # the option), 6 h for the quick one
    assert get_config("full").calibration_every == "1h"
    assert get_config("quick").calibration_every == "6h"
    full = get_config("full").to_dict()
    del full["calibration_every"]
    assert TFTConfig.from_dict(full).calibration_every == "1h"
    net = tiny_model.network
    sched = type(net).configure_optimizers(net)
    assert sched["lr_scheduler"]["monitor"] == "val_loss"


def test_ema_weights_are_validated_and_kept(tiny, small_ds, tiny_model, monkeypatch):
    """``ema_decay``: the averaged weights are validated, kept and returned; training unchanged."""
    from forecasting.models import tft
    from forecasting.models.tft import TFTConfig

    made = []
    real = tft.weight_average
    monkeypatch.setattr(tft, "weight_average", lambda decay: made.append(real(decay)) or made[-1])
    frame = pipeline.feature_frame(small_ds)
    config = get_config("quick", **{**tiny, "ema_decay": 0.5})
    model = fit(frame, train_years=(2005,), val_years=(2006,), config=config, progress=False)
    (callback,) = made
    averaged = callback._average_model.module.state_dict()
    kept = model.network.state_dict()
    raw = tiny_model.network.state_dict()  # same seed and windows, no averaging
    assert kept.keys() == raw.keys()
    assert all(torch.equal(kept[k], averaged[k]) for k in kept)
    assert not all(torch.equal(kept[k], raw[k]) for k in kept)
    ema_loss = model.metadata["history"][0]["val_loss"]
    assert ema_loss != tiny_model.metadata["history"][0]["val_loss"]
    assert model.metadata["config"]["ema_decay"] == 0.5
    old = get_config("quick").to_dict()
    del old["ema_decay"]
    assert TFTConfig.from_dict(old).ema_decay == 0.0  # saved before the option: off
    assert get_config("full").ema_decay == 0.0 and get_config("quick").ema_decay == 0.0
    assert get_config("full").snapshots == 3 and get_config("quick").snapshots == 1
    with pytest.raises(ValueError, match="ema_decay"):
        get_config("quick", ema_decay=1.0)


@pytest.mark.parametrize("bad", ["banana", "0h", "-1h", "90min", None])
def test_calibration_every_must_be_whole_hours(bad):
    with pytest.raises(ValueError, match="calibration_every must be a positive whole number"):
        get_config("quick", calibration_every=bad)
    from data_sources import timeconv

    assert timeconv.hour_spacing("6h") == pd.Timedelta("6h")
