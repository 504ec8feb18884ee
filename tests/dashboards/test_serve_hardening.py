"""`dashboard serve`: no folder listings, no dotfiles, no links out of the site."""

from __future__ import annotations

import http.client
import os

import pytest

from dashboards.serve import serve


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "pages").mkdir(parents=True)
    (root / "index.html").write_text("<html>home</html>")
    (root / "pages" / "now.html").write_text("<html>now</html>")
    (root / "data").mkdir()
    (root / "data" / "forecast.json").write_text("{}")
    (root / ".env").write_text("SUPERSTORM_ALERT_WEBHOOK=https://hooks.example/T/B/secret")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    (root / "data" / ".forecast.json.abc.part").write_text("partial")
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the site")
    os.symlink(secret, root / "link.txt")
    os.symlink(tmp_path, root / "up")
    server = serve(root)
    yield server
    server.stop()


def _get(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


@pytest.mark.parametrize(
    "path",
    [
        "/data/",  # folder without index.html: no listing
        "/.env",
        "/.git/config",
        "/%2eenv",
        "/data/.forecast.json.abc.part",
        "/link.txt",  # symlink to a file outside the site
        "/up/outside.txt",  # symlinked folder outside the site
        "/../outside.txt",
        "/pages/../../outside.txt",
    ],
)
def test_refused(site, path):
    status, body = _get(site, path)
    assert status == 404, (path, status)
    assert b"not part of the site" not in body and b"secret" not in body


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/", b"home"),
        ("/index.html", b"home"),
        ("/pages/now.html", b"now"),
        ("/data/forecast.json", b"{}"),
    ],
)
def test_site_files_served(site, path, text):
    status, body = _get(site, path)
    assert status == 200 and text in body
