"""Deployments register with schedules on a real local Prefect server; a triggered run executes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from data_sources.omni2 import parse_omni2

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its workers
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _api(method: str, url: str, **kwargs) -> dict | list:
    """Call the local Prefect API; retry while it answers 503 (busy on a loaded 2-core machine)."""
    for wait in (1, 2, 4, 8, 0):
        reply = requests.request(method, url, timeout=10, **kwargs)
        if reply.status_code != 503 or not wait:
            break
        time.sleep(wait)
    reply.raise_for_status()
    return reply.json()


def test_schedules_are_as_documented():
    from flows.deploy import Schedules, deployments

    deps = {d.name: d for d in deployments(Schedules())}
    crons = {n: d.schedules[0].schedule.cron for n, d in deps.items()}
    assert crons == {"hourly": "5 * * * *", "daily": "30 0 * * *", "weekly": "0 3 * * 0"}
    assert {d.flow_name for d in deps.values()} == {"forecast", "verify", "retrain"}


@pytest.mark.slow
def test_serve_all_registers_and_runs_a_triggered_forecast(tmp_path, data_dir):
    rec = tmp_path / "omni2_2015_q1.nc"
    parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat").sel(
        time=slice("2015-01-01", "2015-03-31")
    ).to_netcdf(rec)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        SUPERSTORM_HOME=str(tmp_path / "home"),
    )
    env.pop("SUPERSTORM_ALERT_WEBHOOK", None)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=open(tmp_path / "server.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(f"{api}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            assert time.time() < deadline, "prefect server did not answer /api/health in 60 s"
            time.sleep(0.5)
        env.update(PREFECT_API_URL=api, PREFECT_RUNNER_POLL_FREQUENCY="2")
        serve = subprocess.Popen(
            [sys.executable, "-m", "flows.deploy"],
            cwd=REPO,
            env=env,
            stdout=open(tmp_path / "serve.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # the three deployments appear with their schedules
        deadline = time.time() + 40
        while True:
            deps = _api("POST", f"{api}/deployments/filter", json={})
            if len(deps) == 3:
                break
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.time() < deadline, "deployments not registered within 40 s"
            time.sleep(1)
        by_name = {d["name"]: d for d in deps}
        assert by_name["hourly"]["schedules"][0]["schedule"]["cron"] == "5 * * * *"
        assert by_name["daily"]["schedules"][0]["schedule"]["cron"] == "30 0 * * *"
        assert by_name["weekly"]["schedules"][0]["schedule"]["cron"] == "0 3 * * 0"
        # trigger one forecast run (as the schedule would) and let the served process run it
        params = {
            "issue_time": "2015-03-17T10:00:00",
            "live": False,
            "recorded": str(rec),
            "baselines": [],
            "deliver": False,
            "dashboards": False,
        }
        run = _api(
            "POST",
            f"{api}/deployments/{by_name['hourly']['id']}/create_flow_run",
            json={"parameters": params},
        )
        assert "id" in run, run
        deadline = time.time() + 60
        while True:
            state = _api("GET", f"{api}/flow_runs/{run['id']}")["state"]
            if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert time.time() < deadline, f"flow run still {state['type']} after 60 s"
            time.sleep(1)
        assert state["type"] == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
        home = tmp_path / "home"
        assert (home / "archive" / "persistence" / "2015" / "persistence_20150317T1000.nc").exists()
        assert (home / "alerts" / "active.json").exists()
        arts = _api("POST", f"{api}/artifacts/filter", json={})
        assert any(a.get("key") == "forecast-summary" for a in arts)
        assert pd.Timestamp(state["timestamp"]) is not None
    finally:
        if serve is not None:
            _stop(serve)
        _stop(server)
