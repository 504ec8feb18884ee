"""Fault injection on the alert path (issue 11): every fault on loopback, every count zero.

Recorded data: the 2015-03-17 storm in ``omni2_2015_hourlyavg.dat`` (Kp 5+ at 06-09 UT, 8- at
12-15 UT; Dst minimum -223 nT at 22 UT), persistence as the primary model (no TFT registered).
The webhook receiver (:class:`tests.forecasting.alerting.test_delivery.Receiver`) honours
``Idempotency-Key``: ``payloads`` are the deliveries an operator sees, ``keys`` every request.
Each test states the fault, then checks: 0 duplicate deliveries, 0 duplicate alerts, 0 lost
alerts, 0 false alerts, no blocked run, and a clear message for the operator.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from flows import forecast as ff
from forecasting.alerting import delivery
from forecasting.alerting import log as log_mod
from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog
from tests.flows.alert_harness import at, duplicates, lost, product_keys, replay, run
from tests.forecasting.alerting.test_delivery import Receiver

# ---------------------------------------------------------------- concurrent runs


def test_two_runs_for_the_same_issue_time_at_once(recorded, home, receiver, fast_retries):
    """Fault: two hourly runs of the same issue time race (2 issue times of the storm)."""
    run(at(8), recorded)
    for h in (9, 10):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def one(h=h, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                run(at(h), recorded)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert not errors, errors
    log = AlertLog()
    notify = [m["serial"] for m in log.messages() if m["notify"]]
    assert notify and duplicates(receiver.keys) == 0  # not one second POST
    assert sorted(receiver.serials()) == notify and lost(log) == []
    assert duplicates(product_keys(log)) == 0


def test_runs_for_two_consecutive_hours_at_once(recorded, home, tmp_path, receiver, fast_retries):
    """Fault: the 15:00 and 16:00 runs start together, both seeing the Kp 8- of 12-15 UT."""
    replay(at(12), at(15), recorded)
    base = Path(os.environ["SUPERSTORM_HOME"])
    refused = 0
    for trial in range(3):
        trial_home = tmp_path / f"trial{trial}"
        shutil.copytree(base, trial_home)
        os.environ["SUPERSTORM_HOME"] = str(trial_home)
        barrier = threading.Barrier(2)
        outcome: dict = {}

        def one(t, barrier=barrier, outcome=outcome):
            barrier.wait()
            try:
                run(t, recorded)
                outcome[t] = "ok"
            except log_mod.RunOrderError as exc:
                outcome[t] = f"refused: {exc}"

        threads = [threading.Thread(target=one, args=(t,)) for t in (at(15), at(16))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        log = AlertLog()
        g4 = [m for m in log.messages() if m["kind"] == "ALERT" and m["level"] == "G4"]
        assert [m["action"] for m in g4] == ["escalate"], g4  # exactly one ESCALATED ALERT G4
        assert len([a for a in log.state().active if a.kind == "ALERT" and a.family == "kp"]) == 1
        assert duplicates(product_keys(log)) == 0
        assert outcome[at(16)] == "ok"  # the newer run always lands
        # the older run either landed first or was refused with a clear message
        assert outcome[at(15)] == "ok" or "only moves forward" in outcome[at(15)]
        refused += outcome[at(15)] != "ok"
    os.environ["SUPERSTORM_HOME"] = str(base)
    assert refused <= 3


def test_two_overlapping_deliveries(home, monkeypatch):
    """Fault: two delivery rounds (threads) over the same 8 pending messages, slow receiver."""
    r = Receiver(hang=0.05)
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        log = AlertLog()
        t = at(9)
        log.record_run(
            t,
            [
                A.AlertAction(A.ISSUE, A.WATCH, "kp", f"G{1 + i % 4}", 0.6, d, d, t)
                for i, d in enumerate(pd.date_range(at(24), periods=8, freq="1D"))
            ],
        )
        barrier = threading.Barrier(2)

        def one():
            barrier.wait()
            delivery.deliver_pending(AlertLog(), t, retry_delays=(0.01,))

        threads = [threading.Thread(target=one) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert r.requests == 8 and duplicates(r.keys) == 0
        assert sorted(r.serials()) == list(range(1, 9)) and lost(log) == []
    finally:
        r.stop()


# --------------------------------------------------------------------- clock jump


def test_issue_time_31_days_ahead_is_refused_and_blocks_nothing(recorded, home, monkeypatch):
    clock = {"now": at(11)}
    monkeypatch.setattr(log_mod, "wall_clock", lambda: clock["now"])
    run(at(10), recorded, deliver=False)
    with pytest.raises(log_mod.FutureIssueTimeError, match="ahead of the clock") as err:
        run(at(10) + pd.Timedelta("31D"), recorded, deliver=False)
    assert "nothing was logged" in str(err.value)
    from forecasting import archive

    assert archive.list_issues("persistence")["issue_time"].max() == at(10)  # nothing archived
    ok = 0
    for h in range(11, 15):  # the following normal runs (measured over 12 in the note)
        clock["now"] = at(h) + pd.Timedelta("5min")
        run(at(h), recorded, deliver=False)
        ok += 1
    assert ok == 4 and AlertLog().last_run() == at(14)


# ------------------------------------------------------------ out-of-range values


def _inputs_file(tmp_path, recorded, t, **edits) -> str:
    with xr.open_dataset(recorded) as ds:
        obs = ds.sel(time=slice(t - pd.Timedelta("3D"), t - pd.Timedelta("1h"))).load()
    for name, value in edits.items():
        obs[name].loc[{"time": t - pd.Timedelta("1h")}] = value
    path = tmp_path / f"inputs_{len(list(tmp_path.iterdir()))}.nc"
    obs.to_netcdf(path)
    return str(path)


def test_out_of_range_observations_never_raise_an_alert(recorded, home, tmp_path):
    """Fault: one Dst of -99998 nT (a fill value) and Kp 99 in a quiet hour's inputs."""
    t = pd.Timestamp("2015-03-10 12:00")  # quiet: Dst ~ -10 nT, Kp ~ 2
    path = _inputs_file(tmp_path, recorded, t, dst=-99998.0, kp=99.0, v_sw=np.inf)
    res = ff.step_alerts(None, path, t)
    alerts = [m for m in res["messages"] if m["kind"] in ("ALERT", "WARNING", "WATCH")]
    assert alerts == []  # no DST250 superstorm, no G5
    assert res["out_of_range"]["observed"] == {"dst": 1, "kp": 1, "v_sw": 1}


