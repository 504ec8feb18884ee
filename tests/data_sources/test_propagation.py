"""Ballistic L1 -> bow-shock propagation: the recorded SWPC week against OMNI2, overtaking, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import propagation, swpc
from data_sources.omni2 import parse_omni2


@pytest.fixture(scope="module")
def plasma(data_dir):
    return swpc.parse_swpc_json(data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json")


@pytest.fixture(scope="module")
def omni(data_dir):
    return parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")


def shift_table(hourly: xr.Dataset, omni: xr.Dataset, name: str) -> dict[int, float]:
    """RMS difference [units of name] of ``hourly`` moved k hours later against OMNI."""
    s, o = hourly[name].to_series(), omni[name].to_series()
    out = {}
    for k in range(-3, 4):
        moved = s.copy()
        moved.index = moved.index + pd.Timedelta(hours=k)
        j = pd.concat([moved, o], axis=1, join="inner").dropna()
        out[k] = float(np.sqrt(((j.iloc[:, 0] - j.iloc[:, 1]) ** 2).mean()))
    return out


def test_propagated_week_matches_omni_at_zero_shift(plasma, omni):
    before = shift_table(swpc.to_hourly(plasma), omni, "v_sw")
    assert min(before, key=before.get) == 1 and before[0] > 13.0  # the numbers
    hourly = propagation.to_bow_shock_hourly(plasma)
    after = shift_table(hourly, omni, "v_sw")
    assert min(after, key=after.get) == 0
    assert after[0] <= 10.0
    dens = shift_table(hourly, omni, "n_p")
    assert min(dens, key=dens.get) == 0
    assert hourly.attrs["propagated_to"] == "bow-shock nose"
    assert hourly.p_dyn.attrs["units"] == "nPa"


def test_delay_is_distance_over_speed():
    d = propagation.delay_seconds(np.array([400.0, 800.0, np.nan, 50.0]))
    expected = (1.5e6 - 13.0 * propagation.R_E_KM) / 400.0
    assert d[0] == pytest.approx(expected) and d[0] == pytest.approx(3542.9, abs=0.5)
    assert d[1] == pytest.approx(expected / 2)
    assert np.isnan(d[2]) and np.isnan(d[3])  # missing and unphysical speeds are not shifted
    with pytest.raises(ValueError, match="not upstream of the bow-shock nose"):
        propagation.delay_seconds(np.array([400.0]), x_sc_km=1.5e6 / 1000)


def _minutes(v: np.ndarray, start="2024-01-01T00:00", **extra) -> xr.Dataset:
    t = pd.date_range(start, periods=len(v), freq="1min")
    data = {"v_sw": ("time", v.astype("float32"), {"units": "km s-1"})}
    data.update({k: ("time", a.astype("float32")) for k, a in extra.items()})
    return xr.Dataset(data, coords={"time": t})


def test_overtaken_samples_are_dropped_and_arrivals_increase():
    # slow wind (300 km/s), then a fast stream (800 km/s) that overtakes its last ~44 minutes
    v = np.r_[np.full(120, 300.0), np.full(120, 800.0)]
    ds = _minutes(v, n_p=np.arange(240.0))
    out = propagation.propagate(ds, speed_window="1min")
    arrival = out.indexes["time"]
    assert arrival.is_monotonic_increasing and arrival.is_unique
    slow_d = propagation.delay_seconds(np.array([300.0]))[0]
    fast_d = propagation.delay_seconds(np.array([800.0]))[0]
    first_fast = ds.time.values[120] + np.timedelta64(int(fast_d * 1e9), "ns")
    lost = int(np.sum(ds.time.values[:120] + np.timedelta64(int(slow_d * 1e9), "ns") >= first_fast))
    assert out.attrs["n_dropped_overtaken"] == lost > 0
    # the kept slow samples arrive before the first fast one; every fast sample is kept
    assert (out.n_p.values >= 120).sum() == 120
    assert out.measured_time.values[-1] == ds.time.values[-1]


def test_not_overtaken_handles_gaps():
    a = np.array([10.0, 30.0, np.nan, 20.0, 40.0])
    np.testing.assert_array_equal(propagation.not_overtaken(a), [True, False, False, True, True])


def test_hourly_coverage_rule_and_labels():
    # 400 km/s throughout: delay 3543 s; hour bins are arrival (bow-shock) hours
    v = np.full(180, 400.0)
    v[60:100] = np.nan  # 40 missing minutes of speed
    ds = _minutes(v, start="2024-01-01T00:00")
    ds["n_p"] = ("time", np.where(np.isnan(v), np.nan, 5.0).astype("float32"))
    out = propagation.propagate(ds, speed_window="1min")
    # minutes without a usable speed within 10 min of a measured one get an interpolated one
    assert out.attrs["n_dropped_no_speed"] == 20
    hourly = propagation.hourly_means(out)
    counts = out.n_p.to_series().notna().groupby(out.indexes["time"].floor("1h")).sum()
    for label, n in counts.items():
        value = hourly.n_p.sel(time=label).item()
        assert (n >= 30) == np.isfinite(value), (label, n, value)
    assert hourly.indexes["time"][0] == pd.Timestamp("2024-01-01T00:00")
    assert hourly.attrs["cadence"] == "1h"


def test_field_uses_plasma_speed_and_needs_one():
    plasma = _minutes(np.full(120, 500.0))
    t = plasma.indexes["time"]
    mag = xr.Dataset({"bz_gsm": ("time", np.linspace(-5, 5, 120))}, coords={"time": t})
    out = propagation.propagate(mag, speed=plasma.v_sw)
    d = propagation.delay_seconds(np.array([500.0]))[0]
    assert float(out.delay_s[0]) == pytest.approx(d, rel=1e-5)
    with pytest.raises(ValueError, match="pass speed="):
        propagation.propagate(mag)
