"""The static site: files, offline plotly.js, atomic writes, tolerant building from a home."""

from __future__ import annotations

import argparse
import json
import re
import urllib.request

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dashboards import site
from dashboards.pages import PAGES, PLOTLY_JS
from dashboards.serve import serve
from forecasting.schema import exceedance_probability
from tests.support.examples import example_inputs

PAGE_FILES = [p[0] for p in PAGES]


@pytest.fixture(scope="module")
def inputs(data_dir):
    return example_inputs(data_dir, archive_start="2024-05-06", archive_step="6h")


@pytest.fixture(scope="module")
def built(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return out, site.build_site(out, **inputs)


def _plots(html: str) -> int:
    return html.count("window.__ss.plot(")


def test_pages_written_offline(built):
    out, paths = built
    assert sorted(p.name for p in paths) == sorted([PLOTLY_JS, *PAGE_FILES])
    js = (out / PLOTLY_JS).read_text()
    assert "Plotly" in js and len(js) > 1_000_000
    for name in PAGE_FILES:
        html = (out / name).read_text()
        assert f'<script src="{PLOTLY_JS}"></script>' in html
        assert not re.search(r"<script[^>]+src=\"https?:", html), f"{name} loads a remote script"
        # no CDN host (a bare "cdn" can occur in plotly's base64 arrays, which have no ".")
        assert not re.search(r"cdn[\w-]*\.[a-z]", html.lower()), f"{name} names a CDN host"
        for file in PAGE_FILES:  # navigation to every page
            assert f'href="{file}"' in html
    assert not list(out.glob(".*.tmp")), "temporary files left behind"
    assert (out / "index.html").stat().st_size < 5_000_000


def test_now_page_content(built, inputs):
    out, _ = built
    html = (out / "index.html").read_text()
    assert _plots(html) == 3  # Dst fan, Kp fan, probability by lead
    fc = inputs["forecast"]
    p = exceedance_probability(fc, "kp", 5.0).isel(init_time=-1).to_numpy().max()
    assert f"{100 * p:.0f}%" in html
    assert "No alert feed found" in html and "persistence_spread" in html
    assert "Input freshness" in html and "2024-05-10 18:00" in html  # Kp block known at 20:00


def test_other_pages_content(built):
    out, _ = built
    assert _plots((out / "drivers.html").read_text()) == 1
    archive = (out / "archive.html").read_text()
    assert _plots(archive) == 2 and 'id="archive-data"' in archive
    data = json.loads(re.search(r'id="archive-data">(.*?)</script>', archive, re.S).group(1))
    assert set(data["models"]) == {"persistence_spread", "climatology_window"}
    verification = (out / "verification.html").read_text()
    assert "Reliability" in verification and "Storm gallery" in verification
    assert "No archived forecasts for: " in verification  # storms outside 2024
    # 7 skill metrics + reliability + the 2024 storm
    assert _plots(verification) == 9
    assert "No TFT model registered" in (out / "model.html").read_text()


def test_rebuild_is_atomic_and_idempotent(built, inputs):
    out, _ = built
    js_mtime = (out / PLOTLY_JS).stat().st_mtime_ns
    site.build_site(out, **inputs)
    assert (out / PLOTLY_JS).stat().st_mtime_ns == js_mtime  # plotly.js written once
    assert not list(out.glob(".*.tmp"))


def test_model_page_with_importance(tmp_path, inputs):
    obs = inputs["observed"]
    df = obs[["bz_gsm", "v_sw", "n_p", "dst"]].to_dataframe().dropna()
    # stand-in weights: |correlation| of real drivers with Dst (not TFT output)
    info = {
        "name": "tft",
        "version": "test",
        "variable_importance": {"encoder": df.corr()["dst"].drop("dst").abs().to_dict()},
    }
    site.build_site(tmp_path, forecast=inputs["forecast"], observed=obs, model_info=info)
    html = (tmp_path / "model.html").read_text()
    assert _plots(html) == 1 and "carries no attention weights of its own" in html
    assert "The forecast archive is empty" in (tmp_path / "archive.html").read_text()
    assert "No skill report" in (tmp_path / "verification.html").read_text()


def test_build_from_empty_home(home, tmp_path):
    paths = site.build_site_from_home(tmp_path / "out")
    assert len(paths) == 6
    index = (tmp_path / "out" / "index.html").read_text()
    assert "No forecast available yet" in index
    assert "No observations found" in (tmp_path / "out" / "drivers.html").read_text()


def _populate(home, inputs):
    for model, fc in inputs["archive"].items():
        for t in fc["init_time"].values[-12:]:
            t = pd.Timestamp(t)
            path = home / "archive" / model / f"{t:%Y}" / f"{model}_{t:%Y%m%dT%H%M}.nc"
            path.parent.mkdir(parents=True, exist_ok=True)
            fc.sel(init_time=[t]).to_netcdf(path)
    store = home / "store" / "omni2"
    store.mkdir(parents=True)
    inputs["observed"].to_netcdf(store / "omni2_2024.nc")
    (home / "reports").mkdir()
    inputs["skill"].to_netcdf(home / "reports" / "skill.nc")
    fc = inputs["archive"]["persistence_spread"].isel(init_time=[-1])
    p = float(exceedance_probability(fc, "kp", 5.0).max())
    (home / "alerts").mkdir()
    feed = {
        "generated": "2024-05-13T18:00:00Z",
        "alerts": [
            {
                "kind": "warning",
                "level": "G1",
                "probability": round(p, 2),
                "issued": "2024-05-13T18:00:00Z",
            }
        ],
    }
    (home / "alerts" / "active.json").write_text(json.dumps(feed))


def test_build_from_populated_home_and_cli(home, tmp_path, inputs):
    _populate(home, inputs)
    from superstorm_cli import dashboard

    parser = argparse.ArgumentParser()
    dashboard.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dashboard", "build", "--out", str(tmp_path / "site")])
    assert args.func(args) == 0
    out = tmp_path / "site"
    index = (out / "index.html").read_text()
    assert "Alerts in force (1)" in index and "warning" in index
    assert "2024-05-13 18:00" in index  # newest archived issue is shown
    assert _plots((out / "drivers.html").read_text()) == 1
    verification = (out / "verification.html").read_text()
    assert "Skill by lead time" in verification and "No skill report" not in verification
    archive = (out / "archive.html").read_text()
    data = json.loads(re.search(r'id="archive-data">(.*?)</script>', archive, re.S).group(1))
    assert len(data["models"]["persistence_spread"]["issues"]) == 12


def test_serve_on_loopback(built):
    out, _ = built
    with serve(out) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "index.html", timeout=10) as resp:
            assert resp.status == 200 and b"superstorm" in resp.read()
        with urllib.request.urlopen(server.url + PLOTLY_JS, timeout=10) as resp:
            assert resp.status == 200
    with pytest.raises(FileNotFoundError, match="build the site first"):
        serve(out / "nowhere")