def test_out_of_range_forecast_never_raises_a_warning(recorded, home, tmp_path):
    t = pd.Timestamp("2015-03-10 12:00")
    inputs = _inputs_file(tmp_path, recorded, t)
    res_model = ff.step_model("persistence", inputs, t, recorded=recorded)
    with xr.open_dataset(res_model["path"]) as f:
        fc = f.load()
    fc["dst"][..., 0, :] = -5000.0  # a diverged model: Dst -5000 nT at lead 1
    bad = tmp_path / "bad_fc.nc"
    fc.to_netcdf(bad)
    res = ff.step_alerts(str(bad), inputs, t)
    kinds = [(m["kind"], m["level"]) for m in res["messages"]]
    assert ("WARNING", "DST250") not in kinds and not [k for k in kinds if k[0] == "WARNING"]
    assert res["out_of_range"]["forecast"]["dst"] > 0
    assert ("FORECAST_UNAVAILABLE", "forecast") in kinds  # said, not silent


def test_infinite_speed_no_main_forecast_fails_loudly(
    recorded, home, receiver, fast_retries, monkeypatch
):
    """Fault: v_sw = inf -> the primary model gives no forecast. Before: exit code 0."""
    real = ff.step_model

    def primary_fails(name, inputs_path, t, **kw):
        if name == "primary":
            return {
                "model": "tft",
                "version": "",
                "path": None,
                "note": "tft: input v_sw inf",
                "horizon": 24,
            }
        return real(name, inputs_path, t, **kw)

    run(at(14), recorded)  # a normal hour first
    monkeypatch.setattr(ff, "step_model", primary_fails)
    with pytest.raises(ff.ForecastUnavailableError, match="no usable primary forecast") as err:
        run(at(15), recorded)
    assert "warnings in force stay in force" in str(err.value)
    res = err.value.result
    log = AlertLog()
    kinds = [(m["kind"], m["action"]) for m in log.messages(run_time=at(15))]
    assert ("FORECAST_UNAVAILABLE", "issue") in kinds
    assert ("ALERT", "escalate") in kinds  # observations still alert (Kp 8- at 15:00)
    assert not [k for k in kinds if k == ("WARNING", "cancel")]
    notice = [json.loads(p["body"]) for p in receiver.payloads]
    assert any(b["kind"] == "FORECAST_UNAVAILABLE" for b in notice)
    assert res["alerts"]["unavailable"] == "no primary forecast"
    # the CLI exits non-zero with a one-line error
    from superstorm_cli.main import main

    rc = main(["forecast", "--issue-time", "2015-03-17T16:00", "--recorded", str(recorded)])
    assert rc != 0
    # the next hour with a forecast clears the notice
    monkeypatch.setattr(ff, "step_model", real)
    run(at(17), recorded)
    cleared = [m for m in log.messages(run_time=at(17)) if m["kind"] == "FORECAST_UNAVAILABLE"]
    assert [m["action"] for m in cleared] == ["all_clear"]


