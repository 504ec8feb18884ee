"""Download faults on loopback: a body cut at a line boundary, a trickling server, rolling
products refreshed conditionally, secrets never logged."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from data_sources import kyoto_dst, omni2
from data_sources.http import DownloadError, cached_download, fetch_bytes
from data_sources.redact import quiet_http_loggers, redact_text, redact_url


class FaultServer:
    """Serves one body at every path; ``mode`` chooses the fault."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.mode = "ok"
        self.etag = '"v1"'
        self.requests: list[dict[str, str]] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_GET(self):  # noqa: N802
                srv.requests.append(dict(self.headers))
                if srv.mode == "etag" and self.headers.get("If-None-Match") == srv.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(srv.body)))
                if srv.mode == "etag":
                    self.send_header("ETag", srv.etag)
                    self.send_header("Last-Modified", formatdate(usegmt=True))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if srv.mode == "trickle":
                        for i in range(len(srv.body)):
                            self.wfile.write(srv.body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.5)
                    else:
                        self.wfile.write(srv.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FaultServer(b"0123456789" * 10)
    yield srv
    srv.stop()


def _cut_lines(raw: bytes, n_lines: int) -> bytes:
    return b"".join(raw.splitlines(keepends=True)[:n_lines])


def test_omni2_year_cut_at_line_boundary_is_refused(data_dir, tmp_path):
    raw = (data_dir / "omni2_low_res" / "omni2_2017.dat").read_bytes()
    srv = FaultServer(_cut_lines(raw, 4000))  # Content-Length matches the cut body
    try:
        with pytest.raises(ValueError, match=r"4760 of 8760 expected 1h times are missing"):
            omni2.get_omni2(
                "2017-01-01", "2018-01-01", base_url=srv.url, cache_dir=tmp_path, retries=0
            )
        assert not (tmp_path / "omni2" / "omni2_2017.dat").exists()  # nothing cached
        srv.body = raw
        ds = omni2.get_omni2("2017-01-01", "2018-01-01", base_url=srv.url, cache_dir=tmp_path)
        assert ds.sizes["time"] == 8760
    finally:
        srv.stop()


def test_kyoto_final_month_cut_is_refused(data_dir, tmp_path):
    files = kyoto_dst.mirror_files(data_dir)
    rel = kyoto_dst.month_path("final", 2000, 7)  # the Bastille Day storm month
    body = files[f"{kyoto_dst.MIRROR_HOST}/{rel}"]
    cut = _cut_lines(body, 16)
    with pytest.raises(ValueError, match="360 of 744 .* missing, first 2000-07-17"):
        kyoto_dst._validate_month(cut, "final", 2000, 7, rel)
    kyoto_dst._validate_month(body, "final", 2000, 7, rel)  # the whole month passes


def test_trickling_server_hits_the_deadline(server):
    server.mode = "trickle"  # 1 byte / 0.5 s: the read timeout never fires
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="deadline exceeded"):
        fetch_bytes(f"{server.url}/slow", timeout=2.0, deadline=1.5, retries=0)
    assert time.monotonic() - t0 < 4.5


def test_conditional_refresh_uses_etag(server, tmp_path):
    server.mode = "etag"
    dest = tmp_path / "rolling.json"
    cached_download(f"{server.url}/p", dest)
    assert "If-None-Match" not in server.requests[-1]
    before = dest.stat().st_mtime
    time.sleep(0.05)
    cached_download(f"{server.url}/p", dest, refresh=True)
    assert server.requests[-1].get("If-None-Match") == '"v1"'
    assert dest.read_bytes() == server.body and dest.stat().st_mtime >= before
    server.etag, server.body = '"v2"', b"new body"
    cached_download(f"{server.url}/p", dest, refresh=True)
    assert dest.read_bytes() == b"new body"


def test_max_age_refreshes_a_stale_copy(server, tmp_path):
    dest = tmp_path / "f"
    cached_download(f"{server.url}/p", dest, max_age_s=3600)
    cached_download(f"{server.url}/p", dest, max_age_s=3600)
    assert len(server.requests) == 1  # fresh: no request
    old = time.time() - 7200
    import os

    os.utime(dest, (old, old))
    cached_download(f"{server.url}/p", dest, max_age_s=3600)
    assert len(server.requests) == 2


TOKEN_URL = "https://hooks.example.com/services/T0AAAA1/B0BBBB2/Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (TOKEN_URL, "Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2"),
        ("https://discord.com/api/webhooks/123456789012345678/aB3dE5fG7hI9jK1lM3nO5pQ7", "aB3dE5"),
        ("https://api.example.org/alerts?token=s3cr3t&lead=3", "s3cr3t"),
        ("https://alice:hunter2@example.org/x", "hunter2"),
    ],
)
def test_redact_url_removes_the_secret(url, secret):
    shown = redact_url(url)
    assert secret not in shown and "***" in shown
    assert redact_url("https://spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/omni2_2024.dat") == (
        "https://spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/omni2_2024.dat"
    )
    assert secret not in redact_text(f"POST {url} failed")


def test_http_client_request_lines_never_show_the_token(server, caplog):
    import httpx

    quiet_http_loggers()
    url = f"{server.url}/services/T0AAAA1/B0BBBB2/Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2"
    with caplog.at_level(logging.DEBUG):
        for _ in range(3):
            httpx.get(url)
        with pytest.raises(DownloadError) as err:
            fetch_bytes(url.replace("/services", ":1/services"), retries=0)
    text = caplog.text + str(err.value)
    assert "Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2" not in text


def test_any_logger_redacts_urls(caplog):
    quiet_http_loggers()
    # (a CLI test in the same process may have set Prefect's logger to WARNING: set it here)
    with caplog.at_level(logging.INFO), caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
        logging.getLogger("superstorm.some.module").warning("POST %s failed", TOKEN_URL)
        logging.getLogger("prefect.flow_runs").info(f"delivered to {TOKEN_URL}")
    assert "Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2" not in caplog.text
    assert caplog.text.count("hooks.example.com/services/T0AAAA1/B0BBBB2/***") == 2
