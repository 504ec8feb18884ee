"""Downloads: retries after HTTP 500, timeouts, truncated bodies never enter the cache."""

from pathlib import Path

import pytest

from data_sources.http import DownloadError, NotFoundError, cached_download, fetch_bytes
from data_sources.mirror.server import MirrorServer


@pytest.fixture
def server():
    with MirrorServer({"a/file.txt": b"hello world\n"}) as srv:
        yield srv


def test_retry_after_500_then_success(server):
    server.faults.fail_next["a/file.txt"] = 2
    body = fetch_bytes(f"{server.url}/a/file.txt", retries=3, backoff=0.01)
    assert body == b"hello world\n"
    assert server.faults.requests.count("a/file.txt") == 3


def test_gives_up_after_retries(server):
    server.faults.fail_next["a/file.txt"] = 10
    with pytest.raises(DownloadError, match="after 3 tries"):
        fetch_bytes(f"{server.url}/a/file.txt", retries=2, backoff=0.01)


def test_404_is_not_retried(server):
    with pytest.raises(NotFoundError):
        fetch_bytes(f"{server.url}/a/missing.txt", retries=3, backoff=0.01)
    assert server.faults.requests.count("a/missing.txt") == 1


def test_timeout_is_an_error(server):
    server.faults.delay_s["a/file.txt"] = 1.0
    with pytest.raises(DownloadError):
        fetch_bytes(f"{server.url}/a/file.txt", timeout=0.2, retries=1, backoff=0.01)


def test_truncated_body_never_replaces_cached_copy(server, tmp_path):
    dest = tmp_path / "cache" / "file.txt"
    cached_download(f"{server.url}/a/file.txt", dest)
    server.faults.truncate.add("a/file.txt")
    with pytest.raises(DownloadError, match="IncompleteRead|truncated"):
        cached_download(f"{server.url}/a/file.txt", dest, refresh=True, retries=1, backoff=0.01)
    assert dest.read_bytes() == b"hello world\n"
    assert [p.name for p in dest.parent.iterdir()] == ["file.txt"]


def test_validator_rejection_keeps_cache(server, tmp_path):
    dest = Path(tmp_path / "f.txt")
    dest.write_bytes(b"good")

    def reject(body: bytes):
        raise ValueError("not a valid file")

    with pytest.raises(ValueError, match="not a valid"):
        cached_download(f"{server.url}/a/file.txt", dest, refresh=True, validate=reject)
    assert dest.read_bytes() == b"good"
