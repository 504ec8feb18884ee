"""The Prefect ingest flow: thin wiring around data_sources.ingest (retries, paths not frames)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness

from data_sources.store import Store
from flows.ingest import check_store, ingest_flow, ingest_source


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_network_task_retries():
    assert ingest_source.retries == 3
    assert ingest_source.retry_delay_seconds == [2, 5, 15]


def test_task_logic_without_prefect(mirrored_home):
    paths = ingest_source.fn("omni2", "2024-05-01", "2024-06-01")
    assert paths == [str(mirrored_home / "store" / "omni2" / "omni2_2024.nc")]
    assert all(isinstance(p, str) for p in paths)  # paths travel between tasks, not frames
    assert check_store.fn(paths) == {"omni2": 1}
    with pytest.raises(FileNotFoundError, match="missing after ingest"):
        check_store.fn([str(mirrored_home / "nope.nc")])


def test_flow_runs_and_retries_a_failed_download(harness, mirrored_home, fresh_mirror, monkeypatch):
    # the first task try gets HTTP 500 on every HTTP try; Prefect's retry then succeeds
    from data_sources import http

    monkeypatch.setattr(http.time, "sleep", lambda s: None)
    monkeypatch.setattr(ingest_source, "retry_delay_seconds", [0, 0, 0])
    path = "spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/omni2_2024.dat"
    fresh_mirror.faults.fail_next[path] = 4  # fetch_bytes tries 4 times, then gives up
    result = ingest_flow(["omni2"], "2024-05-01", "2024-06-01")
    assert result == {"omni2": [str(mirrored_home / "store" / "omni2" / "omni2_2024.nc")]}
    assert fresh_mirror.faults.requests.count(path) == 5
    ds = Store().read("omni2")
    assert float(ds["dst"].min()) == -406.0
    assert Path(result["omni2"][0]).is_file()
