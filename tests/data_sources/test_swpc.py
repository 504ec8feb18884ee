"""SWPC real-time products: recorded upstream files, re-encoded products, getters via the mirror."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data_sources import swpc
from data_sources.celestrak import parse_celestrak_sw
from data_sources.http import DownloadError


@pytest.fixture(scope="module")
def plasma_path(data_dir):
    return data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json"


@pytest.fixture(scope="module")
def plasma(plasma_path):
    return swpc.parse_swpc_json(plasma_path)


def test_plasma_file_rows_nulls_and_utc(plasma, plasma_path):
    raw = json.loads(plasma_path.read_bytes())
    assert raw[0] == ["time_tag", "density", "speed", "temperature"]
    assert plasma.sizes["time"] == 9545
    assert str(plasma.time.values[0]) == "2024-05-01T18:10:00.000000000"
    assert str(plasma.time.values[-1]) == "2024-05-08T18:07:00.000000000"
    assert plasma.time.dtype == np.dtype("datetime64[ns]")
    assert set(plasma.data_vars) == {"n_p", "v_sw", "t_p"}
    # rows with a null anywhere -> NaN exactly there
    any_nan = plasma[["n_p", "v_sw", "t_p"]].to_array().isnull().any("variable")
    assert int(any_nan.sum()) == 84
    # the first value, string "7.78" at 18:10 UTC
    assert float(plasma.n_p[0]) == pytest.approx(7.78)
    assert plasma.n_p.attrs["data_version"] == "real-time"
    assert plasma.v_sw.attrs["units"] == "km s-1"


def test_kyoto_dst_json(data_dir):
    ds = swpc.parse_swpc_json(data_dir / "swpc_products" / "kyoto-dst.json")
    assert ds.sizes["time"] == 168
    assert str(ds.time.values[0]) == "2022-07-14T02:00:00.000000000"
    assert str(ds.time.values[-1]) == "2022-07-21T01:00:00.000000000"
    assert float(ds.dst.sel(time="2022-07-14T05:00")) == -5.0
    assert ds.attrs["cadence"] == "1h"


def test_list_of_objects_layout_equals_array_layout():
    arrays = [
        ["time_tag", "Kp", "a_running", "station_count"],
        ["2024-05-10 18:00:00.000", "8.67", "207", "8"],
        ["2024-05-10 21:00:00.000", null_value := None, "207", "8"],
    ]
    objects = [
        {"time_tag": "2024-05-10T18:00:00", "Kp": 8.67, "a_running": 207, "station_count": 8},
        {"time_tag": "2024-05-10T21:00:00", "Kp": null_value, "a_running": 207, "station_count": 8},
    ]
    a = swpc.parse_swpc_json(json.dumps(arrays).encode())
    b = swpc.parse_swpc_json(json.dumps(objects).encode())
    np.testing.assert_array_equal(a.time.values, b.time.values)
    np.testing.assert_array_equal(a.kp.values, b.kp.values)
    assert a.kp.values[0] == pytest.approx(26 / 3)
    assert np.isnan(a.kp.values[1])


def test_unknown_column_raises():
    body = json.dumps(
        [
            ["time_tag", "density", "speed", "temperature", "alpha"],
            ["2024-05-01 00:00:00.000", "1", "2", "3", "4"],
        ]
    ).encode()
    with pytest.raises(ValueError, match="alpha"):
        swpc.parse_swpc_json(body, product="plasma")
    with pytest.raises(ValueError, match="match no known SWPC product"):
        swpc.parse_swpc_json(body)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b'[["time_tag","dst"],["2022-07-14 02:00:00","2"', "not valid JSON"),
        (b'[["time_tag","dst"],["2022-07-14 02:00:00","2"],["2022-07-14 03:00:00"]]', "row 2"),
        (
            b'[["time_tag","dst"],["2022-07-14 02:00:00","2"],["2022-07-14 03:00:00","x1"]]',
            r"row 2, field 'dst': 'x1'",
        ),
        (b'[["time_tag","dst"],["yesterday","2"]]', r"row 1, field 'time_tag'"),
        (
            b'[["time_tag","dst"],["2022-07-14 02:00:00","2"],["2022-07-14 02:00:00","3"]]',
            "more than once",
        ),
    ],
)
def test_malformed_json_names_the_row(body, match):
    with pytest.raises(ValueError, match=match):
        swpc.parse_swpc_json(body, name="kyoto-dst.json")


def test_kp_off_thirds_raises():
    body = json.dumps(
        [
            ["time_tag", "Kp", "a_running", "station_count"],
            ["2024-05-10 18:00:00.000", "8.50", "207", "8"],
        ]
    ).encode()
    with pytest.raises(ValueError, match="not a multiple of 1/3"):
        swpc.parse_swpc_json(body)


def test_ace_lists_fills_and_status(data_dir):
    folder = data_dir / "swpc_products"
    sw = swpc.parse_ace_list(folder / "20090101_ace_swepam_1m.txt")
    mag = swpc.parse_ace_list(folder / "20090101_ace_mag_1m.txt")
    assert sw.sizes["time"] == mag.sizes["time"] == 1440
    assert str(sw.time.values[0]) == "2009-01-01T00:00:00.000000000"
    assert float(sw.n_p[0]) == pytest.approx(2.0) and float(sw.t_p[0]) == pytest.approx(2.48e5)
    assert float(mag.bz_gsm[0]) == pytest.approx(1.7)
    # the header's fills (-9999.9, -1e5, -999.9) never survive as values
    assert float(sw.n_p.min()) > 0 and float(sw.t_p.min()) > 0 and float(mag.b_total.min()) >= 0
    assert np.isnan(sw.n_p.sel(time="2009-01-01T23:57").item())
    rt = swpc.parse_ace_list(folder / "ace-swepam.txt", keep_flagged=True)
    strict = swpc.parse_ace_list(folder / "ace-swepam.txt")
    assert rt.sizes["time"] == 119
    assert int(strict.n_p.isnull().sum()) > int(rt.n_p.isnull().sum())


def test_ace_bad_line_named(data_dir):
    raw = (data_dir / "swpc_products" / "20090101_ace_mag_1m.txt").read_bytes()
    lines = raw.split(b"\n")
    assert lines[20].startswith(b"2009 01 01  0000")
    lines[20] = lines[20].replace(b"-3.3", b"-x.3", 1)
    with pytest.raises(ValueError, match="line 21, field 8: '-x.3'"):
        swpc.parse_ace_list(b"\n".join(lines), name="mag")


def test_mag_round_trip_real_ace_values(data_dir):
    path = data_dir / "swpc_products" / "20090101_ace_mag_1m.txt"
    real = swpc.parse_ace_list(path)
    body = swpc.encode_mag_from_ace(path)
    assert json.loads(body)[0] == [
        "time_tag",
        "bx_gsm",
        "by_gsm",
        "bz_gsm",
        "lon_gsm",
        "lat_gsm",
        "bt",
    ]
    back = swpc.parse_swpc_json(body)
    np.testing.assert_array_equal(back.time.values, real.time.values)
    for v in ("bx_gsm", "by_gsm", "bz_gsm", "b_total"):
        np.testing.assert_array_equal(back[v].values, real[v].values)


def test_kp_round_trip_real_celestrak_values(data_dir):
    cel_path = data_dir / "celestrak_sw" / "SW-Last5Years.txt"
    body = swpc.encode_kp_from_celestrak(cel_path, *swpc.KP_MIRROR_SPAN)
    back = swpc.parse_swpc_json(body)
    real = parse_celestrak_sw(cel_path).sel(time=slice("2024-05-08", "2024-05-14T21"))
    assert back.sizes["time"] == 56
    np.testing.assert_allclose(back.kp.values, real.kp.values, atol=1e-6)
    np.testing.assert_array_equal(back.ap.values, real.ap.values)
    assert float(back.kp.max()) == pytest.approx(9.0)  # 2024-05-10/11 Kp 9o
    assert json.loads(body)[0] == ["time_tag", "Kp", "a_running", "station_count"]


def test_to_hourly_real_plasma_week(plasma):
    hourly = swpc.to_hourly(plasma)
    frame = plasma.to_dataframe()
    hour = frame.index.floor("1h")
    for v in ("n_p", "v_sw", "t_p"):
        counts = frame[v].notna().groupby(hour).sum()
        means = frame[v].groupby(hour).mean().where(counts >= 30)
        np.testing.assert_allclose(hourly[v].to_series().values, means.values, rtol=1e-5)
    assert str(hourly.time.values[0]) == "2024-05-01T18:00:00.000000000"  # 50 minutes -> kept
    assert np.isnan(hourly.n_p.sel(time="2024-05-08T18:00").item())  # 8 minutes -> NaN
    expected = 2e-6 * hourly.n_p * hourly.v_sw**2
    np.testing.assert_allclose(hourly.p_dyn.values, expected.values, rtol=1e-5)
    assert hourly.p_dyn.attrs["units"] == "nPa" and hourly.attrs["cadence"] == "1h"
    strict = swpc.to_hourly(plasma, min_coverage=1.0)
    assert int(strict.n_p.isnull().sum()) > int(hourly.n_p.isnull().sum())


def test_dynamic_pressure_alpha_ratio():
    assert swpc.dynamic_pressure(5.0, 400.0) == pytest.approx(1.6)
    assert swpc.dynamic_pressure(5.0, 400.0, alpha_ratio=0.0) == pytest.approx(1.33808)


def test_getters_through_mirror(mirrored_home, plasma):
    p = swpc.get_swpc_plasma("2024-05-02", "2024-05-03")
    direct = plasma.sel(time=slice("2024-05-02", "2024-05-02T23:59"))
    assert p.sizes["time"] == direct.sizes["time"] == 1391  # the file itself lacks 49 minutes
    np.testing.assert_array_equal(p.v_sw.values, direct.v_sw.values)
    m = swpc.get_swpc_mag("2009-01-01", "2009-01-02")
    assert m.sizes["time"] == 1440
    k = swpc.get_swpc_kp("2024-05-10", "2024-05-12")
    assert k.sizes["time"] == 16 and float(k.kp.max()) == pytest.approx(9.0)
    d = swpc.get_swpc_dst("2022-07-14", "2022-07-22")
    assert d.sizes["time"] == 168
    assert (mirrored_home / "cache" / "swpc" / "products" / "kyoto-dst.json").exists()


def test_bad_body_does_not_replace_cached_copy(mirrored_home, fresh_mirror, monkeypatch):
    monkeypatch.setattr("data_sources.http.time.sleep", lambda s: None)  # no backoff waits
    path = "services.swpc.noaa.gov/products/kyoto-dst.json"
    good = swpc.get_swpc_dst(None, None)
    cached = mirrored_home / "cache" / "swpc" / "products" / "kyoto-dst.json"
    before = cached.read_bytes()
    fresh_mirror.faults.replace[path] = b'[["time_tag","dst"],["2022-07-21 02:00:00","oops"]]'
    with pytest.raises(ValueError, match="oops"):
        swpc.get_swpc_dst(None, None)
    assert cached.read_bytes() == before
    # a truncated body is not cached either
    fresh_mirror.faults.replace.clear()
    fresh_mirror.faults.truncate.add(path)
    swpc.get_swpc_dst(None, None)  # falls back to the cache after the retries fail
    assert cached.read_bytes() == before
    # unreachable server: the cached copy is used
    fresh_mirror.faults.truncate.clear()
    fresh_mirror.faults.fail_next[path] = 10
    again = swpc.get_swpc_dst(None, None)
    np.testing.assert_array_equal(again.dst.values, good.dst.values)
    assert fresh_mirror.faults.fail_next[path] == 6  # 4 tries were made


def test_no_cache_and_no_server_raises(mirrored_home, fresh_mirror, monkeypatch):
    monkeypatch.setattr("data_sources.http.time.sleep", lambda s: None)
    fresh_mirror.faults.fail_next["services.swpc.noaa.gov/products/kyoto-dst.json"] = 10
    with pytest.raises(DownloadError):
        swpc.get_swpc_dst(None, None)