def test_alert_feed_shapes():
    assert site._alert_list(None) == ([], {})
    assert site._alert_list([{"level": "G2"}]) == ([{"level": "G2"}], {})
    items, meta = site._alert_list({"alerts": [], "generated": "x"})
    assert items == [] and meta == {"generated": "x"}
    with pytest.raises(ValueError, match="alert feed"):
        site._alert_list({"alerts": "G1"})


def test_freshness_from_observed(inputs):
    issue = pd.Timestamp("2024-05-10T20:00")
    obs = inputs["observed"].copy()
    obs["v_sw"] = obs["v_sw"].where(obs["time"] < np.datetime64("2024-05-10T12:00"))
    table = site.freshness_table(obs, issue)
    assert table.loc["dst", "age at issue [h]"] == 0 and table.loc["dst", "status"] == "ok"
    assert table.loc["kp", "age at issue [h]"] == 2 and table.loc["kp", "status"] == "ok"
    assert table.loc["v_sw", "age at issue [h]"] == 8 and table.loc["v_sw", "status"] == "stale"
    assert isinstance(obs, xr.Dataset)


def test_model_info_maps_registry_interpretation_and_prefers_current(tmp_path):
    import json

    from dashboards.site import load_model_info

    root = tmp_path / "models" / "tft"
    for name, enc in (("v1-quick", {"dst": 60.0, "bz_gsm": 40.0}), ("v2-quick", {"dst": 10.0})):
        (root / name).mkdir(parents=True)
        meta = {
            "preset": "quick",
            "interpretation": {
                "encoder_variables": enc,
                "decoder_variables": {"doy_sin": 100.0},
                "attention": [0.2, 0.3, 0.5],
            },
        }
        (root / name / "metadata.json").write_text(json.dumps(meta))
    (root / "current").write_text("v1-quick\n")
    info = load_model_info(tmp_path)
    assert info["version"] == "v1-quick"
    assert info["variable_importance"]["encoder"] == {"dst": 60.0, "bz_gsm": 40.0}
    # attention is stored oldest first: the last weight belongs to the hour before issue
    assert info["attention"] == {"lag_hours": [-3, -2, -1], "weights": [0.2, 0.3, 0.5]}
    (root / "current").unlink()
    assert load_model_info(tmp_path)["version"] in {"v1-quick", "v2-quick"}


