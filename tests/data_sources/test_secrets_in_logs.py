"""A webhook URL with a token never reaches stderr: 30 POSTs through the real delivery block."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TOKEN = "Zx9Yq8Wv7Ut6Sr5Qp4On3Ml2"

SCRIPT = textwrap.dedent(
    """
    import logging, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()
        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from forecasting.alerting import delivery
    url = f"http://127.0.0.1:{httpd.server_address[1]}/services/T0AAAA1/B0BBBB2/TOKEN"
    block = delivery.webhook_block(url)
    for i in range(30):
        block.notify(body=f"message {i}", subject="test")
    print("sent 30", file=sys.stderr)
    """
).replace("TOKEN", TOKEN)


def run_posts(root: Path) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout + out.stderr


def test_webhook_token_never_in_stderr():
    text = run_posts(Path(__file__).resolve().parents[2])
    assert "sent 30" in text
    assert text.count(TOKEN) == 0
