"""``superstorm dashboard``: build the static Plotly site and serve it on 127.0.0.1."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` command group: ``build`` (``func=build``), ``serve`` (``func=serve``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`).
    """
    p = sub.add_parser("dashboard", help="build or serve the Plotly dashboard pages")
    dsub = p.add_subparsers(dest="dashboard_command", required=True)
    b = dsub.add_parser("build", help="build the static site from $SUPERSTORM_HOME")
    b.add_argument("--out", required=True, help="output folder (created if missing)")
    b.add_argument("--home", default=None, help="superstorm home (default $SUPERSTORM_HOME)")
    b.set_defaults(func=build)
    s = dsub.add_parser("serve", help="serve a built site on 127.0.0.1")
    s.add_argument("--dir", default="dashboard", help="built site folder (default ./dashboard)")
    s.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (default 8050)")
    s.set_defaults(func=serve)


def build(args: argparse.Namespace) -> int:
    """Build the static site (``superstorm dashboard build``) and print its files.

    Calls :func:`dashboards.site.build_site_from_home`; missing pieces (no archive, no skill
    report) are reported on their pages, not as errors. Prints one written path per line,
    then how to open or serve the site.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``out`` (str): output folder, created if missing;
        - ``home`` (str or None): superstorm home to read (default ``$SUPERSTORM_HOME``).

    Returns
    -------
    int
        Exit status 0.
    """
    from dashboards.site import build_site_from_home

    paths = build_site_from_home(args.out, home=args.home)
    for path in paths:
        print(path)
    print(
        f"open {Path(args.out).resolve() / 'index.html'} or run: superstorm dashboard serve --dir {args.out}"
    )
    return 0


def serve(args: argparse.Namespace) -> int:
    """Serve a built site on 127.0.0.1 until Ctrl-C (``superstorm dashboard serve``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``dir`` (str): built site folder holding ``index.html`` (default ``./dashboard``);
        - ``port`` (int): TCP port on 127.0.0.1 (default 8050; 0 picks a free one).

    Returns
    -------
    int
        Exit status 0 after Ctrl-C stopped the server. A folder without ``index.html``
        raises ``FileNotFoundError`` (exit status 2 from :func:`superstorm_cli.main.main`).
    """
    from dashboards.serve import serve as start

    server = start(args.dir, args.port, quiet=False)
    print(f"serving {server.directory} at {server.url} (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0
