"""build_dataset: priority between sources, hourly repetition, QC flags on real gaps, summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources.base import finalize
from data_sources.dataset import build_dataset, format_summary, interpolate_short_gaps, summarize
from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from forecasting.storms import find_storms


@pytest.fixture(scope="module")
def omni_store(tmp_path_factory, data_dir) -> Store:
    store = Store(tmp_path_factory.mktemp("store"))
    store.write("omni2", parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat"))
    return store


@pytest.fixture(scope="module")
def ds2024(omni_store) -> xr.Dataset:
    return build_dataset("2024-01-01", "2025-01-01", store=omni_store)


def _src(values: dict, times, version, source) -> xr.Dataset:
    ds = xr.Dataset(
        {k: ("time", np.asarray(v, float)) for k, v in values.items()}, coords={"time": times}
    )
    return finalize(
        ds, source=source, source_url="test", cadence="x", data_version=version, name="t"
    )


def test_real_2024_dst_and_grid(ds2024):
    assert ds2024.sizes["time"] == 8784
    assert ds2024["time"].dtype == np.dtype("datetime64[ns]")
    assert float(ds2024["dst"].min()) == -406.0
    assert ds2024["dst"].idxmin().values == np.datetime64("2024-05-11T02:00")
    assert ds2024["dst"].attrs["source"] == "omni2"
    assert ds2024["dst"].attrs["units"] == "nT"
    assert ds2024["dst"].attrs["data_version"] == "provisional"
    assert ds2024["bz_gsm"].attrs["data_version"] == "final"
    assert ds2024["dst_qc"].dtype == np.int8
    np.testing.assert_array_equal(ds2024["dst_qc"].attrs["flag_values"], [0, 1, 2])
    assert ds2024["dst_qc"].attrs["flag_meanings"] == "observed interpolated missing"


def test_qc_on_real_imf_gaps(ds2024):
    bx, qc = ds2024["bx_gsm"], ds2024["bx_gsm_qc"]
    # 2024-02-14 12:00-13:00 is a real 2-hour IMF gap in OMNI2: linear fill, flag 1
    day = qc.sel(time=slice("2024-02-14T10:00", "2024-02-14T15:00")).values
    np.testing.assert_array_equal(day, [0, 0, 1, 1, 0, 0])
    a, b = float(bx.sel(time="2024-02-14T11:00")), float(bx.sel(time="2024-02-14T14:00"))
    np.testing.assert_allclose(bx.sel(time="2024-02-14T12:00"), a + (b - a) / 3, rtol=1e-6)
    np.testing.assert_allclose(bx.sel(time="2024-02-14T13:00"), a + 2 * (b - a) / 3, rtol=1e-6)
    # 2024-02-15 18:00-20:00: exactly 3 h, still interpolated
    np.testing.assert_array_equal(
        qc.sel(time=slice("2024-02-15T17:00", "2024-02-15T21:00")), [0, 1, 1, 1, 0]
    )
    # 2024-03-29 18:00-22:00: 5 h, too long: missing
    gap = slice("2024-03-29T18:00", "2024-03-29T22:00")
    np.testing.assert_array_equal(qc.sel(time=gap), [2] * 5)
    assert bool(bx.sel(time=gap).isnull().all())
    assert int(qc.sel(time="2024-03-29T23:00")) == 0


def test_interpolate_short_gaps_edges():
    x = np.array([np.nan, 1.0, np.nan, 3.0, np.nan, np.nan, np.nan, np.nan, 8.0, np.nan])
    filled, qc = interpolate_short_gaps(x)
    np.testing.assert_array_equal(qc, [2, 0, 1, 0, 2, 2, 2, 2, 0, 2])
    assert filled[2] == 2.0 and np.isnan(filled[0]) and np.isnan(filled[9])


def test_priority_and_repetition(tmp_path, data_dir):
    store = Store(tmp_path)
    store.write(
        "omni2", parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat").sel(time="2024-05")
    )
    # GFZ Kp: 3-hourly labels, one day only; it wins over OMNI2 there
    t3 = pd.date_range("2024-05-10", periods=8, freq="3h")
    store.write(
        "gfz_kp",
        _src({"kp": np.arange(8) + 1 / 3, "ap": np.arange(8) * 10}, t3, "definitive", "GFZ"),
    )
    # Kyoto Dst with per-hour versions: beats OMNI2 where it has values
    th = pd.date_range("2024-05-11", periods=3, freq="h")
    kyoto = _src({"dst": [-1.0, -2.0, np.nan]}, th, "quicklook", "Kyoto")
    kyoto["dst_version"] = ("time", np.array([1, 2, 2], np.int8))
    store.write("kyoto_dst", kyoto)
    # Celestrak daily F10.7: OMNI2 is preferred, so only used with sources=["celestrak"]
    td = pd.date_range("2024-05-01", periods=3, freq="D")
    store.write("celestrak", _src({"f107": [100.0, 200.0, 300.0]}, td, "final", "Celestrak"))

    ds = build_dataset("2024-05-09", "2024-05-12", store=store)
    kp = ds["kp"].sel(time=slice("2024-05-10T00:00", "2024-05-10T08:00")).values
    np.testing.assert_allclose(kp, np.repeat(np.arange(3) + 1 / 3, 3), rtol=1e-6)
    assert float(ds["ap"].sel(time="2024-05-10T23:00")) == 70.0
    omni_kp = parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")["kp"]
    assert float(ds["kp"].sel(time="2024-05-09T05:00")) == float(
        omni_kp.sel(time="2024-05-09T05:00")
    )
    assert ds["kp"].attrs["source"] == "gfz_kp,omni2"
    assert ds["kp"].attrs["data_version"] == "definitive,provisional"
    np.testing.assert_array_equal(
        ds["dst"].sel(time=slice("2024-05-11T00:00", "2024-05-11T01:00")), [-1, -2]
    )
    assert float(ds["dst"].sel(time="2024-05-11T02:00")) == -406.0  # Kyoto NaN -> OMNI2
    assert ds["dst"].attrs["source"] == "kyoto_dst,omni2"
    assert ds["dst"].attrs["data_version"] == "provisional,quicklook"

    daily = build_dataset("2024-05-01", "2024-05-05", sources=["celestrak"], store=store)
    np.testing.assert_array_equal(daily["f107"].values[:72], np.repeat([100.0, 200.0, 300.0], 24))
    np.testing.assert_array_equal(daily["f107_qc"].values[72:], [2] * 24)  # day 4 not stored


def test_summary_storms_and_text(ds2024):
    s = summarize(ds2024, storms=find_storms(ds2024["dst"], -100.0))
    assert s["hours"] == 8784 and s["start"] == "2024-01-01 00:00:00"
    assert s["variables"]["bx_gsm"]["longest_gap_h"] == 19
    assert s["variables"]["bx_gsm"]["longest_gap_start"] == "2024-05-02 22:00:00"
    assert 0 < s["variables"]["bx_gsm"]["missing_pct"] < 2
    peaks = {st["peak_time"]: st["peak_dst"] for st in s["storms"]}
    assert peaks["2024-05-11 02:00:00"] == -406.0
    assert all(v <= -100 for v in peaks.values())
    text = format_summary(s)
    assert "peak -406 nT at 2024-05-11 02:00:00" in text and "bx_gsm" in text


def test_errors(tmp_path, omni_store):
    with pytest.raises(FileNotFoundError, match="ingest it first"):
        build_dataset("2024-01-01", "2024-01-02", sources=["gfz_kp"], store=omni_store)
    with pytest.raises(ValueError, match="cadence"):
        build_dataset("2024-01-01", "2024-01-02", cadence="30min", store=omni_store)
    with pytest.raises(ValueError, match="no stored values"):
        build_dataset("2024-01-01", "2024-01-02", store=Store(tmp_path))
    with pytest.raises(ValueError, match="not merged"):
        build_dataset("2024-01-01", "2024-01-02", sources=["omni3"], store=omni_store)


def test_real_swpc_fills_omni_plasma_gap(mirrored_home):
    from data_sources.ingest import ingest
    from data_sources.swpc import get_swpc_plasma, to_hourly

    ingest("omni2", "2024-05-01", "2024-06-01")
    ingest("swpc_plasma", "2024-05-01", "2024-06-01")
    ds = build_dataset("2024-05-02", "2024-05-10")
    # 2024-05-02 22:00 starts a real 19-hour OMNI2 plasma gap; SWPC real time covers it
    hours = slice("2024-05-02T22:00", "2024-05-03T16:00")
    omni = Store().read("omni2", "2024-05-02T22:00", "2024-05-03T17:00")
    assert bool(omni["v_sw"].isnull().all()) and omni.sizes["time"] == 19
    # filled from SWPC except 2024-05-03 10:00, where SWPC has under 30 valid minutes too:
    # a 1-hour gap in both, interpolated
    np.testing.assert_array_equal(ds["v_sw_qc"].sel(time=hours), [0] * 12 + [1] + [0] * 6)
    swpc_hour = to_hourly(get_swpc_plasma("2024-05-03T10:00", "2024-05-03T11:00"))["v_sw"]
    assert np.isnan(float(swpc_hour[0]))
    expected = to_hourly(get_swpc_plasma("2024-05-03T05:00", "2024-05-03T06:00"))["v_sw"]
    assert float(ds["v_sw"].sel(time="2024-05-03T05:00")) == pytest.approx(float(expected[0]))
    # elsewhere OMNI2 wins
    omni = Store().read("omni2", "2024-05-09T17:00", "2024-05-09T18:00")
    assert float(ds["v_sw"].sel(time="2024-05-09T17:00")) == float(omni["v_sw"][0])


def test_real_kyoto_versions_across_a_year_boundary(mirrored_home):
    from data_sources.ingest import ingest

    ingest("kyoto_dst", "2014-12-31", "2015-01-02")  # 2014 final, 2015 provisional (Kyoto file)
    ds = build_dataset("2014-12-31", "2015-01-02", sources=["kyoto_dst"])
    assert ds["dst"].attrs["source"] == "kyoto_dst"
    assert ds["dst"].attrs["data_version"] == "final,provisional"
    assert int(ds["dst_qc"].max()) == 0 and ds.sizes["time"] == 48
