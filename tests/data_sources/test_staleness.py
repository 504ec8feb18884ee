"""One staleness policy: the live refresh, the STALE_INPUT rule and the dashboards agree."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dashboards import site
from data_sources import live
from forecasting.alerting.rules import AlertConfig


def test_alert_rule_default_is_the_live_policy():
    assert pd.Timedelta(AlertConfig().stale_after) == live.STALE_AFTER["solar_wind"]


@pytest.mark.parametrize(
    ("group", "hours", "status"),
    [
        ("solar_wind", 1, "ok"),
        ("solar_wind", 2, "late"),
        ("solar_wind", 3, "stale"),
        ("dst", 3, "late"),
        ("dst", 4, "stale"),
        ("kp", 3, "ok"),
        ("kp", 6, "late"),
        ("kp", 7, "stale"),
    ],
)
def test_age_status(group, hours, status):
    assert live.age_status(group, pd.Timedelta(hours=hours)) == status


def test_group_of_names_the_group_and_refuses_unknown():
    assert live.group_of("bz_gsm") == "solar_wind" and live.group_of("ap") == "kp"
    assert live.group_of("solar_wind") == "solar_wind"
    with pytest.raises(KeyError, match="sym_h"):
        live.group_of("sym_h")


def test_dashboard_marks_stale_where_the_refresh_does():
    issue = pd.Timestamp("2024-05-10T20:00")
    time = pd.date_range("2024-05-10T00:00", "2024-05-10T19:00", freq="1h")
    v = np.full(time.size, 450.0)
    v[time >= pd.Timestamp("2024-05-10T17:00")] = np.nan  # newest hour 16:00-17:00: 3 h old
    obs = xr.Dataset(
        {"v_sw": ("time", v), "dst": ("time", np.full(time.size, -20.0))}, {"time": time}
    )
    table = site.freshness_table(obs, issue)
    assert table.loc["v_sw", "age at issue [h]"] == 3
    assert table.loc["v_sw", "status"] == "stale"  # > STALE_AFTER["solar_wind"] = 2 h
    assert table.loc["dst", "status"] == "ok"
