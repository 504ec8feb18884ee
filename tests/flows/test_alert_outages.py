"""Fault injection on the alert path (issue 11), outages over the storm: replays as if live.

Recorded data: the 2015-03-17 storm in ``omni2_2015_hourlyavg.dat`` (Kp 5+ at 06-09 UT, 8- at
12-15 UT; Dst minimum -223 nT at 22 UT), persistence as the primary model (no TFT registered).
The webhook receiver (:class:`tests.forecasting.alerting.test_delivery.Receiver`) honours
``Idempotency-Key``: ``payloads`` are the deliveries an operator sees, ``keys`` every request.
Each test states the fault, then checks: 0 duplicate deliveries, 0 duplicate alerts, 0 lost
alerts, 0 false alerts, no blocked run, and a clear message for the operator.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from flows import forecast as ff
from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog
from tests.flows.alert_harness import at, carried, duplicates, lost, replay

# ----------------------------------------------------------- missing inputs, outages


def test_inputs_missing_for_an_hour_mid_storm(recorded, home, tmp_path, monkeypatch):
    """Fault: every input of 20-21 UT missing (the hour before the 22 UT Dst minimum).

    Persistence carries the last finite value over a gap; a model that does not (the TFT
    gives NaN on a NaN input) is imitated by an all-NaN primary forecast at 21:00.
    """
    with xr.open_dataset(recorded) as ds:
        gap = ds.load()
    for name in gap.data_vars:
        if np.issubdtype(gap[name].dtype, np.floating):
            gap[name].loc[{"time": at(20)}] = np.nan
    path = tmp_path / "gap.nc"
    gap.to_netcdf(path)
    real = ff.step_model

    def nan_at_21(name, inputs_path, t, **kw):
        res = real(name, inputs_path, t, **kw)
        if pd.Timestamp(t) == at(21) and res["path"]:
            with xr.open_dataset(res["path"]) as f:
                fc = f.load()
            for v in ("dst", "kp"):
                fc[v][:] = np.nan
            res["path"] = str(tmp_path / "nan_fc.nc")
            fc.to_netcdf(res["path"])
        return res

    monkeypatch.setattr(ff, "step_model", nan_at_21)
    # a DST250 warning in force (issued by hand: persistence never forecasts beyond what it saw)
    replay(at(16), at(21), path, deliver=False)
    log = AlertLog()
    log.record_run(
        at(20) + pd.Timedelta("30min"),
        [A.AlertAction(A.ISSUE, A.WARNING, "dst", "DST250", 0.6, at(20), at(26), at(20))],
    )
    replay(at(21), at(24), path, deliver=False)
    msgs = log.messages()
    cancels = [m for m in msgs if m["action"] == "cancel"]
    # no cancel in the NaN hour, none with a NaN probability (later, finite forecasts may)
    assert not [m for m in cancels if m["run_time"] == "2015-03-17T21:00:00Z"]
    assert all(m["probability"] is not None for m in cancels)
    notice = [m for m in msgs if m["kind"] == "FORECAST_UNAVAILABLE"]
    assert [(m["action"], m["run_time"][11:16]) for m in notice] == [
        ("issue", "21:00"),
        ("all_clear", "22:00"),
    ]
    assert not [m for m in msgs if m["action"] == "all_clear" and m["kind"] == "ALERT"]
    active = {(a.kind, a.level) for a in log.state().active}
    assert ("ALERT", "DST100") in active and ("ALERT", "G4") in active


def test_service_down_over_the_peak_is_caught_up_late(recorded, home):
    """Fault: no run from 12:00 to 20:00 (the Kp 8- of 12-15 UT happens while down)."""
    replay(at(6), at(12), recorded, deliver=False)
    replay(at(21), at(22), recorded, deliver=False)
    log = AlertLog()
    g4 = [m for m in log.messages() if m["kind"] == "ALERT" and m["level"] == "G4"]
    assert [m["action"] for m in g4 if m["action"] != "all_clear"] == ["escalate"]
    assert "LATE: observed Kp 8-" in g4[0]["text"] and g4[0]["run_time"] == "2015-03-17T21:00:00Z"


def test_webhook_down_15_h_over_the_storm_peak(recorded, home, receiver, fast_retries):
    """Fault: the webhook answers HTTP 500 from 10:00 to 01:00 (15 h) over the peak."""

    def on_hour(t, res):
        if t == at(9):
            receiver.fail_next = 10**6
        if t == at(24):  # the 01:00 run finds the webhook back
            receiver.fail_next = 0

    replay(at(9), at(37), recorded, on_hour=on_hour)  # G1 (Kp 5-) lasts to 06 UT on the 18th
    log = AlertLog()
    notify = [m["serial"] for m in log.messages() if m["notify"]]
    assert lost(log) == [] and sorted(carried(receiver)) == notify  # 0 lost, each once
    assert duplicates(receiver.keys) == 0
    g4 = [m for m in log.messages() if m["kind"] == "ALERT" and m["level"] == "G4"]
    assert g4[0]["serial"] in carried(receiver)  # the G4 peak reached the operator
    bodies = [json.loads(p["body"]) for p in receiver.payloads]
    after = [b for b in bodies if b["grouped"] or b["late"]]
    assert after and all(b["late"] for b in after if b["grouped"])
    # an ALL CLEAR closes its episode on the episode's highest level (before: "ALL CLEAR G1")
    rank = {f"G{i}": i for i in range(1, 6)}
    for b in bodies:
        if b["action"] == "all_clear" and b["family"] == "kp":
            levels = [m["level"] for m in log.messages() if m["episode"] == b["episode"]]
            assert rank[b["level"]] == max(rank[lvl] for lvl in levels), b
