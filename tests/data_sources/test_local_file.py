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
    assert omni2000.attrs["cadence"] == "h"
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
