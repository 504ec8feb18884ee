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

Exactly once in effect (issue 11): each message is claimed in the SQLite transaction that
leases it (:meth:`forecasting.alerting.log.AlertLog.claim`), so overlapping deliveries never send
it twice and a recorded success is never sent again; its serial goes with it as the idempotency
key (HTTP header ``Idempotency-Key`` on webhook blocks, ``idempotency_key`` in the JSON body), so
a receiver drops the one resend that a kill -9 between the POST and its record can cause.
Pending messages of one episode go out as one message (the newest, listing the ones it
supersedes); a message delivered after the run that issued it says ``LATE``. Every request has
a timeout, every round a deadline, and a round stops once the channel is down (timeout,
connection failure, HTTP 5xx): the rest stays pending for the next run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from data_sources import config
from data_sources.timeconv import TimeLike
from forecasting.alerting.base import get_channel, register_channel
from forecasting.alerting.log import AlertLog, feed_record, new_owner

#: default timeout of one delivery request [s]
REQUEST_TIMEOUT_S = 10.0
#: default deadline of one delivery round (all messages, retries included) [s]
ROUND_DEADLINE_S = 60.0

log = logging.getLogger(__name__)

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with every URL and every given secret replaced.

    Parameters
    ----------
    text : str
        An error message or log line that may hold a webhook URL or token.
    secrets : sequence of str
        Exact strings to hide (the configured URL, tokens); empty ones are ignored.

    Returns
    -------
    str
        ``text`` with each secret replaced by ``<redacted>`` and then any remaining
        ``scheme://...`` URL by ``<redacted-url>``.
    """
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
    timeout: float = REQUEST_TIMEOUT_S

    def send(self, subject: str, body: str, key: str | None = None) -> None:
        """Send one message; raise on failure (HTTP error, timeout, Apprise failure).

        Parameters
        ----------
        subject, body : str
            The message: one-line summary and body (the alert record as JSON, see
            :func:`payload`).
        key : str, optional
            Idempotency key (the message serial): sent as the ``Idempotency-Key`` header by blocks with ``headers``
            (custom webhooks); every block also has it in the JSON ``body``. ``None``: no
            header.

        Raises
        ------
        Exception
            Whatever the block raises (HTTP error, timeout, Apprise failure); the request
            timeout is the smaller of the block's and :attr:`timeout` [s].
        """
        block = self.block
        update: dict[str, Any] = {}
        if key is not None and "headers" in getattr(type(block), "model_fields", {}):
            update["headers"] = {**(block.headers or {}), "Idempotency-Key": key}
        if "timeout" in getattr(type(block), "model_fields", {}):
            update["timeout"] = min(float(block.timeout or self.timeout), self.timeout)
        if update:
            block = block.model_copy(update=update)
        raise_ctx = getattr(block, "raise_on_failure", None)
        if raise_ctx is not None:
            with raise_ctx():
                block.notify(body=body, subject=subject)
        else:
            block.notify(body=body, subject=subject)


def _alerts_config() -> dict:
    path = config.home() / "config.toml"
    if not path.exists():
        return {}
    import tomllib

    with path.open("rb") as fh:
        return dict(tomllib.load(fh).get("alerts", {}))


def webhook_block(url: str, *, timeout: float = REQUEST_TIMEOUT_S) -> Any:
    """Build a ``CustomWebhookNotificationBlock`` POSTing ``{"subject", "body"}`` JSON to ``url``.

    Parameters
    ----------
    url : str
        Webhook endpoint (a secret: never logged, see :func:`redact`).
    timeout : float
        Request timeout [s]; default :data:`REQUEST_TIMEOUT_S`.

    Returns
    -------
    prefect.blocks.notifications.CustomWebhookNotificationBlock
        An unsaved block named ``superstorm-alerts``.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    return CustomWebhookNotificationBlock(  # type: ignore[call-arg]  # pydantic defaults
        name="superstorm-alerts",
        url=url,
        method="POST",
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        timeout=timeout,
    )


def _timeout(cfg: dict) -> float:
    raw = os.environ.get("SUPERSTORM_ALERT_TIMEOUT") or cfg.get("timeout_s") or REQUEST_TIMEOUT_S
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value <= 300:
        raise ValueError(
            f"alert delivery timeout {raw!r} (SUPERSTORM_ALERT_TIMEOUT or [alerts] timeout_s) "
            "must be a number of seconds in (0, 300]"
        )
    return value


