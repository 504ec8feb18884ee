"""Atomic netCDF writes: whole or not at all."""

import numpy as np
import pytest
import xarray as xr

from data_sources.netcdf import write_netcdf_atomic


def test_write_then_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "sub" / "x.nc"
    good = xr.Dataset({"dst": ("time", np.array([-10.0, -20.0]))})
    write_netcdf_atomic(good, path)
    with xr.open_dataset(path) as ds:
        assert ds.dst.values.tolist() == [-10.0, -20.0]
    bad = xr.Dataset({"dst": ("time", np.array([1.0]))})
    with pytest.raises(ValueError):
        write_netcdf_atomic(bad, path, format="NOT-A-FORMAT")
    with xr.open_dataset(path) as ds:
        assert ds.dst.values.tolist() == [-10.0, -20.0]
    assert [p.name for p in path.parent.iterdir()] == ["x.nc"]
