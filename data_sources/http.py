"""Downloads with timeouts, retries with exponential backoff, and atomic cache writes.

A partial download never enters the cache: bytes go to a temporary file in the cache folder
and are renamed into place only after the whole body arrived and passed ``validate``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

log = logging.getLogger(__name__)

USER_AGENT = "superstorm (+https://github.com/superstorm/superstorm)"


class DownloadError(RuntimeError):
    """A download failed after all retries."""


class NotFoundError(DownloadError):
    """The server answered 404: the file does not exist upstream (not retried)."""


def fetch_bytes(
    url: str,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    params: dict | None = None,
) -> bytes:
    """GET ``url`` and return the whole body.

    Retries on connection errors, timeouts, HTTP 5xx/429 and truncated bodies (fewer bytes
    than ``Content-Length``), waiting ``backoff * 2**k`` seconds before try ``k+1``.

    Raises
    ------
    NotFoundError
        On HTTP 404 (the file is not upstream; retrying would not help).
    DownloadError
        When every try failed; the message names the URL and the last error.
    """
    last: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            resp = requests.get(
                url, params=params, timeout=timeout, headers={"User-Agent": USER_AGENT}
            )
            if resp.status_code == 404:
                raise NotFoundError(f"{url}: HTTP 404 (not on the server)")
            if resp.status_code >= 500 or resp.status_code == 429:
                raise DownloadError(f"{url}: HTTP {resp.status_code}")
            resp.raise_for_status()
            body = resp.content
            expected = resp.headers.get("Content-Length")
            if expected is not None and len(body) != int(expected):
                raise DownloadError(f"{url}: truncated body ({len(body)} of {expected} bytes)")
            return body
        except NotFoundError:
            raise
        except (requests.RequestException, DownloadError) as exc:
            last = exc
            log.warning("download try %d/%d of %s failed: %s", attempt + 1, retries + 1, url, exc)
    raise DownloadError(f"could not download {url} after {retries + 1} tries: {last}")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached_download(
    url: str,
    dest: Path,
    *,
    refresh: bool = False,
    validate: Callable[[bytes], object] | None = None,
    **fetch_kwargs: Any,
) -> Path:
    """Return ``dest``, downloading ``url`` into it first if it is missing (or ``refresh``).

    ``validate(body)`` runs before the body enters the cache (a parser is a good validator):
    if it raises, nothing is written and the exception propagates, so the cache keeps
    whatever good copy it had.
    """
    dest = Path(dest)
    if dest.exists() and not refresh:
        return dest
    body = fetch_bytes(url, **fetch_kwargs)
    if validate is not None:
        validate(body)
    return atomic_write_bytes(dest, body)
