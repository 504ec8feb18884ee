"""``superstorm mirror``: serve recorded data on loopback under the upstream URL paths."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``mirror`` sub-command (``func=run``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser(
        "mirror",
        help="serve recorded upstream files on 127.0.0.1 (point SUPERSTORM_MIRROR at it)",
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="recorded data folder to serve (default: $SUPERSTORM_DATA)",
    )
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve the recorded upstream files on 127.0.0.1 until Ctrl-C (``superstorm mirror``).

    Prints the mirror's URL and the ``export SUPERSTORM_MIRROR=...`` line that points the
    sources' downloads at it (:func:`data_sources.mirror.server.serve_recorded`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``data`` (str or None): recorded data folder (default ``$SUPERSTORM_DATA``);
        - ``port`` (int): TCP port on 127.0.0.1 (default 8765; 0 picks a free one).

    Returns
    -------
    int
        Exit status 0 after Ctrl-C stopped the server. A missing folder raises
        ``FileNotFoundError`` and no ``$SUPERSTORM_DATA`` ``ValueError`` (both exit status 2
        from :func:`superstorm_cli.main.main`).
    """
    from data_sources.mirror.server import serve_recorded

    server = serve_recorded(args.data, port=args.port)
    print(f"serving {len(server.files)} files at {server.url}")
    print(f"export SUPERSTORM_MIRROR={server.url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0
