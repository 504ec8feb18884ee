"""Downloads with timeouts, an overall deadline, retries, conditional refresh and atomic caching.

A partial download never enters the cache: bytes go to a temporary file in the cache folder
and are renamed into place only after the whole body arrived and passed ``validate``.

* Truncation: a body shorter (or longer) than its ``Content-Length`` is an error and retried;
  content checks (the expected number of hours of a year or month file) belong in the
  source's ``validate`` (see :func:`data_sources.base.check_complete`).
* Deadline: besides the per-read ``timeout``, each try has an overall ``deadline`` [s], so a
  server trickling one byte every few seconds cannot hold a download for ever.
* Conditional refresh: the ``ETag`` and ``Last-Modified`` of a cached file are kept beside it
  (``.<name>.http.json``); a refresh sends ``If-None-Match`` / ``If-Modified-Since`` and a
  ``304 Not Modified`` keeps the cached copy without a body. ``max_age_s`` refreshes a cached
  copy older than that many seconds (rolling real-time products).
* Every URL in a log line or an error message goes through
  :func:`data_sources.redact.redact_url`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import urllib3

from data_sources.netcdf import write_bytes_atomic
from data_sources.redact import quiet_http_loggers, redact_text, redact_url

log = logging.getLogger(__name__)

USER_AGENT = "superstorm (+https://github.com/superstorm/superstorm)"

#: default overall time [s] one try of one file may take, transfer included
DEFAULT_DEADLINE_S = 120.0

#: bytes read per chunk while streaming a body
CHUNK_BYTES = 1 << 16

__all__ = [
    "DownloadError",
    "NotFoundError",
    "NotModified",
    "atomic_write_bytes",
    "cached_download",
    "fetch_bytes",
    "quiet_http_loggers",
    "redact_url",
]


class DownloadError(RuntimeError):
    """A download failed after all retries."""


class NotFoundError(DownloadError):
    """The server answered 404: the file does not exist upstream (not retried)."""


class NotModified(Exception):  # noqa: N818 - it is a state, not an error
    """The server answered ``304 Not Modified`` to a conditional request."""


def _read_body(resp: requests.Response, url: str, t_end: float) -> bytes:
    """Stream ``resp``'s body, raising :class:`DownloadError` once ``t_end`` has passed."""
    raw = resp.raw
    read = getattr(raw, "read1", None)
    chunks: list[bytes] = []
    while True:
        if time.monotonic() > t_end:
            got = sum(map(len, chunks))
            raise DownloadError(f"{redact_url(url)}: deadline exceeded after {got} bytes")
        if read is not None:
            chunk = read(CHUNK_BYTES, decode_content=True)
        else:  # pragma: no cover - urllib3 < 2.3
            chunk = raw.read(CHUNK_BYTES, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _get_once(
    url: str, params: dict | None, headers: dict[str, str], timeout: float, deadline: float
) -> tuple[bytes, requests.structures.CaseInsensitiveDict]:
    t_end = time.monotonic() + deadline
    read_timeout = max(0.05, min(timeout, deadline))
    with requests.get(
        url, params=params, timeout=(timeout, read_timeout), headers=headers, stream=True
    ) as resp:
        if resp.status_code == 404:
            raise NotFoundError(f"{redact_url(url)}: HTTP 404 (not on the server)")
        if resp.status_code == 304:
            raise NotModified(url)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise DownloadError(f"{redact_url(url)}: HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise DownloadError(f"{redact_url(url)}: HTTP {resp.status_code} {resp.reason}")
        body = _read_body(resp, url, t_end)
        expected = resp.headers.get("Content-Length")
        encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
        if expected is not None and not encoded and len(body) != int(expected):
            raise DownloadError(
                f"{redact_url(url)}: truncated body ({len(body)} of {expected} bytes)"
            )
        return body, resp.headers


def fetch(
    url: str,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    params: dict | None = None,
    deadline: float = DEFAULT_DEADLINE_S,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """GET ``url``; return the whole body and the response headers.

    Parameters
    ----------
    url : str
        The URL (printed only through :func:`redact_url`).
    timeout : float
        Connect and per-read timeout [s].
    retries : int
        Further tries after the first on connection errors, timeouts, HTTP 5xx/429, bodies
        that do not match ``Content-Length`` and an exceeded ``deadline``.
    backoff : float
        Wait ``backoff * 2**k`` seconds before try ``k+1``.
    params : dict, optional
        Query parameters.
    deadline : float
        Overall time [s] one try may take, body included.
    headers : dict, optional
        Extra request headers (``If-None-Match`` ...).

    Returns
    -------
    tuple of (bytes, dict of str to str)
        The whole (decoded) body and the response headers.

    Raises
    ------
    NotFoundError
        On HTTP 404 (not retried).
    NotModified
        On HTTP 304 (a conditional request; not retried).
    DownloadError
        When every try failed; the message names the (redacted) URL and the last error.
    """
    if deadline <= 0:
        raise ValueError(f"deadline {deadline!r} s must be > 0")
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    shown = redact_url(url)
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            body, resp_headers = _get_once(url, params, all_headers, timeout, deadline)
            return body, dict(resp_headers)
        except (NotFoundError, NotModified):
            raise
        except (requests.RequestException, urllib3.exceptions.HTTPError, DownloadError) as exc:
            last = exc
            log.warning(
                "download try %d/%d of %s failed: %s",
                attempt + 1,
                retries + 1,
                shown,
                redact_text(str(exc)),
            )
    raise DownloadError(
        f"could not download {shown} after {retries + 1} tries: {redact_text(str(last))}"
    )


def fetch_bytes(
    url: str,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    params: dict | None = None,
    deadline: float = DEFAULT_DEADLINE_S,
) -> bytes:
    """GET ``url`` and return the whole body (see :func:`fetch` for the parameters).

    Parameters
    ----------
    url : str
        The URL (printed only through :func:`redact_url`).
    timeout : float
        Connect and per-read timeout [s] (default 30).
    retries : int
        Further tries after the first (default 3).
    backoff : float
        Wait ``backoff * 2**k`` seconds before try ``k+1`` (default 1 s).
    params : dict, optional
        Query parameters.
    deadline : float
        Overall time [s] one try may take, body included (default
        :data:`DEFAULT_DEADLINE_S`, 120 s).

    Returns
    -------
    bytes
        The whole body.

    Raises
    ------
    NotFoundError
        On HTTP 404 (the file is not upstream; retrying would not help).
    DownloadError
        When every try failed; the message names the URL and the last error.
    """
    return fetch(
        url, timeout=timeout, retries=retries, backoff=backoff, params=params, deadline=deadline
    )[0]


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (:func:`data_sources.netcdf.write_bytes_atomic`).

    Parameters
    ----------
    path : Path
        Target file.
    data : bytes
        The full content.

    Returns
    -------
    Path
        ``path``.
    """
    return write_bytes_atomic(data, path)


def validators_path(dest: Path) -> Path:
    """Where the ``ETag`` / ``Last-Modified`` of cached file ``dest`` are kept.

    Parameters
    ----------
    dest : Path
        A cached download.

    Returns
    -------
    Path
        ``.<name>.http.json`` beside ``dest``.
    """
    dest = Path(dest)
    return dest.with_name(f".{dest.name}.http.json")


def _read_validators(dest: Path) -> dict[str, str]:
    path = validators_path(dest)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if k in ("etag", "last_modified") and isinstance(v, str)}


def _conditional_headers(dest: Path) -> dict[str, str]:
    if not dest.exists():
        return {}
    saved = _read_validators(dest)
    headers = {}
    if "etag" in saved:
        headers["If-None-Match"] = saved["etag"]
    if "last_modified" in saved:
        headers["If-Modified-Since"] = saved["last_modified"]
    return headers


def _save_validators(dest: Path, headers: dict[str, str]) -> None:
    lower = {k.lower(): v for k, v in headers.items()}
    saved = {
        key: lower[header]
        for key, header in (("etag", "etag"), ("last_modified", "last-modified"))
        if header in lower
    }
    path = validators_path(dest)
    if saved:
        atomic_write_bytes(path, json.dumps(saved).encode())
    else:
        path.unlink(missing_ok=True)


def is_stale(dest: Path, max_age_s: float | None) -> bool:
    """Whether cached ``dest`` is missing or older than ``max_age_s`` seconds (``None``: never).

    Parameters
    ----------
    dest : Path
        A cached download.
    max_age_s : float or None
        Largest age [s] of its modification time that is still fresh; ``None``: an
        existing file never goes stale.

    Returns
    -------
    bool
        True if ``dest`` does not exist or is older than ``max_age_s``.
    """
    dest = Path(dest)
    if not dest.exists():
        return True
    if max_age_s is None:
        return False
    return time.time() - dest.stat().st_mtime > max_age_s


def cached_download(
    url: str,
    dest: Path,
    *,
    refresh: bool = False,
    max_age_s: float | None = None,
    validate: Callable[[bytes], object] | None = None,
    **fetch_kwargs: Any,
) -> Path:
    """Return ``dest``, downloading ``url`` into it first if it is missing, stale or ``refresh``.

    A cached copy is refreshed when ``refresh`` is true or it is older than ``max_age_s``
    seconds. A refresh is conditional: the saved ``ETag`` / ``Last-Modified`` go with it and
    a ``304 Not Modified`` keeps the cached copy (its modification time is set to now).

    ``validate(body)`` runs before the body enters the cache (a parser is a good validator):
    if it raises, nothing is written and the exception propagates, so the cache keeps
    whatever good copy it had.

    Parameters
    ----------
    url : str
        What to download.
    dest : Path
        Cache file; written atomically, with its ``ETag`` / ``Last-Modified`` saved in
        :func:`validators_path`.
    refresh : bool, optional
        Download again (conditionally) even when a fresh cached copy exists.
    max_age_s : float, optional
        Age [s] after which a cached copy is refreshed; ``None`` (default): never by age.
    validate : callable, optional
        ``validate(body)``, run on the downloaded bytes before they are cached; raise to
        refuse them.
    **fetch_kwargs
        Passed to :func:`fetch` (``timeout``, ``retries``, ``backoff``, ``params``,
        ``deadline``).

    Returns
    -------
    Path
        ``dest``, now holding the newest accepted copy.

    Raises
    ------
    NotFoundError
        On HTTP 404.
    DownloadError
        When every try failed (an existing cached copy is left as it was).
    """
    dest = Path(dest)
    if dest.exists() and not refresh and not is_stale(dest, max_age_s):
        return dest
    try:
        body, headers = fetch(url, headers=_conditional_headers(dest), **fetch_kwargs)
    except NotModified:
        if not dest.exists():
            raise DownloadError(
                f"{redact_url(url)}: HTTP 304 to an unconditional request"
            ) from None
        log.info("%s not modified since the cached copy %s", redact_url(url), dest)
        os.utime(dest)
        return dest
    if validate is not None:
        validate(body)
    atomic_write_bytes(dest, body)
    _save_validators(dest, headers)
    return dest
