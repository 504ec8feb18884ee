"""Live SWPC inputs built like the archive: propagated, complete hours, the same L1 lead rule,
and nothing measured after the issue time minus the publication delay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import live, propagation, swpc
from data_sources.omni2 import parse_omni2
from forecasting import latency
from forecasting.features import build_features

ISSUE = pd.Timestamp("2024-05-08T12:00")


@pytest.fixture(scope="module")
def plasma(data_dir):
    return swpc.parse_swpc_json(data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json")


@pytest.fixture
def feed(monkeypatch, plasma):
    """The recorded plasma week as the live product (the field was not recorded for 2024)."""

    def no_mag(*a, **k):
        raise ValueError("mag-7-day.json was not recorded for May 2024")

    def serve(ds):
        monkeypatch.setattr(swpc, "get_swpc_plasma", lambda a, b, **k: ds.sel(time=slice(a, b)))

    monkeypatch.setattr(swpc, "get_swpc_mag", no_mag)
    serve(plasma)
    return serve


def test_live_rows_match_the_archive_view(feed, data_dir):
    live_sw = live.fetch_swpc_solar_wind(pd.Timestamp("2024-05-01T18:00"), ISSUE)
    omni = parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")
    view = latency.l1_view(omni.sel(time=slice("2024-04-20", "2024-05-20")))
    rms = {}
    for k in (-1, 0, 1):
        s = live_sw.v_sw.to_series()
        s.index = s.index + pd.Timedelta(hours=k)
        j = pd.concat([s, view.v_sw.to_series()], axis=1, join="inner").dropna()
        rms[k] = float(np.sqrt(((j.iloc[:, 0] - j.iloc[:, 1]) ** 2).mean()))
    assert min(rms, key=rms.get) == 0 and rms[0] <= 10.0, rms
    # one feature function reads both
    live_cols = set(build_features(live_sw.drop_vars([v for v in live_sw if "rtqc" in v])))
    assert live_cols <= set(build_features(view))
    assert live_sw.attrs["l1_lead_view"] == "applied"


def test_nothing_measured_after_the_cutoff_enters(feed, plasma):
    base = live.fetch_swpc_solar_wind(pd.Timestamp("2024-05-06"), ISSUE)
    cutoff = ISSUE - propagation.PUBLICATION_DELAY
    late = plasma.indexes["time"] + pd.Timedelta("1min") > cutoff
    assert late.sum() > 60
    garbage = plasma.copy(deep=True)
    for name in garbage.data_vars:
        vals = garbage[name].values.copy()
        vals[late] = vals[late] * 0.5
        garbage[name] = ("time", vals, garbage[name].attrs)
    feed(garbage)
    again = live.fetch_swpc_solar_wind(pd.Timestamp("2024-05-06"), ISSUE)
    xr.testing.assert_equal(base[["v_sw", "n_p", "n_p_rtqc"]], again[["v_sw", "n_p", "n_p_rtqc"]])
    # complete hours only: the newest hour ends before the newest sample (measured by the
    # cutoff) arrives, at most the slowest travel time after it
    newest_end = pd.Timestamp(base.attrs["bow_shock_newest_end"].rstrip("Z"))
    assert newest_end == base.indexes["time"].max() + pd.Timedelta("1h")
    slowest = pd.Timedelta(seconds=float(propagation.delay_seconds(np.array([150.0]))[0]))
    assert ISSUE - pd.Timedelta("2h") < newest_end <= cutoff + slowest


def test_freshness_reports_the_lead(feed, home):
    res = live.refresh_inputs(
        ISSUE,
        lookback="2D",
        priority={"solar_wind": ("swpc_rtsw",), "dst": (), "kp": ()},
        out_dir=home / "inputs",
    )
    fr = res["freshness"]["solar_wind"]
    assert fr["source"] == "swpc_rtsw" and fr["lead_note"].startswith("newest bow-shock hour")
    assert "n_p" in fr["qc"]  # the noisy DSCOVR density minutes are counted
    with xr.open_dataset(res["path"]) as ds:
        assert pd.Timestamp(ds.time.values[-1]) == ISSUE - pd.Timedelta("1h")
        assert "n_p_rtqc" in ds
