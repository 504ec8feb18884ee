"""Serve a built dashboard folder on loopback (127.0.0.1 only) with Python's http.server.

Only the site's own files are served: no folder listings (a folder without ``index.html`` is
a 404), no dotfiles or dot-folders (``.git``, ``.env``, temporary ``.*.part`` files), and no
file whose real path (links resolved) lies outside the site folder.
"""

from __future__ import annotations

import functools
import http.server
import io
import os
import posixpath
import threading
import urllib.parse
from pathlib import Path
from typing import Any, BinaryIO


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of one site folder; listings, dotfiles and outside links are 404s."""

    def _allowed(self) -> bool:
        raw = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [p for p in posixpath.normpath(raw).split("/") if p]
        if any(p.startswith(".") for p in parts):
            return False
        root = os.path.realpath(self.directory)
        real = os.path.realpath(self.translate_path(self.path))
        return real == root or real.startswith(root + os.sep)

    def send_head(self) -> io.BytesIO | BinaryIO | None:
        """Send the headers of an allowed file, else a 404 (http.server hook).

        Returns
        -------
        file object or None
            The open file for ``do_GET`` to copy, or None when nothing is to be sent.
        """
        if not self._allowed():
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> io.BytesIO | None:
        """Refuse every folder listing with a 404 (http.server hook).

        Parameters
        ----------
        path : str or os.PathLike
            The folder's local path (unused).

        Returns
        -------
        None
            Nothing to send beyond the 404.
        """
        self.send_error(404, "File not found")
        return None

    def end_headers(self) -> None:
        """Add ``X-Content-Type-Options: nosniff`` and end the headers (http.server hook)."""
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()


class _QuietHandler(SiteHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass


class DashboardServer:
    """A threaded static server for ``directory`` on ``127.0.0.1:port`` (port 0: any free one).

    Use as a context manager or call :meth:`stop`; :attr:`url` is the site root.
    """

    def __init__(self, directory: str | Path, port: int = 0, *, quiet: bool = True) -> None:
        directory = Path(directory)
        if not (directory / "index.html").exists():
            raise FileNotFoundError(
                f"{directory} holds no index.html; build the site first "
                "(superstorm dashboard build --out DIR)"
            )
        handler = functools.partial(
            _QuietHandler if quiet else SiteHandler,
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
        """Return the running server (it started in ``__init__``)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the server (:meth:`stop`)."""
        self.stop()


def serve(directory: str | Path, port: int = 0, *, quiet: bool = True) -> DashboardServer:
    """Start serving ``directory`` on 127.0.0.1 in a background thread.

    Parameters
    ----------
    directory : str or pathlib.Path
        Built site folder; must hold ``index.html``.
    port : int, default 0
        TCP port on 127.0.0.1; 0 picks a free one (read it from the server's ``port``/``url``).
    quiet : bool, default True
        Do not log a line per request to stderr.

    Returns
    -------
    DashboardServer
        The running server; call :meth:`DashboardServer.stop` (or use it as a context
        manager) to stop it.

    Raises
    ------
    FileNotFoundError
        When ``directory`` holds no ``index.html`` (build the site first).
    """
    return DashboardServer(directory, port, quiet=quiet)
