"""``superstorm`` command line: one sub-command module per job.

Each module in :data:`COMMANDS` has ``register(subparsers)`` that adds its parser(s) and sets
``func`` on them; heavy imports stay inside the handlers so ``superstorm --help`` is fast.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from superstorm_cli import (
    alerts,
    backtest,
    blend,
    calibrate,
    dashboard,
    demo,
    forecast,
    ingest,
    mirror,
    prune,
    train,
)
from superstorm_cli.common import InstallationError, check_installation, configure_logging

COMMANDS = (
    ingest,
    mirror,
    train,
    calibrate,
    blend,
    forecast,
    alerts,
    dashboard,
    backtest,
    demo,
    prune,
)


def package_version() -> str:
    """Return the installed superstorm version.

    Returns
    -------
    str
        The distribution's version, or ``0+unknown`` when run from an uninstalled checkout.
    """
    try:
        return version("superstorm")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """Build the ``superstorm`` parser with every sub-command of :data:`COMMANDS` registered.

    Returns
    -------
    argparse.ArgumentParser
        The top-level parser (``-v``/``--verbose``, ``--version``); each sub-command's parser
        sets ``func``, the handler :func:`main` calls with the parsed namespace.
    """
    parser = argparse.ArgumentParser(
        prog="superstorm", description="Space-weather forecasting: Dst and Kp, alerts, dashboards."
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="more output: progress details, debug logs"
    )
    parser.add_argument("--version", action="version", version=f"superstorm {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; errors become one line on stderr (``-v`` adds the traceback).

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 a download failed, 2 bad input, 130 interrupted.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from data_sources.http import DownloadError

    try:
        check_installation()
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # `superstorm alerts list | head`: the reader went away; exit quietly.
        _silence_stdout()
        return 0
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _silence_stdout()
            return 0
        if args.verbose:
            raise
        print(f"superstorm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except DownloadError as exc:
        if args.verbose:
            raise
        print(
            f"superstorm {args.command}: download failed: {exc} "
            "(check the network or the source's base URL; -v for details)",
            file=sys.stderr,
        )
        return 1
    except (ValueError, KeyError, InstallationError) as exc:
        if args.verbose:
            raise
        print(f"superstorm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"superstorm {args.command}: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush cannot raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
