"""The SQLite alert log: serials, idempotence, escalation, all-clear, feed, run order."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog, RunOrderError

T0 = pd.Timestamp("2015-03-17 09:00")
H = pd.Timedelta("1h")


def act(action, kind, level, t, *, family="kp", ref=None, start=None, end=None, p=0.8):
    return A.AlertAction(action, kind, family, level, p, start or t, end, t, refers_to=ref)


@pytest.fixture
def log(home):
    return AlertLog()


def test_issue_escalate_all_clear_episode(log, home):
    log.record_run(T0, [act(A.ISSUE, A.ALERT, "G1", T0)])
    (first,) = log.messages()
    assert first["serial"] == 1 and first["status"] == "active" and first["episode"] == 1
    log.record_run(T0 + H, [act(A.ESCALATE, A.ALERT, "G3", T0 + H, ref=1)])
    rows = {m["serial"]: m for m in log.messages()}
    assert rows[1]["status"] == "superseded" and rows[2]["status"] == "active"
    assert rows[2]["episode"] == 1 and rows[2]["refers_to"] == 1
    st = log.state()
    assert [(a.serial, a.level) for a in st.active] == [(2, "G3")]
    log.record_run(T0 + 2 * H, [act(A.ALL_CLEAR, A.ALERT, "G3", T0 + 2 * H, ref=2)])
    assert log.state().active == []
    assert log.messages()[-1]["action"] == "all_clear"
    feed = json.loads((home / "alerts" / "active.json").read_text())
    assert feed["alerts"] == []


def test_rerun_of_same_issue_time_is_a_noop(log):
    actions = [act(A.ISSUE, A.WARNING, "G2", T0, end=T0 + 6 * H)]
    first = log.record_run(T0, actions)
    again = log.record_run(T0, actions + [act(A.ISSUE, A.ALERT, "G1", T0)])
    assert [m["serial"] for m in again] == [m["serial"] for m in first] == [1]
    assert len(log.messages()) == 1 and log.has_run(T0)


def test_duplicate_condition_and_window_is_stored_once(log):
    a = act(
        A.ISSUE, A.WATCH, "G1", T0, start=pd.Timestamp("2015-03-18"), end=pd.Timestamp("2015-03-19")
    )
    log.record_run(T0, [a, a])
    assert len(log.messages()) == 1
    with sqlite3.connect(log.path) as con:
        with pytest.raises(sqlite3.IntegrityError):
            con.execute(
                "INSERT INTO messages (action, kind, family, level, valid_start, valid_end, "
                "issue_time, run_time, status, text, updated) SELECT action, kind, family, "
                "level, valid_start, valid_end, issue_time, run_time, status, text, updated "
                "FROM messages"
            )


def test_extend_updates_window_and_feed(log, home):
    log.record_run(T0, [act(A.ISSUE, A.WARNING, "G2", T0, end=T0 + 6 * H)])
    log.record_run(
        T0 + 4 * H, [act(A.EXTEND, A.WARNING, "G2", T0 + 4 * H, ref=1, start=T0, end=T0 + 10 * H)]
    )
    feed = json.loads((home / "alerts" / "active.json").read_text())
    (rec,) = feed["alerts"]
    assert rec["serial"] == 1 and rec["valid_end"] == "2015-03-17T19:00:00Z"
    assert rec["kind"] == "WARNING" and rec["level"] == "G2" and rec["status"] == "active"


def test_crash_inside_transaction_writes_nothing(log, monkeypatch):
    bad = act(A.EXTEND, A.WARNING, "G2", T0, ref=99, end=T0 + H)  # refers to nothing
    with pytest.raises(ValueError, match="serial 99"):
        log.record_run(T0, [act(A.ISSUE, A.ALERT, "G1", T0), bad])
    assert log.messages() == [] and not log.has_run(T0)
    log.record_run(T0, [act(A.ISSUE, A.ALERT, "G1", T0)])
    assert [m["serial"] for m in log.messages()] == [1]


def test_runs_only_move_forward(log):
    log.record_run(T0 + H, [])
    with pytest.raises(RunOrderError, match="older than the newest"):
        log.record_run(T0, [])


def test_delivery_bookkeeping(log):
    log.record_run(
        T0, [act(A.ISSUE, A.ALERT, "G1", T0), act(A.EXPIRE, A.WATCH, "G1", T0, ref=None)]
    )
    pending = log.undelivered()
    assert [m["serial"] for m in pending] == [1]  # expiries are not sent to operators
    log.record_delivery(1, outcome="failed", run_time=T0, channel="webhook", error="HTTP 500")
    assert [m["serial"] for m in log.undelivered()] == [1]
    log.record_delivery(1, outcome="delivered", run_time=T0 + H, channel="webhook")
    assert log.undelivered() == []
    assert [d["outcome"] for d in log.deliveries(1)] == ["failed", "delivered"]


def test_commit_run_evaluates_inside_the_lock_with_since(log):
    seen = []

    def rules(state, since):
        seen.append((len(state.active), since))
        return [] if state.active else [act(A.ISSUE, A.ALERT, "G1", T0)]

    msgs, repeat = log.commit_run(T0, rules)
    assert not repeat and [m["serial"] for m in msgs] == [1]
    msgs, repeat = log.commit_run(T0, rules)  # same issue time: not evaluated again
    assert repeat and len(seen) == 1
    log.commit_run(T0 + H, rules)
    assert seen == [(0, None), (1, T0)]


def test_future_issue_time_refused_and_never_blocks(log, monkeypatch):
    from forecasting.alerting import log as log_mod

    monkeypatch.setattr(log_mod, "wall_clock", lambda: T0)
    with pytest.raises(log_mod.FutureIssueTimeError, match="ahead of the clock"):
        log.record_run(T0 + pd.Timedelta("31D"), [])
    assert not log.has_run(T0 + pd.Timedelta("31D"))
    log.record_run(T0 + 2 * H, [])  # within the 2 h tolerance
    monkeypatch.setenv("SUPERSTORM_FUTURE_TOLERANCE_HOURS", "0")
    with pytest.raises(log_mod.FutureIssueTimeError):
        log.record_run(T0 + 3 * H, [])
    monkeypatch.setenv("SUPERSTORM_FUTURE_TOLERANCE_HOURS", "two")
    with pytest.raises(ValueError, match="not a number of hours"):
        log.record_run(T0 + 3 * H, [])
    monkeypatch.delenv("SUPERSTORM_FUTURE_TOLERANCE_HOURS")
    # a future row written before this check existed does not block later runs
    with sqlite3.connect(log.path) as con:
        con.execute(
            "INSERT INTO runs (run_time, committed, n_messages) VALUES "
            "('2015-04-17T09:00:00Z', 'x', 0)"
        )
    monkeypatch.setattr(log_mod, "wall_clock", lambda: T0 + 3 * H)
    log.record_run(T0 + 3 * H, [act(A.ISSUE, A.ALERT, "G1", T0 + 3 * H)])
    assert log.last_run() == T0 + 3 * H


def test_old_log_gains_the_lease_columns(home):
    path = home / "alerts.sqlite"
    path.parent.mkdir(parents=True)
    old_schema = (
        "CREATE TABLE messages (serial INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, "
        "kind TEXT NOT NULL, family TEXT NOT NULL, level TEXT NOT NULL, probability REAL, "
        "valid_start TEXT NOT NULL, valid_end TEXT NOT NULL DEFAULT '', issue_time TEXT NOT NULL, "
        "run_time TEXT NOT NULL, refers_to INTEGER, episode INTEGER, status TEXT NOT NULL, "
        "notify INTEGER NOT NULL DEFAULT 1, text TEXT NOT NULL, updated TEXT NOT NULL, "
        "UNIQUE (action, kind, family, level, valid_start, valid_end, run_time))"
    )
    with sqlite3.connect(path) as con:
        con.execute(old_schema)
    log = AlertLog(path)
    log.record_run(T0, [act(A.ISSUE, A.ALERT, "G1", T0)])
    assert log.claim("me:1:x")["serial"] == 1


def test_claim_is_exclusive_and_released_on_record(log):
    log.record_run(T0, [act(A.ISSUE, A.ALERT, "G1", T0)])
    import os
    import socket

    me = f"{socket.gethostname()}:{os.getpid()}:a"
    assert log.claim(me)["serial"] == 1
    assert log.claim(f"{socket.gethostname()}:{os.getpid()}:b") is None  # leased, owner alive
    log.record_delivery(1, outcome="failed", run_time=T0, channel="t", error="x", owner=me)
    assert log.claim(me)["serial"] == 1  # a failure releases the lease
    log.record_delivery(1, outcome="delivered", run_time=T0, channel="t", owner=me)
    assert log.claim(me) is None  # a recorded success is never claimed again
    # a lease whose owner died is taken over at once
    log.record_run(T0 + H, [act(A.ISSUE, A.WARNING, "G2", T0 + H, end=T0 + 6 * H)])
    assert log.claim(f"{socket.gethostname()}:999999999:dead")["serial"] == 2
    assert log.claim(me)["serial"] == 2