def test_verification_page_says_when_nothing_is_due_yet(data_dir):
    from dashboards.site import verification_page
    from tests.support import examples

    obs = examples.load_omni2(data_dir, 2024)
    t = pd.Timestamp("2024-05-10 20:00")
    fc = examples.persistence_spread(obs, [t])
    known = obs.sel(time=slice(None, t - pd.Timedelta("1h")))
    page = verification_page(None, {"persistence_spread": fc}, known)
    assert "No archived forecast can be verified yet" in page
    assert "2024-05-10 19:00" in page
    # with the later observations the verification sections appear
    page = verification_page(None, {"persistence_spread": fc}, obs)
    assert "Reliability of the quantiles" in page and "can be verified yet" not in page


def test_verification_states_period_and_sample_size(built, inputs):
    out, _ = built
    html = (out / "verification.html").read_text()
    skill = html[html.index('id="skill"') : html.index('id="reliability"')]
    assert "Skill report (backtest" in skill
    reliability = html[html.index('id="reliability"') : html.index('id="events"')]
    fc = inputs["archive"]["persistence_spread"]
    n = fc.sizes["init_time"]
    first = pd.Timestamp(fc["init_time"].values[0])
    assert f"persistence_spread: {n:,} archived issue times {first:%Y-%m-%d %H:%M}" in reliability
    assert "verified (issue, lead, target) values" in reliability
    events = html[html.index('id="events"') : html.index('id="storms"')]
    assert "Forecast archive (operational runs, not the backtest)" in events
    storms = html[html.index('id="storms"') :]
    assert re.search(r"persistence_spread \d+ archived issue times", storms)


def test_archive_overlays_every_model(built):
    out, _ = built
    html = (out / "archive.html").read_text()
    data = json.loads(re.search(r'id="archive-data">(.*?)</script>', html, re.S).group(1))
    assert data["overlay"] == ["persistence_spread", "climatology_window"]
    for model in data["overlay"]:
        assert f'"name":"median: {model}"' in html
    assert "A.overlay.forEach" in html


def test_model_page_shows_the_latest_forecasts_own_attention(tmp_path, inputs):
    fc = inputs["forecast"].copy()
    weights = [round(0.5 / 47, 5)] * 47 + [0.5]  # stand-in weights, oldest first
    fc.attrs.update(
        attention=json.dumps(weights),
        variable_importance=json.dumps(
            {"encoder_variables": {"bz_gsm": 60.0, "v_sw": 40.0}, "decoder_variables": {}}
        ),
    )
    info = {
        "name": "tft",
        "version": "t",
        "attention": {"lag_hours": [-2, -1], "weights": [0.4, 0.6]},
    }
    own = site.forecast_interpretation(fc)
    assert own["attention"]["lag_hours"][0] == -48 and own["attention"]["lag_hours"][-1] == -1
    html = site.model_page(info, fc)
    assert "Attention of the latest forecast (issued 2024-05-10 20:00 UTC)" in html
    assert "Attention averaged over the training windows (registry)" in html
    assert html.index("fig-attention") < html.index("fig-attention-training")
    assert site.forecast_interpretation(inputs["forecast"]) is None
