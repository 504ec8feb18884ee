"""Retention: old inputs, archive, Prefect runs and orphan temp files go; the store stays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from forecasting.retention import RetentionPolicy, prune
from superstorm_cli.main import main

NOW = pd.Timestamp("2026-06-01T00:00")


def _touch(path: Path, *, age_s: float = 0.0, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = NOW.tz_localize("UTC").timestamp() - age_s
    os.utime(path, (t, t))
    return path


@pytest.fixture
def tree(home):
    files = {
        "old_input": _touch(home / "runs/inputs/inputs_20260401T0000.nc"),
        "new_input": _touch(home / "runs/inputs/inputs_20260531T2300.nc"),
        "old_archive": _touch(home / "archive/tft/2023/tft_20230101T0000.nc"),
        "new_archive": _touch(home / "archive/tft/2026/tft_20260531T2300.nc"),
        "store": _touch(home / "store/omni2/omni2_2020.nc", age_s=1e8),
        "lock": _touch(home / "store/omni2/.lock", age_s=1e8),
        "old_part": _touch(home / "store/omni2/.omni2_2024.nc.abc123.part", age_s=7200),
        "new_part": _touch(home / "store/omni2/.omni2_2025.nc.def456.part", age_s=60),
        "old_tmp": _touch(home / "archive/tft/2026/.tft_20260530T0000-xyz.nc.tmp", age_s=7200),
        "registry_tmp": _touch(
            home / "models/tft/.20260101T000000-quick.ab12/checkpoint.pt", age_s=7200
        ),
        "registry_version": _touch(
            home / "models/tft/20260101T000000-quick/metadata.json", age_s=1e8
        ),
        "legacy_pkl": _touch(home / "models/baselines/persistence_20260501T0000.pkl"),
        "baseline_json": _touch(home / "models/baselines/persistence_20260501T0000.json"),
        "old_quarantine": _touch(
            home / "store/omni2/.quarantine/omni2_2024.nc.x.corrupt", age_s=40 * 86400
        ),
        "validators": _touch(home / "cache/swpc/.plasma-7-day.json.http.json", age_s=1e8),
    }
    os.utime(files["registry_tmp"].parent, (NOW.timestamp() - 7200,) * 2)
    return files


GONE = {
    "old_input",
    "old_archive",
    "old_part",
    "old_tmp",
    "registry_tmp",
    "legacy_pkl",
    "old_quarantine",
}


def test_prune_removes_only_what_policy_drops(tree, home):
    report = prune(RetentionPolicy(), home=home, now=NOW, prefect=False)
    for key, path in tree.items():
        assert path.exists() == (key not in GONE), key
    assert not (home / "models/tft/.20260101T000000-quick.ab12").exists()
    assert not (home / "archive/tft/2023").exists()  # emptied year folder removed
    assert report.count("inputs") == 1 and report.count("archive") == 1
    assert report.freed_bytes > 0 and not report.errors


def test_dry_run_deletes_nothing(tree, home):
    report = prune(RetentionPolicy(), home=home, now=NOW, prefect=False, dry_run=True)
    assert all(p.exists() for p in tree.values())
    assert report.count("temp") == 3 and report.dry_run


def test_policy_from_config_and_bad_values(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[retention]\ninputs_days = 7\narchive_days = "keep"\n')
    policy = RetentionPolicy.from_config(prefect_days=3)
    assert policy.inputs_days == 7 and policy.archive_days is None and policy.prefect_days == 3
    (home / "config.toml").write_text("[retention]\ninput_days = 7\n")
    with pytest.raises(ValueError, match="unknown \\[retention\\] key.*input_days"):
        RetentionPolicy.from_config()
    with pytest.raises(ValueError, match="archive_days = -5"):
        RetentionPolicy(archive_days=-5)


def test_kill_9_between_write_and_rename_leaves_a_temp_file_that_prune_sweeps(home, tmp_path):
    target = home / "store" / "omni2" / "omni2_2024.nc"
    script = textwrap.dedent(
        f"""
        import os, time
        from data_sources import http
        os.replace = lambda *a: (print("written", flush=True), time.sleep(60))
        http.atomic_write_bytes({str(target)!r}, b"x" * 100000)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    orphans = list(target.parent.glob(".omni2_2024.nc.*.part"))
    assert len(orphans) == 1 and not target.exists()
    later = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta("2h")
    report = prune(RetentionPolicy(), home=home, now=later, prefect=False)
    assert report.count("temp") == 1 and not orphans[0].exists()