def configured_channel() -> Channel | None:
    """Build the channel from the environment / config file (``None`` when none is configured).

    The request timeout is ``SUPERSTORM_ALERT_TIMEOUT`` / ``[alerts] timeout_s`` (default
    10 s). A block (``SUPERSTORM_ALERT_BLOCK`` / ``[alerts] block``) wins over a webhook URL
    (``SUPERSTORM_ALERT_WEBHOOK`` / ``[alerts] webhook_url``); the environment wins over
    ``$SUPERSTORM_HOME/config.toml``.

    Returns
    -------
    Channel or None
        The channel (label ``block`` or ``webhook``; the URL listed as a secret), or ``None``
        when neither is configured.

    Raises
    ------
    ValueError
        If the timeout is not a number of seconds in (0, 300].
    """
    cfg = _alerts_config()
    timeout = _timeout(cfg)
    block_name = os.environ.get("SUPERSTORM_ALERT_BLOCK") or cfg.get("block")
    if block_name:
        return _as_delivery_channel(get_channel("block", name=block_name, timeout=timeout))
    url = os.environ.get("SUPERSTORM_ALERT_WEBHOOK") or cfg.get("webhook_url")
    if url:
        return _as_delivery_channel(get_channel("webhook", url=url, timeout=timeout))
    return None


def _as_delivery_channel(channel: object) -> Channel:
    if not isinstance(channel, Channel):
        raise TypeError(f"channel factory returned {type(channel).__name__}, not a Channel")
    return channel


def webhook_channel(url: str, *, timeout: float = REQUEST_TIMEOUT_S) -> Channel:
    """A channel POSTing each message as JSON to ``url`` (:func:`webhook_block`).

    Parameters
    ----------
    url : str
        Webhook endpoint; a secret (listed in ``secrets``, never in ``label``).
    timeout : float
        Request timeout [s].

    Returns
    -------
    Channel
        Label ``webhook``.
    """
    return Channel(
        webhook_block(url, timeout=timeout), label="webhook", secrets=(url,), timeout=timeout
    )


def block_channel(name: str, *, timeout: float = REQUEST_TIMEOUT_S) -> Channel:
    """A channel through a saved Prefect notification block (Slack, e-mail, Teams ...).

    Parameters
    ----------
    name : str
        Name of the saved block (``Block.load(name)``; needs the Prefect API).
    timeout : float
        Request timeout [s] (applied to blocks that have one).

    Returns
    -------
    Channel
        Label ``block``.
    """
    from prefect.blocks.core import Block

    return Channel(Block.load(name), label="block", timeout=timeout)


register_channel("webhook", webhook_channel)
register_channel("block", block_channel)


def payload(message: dict, run_time: TimeLike | None = None) -> tuple[str, str]:
    """``(subject, body)`` for a logged message: the SWPC-style text and the JSON record.

    The body carries ``idempotency_key`` (the serial), ``late`` (delivered after the run that
    issued it, ``run_time`` being the delivering run, or an ALERT the rules marked LATE) and
    ``grouped`` (the superseded pending messages it stands for, from :meth:`AlertLog.claim`).

    Parameters
    ----------
    message : dict
        A logged message as :meth:`AlertLog.claim` / :meth:`AlertLog.messages` return it
        (``serial``, ``kind``, ``level``, ``action``, ``text``, ``run_time`` ISO UTC with
        ``Z``, optional ``grouped``).
    run_time : TimeLike, optional
        Issue time of the delivering run (UTC; aware times are converted). ``None``: only
        the rules' own ``LATE:`` marks the message late.

    Returns
    -------
    (str, str)
        The subject (``[LATE ]superstorm <kind> <level> (<action>, serial <n>)[ [+k
        superseded]]``) and the body (the :func:`~forecasting.alerting.log.feed_record` plus
        ``idempotency_key``, ``late`` and ``grouped``, as sorted-key JSON).
    """
    rec = feed_record(message)
    issued_run = message.get("run_time") or ""
    late = rec["message"].find("LATE:") >= 0 or (
        run_time is not None
        and bool(issued_run)
        and pd.Timestamp(_iso_run(run_time)) > pd.Timestamp(issued_run.rstrip("Z"))
    )
    rec["idempotency_key"] = str(rec["serial"])
    rec["late"] = bool(late)
    rec["grouped"] = [
        {"serial": g["serial"], "message": g["text"], "run_time": g["run_time"]}
        for g in message.get("grouped", [])
    ]
    subject = f"superstorm {rec['kind']} {rec['level']} ({rec['action']}, serial {rec['serial']})"
    if late:
        subject = "LATE " + subject
    if rec["grouped"]:
        subject += f" [+{len(rec['grouped'])} superseded]"
    return subject, json.dumps(rec, sort_keys=True)


