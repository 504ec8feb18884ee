"""Backtest flow: threads and Dask give the same blocks; a crashed block is rerun alone."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from prefect.testing.utilities import prefect_test_harness

from flows.backtest import combine, make_blocks, run_backtest
from forecasting.evaluation import backtest as bt
from forecasting.models.baselines import Persistence
from forecasting.splits import load_recorded_omni

WINDOW = dict(start="2000-03-01", end="2000-03-07")


@pytest.fixture(scope="module", autouse=True)
def harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def omni(data_dir) -> xr.Dataset:
    return load_recorded_omni(data_dir, years=[2000]).sel(time=slice("2000-01-01", "2000-03-31"))


@pytest.fixture(scope="module")
def model(omni):
    return Persistence().fit(omni.sel(time=slice(None, "2000-02-28")))


class Flaky:
    """Wraps a forecaster; raises for issue times in ``poison`` while armed; logs the calls."""

    def __init__(self, inner, poison: pd.Timestamp):
        self.inner, self.poison, self.armed = inner, poison, True
        self.name, self.version = inner.name, inner.version
        self.calls: list[pd.Timestamp] = []
        self._lock = threading.Lock()

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")):
        init = pd.DatetimeIndex(init_times)
        with self._lock:
            self.calls.append(init[0])
        if self.armed and self.poison in init:
            raise RuntimeError("injected failure")
        return self.inner.forecast(ds, init, lead_times, targets=targets)


def test_blocks_cut_at_refit_origins():
    blocks = make_blocks("2000-01-20", "2000-03-10", block="14D", refit="MS")
    starts = [b.start for b in blocks]
    assert pd.Timestamp("2000-02-01") in starts and pd.Timestamp("2000-03-01") in starts
    assert blocks[0].start == pd.Timestamp("2000-01-20") and blocks[-1].end == pd.Timestamp(
        "2000-03-10"
    )
    assert all(a.end == b.start for a, b in zip(blocks[:-1], blocks[1:], strict=True))
    with pytest.raises(ValueError, match="positive"):
        make_blocks("2000-01-01", "2000-01-02", block="0D")


def test_threads_and_dask_identical(omni, model, tmp_path):
    ref = bt.backtest(model, omni, **WINDOW)
    res_t = run_backtest(model, omni, out_dir=tmp_path / "threads", block="2D", **WINDOW)
    res_d = run_backtest(model, omni, out_dir=tmp_path / "dask", block="2D", dask="local", **WINDOW)
    assert res_t["blocks"] == res_d["blocks"] == 3
    a = xr.open_dataset(res_t["path"]).load()
    b = xr.open_dataset(res_d["path"]).load()
    xr.testing.assert_equal(a[["dst", "kp"]], b[["dst", "kp"]])
    same = {k: v for k, v in a.attrs.items() if k != "created"}
    assert same == {k: v for k, v in b.attrs.items() if k != "created"}
    xr.testing.assert_allclose(a[["dst", "kp"]], ref[["dst", "kp"]])
    assert a.attrs["model"] == "persistence" and a.attrs["blocks"] == 3
    assert a.sizes["init_time"] == 6 * 24


def test_crashed_block_rerun_alone(omni, model, tmp_path):
    flaky = Flaky(model, poison=pd.Timestamp("2000-03-03 05:00"))
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match=r"1 of 3 backtest blocks failed.*block_20000303T0000"):
        run_backtest(flaky, omni, out_dir=out, block="2D", **WINDOW)
    on_disk = sorted(p.name for p in out.glob("block_*.nc"))
    assert on_disk == [
        "block_20000301T0000_20000303T0000.nc",
        "block_20000305T0000_20000307T0000.nc",
    ]
    assert not list(out.glob(".*tmp"))  # no partial files left behind
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("block_*.nc")}
    flaky.armed, flaky.calls = False, []
    res = run_backtest(flaky, omni, out_dir=out, block="2D", **WINDOW)
    assert res["computed"] == 1 and flaky.calls == [pd.Timestamp("2000-03-03")]
    assert {
        p.name: p.stat().st_mtime_ns for p in out.glob("block_*.nc") if p.name in mtimes
    } == mtimes
    clean = bt.backtest(model, omni, **WINDOW)
    got = combine([out / n for n in (*on_disk, "block_20000303T0000_20000305T0000.nc")])
    np.testing.assert_allclose(got["dst"].values, clean["dst"].values)


def test_out_dir_of_another_backtest_is_refused(omni, model, tmp_path):
    run_backtest(model, omni, out_dir=tmp_path, start="2000-03-01", end="2000-03-02", block="1D")
    with pytest.raises(ValueError, match="another backtest"):
        run_backtest(
            model,
            omni,
            out_dir=tmp_path,
            start="2000-03-01",
            end="2000-03-02",
            block="1D",
            every="3h",
        )


def test_block_cache_is_keyed_by_model_version(tmp_path):
    """A new model version never silently reuses the blocks of an older one."""
    from types import SimpleNamespace

    from flows.backtest import _manifest, _model_version

    old = SimpleNamespace(name="tft", version="20260101T000000-full")
    new = SimpleNamespace(name="tft", version="20261201T000000-full")
    assert _model_version(old) != _model_version(new)
    settings = {"model": "tft", "start": "2015-01-01", "end": "2015-02-01"}
    _manifest(tmp_path, {**settings, "model_version": _model_version(old)})
    _manifest(tmp_path, {**settings, "model_version": _model_version(old)})  # same: reuse
    with pytest.raises(ValueError, match="holds blocks of another backtest"):
        _manifest(tmp_path, {**settings, "model_version": _model_version(new)})