def test_cli_prune(tree, home, capsys):
    assert main(["prune", "--no-prefect", "--dry-run", "--inputs-days", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "inputs: would remove" in out and "temp: would remove" in out
    assert all(p.exists() for p in tree.values())


class _FakeRun:
    def __init__(self, start):
        import uuid

        self.id = uuid.uuid4()
        self.start = start


class _FakeClient:
    """The two Prefect client calls prune uses, over an in-memory run list."""

    def __init__(self, runs):
        self.runs = runs
        self.deleted = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def read_flow_runs(self, *, flow_run_filter, limit, offset):
        before = flow_run_filter.start_time.before_
        states = set(flow_run_filter.state.type.any_)
        assert {s.value for s in states} == {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
        hits = [r for r in self.runs if r.start < before]
        return hits[offset : offset + limit]

    def delete_flow_run(self, run_id):
        self.deleted.append(run_id)
        self.runs = [r for r in self.runs if r.id != run_id]


def test_prefect_run_history_pruned_fake_client(monkeypatch):
    import prefect.client.orchestration as orchestration

    from forecasting.retention import prune_prefect_runs

    now = pd.Timestamp("2026-06-01", tz="UTC")
    runs = [_FakeRun((now - pd.Timedelta(days=d)).to_pydatetime()) for d in range(0, 500, 2)]
    fake = _FakeClient(runs)
    monkeypatch.setattr(orchestration, "get_client", lambda sync_client: fake)
    assert prune_prefect_runs(30, now=now, dry_run=True) == 234 and not fake.deleted
    assert prune_prefect_runs(30, now=now) == 234
    assert len(fake.runs) == 16 and len(fake.deleted) == 234


@pytest.mark.skipif(
    not os.environ.get("SUPERSTORM_PREFECT_TESTS"),
    reason="starts a Prefect test server (~80 s on the shared machine); set SUPERSTORM_PREFECT_TESTS=1",
)
def test_prefect_run_history_pruned():
    from prefect import flow
    from prefect.testing.utilities import prefect_test_harness

    from forecasting.retention import prune_prefect_runs

    @flow
    def tiny() -> int:
        return 1

    with prefect_test_harness(server_startup_timeout=120):
        tiny()
        tiny()
        later = pd.Timestamp.now(tz="UTC") + pd.Timedelta("2D")
        assert prune_prefect_runs(30, now=later) == 0  # younger than 30 days: kept
        assert prune_prefect_runs(1, now=later, dry_run=True) == 2
        assert prune_prefect_runs(1, now=later) == 2
        assert prune_prefect_runs(1, now=later) == 0


def test_kill_9_at_random_points_of_store_writes(home, data_dir):
    """Kill a process writing the store at random moments: no corrupt file, temps swept."""
    import random
    import warnings

    from data_sources.store import CorruptStoreWarning, Store

    script = textwrap.dedent(
        f"""
        import sys
        from data_sources.omni2 import parse_omni2
        from data_sources.store import Store
        ds = parse_omni2({str(data_dir / "omni2_low_res" / "omni2_2024.dat")!r})
        store = Store()
        print("ready", flush=True)
        i = 0
        while True:
            i += 1
            part = ds.isel(time=slice(0, 2000 + (i * 997) % 6000)).copy()
            part["dst"] = part["dst"] + i  # new content every time: a real rewrite
            store.write("omni2", part)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    rng = random.Random(11)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.3, 2.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CorruptStoreWarning)
            if Store().years("omni2"):
                assert Store().read("omni2").sizes["time"] >= 2000
    later = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta("2h")
    prune(RetentionPolicy(), home=home, now=later, prefect=False)
    assert not list((home / "store").rglob("*.part"))