def _iso_run(t: TimeLike) -> str:
    t = pd.Timestamp(t)
    return str(t.tz_convert(None) if t.tzinfo is not None else t)


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout (the channel hangs: retrying now only waits again)."""
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"TimeoutException", "TimeoutError"}) or isinstance(exc, TimeoutError)


def _channel_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the channel is down rather than this message refused.

    Timeouts, connection failures and HTTP 5xx: down (the round stops, nothing is lost: the
    rest waits for the next run). HTTP 4xx and other errors concern this message: the round
    goes on with the next, so one refused message never blocks the others.
    """
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"TimeoutException", "TimeoutError", "ConnectError", "ConnectionError"}:
        return True
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and status >= 500


def deliver_pending(
    alert_log: AlertLog,
    run_time: TimeLike,
    *,
    channel: Channel | None = None,
    attempts: int = 3,
    retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
    deadline: float = ROUND_DEADLINE_S,
    lease: timedelta | None = None,
) -> dict[str, int]:
    """Deliver every pending message (this run's and earlier runs'), each claimed first.

    Each claimed message gets up to ``attempts`` tries with ``retry_delays`` [s] between them
    (one only when the channel times out); every try is recorded in the log. The round ends
    when nothing is pending, at the first
    message whose last try found the channel down (timeout, connection failure, HTTP 5xx), or
    after ``deadline`` [s]; what is left stays pending for the next call.

    Parameters
    ----------
    alert_log : AlertLog
        The SQLite alert log holding the pending messages; every try is recorded there.
    run_time : TimeLike
        Issue time of the delivering run (UTC); messages issued by earlier runs go out
        marked ``late``.
    channel : Channel, optional
        Delivery channel; default :func:`configured_channel` (none configured: nothing is
        sent, everything stays pending and counts as ``failed``).
    attempts : int
        Tries per message (default 3).
    retry_delays : sequence of float
        Pauses between tries [s]; the last one repeats if there are more tries.
    deadline : float
        Longest time the round may take [s]; default :data:`ROUND_DEADLINE_S`.
    lease : datetime.timedelta, optional
        How long a claim holds against other deliverers (default: the round's deadline plus
        a minute).

    Returns
    -------
    dict
        Counts: ``pending`` (before), ``delivered``, ``grouped`` (superseded messages carried
        by a delivered one), ``failed`` (still pending after).
    """
    pending = alert_log.undelivered()
    counts = {"pending": len(pending), "delivered": 0, "grouped": 0, "failed": 0}
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
    owner = new_owner()
    lease = lease or timedelta(seconds=deadline + 60.0)
    stop_at = time.monotonic() + deadline
    tried: set[int] = set()
    while time.monotonic() < stop_at:
        message = alert_log.claim(owner, lease=lease, exclude=tried)
        if message is None:
            break
        serial = message["serial"]
        tried.add(serial)
        subject, body = payload(message, run_time)
        ok, down = False, False
        for attempt in range(attempts):
            try:
                channel.send(subject, body, key=str(serial))
            except Exception as exc:  # noqa: BLE001 - any failure is recorded, then retried
                err = redact(f"{type(exc).__name__}: {exc}", channel.secrets)
                last = attempt + 1 >= attempts or time.monotonic() >= stop_at
                alert_log.record_delivery(
                    serial,
                    outcome="failed",
                    run_time=run_time,
                    channel=channel.label,
                    error=err,
                    owner=owner if last else None,
                )
                log.warning(
                    "delivery of serial %s failed (attempt %d/%d): %s",
                    serial,
                    attempt + 1,
                    attempts,
                    err,
                )
                down = _channel_down(exc)
                if last or _timed_out(exc):  # a hanging channel is not asked again this round
                    if not last:
                        alert_log.record_delivery(
                            serial,
                            outcome="failed",
                            run_time=run_time,
                            channel=channel.label,
                            error="no retry this round: the channel timed out",
                            owner=owner,
                        )
                    break
                pause = retry_delays[min(attempt, len(retry_delays) - 1)]
                time.sleep(max(0.0, min(pause, stop_at - time.monotonic())))
                continue
            alert_log.record_delivery(
                serial, outcome="delivered", run_time=run_time, channel=channel.label, owner=owner
            )
            ok = True
            break
        if ok:
            counts["delivered"] += 1
            counts["grouped"] += len(message["grouped"])
        elif down:
            log.warning(
                "alert channel %s did not answer; the pending messages wait for the next run",
                channel.label,
            )
            break
    if time.monotonic() >= stop_at:
        log.warning("alert delivery stopped at its %g s deadline; the rest stays pending", deadline)
    counts["failed"] = len(alert_log.undelivered())
    return counts
