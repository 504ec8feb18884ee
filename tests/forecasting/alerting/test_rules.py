"""Pure alert rules: levels, warnings, watches, alerts, all-clear, stale input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting.alerting import rules as A
from forecasting.schema import QUANTILES, make_forecast

NOW = pd.Timestamp("2024-05-10 12:00")
LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
SPREAD = np.array([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])


def forecast(kp_median, dst_median=None, *, init=NOW):
    """A forecast whose Kp quantiles are ``median + SPREAD`` per lead (Dst spread x10 nT)."""
    kp = np.broadcast_to(np.asarray(kp_median, float), (24,))
    values = {"kp": (kp[:, None] + SPREAD[None, :])[None]}
    if dst_median is not None:
        dst = np.broadcast_to(np.asarray(dst_median, float), (24,))
        values["dst"] = (dst[:, None] + 10 * SPREAD[None, :])[None]
    return make_forecast(
        values,
        init_time=[init],
        lead_time=LEADS,
        quantiles=QUANTILES,
        model="test",
        model_version="0",
    )


def observed(kp=2.0, dst=-10.0, *, end=NOW, hours=48, v_sw=400.0):
    t = pd.date_range(end - pd.Timedelta(hours=hours), end - pd.Timedelta("1h"), freq="1h")

    def col(x):
        return ("time", np.broadcast_to(np.asarray(x, float), (len(t),)).astype("float32"))

    return xr.Dataset(
        {"kp": col(kp), "dst": col(dst), "v_sw": col(v_sw), "bz_gsm": col(0.0)}, coords={"time": t}
    )


HOUR_AGO = NOW - pd.Timedelta("1h")


def active(kind, family, level, serial=1, start=HOUR_AGO, end=None):
    return A.ActiveAlert(serial, kind, family, level, 0.9, start, end, start)


def test_levels_follow_noaa_and_gonzalez():
    # SWPC thirds: each level starts at its minus third (5- = G1 ... 8- = G4, 9- G4, 9o G5)
    assert [A.g_level(k) for k in (4.333, 14 / 3, 17 / 3, 20 / 3, 23 / 3, 8.667, 9.0)] == [
        None,
        "G1",
        "G2",
        "G3",
        "G4",
        "G4",
        "G5",
    ]
    assert [A.dst_class(d) for d in (-49, -50, -100, -249, -250, np.nan)] == [
        None,
        "DST50",
        "DST100",
        "DST100",
        "DST250",
        None,
    ]


def test_quiet_forecast_and_observation_give_nothing():
    assert A.evaluate_rules(forecast(2.0, -10.0), observed(), NOW) == []


def test_warning_issue_extend_escalate_cancel():
    cfg = A.AlertConfig()
    # median Kp 6 in the next 6 h -> WARNING at the highest level with P >= 0.5: G2
    acts = A.evaluate_rules(forecast(6.0), observed(), NOW, config=cfg)
    warn = [a for a in acts if a.kind == A.WARNING]
    assert [(a.action, a.level) for a in warn] == [(A.ISSUE, "G2")]
    assert warn[0].valid_start == NOW and warn[0].valid_end == NOW + pd.Timedelta("6h")
    assert warn[0].probability >= 0.5
    # same level, window ends in 5 h -> nothing; ends within 2 h -> extend
    st = [active(A.WARNING, "kp", "G2", end=NOW + pd.Timedelta("5h"))]
    assert [
        a for a in A.evaluate_rules(forecast(6.0), observed(), NOW, st) if a.kind == A.WARNING
    ] == []
    st = [active(A.WARNING, "kp", "G2", end=NOW + pd.Timedelta("1h"))]
    ext = [a for a in A.evaluate_rules(forecast(6.0), observed(), NOW, st) if a.kind == A.WARNING]
    assert [(a.action, a.refers_to, a.valid_end) for a in ext] == [
        (A.EXTEND, 1, NOW + pd.Timedelta("6h"))
    ]
    # higher level -> escalate with a reference to the old serial
    esc = [a for a in A.evaluate_rules(forecast(8.0), observed(), NOW, st) if a.kind == A.WARNING]
    assert [(a.action, a.level, a.refers_to) for a in esc] == [(A.ESCALATE, "G4", 1)]
    # probability collapses -> cancel
    can = [a for a in A.evaluate_rules(forecast(1.0), observed(), NOW, st) if a.kind == A.WARNING]
    assert [(a.action, a.level) for a in can] == [(A.CANCEL, "G2")]


def test_watch_is_per_utc_day_beyond_warning_lead():
    kp = np.where(np.arange(1, 25) > 12, 7.0, 2.0)  # storm forecast from lead 13 h = next day
    acts = [a for a in A.evaluate_rules(forecast(kp), observed(), NOW) if a.kind == A.WATCH]
    assert [(a.action, a.level, a.valid_start) for a in acts] == [
        (A.ISSUE, "G3", pd.Timestamp("2024-05-11"))
    ]
    assert acts[0].valid_end == pd.Timestamp("2024-05-12")
    assert not [a for a in A.evaluate_rules(forecast(kp), observed(), NOW) if a.kind == A.WARNING]


def test_alert_on_observation_escalation_and_all_clear():
    # Kp of the 09-12 UT block is known at 12:00
    acts = A.evaluate_rules(None, observed(kp=7.0), NOW)
    assert [(a.action, a.kind, a.level) for a in acts] == [(A.ISSUE, A.ALERT, "G3")]
    assert acts[0].valid_start == pd.Timestamp("2024-05-10 09:00")
    st = [active(A.ALERT, "kp", "G1")]
    acts = A.evaluate_rules(None, observed(kp=7.0), NOW, st)
    assert [(a.action, a.level, a.refers_to) for a in acts] == [(A.ESCALATE, "G3", 1)]
    # an observed value of 5 at the same level as the active alert: no duplicate
    assert A.evaluate_rules(None, observed(kp=5.0), NOW, st) == []
    # quiet for 48 h -> all clear ...
    acts = A.evaluate_rules(None, observed(kp=2.0), NOW, st)
    assert [(a.action, a.refers_to) for a in acts] == [(A.ALL_CLEAR, 1)]
    # ... but not while a warning of the family is in force
    st2 = st + [active(A.WARNING, "kp", "G1", serial=2, end=NOW + pd.Timedelta("3h"))]
    assert [a.action for a in A.evaluate_rules(None, observed(kp=2.0), NOW, st2)] == []


def test_all_clear_waits_for_quiet_after():
    obs = observed(kp=2.0, dst=-10.0)
    obs["dst"].loc[{"time": slice(NOW - pd.Timedelta("3h"), None)}] = -80.0
    obs["dst"].loc[{"time": slice(NOW - pd.Timedelta("2h"), None)}] = -20.0
    st = [active(A.ALERT, "dst", "DST50")]
    assert A.evaluate_rules(None, obs, NOW, st) == []  # last -80 nT ended 2 h ago < 6 h
    later = NOW + pd.Timedelta("6h")
    obs2 = observed(kp=2.0, dst=-20.0, end=later, hours=60)
    obs2["dst"].loc[{"time": NOW - pd.Timedelta("3h")}] = -80.0
    assert [a.action for a in A.evaluate_rules(None, obs2, later, st)] == [A.ALL_CLEAR]


def test_dst_warning_uses_probability_of_dst_below():
    acts = A.evaluate_rules(forecast(2.0, -120.0), observed(), NOW)
    assert [(a.kind, a.level) for a in acts if a.family == "dst"] == [(A.WARNING, "DST100")]


def test_stale_input_issue_and_all_clear():
    obs = observed()
    obs["v_sw"][-4:] = np.nan
    obs["bz_gsm"][-4:] = np.nan
    acts = A.evaluate_rules(None, obs, NOW)
    assert [(a.action, a.kind) for a in acts] == [(A.ISSUE, A.STALE_INPUT)]
    assert acts[0].valid_start == NOW - pd.Timedelta("4h")  # hour 07-08 is the newest
    st = [active(A.STALE_INPUT, "solar_wind", "solar_wind")]
    assert [a.action for a in A.evaluate_rules(None, observed(), NOW, st)] == [A.ALL_CLEAR]
    assert A.evaluate_rules(None, obs, NOW, st) == []  # still stale: no duplicate


def test_only_data_known_at_now_is_used():
    obs = observed(kp=2.0, end=NOW + pd.Timedelta("6h"), hours=54)
    obs["kp"].loc[{"time": slice(NOW, None)}] = 9.0  # the future must not trigger an ALERT
    assert A.evaluate_rules(None, obs, NOW) == []


def test_config_validation_and_messages():
    with pytest.raises(ValueError, match="cancel_probability"):
        A.AlertConfig(cancel_probability=0.9, warning_probability=0.5)
    with pytest.raises(ValueError, match="warning_probability"):
        A.AlertConfig(warning_probability=0.0)
    act = A.evaluate_rules(forecast(8.0), observed(), NOW)[0]
    assert "WARNING: Geomagnetic K-index of 8- (G4) expected" in act.message()


def test_nan_probability_never_cancels_a_warning():
    """Inputs missing for an hour: an all-NaN forecast leaves the warning in force."""
    st = [active(A.WARNING, "dst", "DST100", end=NOW + pd.Timedelta("4h"))]
    acts = A.evaluate_rules(forecast(2.0, np.nan), observed(), NOW, st, notice_unavailable=True)
    assert not [a for a in acts if a.kind == A.WARNING]
    (notice,) = [a for a in acts if a.kind == A.FORECAST_UNAVAILABLE]
    assert notice.action == A.ISSUE and "no finite value" in notice.detail
    assert "forecast unavailable" in notice.message()
    # a finite low probability still cancels
    acts = A.evaluate_rules(forecast(2.0, -10.0), observed(), NOW, st)
    assert [(a.action, a.level) for a in acts if a.kind == A.WARNING] == [(A.CANCEL, "DST100")]


def test_forecast_unavailable_notice_and_all_clear():
    acts = A.evaluate_rules(None, observed(), NOW, notice_unavailable=True)
    assert [(a.action, a.kind, a.detail) for a in acts] == [
        (A.ISSUE, A.FORECAST_UNAVAILABLE, "no primary forecast")
    ]
    st = [active(A.FORECAST_UNAVAILABLE, "forecast", "forecast")]
    assert A.evaluate_rules(None, observed(), NOW, st, notice_unavailable=True) == []
    back = A.evaluate_rules(forecast(2.0, -10.0), observed(), NOW, st, notice_unavailable=True)
    assert [(a.action, a.refers_to) for a in back] == [(A.ALL_CLEAR, 1)]


def test_catch_up_alerts_the_peak_missed_while_down_marked_late():
    """The service was down 12 h over a Kp 8- peak; back when Kp is 5 again."""
    obs = observed(kp=2.0, hours=48)
    obs["kp"].loc[{"time": slice(NOW - pd.Timedelta("9h"), NOW - pd.Timedelta("7h"))}] = 23 / 3
    obs["kp"].loc[{"time": slice(NOW - pd.Timedelta("3h"), None)}] = 5.0
    st = [active(A.ALERT, "kp", "G1", start=NOW - pd.Timedelta("15h"))]
    # without catch-up only the newest value (G1) counts: the G4 peak is lost
    assert A.evaluate_rules(None, obs, NOW, st) == []
    acts = A.evaluate_rules(None, obs, NOW, st, since=NOW - pd.Timedelta("12h"))
    assert [(a.action, a.level, a.refers_to) for a in acts] == [(A.ESCALATE, "G4", 1)]
    assert acts[0].valid_start == NOW - pd.Timedelta("9h")
    assert acts[0].detail.startswith("LATE: observed Kp 8-")
    # an hourly run that saw it in time: not late
    acts = A.evaluate_rules(None, obs, NOW - pd.Timedelta("6h"), st, since=NOW - pd.Timedelta("7h"))
    assert [a.level for a in acts] == ["G4"] and "LATE" not in acts[0].detail


def test_missing_observations_never_clear_an_alert():
    obs = observed(kp=2.0)
    obs["kp"][-12:] = np.nan  # no Kp for 12 h
    st = [active(A.ALERT, "kp", "G1")]
    assert [a for a in A.evaluate_rules(None, obs, NOW, st) if a.action == A.ALL_CLEAR] == []


def test_no_warning_for_a_level_already_alerted():
    obs = observed(kp=6.0)  # G2 observed -> ALERT G2 in this run
    acts = A.evaluate_rules(forecast(6.0), obs, NOW)
    assert [(a.kind, a.level) for a in acts if a.family == "kp" and a.kind != A.WATCH] == [
        (A.ALERT, "G2")
    ]
    # a higher level is still warned
    acts = A.evaluate_rules(forecast(8.0), obs, NOW)
    assert [(a.kind, a.level) for a in acts if a.kind == A.WARNING] == [(A.WARNING, "G4")]
    # and an ALERT in force from an earlier run covers its level too
    st = [active(A.ALERT, "kp", "G2")]
    assert not [a for a in A.evaluate_rules(forecast(6.0), obs, NOW, st) if a.kind == A.WARNING]


def test_watch_days_one_to_three_and_none_today_after_storm_began():
    leads = pd.to_timedelta(np.arange(1, 97), unit="h")
    init = pd.Timestamp("2024-05-10 03:00")
    kp = np.full((1, 96, len(SPREAD)), 7.0) + SPREAD
    fc = make_forecast(
        {"kp": kp},
        init_time=[init],
        lead_time=leads,
        quantiles=QUANTILES,
        model="t",
        model_version="0",
    )
    quiet = observed(kp=2.0, end=init)
    watches = [a for a in A.evaluate_rules(fc, quiet, init) if a.kind == A.WATCH]
    assert [(a.valid_start.day, a.detail[:5]) for a in watches] == [
        (10, "day 1"),
        (11, "day 2"),
        (12, "day 3"),
    ]  # the 4th UTC day of the 96 h grid is not watched
    storm = observed(kp=5.0, end=init)  # G1 observed: the storm began today
    watches = [a for a in A.evaluate_rules(fc, storm, init) if a.kind == A.WATCH]
    assert [a.valid_start.day for a in watches] == [11, 12]


def test_a_warning_ending_now_is_extended_not_issued_again():
    st = [active(A.WARNING, "kp", "G2", end=NOW)]
    acts = [a for a in A.evaluate_rules(forecast(6.0), observed(), NOW, st) if a.kind == A.WARNING]
    assert [(a.action, a.refers_to) for a in acts] == [(A.EXTEND, 1)]


def test_decisions_use_the_decision_score_and_report_the_recalibrated_probability():
    """A per-lead recalibration changes what alerts report, never which alert is issued."""
    import json

    from forecasting.schema import EVENT_CALIBRATION_ATTR, exceedance_probability

    cfg = A.AlertConfig()
    plain = forecast(6.0)
    mapped = plain.copy()
    g2 = A.level_event(A.level_by_name("G2"))
    # a map that shrinks P(G2) hard at every lead (a = 1, b = -3)
    table = {g2: {"lead_hours": list(range(1, 25)), "a": [1.0] * 24, "b": [-3.0] * 24}}
    mapped["kp"].attrs[EVENT_CALIBRATION_ATTR] = json.dumps(table)
    before = [
        a for a in A.evaluate_rules(plain, observed(), NOW, config=cfg) if a.kind == A.WARNING
    ]
    after = [
        a for a in A.evaluate_rules(mapped, observed(), NOW, config=cfg) if a.kind == A.WARNING
    ]
    assert [(a.action, a.level) for a in after] == [(a.action, a.level) for a in before]
    assert [(a.action, a.level) for a in after] == [(A.ISSUE, "G2")]
    shown = exceedance_probability(mapped, "kp", A.level_by_name("G2").threshold)
    near = shown.sel(lead_time=shown.lead_time <= np.timedelta64(6, "h"))
    assert after[0].probability == pytest.approx(float(near.max()))
    assert after[0].probability < 0.5 <= before[0].probability
    # the message says what decided, since the reported probability is below the threshold
    assert "decided on the quantile probability" in A.format_message(after[0])
    assert before[0].detail == ""