def test_failed_run_hook_tells_the_operator(receiver):
    """``on_failure`` of the forecast flow sends the failure through the alert channel."""

    class FlowRun:
        id = "1234"
        name = "hourly-run"
        parameters = {"issue_time": "2015-03-17T15:00:00"}

    class State:
        message = "Task run 'refresh-inputs' failed: TimeoutError after 300 s"

    ff.notify_run_failed(None, FlowRun(), State())
    (p,) = receiver.payloads
    body = json.loads(p["body"])
    assert body["kind"] == "RUN_FAILED" and receiver.keys == ["run-failed-1234"]
    assert "refresh-inputs" in body["message"] and "FAILED" in body["message"]
    assert "secret-token" not in p["body"]
    # a failure for want of a forecast already sent its notice: no second message
    State.message = "no usable primary forecast ...; a FORECAST_UNAVAILABLE notice was issued"
    ff.notify_run_failed(None, FlowRun(), State())
    assert len(receiver.payloads) == 1


def test_every_task_and_delivery_has_a_timeout():
    for t in (ff.inputs_task, ff.model_task, ff.alerts_task, ff.deliver_task, ff.dash_task):
        assert t.timeout_seconds and t.timeout_seconds <= 600, t.name
    assert ff.forecast_flow.on_failure_hooks == [ff.notify_run_failed]
    from flows.deploy import deployments

    assert deployments()[0].concurrency_limit == 1  # hourly runs never overlap in Prefect


def test_hanging_webhook_cannot_hold_a_run(recorded, home, monkeypatch, fast_retries):
    """Fault: the webhook never answers (30 s). Before: one hourly run took 400 s."""
    r = Receiver(hang=30.0)
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        monkeypatch.setenv("SUPERSTORM_ALERT_TIMEOUT", "1")
        run(at(8), recorded, deliver=False)
        t0 = time.monotonic()
        res = run(at(9), recorded)  # ALERT G1 + ALERT... pending
        took = time.monotonic() - t0
        assert res["delivered"]["delivered"] == 0 and res["delivered"]["failed"] >= 1
        assert took < 15, took  # one 1 s try, then the round stops: the channel hangs
        assert r.requests == 1
    finally:
        r.httpd.shutdown()
        r.httpd.server_close()
