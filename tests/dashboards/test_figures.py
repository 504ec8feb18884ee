"""Dashboard figure builders on real recorded data (OMNI2 2024: the May 2024 Gannon storm).

Forecasts are :mod:`tests.support.examples` persistence-with-spread forecasts: the real newest
value plus quantiles of the real changes seen before the issue time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboards import colors, figures
from forecasting.schema import exceedance_probability, kp_label
from tests.support.examples import climatology_window, example_skill, load_omni2, persistence_spread

ISSUE = pd.Timestamp("2024-05-10T20:00")  # Kp block 15-18 UT is the newest known at 20:00


@pytest.fixture(scope="module")
def obs(data_dir):
    return load_omni2(data_dir, 2024)


@pytest.fixture(scope="module")
def fc(obs):
    return persistence_spread(obs, [ISSUE])


@pytest.fixture(scope="module")
def archive(obs):
    inits = pd.date_range("2024-05-08", "2024-05-14", freq="6h")
    return {
        "persistence_spread": persistence_spread(obs, inits),
        "climatology_window": climatology_window(obs, inits),
    }


def _shape(fig, name):
    found = [s for s in fig.layout.shapes if s.name == name]
    assert found, f"no shape named {name!r}: {[s.name for s in fig.layout.shapes]}"
    return found[0]


def test_fan_chart_traces_and_band_order(fc, obs):
    fig = figures.fan_chart(fc, "dst", observed=obs)
    names = [t.name for t in fig.data]
    assert names == [
        "forecast 90% range (0.05-0.95)",
        "forecast 80% range (0.1-0.9)",
        "forecast 50% range (0.25-0.75)",
        "forecast median",
        "observed dst",
    ]
    df = figures.forecast_frame(fc, "dst")
    n = len(df)
    lows, highs = [], []
    for trace, (lo, hi, _, _) in zip(fig.data[:3], colors.BANDS, strict=True):
        y = np.asarray(trace.y, dtype=float)
        np.testing.assert_allclose(y[:n], df[lo].to_numpy(), rtol=1e-6)
        np.testing.assert_allclose(y[n:], df[hi].to_numpy()[::-1], rtol=1e-6)
        lows.append(y[:n])
        highs.append(y[n:][::-1])
    # widest band first: each inner band lies inside the outer one
    assert np.all(lows[0] <= lows[1]) and np.all(lows[1] <= lows[2])
    assert np.all(highs[2] <= highs[1]) and np.all(highs[1] <= highs[0])
    assert np.all(lows[2] <= np.asarray(fig.data[3].y)) and np.all(
        np.asarray(fig.data[3].y) <= highs[2]
    )
    # forecast lead 1 drawn at the middle of the hour starting at the issue time
    assert pd.Timestamp(fig.data[3].x[0]) == ISSUE + pd.Timedelta("30min")
    # observed: real Dst of the hour labelled 19:00 drawn at 19:30
    x_obs = pd.DatetimeIndex(fig.data[4].x)
    i = int(np.flatnonzero(x_obs == ISSUE - pd.Timedelta("30min"))[0])
    assert fig.data[4].y[i] == pytest.approx(float(obs["dst"].sel(time=ISSUE - pd.Timedelta("1h"))))


def test_markers_at_issue_time_and_latest_sample(fc, obs):
    dst = figures.fan_chart(fc, "dst", observed=obs)
    assert pd.Timestamp(_shape(dst, "issue time").x0) == ISSUE
    # hourly Dst labelled 19:00 is known at 20:00: no latency
    assert pd.Timestamp(_shape(dst, "latest sample").x0) == ISSUE
    kp = figures.fan_chart(fc, "kp", observed=obs)
    assert pd.Timestamp(_shape(kp, "issue time").x0) == ISSUE
    # Kp of 15-18 UT is the newest known at 20:00 (18-21 UT ends at 21:00)
    assert pd.Timestamp(_shape(kp, "latest sample").x0) == pd.Timestamp("2024-05-10T18:00")
    # with observations stopping earlier, the marker moves back: latency is visible
    cut = obs.sel(time=slice(None, "2024-05-10T14:00"))
    late = figures.fan_chart(fc, "dst", observed=cut)
    assert pd.Timestamp(_shape(late, "latest sample").x0) == pd.Timestamp("2024-05-10T15:00")
    assert (
        "5 h before issue"
        in [a.text for a in late.layout.annotations if a.name == "latest sample"][0]
    )


def test_g_levels_and_colours():
    assert [colors.g_level(k) for k in (0.0, 4.333, 4.667, 5.667, 6.667, 7.667, 8.667, 9.0)] == [
        0,
        0,
        1,
        2,
        3,
        4,
        4,
        5,
    ]
    assert colors.g_color(np.nan) == colors.QUIET
    assert [colors.G_LEVELS[g][2] for g in range(1, 6)] == [
        "#F6EB14",
        "#FFC800",
        "#FF9600",
        "#FF0000",
        "#C80000",
    ]


def test_kp_bars_coloured_by_g_level(obs):
    issue = pd.Timestamp("2024-05-12T00:00")
    fc = persistence_spread(obs, [issue])
    fig = figures.fan_chart(fc, "kp", observed=obs, init_time=issue, history="3D")
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name for b in bars] == [
        "observed Kp (bar colour = G level)",
        "forecast median Kp per 3 h (hatched)",
    ]
    observed_bar = bars[0]
    ys = np.asarray(observed_bar.y, dtype=float)
    assert list(observed_bar.marker.color) == [colors.g_color(v) for v in ys]
    # the real Kp 9o of 2024-05-10 and 05-11 is G5 dark red; quiet Kp < 5 is green
    assert ys.max() == pytest.approx(9.0)
    for y, c in zip(ys, observed_bar.marker.color, strict=True):
        if y == pytest.approx(9.0):
            assert c == "#C80000"
        if y < 5:
            assert c == colors.QUIET
    # each bar is one 3-h Kp interval, drawn at its middle
    x = pd.DatetimeIndex(observed_bar.x)
    assert set(x.hour) <= {1, 4, 7, 10, 13, 16, 19, 22} and set(x.minute) == {30}
    kp_at = obs["kp"].sel(time=x - pd.Timedelta("90min")).to_numpy()
    np.testing.assert_allclose(ys, kp_at, rtol=1e-6)
    fc_bar = bars[1]
    assert list(fc_bar.marker.color) == [colors.g_color(v) for v in fc_bar.y]


def test_threshold_lines(fc, obs):
    dst = figures.fan_chart(fc, "dst", observed=obs)
    assert _shape(dst, "dst -50").y0 == -50 and _shape(dst, "dst -100").y0 == -100
    assert _shape(dst, "dst -250").y0 == -250  # the storm reaches -406 nT in the window
    quiet = persistence_spread(obs, [pd.Timestamp("2024-03-01T12:00")])
    qfig = figures.fan_chart(quiet, "dst", observed=obs)
    assert "dst -250" not in [s.name for s in qfig.layout.shapes]
    kp = figures.fan_chart(fc, "kp", observed=obs)
    assert [round(_shape(kp, f"G{g}").y0, 3) for g in range(1, 6)] == [
        4.667,
        5.667,
        6.667,
        7.667,
        9.0,
    ]


def test_downsampling_keeps_storm_minimum(obs):
    t = pd.DatetimeIndex(obs["time"].values)
    dst = obs["dst"].to_numpy()
    x, y = figures.minmax_downsample(t, dst, 400)
    assert len(y) <= 400 and x.is_monotonic_increasing
    assert np.nanmin(y) == np.nanmin(dst) == -406
    assert x[int(np.nanargmin(y))] == pd.Timestamp("2024-05-11T02:00")
    assert np.nanmax(y) == np.nanmax(dst)
    same_t, same_y = figures.minmax_downsample(t[:100], dst[:100], 400)
    assert len(same_y) == 100
    with pytest.raises(ValueError, match="max_points"):
        figures.minmax_downsample(t, dst, 1)


def test_drivers_figure_panels_and_extremes(obs):
    fig = figures.drivers_figure(obs, end="2024-12-31", days=365, max_points=600)
    names = [tr.name for tr in fig.data]
    assert names == [d[1] for d in figures.DRIVERS]
    assert all(len(tr.y) <= 600 for tr in fig.data)
    bz = fig.data[0]
    year = obs.sel(time=slice("2024-01-01", "2024-12-30T23:00"))
    assert np.nanmin(np.asarray(bz.y, float)) == pytest.approx(float(year["bz_gsm"].min()))
    newell = np.asarray(fig.data[-1].y, float)
    full = figures.newell_coupling(year["v_sw"], year["by_gsm"], year["bz_gsm"])
    assert np.nanmax(newell) == pytest.approx(np.nanmax(full))


def test_newell_coupling_values():
    # purely northward IMF: no coupling; purely southward: v^4/3 B^2/3 (sin(90 deg) = 1)
    assert figures.newell_coupling(400.0, 0.0, 10.0) == pytest.approx(0.0, abs=1e-12)
    assert figures.newell_coupling(400.0, 0.0, -10.0) == pytest.approx(
        400 ** (4 / 3) * 10 ** (2 / 3) / 1e3
    )


def test_probabilities_match_exceedance_probability(fc):
    table = figures.probability_table(fc)
    assert list(table.columns) == ["next 3 h", "next 12 h", "next 24 h"]
    for g, k in enumerate((14 / 3, 17 / 3, 20 / 3, 23 / 3, 9.0), start=1):
        p = exceedance_probability(fc, "kp", k).isel(init_time=-1).to_numpy()
        row = table.loc[f"G{g} (Kp ≥ {kp_label(k)})"]
        assert row["next 24 h"] == pytest.approx(p.max())
        assert row["next 3 h"] == pytest.approx(p[:3].max())
    for d in (-50.0, -100.0, -250.0):
        p = exceedance_probability(fc, "dst", d).isel(init_time=-1).to_numpy()
        assert table.loc[f"Dst ≤ {d:g} nT", "next 12 h"] == pytest.approx(p[:12].max())
    fig = figures.probability_figure(fc)
    g1 = next(t for t in fig.data if t.name.startswith("P(G1"))
    np.testing.assert_allclose(
        g1.y,
        100 * exceedance_probability(fc, "kp", 14 / 3).isel(init_time=-1).to_numpy(),
        rtol=1e-6,
    )


def test_archive_payload_matches_forecast(archive, obs):
    fc = archive["persistence_spread"]
    pl = figures.archive_payload(fc, obs)
    assert len(pl["issues"]) == fc.sizes["init_time"] and pl["lead_h"][0] == 1
    i = 5
    np.testing.assert_allclose(
        np.asarray(pl["targets"]["dst"]["fc"][i], dtype=float),
        fc["dst"].isel(init_time=i).to_numpy(),
        atol=0.051,
    )
    t0 = pd.Timestamp(pl["targets"]["dst"]["obs_t0"])
    k = 30
    assert pl["targets"]["dst"]["obs"][k] == pytest.approx(
        float(obs["dst"].sel(time=t0 + pd.Timedelta(hours=k)))
    )
    fig = figures.archive_figure(fc, "kp", obs, init_time=fc["init_time"].values[i])
    assert [t.name for t in fig.data][-1] == "observed kp" and len(fig.data) == 5


def test_reliability_and_event_scores(archive, obs):
    fc = archive["persistence_spread"]
    rel = figures.reliability(fc, obs, "dst")
    assert rel.is_monotonic_increasing and 0 <= rel.min() and rel.max() <= 1
    assert rel.attrs["n"] == fc.sizes["init_time"] * fc.sizes["lead_time"]
    # direct count for one level
    from data_sources.timeconv import observed_for

    o = observed_for(fc, obs, "dst").to_numpy()
    q90 = fc["dst"].sel(quantile=0.9).to_numpy()
    assert rel.loc[0.9] == pytest.approx(np.mean(o <= q90))
    ev = figures.event_scores(fc, obs)
    row = ev[(ev["event"] == "Dst ≤ -100 nT") & (ev["lead [h]"] == 6)].iloc[0]
    med = fc["dst"].sel(quantile=0.5).sel(lead_time=pd.Timedelta("6h")).to_numpy()
    o6 = observed_for(fc, obs, "dst").sel(lead_time=pd.Timedelta("6h")).to_numpy()
    assert row["hits"] == np.sum((med <= -100) & (o6 <= -100))
    assert row["misses"] == np.sum((med > -100) & (o6 <= -100))
    assert row[["hits", "false alarms", "misses", "correct negatives"]].sum() == len(o6)
    fig = figures.reliability_figure({"persistence_spread": {"dst": rel}})
    assert [t.name for t in fig.data] == [
        "perfect calibration",
        f"persistence_spread (n={rel.attrs['n']})",
    ]


def test_skill_figure_and_storm_gallery(archive, obs):
    skill = example_skill(archive, obs)
    fig = figures.skill_figure(skill, "coverage_80")
    assert len(fig.data) == 4  # 2 models x 2 targets
    assert {t.name for t in fig.data} == {"persistence_spread", "climatology_window"}
    assert any(s.y0 == 0.8 for s in fig.layout.shapes)
    with pytest.raises(ValueError, match="pod"):
        figures.skill_figure(skill, "pod")
    storm = figures.storm_figure(archive, obs, "dst", "2024-05-09", "2024-05-14")
    assert storm is not None and storm.data[-1].name == "observed dst"
    assert np.nanmin(np.asarray(storm.data[-1].y, float)) == -406
    assert figures.storm_figure(archive, obs, "dst", "2000-07-14", "2000-07-18") is None


def test_model_figures_from_dicts(obs):
    # weights here are |correlation| of each real driver with Dst in 2024 (a stand-in input
    # with real values, not TFT output) to check the figure mechanics
    df = obs[["bz_gsm", "v_sw", "n_p", "p_dyn", "dst"]].to_dataframe().dropna()
    corr = df.corr()["dst"].drop("dst").abs()
    fig = figures.importance_figure({"encoder": corr.to_dict(), "decoder": {}})
    assert len(fig.data) == 1 and list(fig.data[0].y)[-1] == corr.idxmax()
    lags = list(range(-24, 0))
    acf = [float(df["dst"].autocorr(-k)) for k in lags]
    att = figures.attention_figure({"lag_hours": lags, "weights": acf})
    assert len(att.data) == 1
    with pytest.raises(ValueError):
        figures.importance_figure({})
    with pytest.raises(ValueError, match="lags"):
        figures.attention_figure({"lag_hours": lags, "weights": acf[:3]})
