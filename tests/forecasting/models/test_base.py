"""Every registered forecaster satisfies the Forecaster protocol and forecasts under its name."""

import pandas as pd
import pytest

from forecasting.models import pipeline
from forecasting.models.base import (
    BASELINE_NAMES,
    FORECASTERS,
    MODEL_NAMES,
    Forecaster,
    get_forecaster,
)
from forecasting.models.tft import fit, get_config


@pytest.fixture(scope="module")
def small_ds(omni_2005_2006):
    return omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def tiny_model(tiny_tft, small_ds):
    frame = pipeline.feature_frame(small_ds)
    return fit(
        frame, train_years=(2005,), val_years=(2006,), config=get_config("quick", **tiny_tft)
    )


def test_registry_names():
    assert MODEL_NAMES[0] == "tft" and MODEL_NAMES[1:] == BASELINE_NAMES
    assert set(FORECASTERS) == set(MODEL_NAMES)
    with pytest.raises(ValueError, match="unknown model 'nope'; use one of tft, persistence"):
        get_forecaster("nope")


@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_every_baseline_is_a_forecaster(name, small_ds):
    f = get_forecaster(name)
    assert isinstance(f, Forecaster) and f.name == name and isinstance(f.version, str)
    targets = [t for t in ("dst", "kp") if t in f.supported]
    f.fit(small_ds.sel(time=slice(None, "2005-12-31T23:00")), targets=targets)
    fc = f.forecast(small_ds, ["2006-01-12T00:00"], pd.to_timedelta([1, 3], "h"), targets=targets)
    assert fc.attrs["model"] == name and fc.attrs["model_version"] == f.version


def test_tft_is_a_forecaster(tiny_model, small_ds):
    f = get_forecaster("tft", version=tiny_model)
    assert isinstance(f, Forecaster) and f.name == "tft"
    fc = f.forecast(small_ds, ["2006-01-12T00:00"], pd.to_timedelta([3], "h"), targets=("kp",))
    assert fc.attrs["model"] == "tft"


def test_protocol_rejects_what_lacks_forecast():
    class NoForecast:
        name = "x"
        version = "1"

    assert not isinstance(NoForecast(), Forecaster)
