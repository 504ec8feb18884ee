"""Replay the 2015-03-17 St. Patrick's Day storm hour by hour, as if live (OMNI2 2015 file).

Recorded data: ``omni2_2015_hourlyavg.dat`` (provisional Dst, minimum -223 nT at 22:00 UT on
2015-03-17; Kp 5+ at 06-09 UT rising to 8- at 12-15 UT). The persistence baseline (fitted on
January-February 2015) is the primary model (no TFT registered), which keeps this fast.
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from data_sources.omni2 import parse_omni2
from flows import forecast as ff
from forecasting import archive
from forecasting.alerting import delivery
from forecasting.alerting.log import AlertLog
from tests.forecasting.alerting.test_delivery import Receiver

START, END = pd.Timestamp("2015-03-17 06:00"), pd.Timestamp("2015-03-18 12:00")


@pytest.fixture(scope="module")
def recorded(data_dir, tmp_path_factory):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")
    path = tmp_path_factory.mktemp("rec") / "omni2_2015_q1.nc"
    ds.sel(time=slice("2015-01-01", "2015-03-31")).to_netcdf(path)
    return path


def products(log: AlertLog):
    """(issue hour, action, kind, level) of every message except silent expiries."""
    return [
        (pd.Timestamp(m["run_time"].rstrip("Z")), m["action"], m["kind"], m["level"])
        for m in log.messages()
        if m["action"] != "expire"
    ]


@pytest.fixture(scope="module")
def replayed(recorded, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("replay") / "home"
    mp.setenv("SUPERSTORM_HOME", str(home))
    mp.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)
    mp.delenv("SUPERSTORM_ALERT_BLOCK", raising=False)
    runs = ff.replay(START, END, recorded=recorded, baselines=(), deliver=False)
    log = AlertLog()
    yield home, runs, log
    mp.undo()


def test_storm_alert_sequence(replayed):
    home, runs, log = replayed
    assert len(runs) == 30
    seq = products(log)
    at = lambda h: pd.Timestamp("2015-03-17") + pd.Timedelta(hours=h)  # noqa: E731
    kp_alerts = [(t, a, lvl) for t, a, k, lvl in seq if k == "ALERT" and lvl.startswith("G")]
    dst_alerts = [(t, a, lvl) for t, a, k, lvl in seq if k == "ALERT" and lvl.startswith("DST")]
    # ALERT on observation, G-scale in thirds as SWPC applies it (forecasting.schema.G_SCALE):
    # Kp 5- of 03-06 UT (G1) is known at 06:00, 6- of 06-09 UT (G2) at 09:00, 8- of 12-15 UT
    # (G4) at 15:00; Kp is still 5- (G1) at 03-06 UT on the 18th, so no ALL CLEAR by 12:00;
    # Dst -73 nT (09-10 UT) at 10:00; -106 nT (15-16 UT) at 16:00
    assert kp_alerts == [
        (at(6), "issue", "G1"),
        (at(9), "escalate", "G2"),
        (at(15), "escalate", "G4"),
    ]
    assert dst_alerts == [(at(10), "issue", "DST50"), (at(16), "escalate", "DST100")]
    # issue 12: no WARNING for a level an ALERT in force covers (persistence only repeats the
    # observed level, so it gives no warning at all here), and no WATCH for the current UTC
    # day once the storm began; one WATCH product per UTC day and run
    rank = {lvl: i for i, lvl in enumerate(["G1", "G2", "G3", "G4", "G5"], 1)}
    rank |= {"DST50": 1, "DST100": 2, "DST250": 3}
    alerted: dict[str, int] = {}
    for m in log.messages():
        fam, r = m["family"], rank.get(m["level"], 0)
        if m["kind"] == "ALERT" and m["action"] in ("issue", "escalate"):
            alerted[fam] = r
        if m["kind"] == "ALERT" and m["action"] == "all_clear":
            alerted[fam] = 0
        if m["kind"] == "WARNING" and m["action"] in ("issue", "escalate"):
            assert r > alerted.get(fam, 0), m["text"]
        if m["kind"] == "WATCH" and m["action"] in ("issue", "escalate") and alerted.get(fam):
            assert m["valid_start"][:10] > m["run_time"][:10], m["text"]
    watch_days = [
        (m["run_time"], m["valid_start"])
        for m in log.messages()
        if m["kind"] == "WATCH" and m["action"] in ("issue", "escalate")
    ]
    assert watch_days and max(Counter(watch_days).values()) == 1
    # no duplicates: one product per condition and window
    keys = Counter(
        (m["kind"], m["family"], m["level"], m["valid_start"], m["valid_end"])
        for m in log.messages()
        if m["action"] in ("issue", "escalate")
    )
    assert max(keys.values()) == 1
    # at most one active product per kind and family (watches: per UTC day)
    active = Counter(
        (a.kind, a.family, a.valid_start if a.kind == "WATCH" else None) for a in log.state().active
    )
    assert max(active.values(), default=1) == 1
    # the quiet solar wind stream never went stale in the recorded hours
    assert not [s for s in seq if s[2] == "STALE_INPUT"]


def test_archive_and_feed_after_replay(replayed):
    home, runs, log = replayed
    issues = archive.list_issues("persistence")
    assert list(issues["issue_time"]) == list(
        pd.date_range(START, END, freq="1h", inclusive="left")
    )
    fc = archive.load(START, "persistence")
    assert fc.attrs["model"] == "persistence" and fc.sizes["lead_time"] == 24
    assert pd.Timestamp(fc.attrs["data_cutoff"].rstrip("Z")) == START
    feed = json.loads((home / "alerts" / "active.json").read_text())
    assert sorted(r["serial"] for r in feed["alerts"]) == sorted(
        a.serial for a in log.state().active
    )
    assert {r["kind"] for r in feed["alerts"]} >= {"ALERT"}  # Dst still below -50 nT at the end
    assert "fell back to persistence" in runs[0]["models"][0]["note"]
    assert "Input freshness" in runs[-1]["summary"]


def test_crash_after_log_write_then_restart(recorded, home, monkeypatch):
    """An exception after the alert log commit (before delivery), then a restart.

    The restarted run of the same issue time adds nothing to the log, and every message
    reaches the receiver exactly once; the log equals that of an uninterrupted replay.
    """
    r = Receiver()
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        real = delivery.deliver_pending
        crash_at = pd.Timestamp("2015-03-17 06:00")  # the first run issues the G1 ALERT

        def crashing(log, run_time, **kw):
            if pd.Timestamp(run_time) == crash_at:
                raise RuntimeError("simulated crash after the log write")
            return real(log, run_time, **kw)

        monkeypatch.setattr(delivery, "deliver_pending", crashing)
        with pytest.raises(RuntimeError, match="simulated crash"):
            ff.replay("2015-03-17 06:00", "2015-03-17 12:00", recorded=recorded, baselines=())
        log = AlertLog()
        assert log.last_run() == crash_at
        before = log.messages()
        assert before and all(not m["delivered"] for m in before if m["notify"])
        monkeypatch.setattr(delivery, "deliver_pending", real)
        ff.replay("2015-03-17 06:00", "2015-03-17 12:00", recorded=recorded, baselines=())
        after = log.messages()
        assert [m["serial"] for m in after[: len(before)]] == [m["serial"] for m in before]
        sent = [json.loads(p["body"])["serial"] for p in r.payloads]
        assert sent == sorted(set(sent))  # each serial once, in order
        assert sent == [m["serial"] for m in after if m["notify"]]
        assert log.undelivered() == []
        # identical to an uninterrupted replay in a fresh home
        monkeypatch.setenv("SUPERSTORM_HOME", str(home.parent / "home2"))
        ff.replay("2015-03-17 06:00", "2015-03-17 12:00", recorded=recorded, baselines=())
        clean = AlertLog()
        assert [(m["action"], m["kind"], m["level"], m["run_time"]) for m in clean.messages()] == [
            (m["action"], m["kind"], m["level"], m["run_time"]) for m in after
        ]
    finally:
        r.stop()


def test_rerun_is_noop_and_older_run_refused(recorded, home):
    ff.replay("2015-03-17 08:00", "2015-03-17 10:00", recorded=recorded, baselines=())
    log = AlertLog()
    n = len(log.messages())
    res = ff.run_forecast(
        "2015-03-17 09:00", live=False, recorded=recorded, baselines=(), dashboards=False
    )
    assert res["alerts"]["repeat"] is True and "reused archive" in res["models"][0]["note"]
    assert len(log.messages()) == n
    from forecasting.alerting.log import RunOrderError

    # an issue time older than the newest logged run is refused by the log
    with pytest.raises(RunOrderError):
        ff.run_forecast(
            "2015-03-17 07:00", live=False, recorded=recorded, baselines=(), dashboards=False
        )


def test_verify_scores_the_replayed_day(replayed, recorded):
    from flows.verify import run_verify

    res = run_verify("2015-03-17", recorded=recorded, now="2015-03-19 12:00")
    assert res["models"] == ["persistence"] and res["rows"] == 48  # dst, kp x 24 leads
    daily = pd.read_csv(res["daily"])
    lead1 = daily[(daily["target"] == "dst") & (daily["lead_h"] == 1)].iloc[0]
    assert lead1["n"] == 18  # issue times 06:00 .. 23:00 of the day
    # persistence one hour ahead during a main phase: wrong by tens of nT, not hundreds
    assert 5 < lead1["rmse"] < 60
    again = run_verify("2015-03-17", recorded=recorded, now="2015-03-19 12:00")
    assert len(pd.read_csv(again["daily"])) == len(daily)  # a re-run replaces the day's rows
    import xarray as xr

    with xr.open_dataset(res["netcdf"]) as sc:
        assert set(sc["target"].values) == {"dst", "kp"} and "crps" in sc


def test_cli_alerts_list_json(replayed, capsys):
    from superstorm_cli.main import main

    assert main(["alerts", "list", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    log = replayed[2]
    assert sorted(r["serial"] for r in records) == sorted(a.serial for a in log.state().active)
    assert {
        "serial",
        "kind",
        "level",
        "probability",
        "issued",
        "valid_start",
        "valid_end",
        "status",
    } <= set(records[0])
    assert main(["alerts", "list", "--all"]) == 0
    table = capsys.readouterr().out
    # ended products are listed too (escalated ALERTs and WATCHes are superseded)
    assert "superseded" in table and "ALERT" in table


def test_cli_alerts_list_reads_a_named_log(replayed, capsys, tmp_path, monkeypatch):
    from superstorm_cli.main import main

    log = replayed[2]
    monkeypatch.setenv("SUPERSTORM_ALERT_LOG", str(tmp_path / "empty.sqlite"))
    assert main(["alerts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["alerts", "list", "--json", "--log", str(log.path)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert sorted(r["serial"] for r in records) == sorted(a.serial for a in log.state().active)
    assert main(["alerts", "list", "--log", str(tmp_path / "nope.sqlite")]) == 2
    assert "no alert log there" in capsys.readouterr().err
