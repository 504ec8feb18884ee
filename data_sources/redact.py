"""Secrets never in logs: one ``redact_url`` for every URL the project prints.

Webhook and API URLs carry their credential in the URL itself (Slack
``/services/T.../B.../<token>``, Discord ``/api/webhooks/<id>/<token>``, ``?token=``,
``user:password@``). :func:`redact_url` keeps what an operator needs to recognise the URL
(scheme, host, port, file names) and replaces every part that may be a credential with
``***``. :func:`redact_text` applies it to every URL inside a message, and
:func:`quiet_http_loggers` raises the HTTP client loggers (httpx, httpcore, urllib3,
requests) to WARNING and attaches a filter that redacts any URL they still log (httpx logs
``HTTP Request: POST <full url>`` at INFO for every request).
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

#: query keys whose value is always a credential (matched case-insensitively as a substring)
SECRET_KEYS = ("token", "key", "secret", "pass", "sig", "auth", "credential", "code", "session")

#: a path segment without a file extension that is at least this long and mixes letters and
#: digits is treated as a credential (webhook tokens are 24-70 such characters)
TOKEN_MIN_LENGTH = 16

#: HTTP client loggers that print request lines with full URLs
HTTP_LOGGERS = ("httpx", "httpcore", "urllib3", "urllib3.connectionpool", "requests")

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _secret_segment(segment: str) -> bool:
    if "." in segment or len(segment) < TOKEN_MIN_LENGTH:
        return False
    return any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def redact_url(url: str) -> str:
    """``url`` with user info, credential-like path segments and query values replaced.

    Parameters
    ----------
    url : str
        Any URL (``http://user:pw@host/services/T1/B2/abcd...?token=x&start=2024``).

    Returns
    -------
    str
        The URL with the password (and user), every path segment that looks like a token
        (no file extension, >= :data:`TOKEN_MIN_LENGTH` characters, letters and digits) and
        every query value whose key looks secret (:data:`SECRET_KEYS`) replaced by ``***``.
        A string that does not parse as a URL is returned fully redacted.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{REDACTED}@{netloc}"
    path = "/".join(REDACTED if _secret_segment(s) else s for s in parts.path.split("/"))
    query = [
        (k, REDACTED if any(s in k.lower() for s in SECRET_KEYS) or _secret_segment(v) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(
        (parts.scheme, netloc, path, urlencode(query, safe="*"), REDACTED if parts.fragment else "")
    )


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`.

    Parameters
    ----------
    text : str
        A log message or error text.

    Returns
    -------
    str
        The same text with credentials, tokens and secret query values in its URLs
        replaced by the redaction marker.
    """
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every URL in a record's message (and its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        """Rewrite ``record`` in place; always keep it.

        Parameters
        ----------
        record : logging.LogRecord
            The record; its message is rendered, redacted and its ``args`` cleared.

        Returns
        -------
        bool
            Always True (the record is kept).
        """
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is kept as it is
            return True
        record.msg = redact_text(message)
        record.args = None
        return True


_FILTER = RedactingFilter()


def _has_url(record: logging.LogRecord) -> bool:
    if isinstance(record.msg, str) and "://" in record.msg:
        return True
    args = record.args
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else ()
    return any(isinstance(a, str) and "://" in a for a in values)


def install_record_redaction() -> None:
    """Redact every URL in every log record of the process, whichever logger made it.

    Wraps the :func:`logging.setLogRecordFactory` factory once: a record whose message or
    string arguments hold ``://`` gets its message rendered and passed through
    :func:`redact_text`, before any handler (console, file, Prefect's API log handler) sees
    it. Idempotent.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "superstorm_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _has_url(record):
            try:
                record.msg = redact_text(record.getMessage())
                record.args = None
            except Exception:  # noqa: BLE001 - a malformed record is kept as it is
                pass
        return record

    factory.superstorm_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def quiet_http_loggers(level: int = logging.WARNING) -> None:
    """Raise the HTTP client loggers to ``level``; redact URLs in every log record.

    Idempotent. Called on import of :mod:`data_sources`, so every command, flow and test that
    imports the project has it (see also :func:`install_record_redaction`).

    Parameters
    ----------
    level : int, optional
        Lowest level the HTTP client loggers (:data:`HTTP_LOGGERS`) still emit (default
        ``logging.WARNING``); a logger already set higher is left alone.
    """
    install_record_redaction()
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
