"""CF-1.8 compliance of what superstorm writes, checked by cfchecks itself (offline tables)."""

from __future__ import annotations

import stat

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import cf
from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from tests.support import cf as cfcheck

pytestmark = pytest.mark.skipif(
    cfcheck.cfchecks_command() is None, reason="cfchecks not installed (pip install -e '.[dev]')"
)


@pytest.fixture(scope="module")
def omni_2024(data_dir):
    return parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")


def _errors_of(report: cfcheck.CFReport) -> list[str]:
    return [line for line in report.output.splitlines() if line.startswith("ERROR")]


def test_store_file_is_cf_clean_and_readable(home, omni_2024, tmp_path):
    store = Store(home / "store")
    (path,) = store.write("omni2", omni_2024)
    report = cfcheck.check(path, tmp_path)
    assert report.errors == 0, _errors_of(report)
    assert report.warnings == 0, report.output[-2000:]
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH, oct(mode)


def test_store_file_declares_interval_bounds(home, omni_2024):
    (path,) = Store(home / "store").write("omni2", omni_2024)
    with xr.open_dataset(path) as ds:
        assert ds.attrs["Conventions"] == "CF-1.8"
        assert ds["time"].attrs["bounds"] == "time_bnds"
        bnds = ds["time_bnds"].values
        assert (bnds[:, 1] - bnds[:, 0] == np.timedelta64(1, "h")).all()
        assert (bnds[:, 0] == ds["time"].values).all()
        assert ds["v_sw"].attrs["cell_methods"] == "time: mean"
        assert "cell_methods" not in ds["kp"].attrs  # 3-hourly index, not an hourly mean
        assert ds["f107"].attrs["units"] == "10-22 W m-2 Hz-1"


def test_store_reads_back_without_cf_additions_and_rewrites_nothing(home, omni_2024):
    store = Store(home / "store")
    (path,) = store.write("omni2", omni_2024)
    before = path.stat().st_mtime_ns
    back = store.read("omni2", "2024-01-01", "2025-01-01")
    assert "time_bnds" not in back and "Conventions" not in back.attrs
    store.write("omni2", omni_2024)  # idempotent: the CF additions do not change the content hash
    assert path.stat().st_mtime_ns == before


def test_bounds_follow_the_cadence():
    t = pd.date_range("2024-05-10", periods=4, freq="3h")
    ds = xr.Dataset({"kp": ("time", np.arange(4.0))}, coords={"time": t})
    out = cf.add_time_bounds(ds, cf.cadence_of(ds))
    assert (out["time_bnds"].values[:, 1] - t.values == np.timedelta64(3, "h")).all()
    assert cf.strip_time_bounds(out).identical(ds)


def test_archive_file_is_cf_clean_and_readable(tmp_path):
    from forecasting import archive
    from forecasting.schema import make_forecast

    lead = pd.to_timedelta(range(1, 25), "h")
    values = {"dst": np.full((1, 24, 3), -50.0), "kp": np.full((1, 24, 3), 4.0)}
    fc = make_forecast(
        values,
        init_time=[pd.Timestamp("2024-05-10T20:00")],
        lead_time=lead,
        quantiles=[0.1, 0.5, 0.9],
        model="persistence",
        model_version="1",
    )
    path = archive.save(fc, home=tmp_path / "home")
    report = cfcheck.check(path, tmp_path)
    assert report.errors == 0, _errors_of(report)
    assert report.warnings == 0, report.output[-2000:]
    assert stat.S_IMODE(path.stat().st_mode) & stat.S_IROTH
