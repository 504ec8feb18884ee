"""Researchers' own CSV / netCDF extracts: presets for the recorded files and the error cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources import local_file as lf


@pytest.fixture(scope="module")
def omni2000(data_dir):
    return lf.load_preset("omni_hourly_csv", data_dir / "omni_hourly_csv" / "omni_2000.csv")


def test_omni_hourly_csv_2000(omni2000):
    assert omni2000.sizes["time"] == 8784
    assert str(omni2000.time.values[0]) == "2000-01-01T00:00:00.000000000"  # '+00:00' -> naive UTC
    assert float(omni2000.dst.min()) == -301.0
    assert str(omni2000.dst.idxmin().values) == "2000-07-16T00:00:00.000000000"
    assert int(omni2000.n_p.isnull().sum()) == 59  # empty fields are gaps
    assert omni2000.attrs["cadence"] == "1h"
    assert omni2000.dst.attrs["units"] == "nT" and omni2000.attrs["source"].startswith("NASA OMNI")


def test_stormai_files_dedup_boundary_rows(data_dir):
    paths = sorted((data_dir / "omni2_stormai_csv").glob("*.csv"))
    ds = lf.load_preset("omni2_stormai_csv", paths)
    assert ds.sizes["time"] == 52921
    assert float(ds.dst.sel(time="2015-03-17T22:00")) == -234.0
    assert pd.Index(ds.time.values).is_unique
    # OMNI fills kept in the files -> NaN; Kp x10 -> thirds
    assert float(ds.t_p.max()) < 9999999.0 and float(ds.n_p.max()) < 999.9
    assert int(ds.n_p.isnull().sum()) > 0
    kp3 = ds.kp.values * 3
    np.testing.assert_allclose(kp3, np.round(kp3), atol=1e-4)
    first = pd.read_csv(paths[0], nrows=1)
    assert float(ds.kp[0]) == pytest.approx(round(first["Kp_index"][0] * 0.3) / 3)


def test_stormai_conflicting_boundary_raises(data_dir, tmp_path):
    paths = sorted((data_dir / "omni2_stormai_csv").glob("*.csv"))[:2]
    second = tmp_path / "second.csv"
    lines = paths[1].read_text().splitlines()
    head = lines[1].split(",")
    head[lf.pd.read_csv(paths[1], nrows=0).columns.get_loc("Dst_index_nT")] = "-999"
    lines[1] = ",".join(head)
    second.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="different values"):
        lf.load_preset("omni2_stormai_csv", [paths[0], second])


def test_omniweb_dstt(data_dir):
    ds = lf.load_preset(
        "omniweb_csv_dstt",
        data_dir / "omniweb_csv_dstt" / "solar_wind_parameters_data_1_hourly_test.csv",
    )
    assert ds.sizes["time"] == 7649
    assert str(ds.time.values[0]) == "2021-01-01T06:00:00.000000000"
    assert int(ds.bz_gsm.isnull().sum()) == 464 and int(ds.v_sw.isnull().sum()) == 187
    assert float(ds.dst.min()) == -115.0
    assert str(ds.dst.idxmin().values) == "2021-11-04T12:00:00.000000000"


def test_dst_csv_elfin(data_dir):
    ds = lf.load_preset("dst_csv_elfin", data_dir / "dst_csv_elfin" / "dst.csv")
    assert ds.sizes["time"] == 38965
    assert str(ds.time.values[0]) == "2018-09-01T00:00:00.000000000"
    assert float(ds.dst.min()) == -105.0
    assert str(ds.dst.idxmin().values) == "2021-11-04T13:00:00.000000000"
    assert int((ds.dst_version == 1).sum()) == 29232 and int((ds.dst_version == 0).sum()) == 9733


def test_netcdf_round_trip(omni2000, tmp_path):
    native = omni2000.rename({"dst": "DST", "v_sw": "speed"})[["DST", "speed"]]
    native = native.rename({"time": "epoch"})
    native["DST"] = native["DST"].where(native["DST"].notnull(), -9999.0)
    native["DST"][:3] = -9999.0
    path = tmp_path / "extract.nc"
    native.to_netcdf(path)
    back = lf.load_local_file(
        path,
        time_column="epoch",
        column_map={"DST": "dst", "speed": "v_sw"},
        fill_values={"DST": -9999.0},
    )
    np.testing.assert_array_equal(back.time.values, omni2000.time.values)
    assert back.dst[:3].isnull().all()
    np.testing.assert_array_equal(back.dst.values[3:], omni2000.dst.values[3:])
    np.testing.assert_array_equal(back.v_sw.values, omni2000.v_sw.values)


def _csv(tmp_path, text):
    path = tmp_path / "x.csv"
    path.write_text(text)
    return path


def test_unknown_canonical_name_lists_valid(tmp_path):
    path = _csv(tmp_path, "t,d\n2000-01-01 00:00,1\n")
    with pytest.raises(ValueError, match=r"'dst_index'.*valid: .*bz_gsm.*dst"):
        lf.load_local_file(path, time_column="t", column_map={"d": "dst_index"})


def test_missing_column_named_with_columns_present(tmp_path):
    path = _csv(tmp_path, "t,d\n2000-01-01 00:00,1\n")
    with pytest.raises(ValueError, match=r"\['v'\] not in the file; columns present: \['t', 'd'\]"):
        lf.load_local_file(path, time_column="t", column_map={"d": "dst", "v": "v_sw"})


def test_fills_bad_values_and_duplicates(tmp_path):
    path = _csv(tmp_path, "t,d\n2000-01-01 00:00,99999\n2000-01-01 01:00,-5\n")
    ds = lf.load_local_file(path, time_column="t", column_map={"d": "dst"}, fill_values=99999)
    assert np.isnan(ds.dst.values[0]) and ds.dst.values[1] == -5
    bad = _csv(tmp_path, "t,d\n2000-01-01 00:00,1\n2000-01-01 01:00,abc\n")
    with pytest.raises(ValueError, match=r"line 3, column 'd': 'abc'"):
        lf.load_local_file(bad, time_column="t", column_map={"d": "dst"})
    dup = _csv(tmp_path, "t,d\n2000-01-01 00:00,1\n2000-01-01 01:00,2\n2000-01-01 00:00,3\n")
    with pytest.raises(ValueError, match=r"appears more than once \(at lines \[2, 4\]\)"):
        lf.load_local_file(dup, time_column="t", column_map={"d": "dst"})
    badtime = _csv(tmp_path, "t,d\n2000-01-01/00:00:00,1\n2000-01-01/0x:00:00,2\n")
    with pytest.raises(ValueError, match=r"line 3, column 't'"):
        lf.load_local_file(
            badtime, time_column="t", column_map={"d": "dst"}, time_format="%Y-%m-%d/%H:%M:%S"
        )


def test_zone_converted_to_naive_utc(tmp_path):
    path = _csv(tmp_path, "t,d\n2000-01-01T02:00:00+02:00,1\n")
    ds = lf.load_local_file(path, time_column="t", column_map={"d": "dst"})
    assert str(ds.time.values[0]) == "2000-01-01T00:00:00.000000000"


def test_unknown_preset():
    with pytest.raises(ValueError, match="known: omni_hourly_csv"):
        lf.load_preset("nope", [])


# --------------------------------------------------------------- the layouts researchers exchange
# Each test writes REAL recorded values (OMNI2 2024, SWPC 1-minute plasma of May 2024) in another
# layout at run time and reads them back; nothing is invented and nothing is committed.


def _omni_2024(data_dir):
    from data_sources.omni2 import parse_omni2

    return parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat").sel(
        time=slice("2024-05-09", "2024-05-12T23:00")
    )


def _omniweb_text(ds, path):
    """An OMNIWeb-style listing: a header block, then YEAR DOY HR and the values (fill 9999.)."""
    t = pd.DatetimeIndex(ds["time"].values)
    lines = [
        "OMNI2 hourly listing (real values, OMNI2 2024)",
        "Selected parameters:",
        " 1 Scalar B, nT",
        " 2 BZ, nT (GSM)",
        " 3 SW Plasma Speed, km/s",
        "YEAR DOY HR B BZ V",
    ]
    for i, ts in enumerate(t):
        vals = [float(ds[v].values[i]) for v in ("b_total", "bz_gsm", "v_sw")]
        vals = ["9999." if np.isnan(x) else f"{x:.1f}" for x in vals]
        lines.append(f"{ts.year} {ts.dayofyear:3d} {ts.hour:2d} " + " ".join(vals))
    path.write_text("\n".join(lines) + "\n")


def test_whitespace_text_with_header_block_and_split_time(tmp_path, data_dir):
    ds = _omni_2024(data_dir)
    path = tmp_path / "omniweb.txt"
    _omniweb_text(ds, path)
    out = lf.load_local_file(
        path,
        layout="text",
        time_columns={"year": "YEAR", "doy": "DOY", "hour": "HR"},
        column_map={"B": "b_total", "BZ": "bz_gsm", "V": "v_sw"},
        fill_values=9999.0,
    )
    assert (out.indexes["time"] == ds.indexes["time"]).all()
    for v in ("b_total", "bz_gsm", "v_sw"):
        np.testing.assert_allclose(out[v].values, ds[v].values, atol=0.051, equal_nan=True)
    assert out.attrs["cadence"] == "1h"


def test_text_without_a_naming_header_line_needs_column_names(tmp_path, data_dir):
    ds = _omni_2024(data_dir)
    path = tmp_path / "omniweb.txt"
    _omniweb_text(ds, path)
    body = path.read_text().splitlines()
    path.write_text("\n".join(body[:5] + body[6:]) + "\n")  # drop the naming line
    with pytest.raises(ValueError, match="pass column_names"):
        lf.load_local_file(
            path,
            layout="text",
            time_columns={"year": "YEAR", "doy": "DOY", "hour": "HR"},
            column_map={"V": "v_sw"},
        )
    out = lf.load_local_file(
        path,
        layout="text",
        column_names=["YEAR", "DOY", "HR", "B", "BZ", "V"],
        time_columns={"year": "YEAR", "doy": "DOY", "hour": "HR"},
        column_map={"V": "v_sw"},
        fill_values=9999.0,
    )
    np.testing.assert_allclose(out["v_sw"].values, ds["v_sw"].values, atol=0.051, equal_nan=True)


_YMD = {"year": "YEAR", "month": "MO", "day": "DY", "hour": "HR"}
_YDH = {"year": "YEAR", "doy": "DOY", "hour": "HR"}


@pytest.mark.parametrize(
    ("text", "time_columns", "message"),
    [
        ("YEAR MO DY HR V\n2023 2 29 0 400.0\n", _YMD, "impossible date"),
        ("YEAR DOY HR V\n2023 366 0 400.0\n", _YDH, "366 in 2023"),
        (
            "YEAR DOY HR V\n2024 10 25 400.0\n",
            _YDH,
            "line 2, column 'HR': hour 25 is outside 0..23",
        ),
    ],
)
def test_split_time_errors_name_the_value(tmp_path, text, time_columns, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        lf.load_local_file(path, layout="text", time_columns=time_columns, column_map={"V": "v_sw"})


def test_one_minute_text_is_averaged_like_swpc(tmp_path, data_dir):
    from data_sources.swpc import parse_swpc_json, to_hourly

    raw = parse_swpc_json(data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json")
    t = pd.DatetimeIndex(raw["time"].values)
    lines = ["# SWPC real-time plasma, 1-minute (real values), year month day hour minute second"]
    lines.append("yr mo dy hr mn sc speed density")
    for i, ts in enumerate(t):
        v, n = float(raw["v_sw"].values[i]), float(raw["n_p"].values[i])
        lines.append(
            f"{ts.year} {ts.month} {ts.day} {ts.hour} {ts.minute} {ts.second} "
            f"{'-1' if np.isnan(v) else f'{v:.1f}'} {'-1' if np.isnan(n) else f'{n:.2f}'}"
        )
    path = tmp_path / "plasma.txt"
    path.write_text("\n".join(lines) + "\n")
    out = lf.load_local_file(
        path,
        layout="text",
        time_columns={
            "year": "yr",
            "month": "mo",
            "day": "dy",
            "hour": "hr",
            "minute": "mn",
            "second": "sc",
        },
        column_map={"speed": "v_sw", "density": "n_p"},
        fill_values=-1.0,
    )
    ref = to_hourly(raw)
    assert out.attrs["cadence"] == "1h"
    common = out.indexes["time"].intersection(ref.indexes["time"])
    assert len(common) > 100
    np.testing.assert_allclose(
        out["v_sw"].sel(time=common).values,
        ref["v_sw"].sel(time=common).values,
        rtol=1e-4,
        equal_nan=True,
    )
    # the same coverage rule: hours with too few valid minutes are NaN in both
    assert (
        np.isnan(out["n_p"].sel(time=common).values) == np.isnan(ref["n_p"].sel(time=common).values)
    ).all()
