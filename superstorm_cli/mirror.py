"""``superstorm mirror``: serve recorded data on loopback under the upstream URL paths."""

from __future__ import annotations

import argparse
import time


def register(sub: argparse._SubParsersAction) -> None:
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
