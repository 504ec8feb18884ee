"""Delivery through a Prefect webhook notification block to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from forecasting.alerting import delivery
from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog

T0 = pd.Timestamp("2015-03-17 09:00")


class Receiver:
    """A webhook receiver; ``fail_next`` requests get HTTP 500."""

    def __init__(self, fail_next: int = 0):
        self.payloads: list[dict] = []
        self.fail_next = fail_next
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    self.send_error(500, "receiver down")
                    return
                outer.payloads.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook/secret-token"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def _log_with_two_alerts() -> AlertLog:
    log = AlertLog()
    log.record_run(
        T0,
        [
            A.AlertAction(A.ISSUE, A.ALERT, "kp", "G1", 1.0, T0 - pd.Timedelta("3h"), None, T0),
            A.AlertAction(A.ISSUE, A.WARNING, "kp", "G2", 0.7, T0, T0 + pd.Timedelta("6h"), T0),
        ],
    )
    return log


def test_webhook_receives_payloads(home, receiver, monkeypatch):
    monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", receiver.url)
    log = _log_with_two_alerts()
    counts = delivery.deliver_pending(log, T0, retry_delays=(0.01,))
    assert counts == {"pending": 2, "delivered": 2, "failed": 0}
    bodies = [json.loads(p["body"]) for p in receiver.payloads]
    assert [(b["serial"], b["kind"], b["level"]) for b in bodies] == [
        (1, "ALERT", "G1"),
        (2, "WARNING", "G2"),
    ]
    assert receiver.payloads[1]["subject"].startswith("superstorm WARNING G2")
    assert bodies[1]["valid_end"] == "2015-03-17T15:00:00Z"
    assert log.undelivered() == []
    # nothing pending: a second call sends nothing
    assert delivery.deliver_pending(log, T0)["pending"] == 0
    assert receiver.requests == 2


def test_failing_receiver_is_retried_recorded_and_redacted(home, monkeypatch, caplog):
    r = Receiver(fail_next=100)
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        log = _log_with_two_alerts()
        with caplog.at_level(logging.WARNING):
            counts = delivery.deliver_pending(log, T0, attempts=3, retry_delays=(0.01,))
        assert counts == {"pending": 2, "delivered": 0, "failed": 2}
        assert r.requests == 6  # 3 attempts per message
        attempts = log.deliveries()
        assert [a["outcome"] for a in attempts] == ["failed"] * 6
        assert all("500" in a["error"] for a in attempts)
        # the URL (with its token) never reaches the log or the alert log
        assert "secret-token" not in caplog.text
        assert not any("secret-token" in a["error"] for a in attempts)
        assert [m["serial"] for m in log.undelivered()] == [1, 2]
        # the receiver recovers: the next run delivers what is pending, oldest first
        r.fail_next = 1
        counts = delivery.deliver_pending(log, T0 + pd.Timedelta("1h"), retry_delays=(0.01,))
        assert counts == {"pending": 2, "delivered": 2, "failed": 0}
        assert [json.loads(p["body"])["serial"] for p in r.payloads] == [1, 2]
        assert [a["outcome"] for a in log.deliveries(1)][-2:] == ["failed", "delivered"]
    finally:
        r.stop()


def test_no_channel_keeps_messages_pending(home, monkeypatch, caplog):
    monkeypatch.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)
    monkeypatch.delenv("SUPERSTORM_ALERT_BLOCK", raising=False)
    log = _log_with_two_alerts()
    with caplog.at_level(logging.WARNING):
        assert delivery.deliver_pending(log, T0)["failed"] == 2
    assert "no delivery channel configured" in caplog.text
    assert len(log.undelivered()) == 2


def test_config_file_channel(home, receiver, monkeypatch):
    monkeypatch.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[alerts]\nwebhook_url = "{receiver.url}"\n')
    ch = delivery.configured_channel()
    assert ch is not None and ch.label == "webhook"
    ch.send("s", "b")
    assert receiver.payloads == [{"subject": "s", "body": "b"}]


def test_redact():
    assert delivery.redact("failed for url 'https://hooks.slack.com/T0/B1/xyz'") == (
        "failed for url '<redacted-url>'"
    )
    assert delivery.redact("token abc123 leaked", ["abc123"]) == "token <redacted> leaked"
