"""A loopback HTTP mirror that serves recorded data under the upstream URL paths.

Tests and the offline demo point ``SUPERSTORM_MIRROR`` (or a ``base_url``) at it; the
``get_*`` functions then run the same download + parse code they run against the real
servers. Each source module contributes ``mirror_files(data_dir) -> {url_path: Path | bytes}``
(recorded files served as they are, or recorded values re-encoded into the upstream layout).

Faults can be injected per path for tests: HTTP 500 for the next *n* requests, a delay, or a
truncated body (the ``Content-Length`` header promises more than is sent).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from data_sources import celestrak, gfz_kp, kyoto_dst, omni2, solar_indices, swpc

log = logging.getLogger(__name__)

#: Source modules that contribute files (``mirror_files``) or query routes (``mirror_routes``).
SOURCE_MODULES: tuple[ModuleType, ...] = (
    omni2,
    kyoto_dst,
    gfz_kp,
    swpc,
    celestrak,
    solar_indices,
)


def default_data_dir() -> Path:
    """The recorded-data folder named by ``SUPERSTORM_DATA`` (no other default).

    Tests, benchmarks and the demo set it (``tests/conftest.py`` and the Makefile point it at
    ``../shared/data``); the library itself never reads a recorded folder unless told to.

    Returns
    -------
    Path
        ``$SUPERSTORM_DATA`` with ``~`` expanded (not checked to exist).

    Raises
    ------
    ValueError
        If ``SUPERSTORM_DATA`` is not set; the message says how to name the folder.
    """
    import os

    env = os.environ.get("SUPERSTORM_DATA", "").strip()
    if not env:
        raise ValueError(
            "no recorded-data folder named: set SUPERSTORM_DATA=/path/to/recorded/data "
            "(e.g. ../shared/data in a checkout) or pass --data DIR"
        )
    return Path(env).expanduser()


def collect_files(data_dir: Path) -> dict[str, Path | bytes]:
    """All ``url_path -> content`` pairs every source module offers from ``data_dir``.

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder.

    Returns
    -------
    dict of str to Path or bytes
        URL path below the mirror root (``<upstream host>/<path>``, no leading ``/``) ->
        a recorded file served as-is or a re-encoded body, merged over
        :data:`SOURCE_MODULES`' ``mirror_files``.
    """
    files: dict[str, Path | bytes] = {}
    for mod in SOURCE_MODULES:
        contribute = getattr(mod, "mirror_files", None)
        if contribute is not None:
            files.update({k.lstrip("/"): v for k, v in contribute(Path(data_dir)).items()})
    return files


@dataclass
class Faults:
    """Faults to inject, keyed by URL path (without the leading slash)."""

    fail_next: dict[str, int] = field(default_factory=dict)
    delay_s: dict[str, float] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    replace: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def clear(self) -> None:
        """Remove every injected fault and forget the recorded requests."""
        self.fail_next.clear()
        self.delay_s.clear()
        self.truncate.clear()
        self.replace.clear()
        self.requests.clear()


class MirrorServer:
    """Serves ``files`` on ``127.0.0.1:<port>``; use as a context manager.

    ``dynamic`` maps a URL path to a callable ``(query: dict) -> bytes`` for query APIs
    (the GFZ JSON API, say).

    Parameters
    ----------
    files : dict of str to Path or bytes
        URL path (no leading ``/``) -> file or body, e.g. :func:`collect_files`.
    dynamic : dict, optional
        URL path -> ``f(query: dict) -> bytes``, e.g. :func:`dynamic_routes`.
    port : int, optional
        TCP port on 127.0.0.1; 0 (default) picks a free one (see :attr:`url`).
    """

    def __init__(
        self, files: dict[str, Path | bytes], dynamic: dict | None = None, port: int = 0
    ) -> None:
        self.files = dict(files)
        self.dynamic = dict(dynamic or {})
        self.faults = Faults()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:  # quiet
                log.debug("mirror: " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server (``http://127.0.0.1:<port>``)."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"  # type: ignore[str-bytes-safe]  # an IPv4 str

    def _body(self, path: str, query: dict) -> bytes | None:
        if path in self.faults.replace:
            return self.faults.replace[path]
        if path in self.dynamic:
            return self.dynamic[path](query)
        content = self.files.get(path)
        if content is None:
            return None
        return content if isinstance(content, bytes) else Path(content).read_bytes()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        import time

        parts = urlsplit(req.path)
        path = parts.path.lstrip("/")
        self.faults.requests.append(path)
        if self.faults.delay_s.get(path):
            time.sleep(self.faults.delay_s[path])
        if self.faults.fail_next.get(path, 0) > 0:
            self.faults.fail_next[path] -= 1
            req.send_error(500, "injected failure")
            return
        body = self._body(path, dict(parse_qsl(parts.query)))
        if body is None:
            req.send_error(404, "not in mirror")
            return
        req.send_response(200)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if path in self.faults.truncate:
            body = body[: len(body) // 2]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            req.wfile.write(body)

    def start(self) -> MirrorServer:
        """Start serving on a background thread; return ``self``.

        Returns
        -------
        MirrorServer
            ``self``, now serving at :attr:`url`.
        """
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def dynamic_routes(data_dir: Path) -> dict:
    """Query-API routes every source module offers (``mirror_routes(data_dir)``).

    Parameters
    ----------
    data_dir : Path
        Recorded-data folder.

    Returns
    -------
    dict
        URL path (no leading ``/``) -> ``f(query: dict) -> bytes``.
    """
    routes: dict = {}
    for mod in SOURCE_MODULES:
        contribute = getattr(mod, "mirror_routes", None)
        if contribute is not None:
            routes.update({k.lstrip("/"): v for k, v in contribute(Path(data_dir)).items()})
    return routes


def serve_recorded(data_dir: Path | None = None, port: int = 0) -> MirrorServer:
    """A started mirror of everything recorded in ``data_dir`` (default ``SUPERSTORM_DATA``).

    Parameters
    ----------
    data_dir : Path, optional
        Recorded-data folder; default :func:`default_data_dir`.
    port : int, optional
        TCP port on 127.0.0.1; 0 (default) picks a free one.

    Returns
    -------
    MirrorServer
        The running server; point ``SUPERSTORM_MIRROR`` at its :attr:`~MirrorServer.url`
        and call :meth:`~MirrorServer.stop` (or use it as a context manager) when done.

    Raises
    ------
    FileNotFoundError
        If ``data_dir`` is not a folder.
    ValueError
        If no ``data_dir`` is given and ``SUPERSTORM_DATA`` is not set.
    """
    data_dir = Path(data_dir or default_data_dir())
    if not data_dir.is_dir():
        raise FileNotFoundError(
            f"recorded data folder {data_dir} not found; set SUPERSTORM_DATA to the folder "
            "holding the recorded upstream files (../shared/data in a checkout)"
        )
    return MirrorServer(collect_files(data_dir), dynamic_routes(data_dir), port=port).start()
