"""The Now page answers "what level, when, how sure" on its first screen."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from dashboards import figures, site
from forecasting.schema import G_SCALE, exceedance_probability, kp_label
from tests.support.examples import load_omni2, persistence_spread

ISSUE = pd.Timestamp("2024-05-10T20:00")
FEED = {
    "generated": "2024-05-10T20:00:05Z",
    "alerts": [
        {
            "serial": 7,
            "action": "issue",
            "kind": "WARNING",
            "family": "kp",
            "level": "G2",
            "probability": 0.71,
            "issued": "2024-05-10T20:00:00Z",
            "valid_start": "2024-05-10T20:00:00Z",
            "valid_end": "2024-05-11T02:00:00Z",
            "status": "active",
            "refers_to": None,
            "delivered": False,
            "message": "WARNING ...",
        },
        {
            "serial": 5,
            "action": "issue",
            "kind": "ALERT",
            "family": "kp",
            "level": "G4",
            "probability": 1.0,
            "issued": "2024-05-10T18:00:00Z",
            "valid_start": "2024-05-10T15:00:00Z",
            "valid_end": None,
            "status": "active",
            "refers_to": None,
            "delivered": True,
            "message": "ALERT ...; issued 2024-05-10 18:00 UTC. observed Kp 8-",
        },
    ],
}


@pytest.fixture(scope="module")
def obs(data_dir):
    return load_omni2(data_dir, 2024)


@pytest.fixture(scope="module")
def fc(obs):
    return persistence_spread(obs, [ISSUE])


@pytest.fixture(scope="module")
def html(fc, obs):
    return site.now_page(fc, obs, FEED, None, None)


def test_days_follow_the_lead_grid_in_utc(fc):
    cols = figures.day_columns(fc)
    assert [c[0] for c in cols] == ["May 10 (20-24 UT)", "May 11 (00-20 UT)"]
    table = figures.daily_probability_table(fc)
    g1 = G_SCALE["G1"]
    p = exceedance_probability(fc, "kp", g1).isel(init_time=0).to_numpy()
    assert table.loc[f"G1 (Kp ≥ {kp_label(g1)})"].tolist() == pytest.approx(
        [p[:4].max(), p[4:].max()]
    )


def test_day_outlook_uses_observed_so_far_and_forecast(fc, obs):
    days = site.day_outlook(fc, obs, ISSUE)
    assert [d["label"] for d in days] == ["May 10 (20-24 UT)", "May 11 (00-20 UT)"]
    # Kp 8- (7.67) of 15-18 UT is the largest block known at 20:00 on May 10
    assert days[0]["observed_kp"] == pytest.approx(23 / 3, abs=1e-3)
    assert np.isnan(days[1]["observed_kp"])  # nothing of May 11 is known yet
    assert 0 <= days[1]["p_g3"] <= days[1]["p_g1"] <= 1


def test_first_screen_level_cards_come_before_everything(html):
    first = html.index('id="outlook"')
    assert first < html.index('id="alerts"') < html.index('id="kp-section"')
    strip = html[first : html.index('id="alerts"')]
    assert "observed now (May 10 20:00 UTC)" in strip
    assert "G4 severe" in strip  # observed level, never "below G1" above a G4 ALERT
    assert "ALERT in force: G4 (serial 5)" in strip
    assert "May 11 (00-20 UT)" in strip and "P(≥ G1)" in strip
    assert "most likely storm level" not in html


def test_alerts_are_swpc_message_cards(html):
    cards = re.findall(r'<div class="msg".*?</pre></div>', html, re.S)
    assert len(cards) == 2
    assert "ALERT</b> G4" in cards[0] and "WARNING</b> G2" in cards[1]  # ALERT first
    assert "Space Weather Message Code: ALTK08" in cards[0]
    assert "Synoptic Period: 1500-1800 UTC" in cards[0]
    assert "Space Weather Message Code: WARK06" in cards[1]
    assert "Valid To: 2024 May 11 0200 UTC" in cards[1]
    assert "<table" not in html[html.index('id="alerts"') : html.index('id="kp-section"')]


def test_probability_windows_are_utc_days(html):
    table = html[html.index('id="probabilities"') :]
    assert "May 10 (20-24 UT)" in table and "next 3 h" not in html


def test_a_primary_forecast_names_its_model_per_target(fc, obs):
    merged = fc.copy()
    merged.attrs.update(
        model="blend+tft",
        primary="dst=blend;kp=tft",
        primary_basis="dst: blend verified best <on the validation years>",
    )
    html = site.now_page(merged, obs, FEED, None, None)
    assert "Primary model per target: dst: blend, kp: tft" in html
    assert "&lt;on the validation years&gt;" in html  # escaped
    assert "not the TFT" not in html
    other = fc.copy()
    other.attrs["model"] = "persistence"
    assert "not the TFT" in site.now_page(other, obs, FEED, None, None)
