"""Monthly sunspot number and F10.7 from SWPC's solar-cycle JSON, parsed with sunpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sunpy

from data_sources import solar_indices as si
from data_sources.celestrak import bundled_file, parse_celestrak_sw

SUNPY_SAMPLE = (
    Path(sunpy.__file__).parent / "data" / "test" / "observed-solar-cycle-indices-truncated.json"
)


@pytest.fixture(scope="module")
def monthly():
    return si.monthly_means(parse_celestrak_sw(bundled_file()))


def test_sunpy_sample_file():
    ds = si.parse_solar_cycle_indices(SUNPY_SAMPLE)
    assert str(ds.time.values[0]) == "2012-09-01T00:00:00.000000000"
    assert ds.sizes["time"] == 7
    assert float(ds.f107[0]) == pytest.approx(123.4) and float(
        ds.sunspot_number[0]
    ) == pytest.approx(93.7)
    assert ds.f107.attrs["units"] == "10-22 W m-2 Hz-1" and ds.attrs["cadence"] == "1MS"


def test_monthly_means_of_real_daily_record(monthly):
    daily = parse_celestrak_sw(bundled_file()).sel(time=slice("2024-05-01", "2024-05-31T21"))
    days = daily.isel(time=slice(None, None, 8))
    assert days.sizes["time"] == 31
    assert monthly.loc["2024-05-01", "ssn"] == pytest.approx(
        round(float(days.sunspot_number.mean()), 1)
    )
    assert monthly.loc["2024-05-01", "f10.7"] == pytest.approx(
        round(float(days.f107.astype("f8").mean()), 2)
    )
    assert str(monthly.index[0].date()) == "1957-10-01"


def test_round_trip_encode_parse(monthly):
    body = si.encode_solar_cycle_indices(monthly)
    rec = json.loads(body)[0]
    assert list(rec) == si.KEYS
    assert rec["smoothed_ssn"] == -1 and rec["time-tag"] == "1957-10"
    ds = si.parse_solar_cycle_indices(body)
    np.testing.assert_array_equal(ds.time.values, monthly.index.values)
    np.testing.assert_allclose(ds.sunspot_number.values, monthly["ssn"].values, rtol=1e-6)
    np.testing.assert_allclose(ds.f107.values, monthly["f10.7"].values, rtol=1e-6)


def test_fill_minus_one_is_nan():
    body = json.dumps([{"time-tag": "2020-01", "ssn": -1, "f10.7": 71.5}]).encode()
    ds = si.parse_solar_cycle_indices(body)
    assert np.isnan(ds.sunspot_number.item()) and ds.f107.item() == pytest.approx(71.5)


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([{"time-tag": "2020-01", "ssn": 1.0}], r"record 0: .*missing keys \['f10.7'\]"),
        ([{"time-tag": "2020-01", "ssn": 1.0, "f10.7": 70.0, "kp": 3}], r"unknown keys \['kp'\]"),
        ([{"time-tag": "2020-1", "ssn": 1.0, "f10.7": 70.0}], "is not YYYY-MM"),
        (
            [
                {"time-tag": "2020-01", "ssn": 1, "f10.7": 70},
                {"time-tag": "2020-02", "ssn": "x", "f10.7": 70},
            ],
            r"record 1, 'ssn': 'x'",
        ),
    ],
)
def test_malformed_records(records, match):
    with pytest.raises(ValueError, match=match):
        si.parse_solar_cycle_indices(json.dumps(records).encode(), name="indices.json")


def test_getter_via_mirror(mirrored_home, monthly):
    ds = si.get_solar_indices("2024-01-01", "2025-01-01")
    assert ds.sizes["time"] == 12
    np.testing.assert_allclose(ds.f107.values, monthly.loc["2024", "f10.7"].values, rtol=1e-6)
    assert (
        mirrored_home / "cache" / "solar_indices" / "observed-solar-cycle-indices.json"
    ).exists()


def test_getter_bad_body_not_cached(mirrored_home, fresh_mirror):
    fresh_mirror.faults.replace[f"{si.HOST}/{si.PATH}"] = b"[{"
    with pytest.raises(ValueError, match="not valid JSON"):
        si.get_solar_indices("2024-01-01", "2025-01-01")
    assert not (mirrored_home / "cache" / "solar_indices").exists()
