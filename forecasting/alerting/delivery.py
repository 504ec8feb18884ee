"""Deliver alert messages to operators through a Prefect notification block.

The channel is chosen by configuration, never in code:

* ``SUPERSTORM_ALERT_BLOCK=<block-type-slug>/<name>`` (or ``[alerts] block = "..."`` in
  ``$SUPERSTORM_HOME/config.toml``): a saved Prefect notification block loaded with
  ``Block.load``, e.g. ``slack-webhook/ops`` (``SlackWebhook``), ``custom-webhook/ops``
  (``CustomWebhookNotificationBlock``) or any other Apprise-based notification block; or
* ``SUPERSTORM_ALERT_WEBHOOK=<url>`` (or ``[alerts] webhook_url``): a
  :class:`prefect.blocks.notifications.CustomWebhookNotificationBlock` POSTing JSON
  ``{"subject": ..., "body": ...}`` (``body`` is the alert record as JSON).

URLs never reach logs or the alert log: errors are redacted (:func:`redact`). Every attempt
is recorded in the alert log (``delivered`` / ``failed`` + error); a message that no attempt
delivered stays pending and is retried on the next run, so nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from data_sources import config
from forecasting.alerting.log import AlertLog, feed_record

log = logging.getLogger(__name__)

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every URL and every given secret replaced by ``<redacted>``."""
    for s in secrets:
        if s:
            text = text.replace(s, "<redacted>")
    return _URL.sub("<redacted-url>", text)


@dataclass
class Channel:
    """A configured delivery channel: a notification block and what to redact."""

    block: Any
    label: str
    secrets: tuple[str, ...] = ()

    def send(self, subject: str, body: str) -> None:
        """Send one message; raise on failure (HTTP error, Apprise failure)."""
        raise_ctx = getattr(self.block, "raise_on_failure", None)
        if raise_ctx is not None:
            with raise_ctx():
                self.block.notify(body=body, subject=subject)
        else:
            self.block.notify(body=body, subject=subject)


def _alerts_config() -> dict:
    path = config.home() / "config.toml"
    if not path.exists():
        return {}
    import tomllib

    with path.open("rb") as fh:
        return dict(tomllib.load(fh).get("alerts", {}))


def webhook_block(url: str, *, timeout: float = 10.0):
    """A ``CustomWebhookNotificationBlock`` POSTing ``{"subject", "body"}`` JSON to ``url``."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    return CustomWebhookNotificationBlock(
        name="superstorm-alerts",
        url=url,
        method="POST",
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        timeout=timeout,
    )


def configured_channel() -> Channel | None:
    """The channel from the environment / config file, or ``None`` when none is configured."""
    cfg = _alerts_config()
    block_name = os.environ.get("SUPERSTORM_ALERT_BLOCK") or cfg.get("block")
    if block_name:
        from prefect.blocks.core import Block

        return Channel(Block.load(block_name), label="block")
    url = os.environ.get("SUPERSTORM_ALERT_WEBHOOK") or cfg.get("webhook_url")
    if url:
        return Channel(webhook_block(url), label="webhook", secrets=(url,))
    return None


def payload(message: dict) -> tuple[str, str]:
    """``(subject, body)`` for a logged message: the SWPC-style text and the JSON record."""
    rec = feed_record(message)
    subject = f"superstorm {rec['kind']} {rec['level']} ({rec['action']}, serial {rec['serial']})"
    return subject, json.dumps(rec, sort_keys=True)


def deliver_pending(
    alert_log: AlertLog,
    run_time,
    *,
    channel: Channel | None = None,
    attempts: int = 3,
    retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
) -> dict[str, int]:
    """Try to deliver every undelivered message (this run's and earlier runs').

    Each message gets up to ``attempts`` tries with ``retry_delays`` [s] between them; every
    try is recorded in the log. Messages still undelivered are retried on the next call.

    Returns
    -------
    dict
        Counts: ``pending`` (before), ``delivered``, ``failed`` (still pending after).
    """
    pending = alert_log.undelivered()
    counts = {"pending": len(pending), "delivered": 0, "failed": 0}
    if not pending:
        return counts
    if channel is None:
        channel = configured_channel()
    if channel is None:
        log.warning(
            "%d alert message(s) pending and no delivery channel configured "
            "(set SUPERSTORM_ALERT_WEBHOOK or SUPERSTORM_ALERT_BLOCK); they stay pending",
            len(pending),
        )
        counts["failed"] = len(pending)
        return counts
    for message in pending:
        subject, body = payload(message)
        ok = False
        for attempt in range(attempts):
            try:
                channel.send(subject, body)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
                err = redact(f"{type(exc).__name__}: {exc}", channel.secrets)
                alert_log.record_delivery(
                    message["serial"],
                    outcome="failed",
                    run_time=run_time,
                    channel=channel.label,
                    error=err,
                )
                log.warning(
                    "delivery of serial %s failed (attempt %d/%d): %s",
                    message["serial"],
                    attempt + 1,
                    attempts,
                    err,
                )
                if attempt + 1 < attempts:
                    time.sleep(retry_delays[min(attempt, len(retry_delays) - 1)])
                continue
            alert_log.record_delivery(
                message["serial"], outcome="delivered", run_time=run_time, channel=channel.label
            )
            ok = True
            break
        counts["delivered" if ok else "failed"] += 1
    return counts
