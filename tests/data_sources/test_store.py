"""The per-source, per-year netCDF store: round trip, CF attrs, merge, idempotence, atomicity."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import store as store_mod
from data_sources.omni2 import parse_omni2
from data_sources.store import Store


@pytest.fixture(scope="module")
def omni_2023_24(data_dir) -> xr.Dataset:
    parts = [parse_omni2(data_dir / "omni2_low_res" / f"omni2_{y}.dat") for y in (2023, 2024)]
    return xr.concat(parts, dim="time", combine_attrs="override")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_root_is_under_home(home):
    assert Store().root == home / "store"


def test_write_splits_years_and_reads_back(home, omni_2023_24):
    s = Store()
    paths = s.write("omni2", omni_2023_24)
    assert [p.name for p in paths] == ["omni2_2023.nc", "omni2_2024.nc"]
    assert paths[0].parent == home / "store" / "omni2"
    assert s.sources() == ["omni2"] and s.years("omni2") == [2023, 2024]
    back = s.read("omni2", "2023-12-31 20:00", "2024-01-01 04:00")
    assert back.sizes["time"] == 8 and back["time"].dtype == np.dtype("datetime64[ns]")
    full = s.read("omni2")
    for name in omni_2023_24.data_vars:
        np.testing.assert_array_equal(full[name].values, omni_2023_24[name].values)
    assert float(full["dst"].sel(time="2024-05-11T02:00")) == -406.0


def test_plain_open_dataset_shows_cf_metadata(home, omni_2023_24):
    path = Store().write("omni2", omni_2023_24)[1]
    with xr.open_dataset(path) as ds:
        for name in ("dst", "bz_gsm", "kp"):
            attrs = ds[name].attrs
            assert {"units", "long_name", "source", "data_version"} <= set(attrs), name
            assert ds[name].encoding["dtype"] == np.dtype("float32")
            assert ds[name].encoding["zlib"] is True
        assert ds["time"].encoding["units"].startswith("hours since 1957-01-01")
        assert ds.attrs["Conventions"] == "CF-1.8" and len(ds.attrs["content_sha256"]) == 64
    # the raw netCDF holds integer hours since 1957 and a NaN fill value
    with xr.open_dataset(path, decode_times=False) as raw:
        assert raw["time"].values[0] == (
            pd.Timestamp("2024-01-01") - pd.Timestamp("1957-01-01")
        ) // pd.Timedelta("1h")
        assert np.isnan(raw["bx_gsm"].encoding["_FillValue"])


def test_reingest_same_data_leaves_bytes_untouched(home, omni_2023_24):
    s = Store()
    paths = s.write("omni2", omni_2023_24)
    before = [(_sha(p), p.stat().st_mtime_ns) for p in paths]
    again = omni_2023_24.copy(deep=True)
    again.attrs["retrieved"] = "2099-01-01T00:00:00Z"  # a new download time is not new content
    s.write("omni2", again)
    assert [(_sha(p), p.stat().st_mtime_ns) for p in paths] == before


def test_merge_new_values_win_where_not_nan(home, omni_2023_24):
    s = Store()
    s.write("omni2", omni_2023_24)
    patch = omni_2023_24.sel(time=slice("2024-05-11T00:00", "2024-05-11T05:00")).copy(deep=True)
    patch["dst"][:] = np.nan
    patch["dst"][2] = -400.0  # 02:00 revised
    patch["kp"].attrs["data_version"] = "final"
    s.write("omni2", patch[["dst", "kp"]])
    back = s.read("omni2", "2024-05-11", "2024-05-12")
    assert float(back["dst"].sel(time="2024-05-11T02:00")) == -400.0
    assert float(back["dst"].sel(time="2024-05-11T01:00")) == float(
        omni_2023_24["dst"].sel(time="2024-05-11T01:00")
    )  # NaN in the new data did not erase the stored value
    assert back["kp"].attrs["data_version"] == "final"
    assert back["dst"].attrs["units"] == "nT"
    assert s.read("omni2", "2023-01-01", "2024-01-01").sizes["time"] == 8760  # other year intact


def test_new_times_and_variables_extend_the_year(home):
    s = Store()
    t1 = pd.date_range("2020-01-01", periods=3, freq="h")
    t2 = pd.date_range("2020-01-01 02:00", periods=3, freq="h")
    a = xr.Dataset({"dst": ("time", [1.0, 2.0, 3.0])}, coords={"time": t1})
    b = xr.Dataset({"ae": ("time", [10.0, 20.0, 30.0])}, coords={"time": t2})
    s.write("test_src", a)
    s.write("test_src", b)
    back = s.read("test_src")
    assert back.sizes["time"] == 5
    np.testing.assert_array_equal(back["dst"].values, [1, 2, 3, np.nan, np.nan])
    np.testing.assert_array_equal(back["ae"].values, [np.nan, np.nan, 10, 20, 30])


def test_minute_data_uses_minutes_encoding(home):
    t = pd.date_range("2024-05-08 00:00", periods=90, freq="min")
    ds = xr.Dataset({"v_sw": ("time", np.linspace(400, 500, 90))}, coords={"time": t})
    path = Store().write("swpc", ds)[0]
    with xr.open_dataset(path) as back:
        assert back["time"].encoding["units"].startswith("minutes since 1957-01-01")
        assert (back.indexes["time"] == t).all()


def test_failed_write_leaves_old_file_and_no_temp(home, omni_2023_24, monkeypatch):
    s = Store()
    path = s.write("omni2", omni_2023_24)[1]
    before = _sha(path)

    def boom(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    patch = omni_2023_24.sel(time="2024-06").copy(deep=True)
    patch["dst"][:] = -1.0
    with pytest.raises(OSError, match="injected"):
        s.write("omni2", patch)
    assert _sha(path) == before
    names = sorted(p.name for p in path.parent.iterdir() if p.name != store_mod.LOCK_NAME)
    assert names == ["omni2_2023.nc", "omni2_2024.nc"]


def test_successful_write_leaves_no_temp_files(home, omni_2023_24):
    s = Store()
    s.write("omni2", omni_2023_24)
    s.write("omni2", omni_2023_24.sel(time="2024-02").map(lambda da: da + 1, keep_attrs=True))
    leftovers = [
        p.name
        for p in (home / "store").rglob("*")
        if p.is_file() and not p.name.endswith(".nc") and p.name != store_mod.LOCK_NAME
    ]
    assert leftovers == []


def test_concurrent_writers_of_one_year_lose_nothing(home):
    from concurrent.futures import ThreadPoolExecutor

    s = Store()
    t = pd.date_range("2024-05-10", periods=24, freq="h")
    parts = [
        xr.Dataset({name: ("time", np.full(24, float(k)))}, coords={"time": t})
        for k, name in enumerate(["dst", "kp", "ap", "ae", "v_sw", "n_p"])
    ]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda ds: s.write("swpc", ds), parts))
    back = s.read("swpc")
    for k, name in enumerate(["dst", "kp", "ap", "ae", "v_sw", "n_p"]):
        assert (back[name] == k).all(), name


def test_errors_name_the_problem(home):
    s = Store()
    with pytest.raises(FileNotFoundError, match="superstorm ingest --source omni2"):
        s.read("omni2")
    with pytest.raises(ValueError, match="not valid"):
        s.path("../etc", 2020)
    ds = xr.Dataset({"x": (("a",), [1.0])})
    with pytest.raises(ValueError, match="no 'time' dimension"):
        s.write("omni2", ds)
    t = pd.DatetimeIndex(["2020-01-01", "2020-01-01"])
    with pytest.raises(ValueError, match="repeated times"):
        s.write("omni2", xr.Dataset({"dst": ("time", [1.0, 2.0])}, coords={"time": t}))


def test_content_hash_ignores_retrieved_but_not_values(omni_2023_24):
    a = store_mod._as_stored(omni_2023_24)
    b = a.copy(deep=True)
    b.attrs["retrieved"] = "later"
    assert store_mod.content_hash(a) == store_mod.content_hash(b)
    b["dst"][0] = b["dst"][0] + 1
    assert store_mod.content_hash(a) != store_mod.content_hash(b)


def test_two_products_in_one_source_rewrite_nothing_the_second_time(home):
    s = Store()
    t1 = pd.date_range("2024-05-08", periods=120, freq="min")
    t3 = pd.date_range("2024-05-08", periods=4, freq="3h")
    plasma = xr.Dataset({"v_sw": ("time", np.linspace(400, 500, 120))}, coords={"time": t1})
    plasma.attrs.update(cadence="1min", source="SWPC plasma")
    kp = xr.Dataset({"kp": ("time", [1.0, 2.0, 3.0, 4.0])}, coords={"time": t3})
    kp.attrs.update(cadence="3h", source="SWPC Kp")
    s.write("swpc", plasma)
    path = s.write("swpc", kp)[0]
    before = _sha(path)
    s.write("swpc", plasma)
    s.write("swpc", kp)
    assert _sha(path) == before
    with xr.open_dataset(path) as ds:
        assert ds.attrs["cadence"] == "1min; 3h"
        assert ds.attrs["source"] == "SWPC Kp; SWPC plasma"


def test_a_year_without_variables_is_read_not_dropped(home, omni_2023_24):
    s = Store()
    s.write("omni2", omni_2023_24)
    empty = omni_2023_24.sel(time="2023").drop_vars(list(omni_2023_24.data_vars))
    monkey = s._load_or_skip
    s._load_or_skip = lambda source, year: empty if year == 2023 else monkey(source, year)
    back = s.read("omni2", "2023-06-01", "2024-02-01")
    assert back.sizes["time"] > 0 and "dst" in back  # 2024's values arrive, 2023 kept its hours
    assert np.datetime64("2023-06-01T00:00") in back["time"].values
