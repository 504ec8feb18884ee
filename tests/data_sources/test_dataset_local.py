"""build_dataset merges the recorded local extracts (local_* store sources) by priority."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources.base import finalize
from data_sources.dataset import build_dataset, resolve_priority
from data_sources.ingest import ingest_recorded
from data_sources.omni2 import parse_omni2
from data_sources.store import Store


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir, mirror) -> Store:
    """OMNI2 2015 (upstream format) plus the STORM-AI CSV extract (2013-11 -> 2019-12)."""
    store = Store(tmp_path_factory.mktemp("store"))
    store.write("omni2", parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat"))
    summary = ingest_recorded(
        data_dir, store=store, sources=["local_omni2_stormai_csv"], mirror=mirror
    )
    assert summary["local_omni2_stormai_csv"]["error"] is None
    return store


@pytest.fixture(scope="module")
def ds(store) -> xr.Dataset:
    return build_dataset("2015-07-01", "2016-07-01", store=store, priority={})


def test_2016_solar_wind_comes_from_the_stormai_extract(ds, data_dir):
    y2016 = ds.sel(time="2016")
    assert np.isfinite(y2016["v_sw"].values).mean() > 0.99  # 2016 has no OMNI2 file
    assert np.isfinite(y2016["bz_gsm"].values).mean() > 0.95
    # the value is the CSV's own (first STORM-AI file holding 2016-01-01 00:00)
    raw = pd.read_csv(
        next((data_dir / "omni2_stormai_csv").glob("omni2-*20151119_to_20160118.csv")),
        usecols=["Timestamp", "SW_Plasma_Speed_km_s"],
        index_col="Timestamp",
    )
    assert float(ds["v_sw"].sel(time="2016-01-01T00:00")) == pytest.approx(
        raw.loc["2016-01-01 00:00:00", "SW_Plasma_Speed_km_s"]
    )


def test_upstream_wins_and_the_attrs_say_who_won(ds, store):
    # 2015: OMNI2 is there, so its values are kept; the extract only fills 2016
    omni = store.read("omni2", "2015-09-01", "2015-09-02")
    np.testing.assert_array_equal(
        ds["v_sw"].sel(time=slice("2015-09-01T00:00", "2015-09-01T23:00")).values,
        omni["v_sw"].values.astype("float32"),
    )
    attrs = ds["v_sw"].attrs
    assert attrs["source"] == "omni2,local_omni2_stormai_csv"
    hours = dict(kv.split("=") for kv in attrs["source_hours"].split(","))
    assert int(hours["local_omni2_stormai_csv"]) >= 182 * 24  # Jan-Jun 2016 (+ 2015 gaps)
    assert int(hours["omni2"]) > 4000  # Jul-Dec 2015
    assert attrs["priority"].startswith("omni2,swpc,local_omni2_stormai_csv")
    assert "final" in attrs["data_version"]


def test_priority_keyword_and_config_file(store, home):
    first = {"solar_wind": ["local_omni2_stormai_csv", "omni2"]}
    ds = build_dataset("2015-09-01", "2015-09-02", store=store, priority=first)
    assert ds["v_sw"].attrs["source"] == "local_omni2_stormai_csv"
    assert ds["dst"].attrs["source"] == "omni2"  # only the solar wind was reordered
    # STORM-AI holds the newer (final) Dst of 2015-03-17 22:00: -234 against OMNI2's -223
    storm = ("2015-03-17", "2015-03-18")
    assert float(build_dataset(*storm, store=store, priority={})["dst"].min()) == -223.0
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[dataset.priority]\ndst = ["local_omni2_stormai_csv", "kyoto_dst", "omni2"]\n'
    )
    ds = build_dataset(*storm, store=store)  # priority=None reads config.toml
    assert float(ds["dst"].min()) == -234.0
    assert ds["dst"].attrs["source"] == "local_omni2_stormai_csv"


def test_bad_priority_names_the_fix(store):
    with pytest.raises(ValueError, match="not a merged variable"):
        build_dataset("2015-09-01", "2015-09-02", store=store, priority={"speed": ["omni2"]})
    with pytest.raises(ValueError, match="unknown sources \\['omni'\\]"):
        resolve_priority({"dst": ["omni", "kyoto_dst"]})
    with pytest.raises(ValueError, match="each source once"):
        resolve_priority({"dst": ["omni2", "omni2"]})


def test_other_local_sources_come_last(tmp_path):
    store = Store(tmp_path)
    t = pd.date_range("2020-01-01", periods=4, freq="h")

    def src(v, name):
        ds = xr.Dataset({"v_sw": ("time", np.asarray(v, float))}, coords={"time": t})
        return finalize(
            ds, source=name, source_url="test", cadence="1h", data_version="final", name=name
        )

    store.write("local_mine", src([400, 410, 420, 430], "mine"))
    store.write("local_omni2_stormai_csv", src([500, np.nan, np.nan, np.nan], "stormai"))
    ds = build_dataset("2020-01-01", "2020-01-01T04:00", store=store, priority={})
    np.testing.assert_array_equal(ds["v_sw"].values, [500, 410, 420, 430])
    assert ds["v_sw"].attrs["source_hours"] == "local_omni2_stormai_csv=1,local_mine=3"
