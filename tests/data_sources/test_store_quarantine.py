"""A corrupt store file is quarantined, reported, and restored by a re-ingest."""

from __future__ import annotations

import pytest

from data_sources.ingest import ingest
from data_sources.store import QUARANTINE, CorruptStoreWarning, Store


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_year_quarantined_then_reingested(mirrored_home, damage):
    ingest("omni2", "2023-01-01", "2025-01-01")
    store = Store()
    path = store.path("omni2", 2024)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])  # disk full mid-write by another tool
    elif damage == "garbage":
        path.write_bytes(raw[:2000] + b"\x00" * 5000 + raw[7000:])
    else:
        path.write_bytes(b"")
    with pytest.warns(
        CorruptStoreWarning,
        match=r"omni2_2024\.nc is unreadable.*superstorm ingest --source omni2 --start 2024-01-01 --end 2025-01-01",
    ):
        ds = store.read("omni2")
    assert sorted(set(ds.indexes["time"].year)) == [2023]  # the good year is still served
    assert not path.exists() and len(store.quarantined("omni2")) == 1
    assert store.quarantined("omni2")[0].parent.name == QUARANTINE
    assert store.years("omni2") == [2023]
    ingest("omni2", "2024-01-01", "2025-01-01")  # the re-ingest the message asks for
    ds = store.read("omni2", "2024-01-01", "2025-01-01")
    assert ds.sizes["time"] == 8784 and float(ds["dst"].min()) == -406.0


def test_write_over_corrupt_file_starts_afresh(mirrored_home):
    ingest("omni2", "2024-01-01", "2025-01-01")
    store = Store()
    store.path("omni2", 2024).write_bytes(b"CDF\x01 not really")
    with pytest.warns(CorruptStoreWarning):
        ingest("omni2", "2024-01-01", "2025-01-01")
    assert store.read("omni2").sizes["time"] == 8784
    assert len(store.quarantined("omni2")) == 1


def test_all_years_corrupt_is_a_clear_error(mirrored_home):
    ingest("omni2", "2024-01-01", "2025-01-01")
    store = Store()
    store.path("omni2", 2024).write_bytes(b"junk")
    with pytest.warns(CorruptStoreWarning), pytest.raises(FileNotFoundError, match="quarantined"):
        store.read("omni2")


def test_reingest_quarantined_restores_the_year(mirrored_home):
    from data_sources.ingest import reingest_quarantined

    ingest("omni2", "2023-01-01", "2025-01-01")
    store = Store()
    store.path("omni2", 2024).write_bytes(b"junk")
    with pytest.warns(CorruptStoreWarning):
        store.read("omni2")
    assert store.years("omni2") == [2023]
    summary = reingest_quarantined(store)
    assert summary == {"omni2 2024": {"ingest": ["omni2"], "files": 1, "error": None}}
    assert store.years("omni2") == [2023, 2024]
    assert reingest_quarantined(store) == {}  # nothing left to restore
