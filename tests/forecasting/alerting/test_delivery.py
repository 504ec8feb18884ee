"""Delivery through a Prefect webhook notification block to a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from forecasting.alerting import delivery
from forecasting.alerting import rules as A
from forecasting.alerting.log import AlertLog

T0 = pd.Timestamp("2015-03-17 09:00")


class Receiver:
    """A webhook receiver on 127.0.0.1 that honours ``Idempotency-Key``.

    ``fail_next`` requests get HTTP 500; ``hang`` [s] delays every answer (a hanging
    webhook); ``on_post(n)`` is called with the request count (fault hooks,
    e.g. kill -9 the sender) after the message was taken, before the answer. ``payloads`` holds the accepted messages (a repeated key is
    answered 200 but not accepted again); ``keys`` every key seen, repeats included.
    """

    def __init__(self, fail_next: int = 0, *, hang: float = 0.0, on_post=None):
        self.payloads: list[dict] = []
        self.keys: list[str | None] = []
        self.fail_next = fail_next
        self.reject: set[int] = set()  # serials answered HTTP 400 (a message-specific refusal)
        self.hang = hang
        self.on_post = on_post
        self.requests = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key")
                with outer.lock:
                    outer.requests += 1
                    n = outer.requests
                    failing = outer.fail_next > 0
                    if failing:
                        outer.fail_next -= 1
                if outer.hang:
                    time.sleep(outer.hang)
                if failing:
                    self.send_error(500, "receiver down")
                    return
                if outer.reject and json.loads(json.loads(body)["body"])["serial"] in outer.reject:
                    self.send_error(400, "refused")
                    return
                with outer.lock:
                    outer.keys.append(key)
                    if key is None or key not in outer.keys[:-1]:
                        outer.payloads.append(json.loads(body))
                if outer.on_post is not None:  # the message is taken; the sender may die now
                    outer.on_post(n)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook/secret-token"

    def serials(self) -> list[int]:
        """Serials of the accepted messages, in arrival order."""
        return [json.loads(p["body"])["serial"] for p in self.payloads]

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
    assert counts == {"pending": 2, "delivered": 2, "grouped": 0, "failed": 0}
    bodies = [json.loads(p["body"]) for p in receiver.payloads]
    # the serial is the idempotency key, in the header and in the body
    assert receiver.keys == ["1", "2"] and [b["idempotency_key"] for b in bodies] == ["1", "2"]
    assert not any(b["late"] for b in bodies) and all(b["grouped"] == [] for b in bodies)
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
        assert counts == {"pending": 2, "delivered": 0, "grouped": 0, "failed": 2}
        # 3 attempts for the first message; HTTP 500 says the channel is down: the round stops
        assert r.requests == 3
        attempts = log.deliveries()
        assert [a["outcome"] for a in attempts] == ["failed"] * 3
        assert all("500" in a["error"] for a in attempts)
        # the URL (with its token) never reaches the log or the alert log
        assert "secret-token" not in caplog.text
        assert not any("secret-token" in a["error"] for a in attempts)
        assert [m["serial"] for m in log.undelivered()] == [1, 2]
        # the receiver recovers: the next run delivers what is pending, oldest first, LATE
        r.fail_next = 1
        counts = delivery.deliver_pending(log, T0 + pd.Timedelta("1h"), retry_delays=(0.01,))
        assert counts == {"pending": 2, "delivered": 2, "grouped": 0, "failed": 0}
        assert r.serials() == [1, 2]
        assert all(json.loads(p["body"])["late"] for p in r.payloads)
        assert r.payloads[0]["subject"].startswith("LATE superstorm ALERT G1")
        assert [a["outcome"] for a in log.deliveries(1)][-2:] == ["failed", "delivered"]
    finally:
        r.stop()


def test_pending_messages_of_one_episode_go_out_as_one(home, receiver, monkeypatch):
    """After an outage the operator gets the current state, listing what it supersedes."""
    monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", receiver.url)
    log = _log_with_two_alerts()  # 1: ALERT G1, 2: WARNING G2
    h = pd.Timedelta("1h")
    log.record_run(
        T0 + h, [A.AlertAction(A.ESCALATE, A.ALERT, "kp", "G4", 1.0, T0, None, T0 + h, 1)]
    )
    log.record_run(
        T0 + 2 * h,
        [A.AlertAction(A.ALL_CLEAR, A.ALERT, "kp", "G4", 1.0, T0, T0 + 2 * h, T0 + 2 * h, 3)],
    )
    counts = delivery.deliver_pending(log, T0 + 2 * h, retry_delays=(0.01,))
    assert counts == {"pending": 4, "delivered": 2, "grouped": 2, "failed": 0}
    assert log.undelivered() == []
    first, second = (json.loads(p["body"]) for p in receiver.payloads)
    assert (first["serial"], first["action"], first["level"]) == (4, "all_clear", "G4")
    assert [g["serial"] for g in first["grouped"]] == [1, 3]  # ALERT G1, ESCALATED G4
    assert "ESCALATED ALERT" in first["grouped"][1]["message"]
    assert "G4" in first["grouped"][1]["message"] and first["late"] is False
    assert second["serial"] == 2 and second["late"] is True
    assert all(m["delivered"] for m in log.messages() if m["notify"])


def test_timeouts_bound_a_hanging_webhook(home, monkeypatch):
    r = Receiver(hang=5.0)
    try:
        monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
        log = _log_with_two_alerts()
        ch = delivery.configured_channel()
        ch.timeout = 0.5
        t0 = time.monotonic()
        counts = delivery.deliver_pending(log, T0, channel=ch, attempts=2, retry_delays=(0.01,))
        took = time.monotonic() - t0
        assert took < 3.0, took  # one 0.5 s try, then the round stops (the channel hangs)
        assert counts["delivered"] == 0 and counts["failed"] == 2
        assert r.requests == 1  # no retry into a hang, no second message to a dead channel
        errors = [d["error"] for d in log.deliveries()]
        assert "Timeout" in errors[0] and "timed out" in errors[-1]
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


def test_a_refused_message_does_not_block_the_others(home, receiver, monkeypatch):
    monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", receiver.url)
    log = _log_with_two_alerts()
    receiver.reject = {1}
    counts = delivery.deliver_pending(log, T0, attempts=2, retry_delays=(0.01,))
    assert counts == {"pending": 2, "delivered": 1, "grouped": 0, "failed": 1}
    assert receiver.serials() == [2] and [m["serial"] for m in log.undelivered()] == [1]
    assert "400" in log.deliveries(1)[-1]["error"]
