"""Past issue times after later runs: replays and backfills use an alert log of their own."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from flows import forecast as ff
from forecasting.alerting.log import AlertLog, default_path
from superstorm_cli import main as cli


@pytest.fixture(autouse=True)
def _no_alert_log_override():
    """The CLI sets SUPERSTORM_ALERT_LOG for its process; never let it leak past a test."""
    os.environ.pop("SUPERSTORM_ALERT_LOG", None)
    yield
    os.environ.pop("SUPERSTORM_ALERT_LOG", None)


def _fake_run(seen):
    def run(t, **kw):
        seen.append((pd.Timestamp(t), os.environ.get("SUPERSTORM_ALERT_LOG")))
        AlertLog().record_run(t, [])
        return {"summary": "ok"}

    return run


def test_forecast_for_an_earlier_hour_is_a_backfill_in_its_own_log(home, monkeypatch, capsys):
    seen: list = []
    monkeypatch.setattr(ff, "run_forecast", _fake_run(seen))
    assert cli.main(["forecast", "--issue-time", "2024-05-10T20:00", "--offline"]) == 0
    assert seen[-1][1] is None  # the operational log
    assert AlertLog(default_path()).last_run() == pd.Timestamp("2024-05-10T20:00")
    os.environ.pop("SUPERSTORM_ALERT_LOG", None)

    assert cli.main(["forecast", "--issue-time", "2024-05-10T18:00", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "a backfill" in out
    backfill_log = seen[-1][1]
    assert backfill_log == str(home / "replays" / "20240510T1800" / "alerts.sqlite")
    # the operational log is untouched and still ends at 20:00
    os.environ.pop("SUPERSTORM_ALERT_LOG", None)
    assert AlertLog(home / "alerts.sqlite").last_run() == pd.Timestamp("2024-05-10T20:00")
    assert not AlertLog(home / "alerts.sqlite").has_run(pd.Timestamp("2024-05-10T18:00"))


def test_replay_never_writes_the_operational_log(home, monkeypatch, capsys):
    seen: list = []

    def replay(start, end, **kw):
        seen.append(os.environ.get("SUPERSTORM_ALERT_LOG"))
        return []

    monkeypatch.setattr(ff, "replay", replay)
    assert cli.main(["replay", "2015-03-17T00:00", "2015-03-19T00:00"]) == 0
    assert seen == [str(home / "replays" / "20150317T0000-20150319T0000" / "alerts.sqlite")]
    assert "operational alert log is left as it is" in capsys.readouterr().out
