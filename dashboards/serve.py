"""Serve a built dashboard folder on loopback (127.0.0.1 only) with Python's http.server."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class DashboardServer:
    """A threaded static server for ``directory`` on ``127.0.0.1:port`` (port 0: any free one).

    Use as a context manager or call :meth:`stop`; :attr:`url` is the site root.
    """

    def __init__(self, directory: str | Path, port: int = 0, *, quiet: bool = True):
        directory = Path(directory)
        if not (directory / "index.html").exists():
            raise FileNotFoundError(
                f"{directory} holds no index.html; build the site first "
                "(superstorm dashboard build --out DIR)"
            )
        handler = functools.partial(
            _QuietHandler if quiet else http.server.SimpleHTTPRequestHandler,
            directory=str(directory),
        )
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.directory = directory
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(directory: str | Path, port: int = 0, *, quiet: bool = True) -> DashboardServer:
    """Start serving ``directory`` in a background thread; returns the running server."""
    return DashboardServer(directory, port, quiet=quiet)
