"""Shared fixtures: the recorded data folder, an isolated SUPERSTORM_HOME, a loopback mirror."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# the recorded data beside the checkout; the library has no default folder (the Makefile sets it too)
os.environ.setdefault(
    "SUPERSTORM_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
)
warnings.filterwarnings("ignore", message="X does not have valid feature names")

from data_sources.mirror.server import default_data_dir, serve_recorded  # noqa: E402


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``SUPERSTORM_DATA`` (``../shared/data``: the recorded upstream files); it must exist."""
    path = default_data_dir()
    assert path.is_dir(), f"recorded data not found at {path}; set SUPERSTORM_DATA"
    return path


@pytest.fixture(scope="session")
def mirror(data_dir):
    """A loopback server serving the recorded data under the upstream URL paths."""
    server = serve_recorded(data_dir)
    yield server
    server.stop()


@pytest.fixture
def fresh_mirror(mirror):
    """The session mirror with its injected faults cleared before and after the test."""
    mirror.faults.clear()
    yield mirror
    mirror.faults.clear()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An isolated SUPERSTORM_HOME (store, cache, registry, archive) for one test."""
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def mirrored_home(home, fresh_mirror, monkeypatch) -> Path:
    """SUPERSTORM_HOME isolated and every base URL pointed at the loopback mirror."""
    monkeypatch.setenv("SUPERSTORM_MIRROR", fresh_mirror.url)
    return home


@pytest.fixture(scope="session")
def tiny_tft() -> dict:
    """TFT settings small enough to train in seconds (``forecasting.models.tft.get_config`` overrides)."""
    return dict(
        encoder_length=24,
        hidden_size=4,
        attention_head_size=1,
        hidden_continuous_size=2,
        batch_size=64,
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        val_stride=24,
        threads=1,
    )


@pytest.fixture(scope="session")
def omni_2005_2006(data_dir):
    """The recorded OMNI2 hourly files of 2005 and 2006 (real data), concatenated."""
    import xarray as xr

    from data_sources.omni2 import parse_omni2

    folder = data_dir / "omni2_low_res_dynaml"
    return xr.concat([parse_omni2(folder / f"omni2_{y}.csv") for y in (2005, 2006)], dim="time")
