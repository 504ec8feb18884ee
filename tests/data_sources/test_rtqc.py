"""Real-time QC of the L1 feeds: the recorded week passes, injected faults are flagged, and
no faulty sample reaches a model or an alert through the live path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import live, rtqc, swpc
from data_sources.omni2 import parse_omni2
from forecasting.alerting.rules import ALERT, WARNING, WATCH, evaluate_rules
from forecasting.models.baselines import Burton

ISSUE = pd.Timestamp("2009-01-01T18:00")
LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")


@pytest.fixture(scope="module")
def week(data_dir):
    return swpc.parse_swpc_json(data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json")


@pytest.fixture(scope="module")
def ace(data_dir):
    """The real ACE 1-min plasma and field of 2009-01-01 (SWPC daily lists)."""
    folder = data_dir / "swpc_products"
    plasma = swpc.parse_ace_list(folder / "20090101_ace_swepam_1m.txt")
    mag = swpc.parse_ace_list(folder / "20090101_ace_mag_1m.txt")
    return plasma, mag


def test_recorded_week_passes_almost_clean(week):
    flags = rtqc.check(week)
    counts = rtqc.counts(flags)
    for name in ("n_p", "v_sw", "t_p"):
        f = flags[f"{name}_rtqc"].values
        assert (f != 0).mean() < 0.01, (name, counts.get(name))
        assert not (f & (rtqc.FLAGS["range"] | rtqc.FLAGS["stuck"] | rtqc.FLAGS["zero_run"])).any()


def test_real_gap_is_a_nan_run(ace):
    _, mag = ace
    flags = rtqc.check(mag)
    gap = (flags.bz_gsm_rtqc.values & rtqc.FLAGS["nan_run"]) != 0
    assert gap.sum() >= 30 and np.isnan(mag.bz_gsm.values[gap]).all()
    # a nan run is shown, not "cleaned": nothing else changes
    cleaned, _ = rtqc.clean(mag)
    np.testing.assert_array_equal(cleaned.bz_gsm.values[~gap], mag.bz_gsm.values[~gap])


def _inject(plasma: xr.Dataset, mag: xr.Dataset, fault: str):
    """Faults in the real 2009-01-01 ACE data; returns (plasma, mag, {var: bad sample mask})."""
    plasma, mag = plasma.copy(deep=True), mag.copy(deep=True)
    t = mag.indexes["time"]
    window = (t >= "2009-01-01T13:00") & (t < "2009-01-01T17:55")
    bad = {}
    if fault == "spikes":
        where = window & (np.arange(len(t)) % 7 == 0)
        vals = mag.bz_gsm.values.copy()
        vals[where] = -150.0
        mag["bz_gsm"] = ("time", vals, mag.bz_gsm.attrs)
        bad["bz_gsm"] = where
    elif fault == "stuck":
        where = (t >= "2009-01-01T16:00") & (t < "2009-01-01T17:55")
        vals = mag.bz_gsm.values.copy()
        vals[where] = -25.0
        mag["bz_gsm"] = ("time", vals, mag.bz_gsm.attrs)
        bad["bz_gsm"] = where
    elif fault == "zeros":
        tp = plasma.indexes["time"]
        where = (tp >= "2009-01-01T15:00") & (tp < "2009-01-01T15:20")
        for name in ("n_p", "v_sw"):
            vals = plasma[name].values.copy()
            vals[where] = 0.0
            plasma[name] = ("time", vals, plasma[name].attrs)
            bad[name] = where
    return plasma, mag, bad


@pytest.mark.parametrize(
    "fault, bit", [("spikes", "spike"), ("stuck", "stuck"), ("zeros", "zero_run")]
)
def test_each_fault_is_flagged_and_removed(ace, fault, bit):
    plasma, mag, bad = _inject(*ace, fault)
    for name, where in bad.items():
        ds = mag if name in mag else plasma
        cleaned, flags = rtqc.clean(ds)
        f = flags[f"{name}_rtqc"].values
        hit = (f & rtqc.FLAGS[bit]) != 0
        assert hit[where & np.isfinite(ds[name].values)].all()
        assert np.isnan(cleaned[name].values[where]).all()
        # few false alarms outside the injected samples
        assert (hit & ~where).sum() <= 2
        assert bit in rtqc.summary(flags)


def test_spacecraft_change_is_flagged():
    t = pd.date_range("2024-01-01", periods=6, freq="1min")
    ds = xr.Dataset(
        {"v_sw": ("time", np.full(6, 400.0))},
        coords={"time": t, "spacecraft": ("time", ["dscovr", "dscovr", "", "ace", "ace", "ace"])},
    )
    f = rtqc.check(ds).v_sw_rtqc.values
    assert ((f & rtqc.FLAGS["spacecraft"]) != 0).tolist() == [
        False,
        False,
        False,
        True,
        False,
        False,
    ]


# ----------------------------------------------------------------------------- live path
@pytest.fixture(scope="module")
def recorded(data_dir, tmp_path_factory):
    """Dst and Kp of late 2008 - January 2009 (real OMNI2) as the store; no solar wind."""
    folder = data_dir / "omni2_low_res_dynaml"
    ds = xr.concat([parse_omni2(folder / f"omni2_{y}.csv") for y in (2008, 2009)], dim="time")
    ds = ds.sel(time=slice("2008-11-01", "2009-01-31"))
    path = tmp_path_factory.mktemp("rec") / "indices.nc"
    ds[["dst", "kp", "ap"]].to_netcdf(path)
    return path, ds


@pytest.fixture(scope="module")
def burton(recorded):
    _, ds = recorded
    return Burton().fit(ds.sel(time=slice("2008-11-01", "2008-12-31")), targets=["dst"])


def _live_inputs(monkeypatch, recorded, plasma, mag, tmp_path) -> dict:
    monkeypatch.setattr(swpc, "get_swpc_plasma", lambda a, b, **k: plasma.sel(time=slice(a, b)))
    monkeypatch.setattr(swpc, "get_swpc_mag", lambda a, b, **k: mag.sel(time=slice(a, b)))
    return live.refresh_inputs(
        ISSUE,
        lookback="10D",
        recorded=recorded[0],
        out_dir=tmp_path,
        priority={"solar_wind": ("swpc_rtsw",), "dst": ("store",), "kp": ("store",)},
    )


def _storm_actions(burton, inputs_path) -> list:
    with xr.open_dataset(inputs_path) as f:
        obs = f.load()
    fc = burton.forecast(obs, [ISSUE], LEADS, targets=("dst",))
    return [a for a in evaluate_rules(fc, obs, ISSUE) if a.kind in (WATCH, WARNING, ALERT)]


@pytest.mark.parametrize("fault", ["spikes", "stuck", "zeros"])
def test_faults_through_the_live_path_reach_no_alert(
    ace, recorded, burton, monkeypatch, tmp_path, fault
):
    plasma, mag, bad = _inject(*ace, fault)
    res = _live_inputs(monkeypatch, recorded, plasma, mag, tmp_path / "qc")
    fr = res["freshness"]["solar_wind"]
    assert fr["source"] == "swpc_rtsw"
    for name in bad:
        assert fr["qc"][name], fr["qc"]  # counted in the freshness report ...
        assert name in fr["qc_note"]
    assert "QC flagged" in live.format_freshness(res["freshness"])
    with xr.open_dataset(res["path"]) as ds:
        for name in bad:  # ... and flagged on the hours they arrive in
            assert (ds[f"{name}_rtqc"].fillna(0).values.astype(int) != 0).any()
        assert float(ds.bz_gsm.min()) > -10.0 and float(ds.v_sw.min()) > 250.0
        assert float(ds.n_p.min()) > 0.5
        qc_means = {n: ds[n].values.copy() for n in ("n_p", "v_sw")}
    assert _storm_actions(burton, res["path"]) == []
    if fault == "spikes":  # every flagged hour is shown on the Drivers page
        from dashboards import figures, site

        with xr.open_dataset(res["path"]) as ds:
            ds = ds.load()
        html = site.drivers_page(ds, ISSUE, 1.0)
        assert "Real-time QC flagged" in html and "bz_gsm (spike)" in html
        fig = figures.drivers_figure(ds, end=ISSUE, days=1.0)
        assert any(tr.name == "Bz QC flag" or "QC flag" in str(tr.name) for tr in fig.data)
    # the same fault without the QC: spikes and stuck values do reach an alert
    monkeypatch.setattr(rtqc, "clean", lambda ds: (ds, rtqc.check(ds)))
    raw = _live_inputs(monkeypatch, recorded, plasma, mag, tmp_path / "raw")
    if fault in ("spikes", "stuck"):
        assert any(a.kind == WARNING for a in _storm_actions(burton, raw["path"]))
    else:
        with xr.open_dataset(raw["path"]) as ds:
            # the zeros pull hourly means down (and would reach the models)
            low = [np.nanmin(ds[n].values - qc_means[n]) for n in ("n_p", "v_sw")]
            assert low[0] < -0.1 and low[1] < -5.0, low
