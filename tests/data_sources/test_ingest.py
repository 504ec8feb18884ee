"""ingest() through the loopback mirror: read back, faults leave the store as it was, CLI."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from data_sources import ingest as ingest_mod
from data_sources.base import Source
from data_sources.http import DownloadError
from data_sources.ingest import ingest, ingest_recorded
from data_sources.store import Store
from superstorm_cli.main import main

OMNI = "spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni"


def _snapshot(store: Store) -> dict[str, str]:
    if not store.root.exists():
        return {}
    return {
        str(p.relative_to(store.root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.root.rglob("*"))
        if p.is_file()
    }


def _fill_file(raw: bytes) -> bytes:
    """The same hours with every data word set to its fill (all 9s)."""
    out = []
    for line in raw.splitlines():
        words = line.split()
        out.append(b" ".join(words[:3] + [b"99999999."] * 52))
    return b"\n".join(out) + b"\n"


def test_ingest_then_read_back(mirrored_home):
    paths = ingest("omni2", "2023-06-01", "2024-07-01")
    assert [p.name for p in paths] == ["omni2_2023.nc", "omni2_2024.nc"]
    ds = Store().read("omni2", "2024-05-10", "2024-05-13")
    assert float(ds["dst"].min()) == -406.0
    assert ds["dst"].idxmin().values == np.datetime64("2024-05-11T02:00")
    # the request was clipped to [start, end)
    full = Store().read("omni2")
    assert str(full.indexes["time"][0]) == "2023-06-01 00:00:00"
    assert str(full.indexes["time"][-1]) == "2024-06-30 23:00:00"


def test_unknown_source_lists_known_ones(mirrored_home):
    with pytest.raises(KeyError, match="unknown source 'omni3'; use one of omni2, .*swpc"):
        ingest("omni3", "2024-01-01", "2024-02-01")
    with pytest.raises(ValueError, match="before end"):
        ingest("omni2", "2024-02-01", "2024-01-01")


def test_server_error_then_success_is_retried(mirrored_home, fresh_mirror):
    path = f"{OMNI}/omni2_2024.dat"
    fresh_mirror.faults.fail_next[path] = 1
    paths = ingest("omni2", "2024-01-01", "2024-02-01", backoff=0.01)
    assert fresh_mirror.faults.requests.count(path) == 2
    assert Store().read("omni2").sizes["time"] == 744
    assert paths[0].name == "omni2_2024.nc"


def test_timeout_leaves_store_untouched(mirrored_home, fresh_mirror):
    store = Store()
    ingest("omni2", "2023-01-01", "2023-02-01", store=store)
    before = _snapshot(store)
    fresh_mirror.faults.delay_s[f"{OMNI}/omni2_2024.dat"] = 1.0
    with pytest.raises(DownloadError, match="omni2_2024.dat"):
        ingest("omni2", "2023-01-01", "2025-01-01", store=store, timeout=0.2, retries=0)
    assert _snapshot(store) == before


def test_truncated_download_leaves_store_untouched(mirrored_home, fresh_mirror):
    store = Store()
    ingest("omni2", "2024-01-01", "2025-01-01", store=store)
    before = _snapshot(store)
    fresh_mirror.faults.truncate.add(f"{OMNI}/omni2_2023.dat")
    with pytest.raises(DownloadError):
        ingest("omni2", "2023-01-01", "2025-01-01", store=store, retries=1, backoff=0.01)
    assert _snapshot(store) == before
    assert not list(store.root.rglob("*.part"))


def test_file_of_fill_values(mirrored_home, fresh_mirror, data_dir):
    raw = (data_dir / "omni2_low_res" / "omni2_2024.dat").read_bytes()
    fresh_mirror.faults.replace[f"{OMNI}/omni2_2024.dat"] = _fill_file(raw)
    # into an empty store: stored, all NaN
    fresh = Store(mirrored_home / "fresh")
    ingest("omni2", "2024-01-01", "2025-01-01", store=fresh, refresh=True)
    ds = fresh.read("omni2")
    assert ds.sizes["time"] == 8784 and bool(ds["dst"].isnull().all())
    # over stored data: nothing of 2024 lost, 2023 untouched
    fresh_mirror.faults.replace.clear()
    store = Store()
    ingest("omni2", "2023-01-01", "2025-01-01", store=store, refresh=True)
    before = _snapshot(store)
    fresh_mirror.faults.replace[f"{OMNI}/omni2_2024.dat"] = _fill_file(raw)
    ingest("omni2", "2023-01-01", "2025-01-01", store=store, refresh=True)
    assert _snapshot(store) == before
    assert float(store.read("omni2")["dst"].min()) == -406.0


def test_reingest_is_idempotent(mirrored_home):
    store = Store()
    ingest("omni2", "2024-01-01", "2025-01-01", store=store)
    before = _snapshot(store)
    ingest("omni2", "2024-01-01", "2025-01-01", store=store, refresh=True)
    assert _snapshot(store) == before


def test_ingest_recorded_omni2_with_real_gaps(home, data_dir, fresh_mirror):
    store = Store()
    summary = ingest_recorded(
        data_dir,
        store=store,
        sources=["omni2"],
        spans={"omni2": ("2000-01-01", "2005-01-01")},
        mirror=fresh_mirror,
    )
    info = summary["omni2"]
    assert info["error"] is None
    assert info["years"] == [2000, 2002, 2004]  # 2001 and 2003 are not recorded: gaps
    assert info["times"] == 8784 + 8760 + 8784
    assert store.years("omni2") == [2000, 2002, 2004]
    ds = store.read("omni2", "2004-11-08", "2004-11-09")
    assert float(ds["dst"].min()) == -374.0  # November 2004 storm (MANIFEST)
    assert "SUPERSTORM_MIRROR" not in os.environ


def test_ingest_recorded_swpc_and_local_extract(home, data_dir, fresh_mirror):
    store = Store()
    names = ["swpc_dst", "swpc_kp", "local_omni_hourly_csv", "local_nonexistent"]
    summary = ingest_recorded(data_dir, store=store, sources=names, mirror=fresh_mirror)
    assert summary["swpc_dst"]["years"] == [2022] and summary["swpc_dst"]["times"] == 168
    assert summary["swpc_kp"]["error"] is None and summary["swpc_kp"]["store"] == "swpc"
    assert summary["local_omni_hourly_csv"]["years"] == [1998, 1999, 2000, 2002]
    assert "unknown local preset" in summary["local_nonexistent"]["error"]
    bastille = store.read("local_omni_hourly_csv", "2000-07-15", "2000-07-17")
    assert float(bastille["dst"].min()) == -301.0  # MANIFEST: Bastille Day storm
    dst = store.read("swpc", "2022-07-14", "2022-07-22")["dst"]
    assert int(dst.notnull().sum()) == 168


def test_ingest_recorded_reports_failures_per_source(home, data_dir, fresh_mirror, monkeypatch):
    def broken(start, end, **kw):
        raise ConnectionError("upstream nonexistent")

    monkeypatch.setitem(ingest_mod.SOURCES, "omni2", Source("omni2", broken))
    summary = ingest_recorded(data_dir, store=Store(), sources=["omni2"], mirror=fresh_mirror)
    assert "nonexistent" in summary["omni2"]["error"]
    assert Store().sources() == []


def test_cli_ingest_and_summary(mirrored_home, capsys):
    assert (
        main(["ingest", "--source", "omni2", "--start", "2024-05-01", "--end", "2024-06-01"]) == 0
    )
    out = capsys.readouterr().out
    assert "omni2_2024.nc" in out
    assert main(["dataset", "summary", "--start", "2024-05-01", "--end", "2024-06-01"]) == 0
    out = capsys.readouterr().out
    assert "peak -406 nT at 2024-05-11 02:00:00" in out
    assert main(["ingest", "--source", "omni2"]) == 2  # --start/--end missing: clear error
    assert "--source needs --start and --end" in capsys.readouterr().err
