"""``superstorm alerts list``: the alert log (serial, kind, level, probability, window, status)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``alerts`` command group (``superstorm alerts list``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``superstorm`` parser's sub-command action (:func:`superstorm_cli.main.build_parser`);
        the ``alerts`` parser and its ``list`` sub-command are added to it, ``list`` with
        ``func=run_list``.
    """
    p = sub.add_parser("alerts", help="alert log: watches, warnings, alerts, all-clears")
    g = p.add_subparsers(dest="alerts_command", required=True)
    ls = g.add_parser("list", help="list alerts (active ones unless --all)")
    ls.add_argument("--json", action="store_true", help="JSON records instead of a table")
    ls.add_argument(
        "--all",
        action="store_true",
        help="every message (extensions, cancellations, all-clears, ended alerts)",
    )
    ls.add_argument(
        "--log",
        type=Path,
        default=None,
        metavar="FILE",
        help="alert log to read (default $SUPERSTORM_ALERT_LOG or $SUPERSTORM_HOME/alerts.sqlite; "
        "a replay's is $SUPERSTORM_HOME/replays/<stamp>/alerts.sqlite)",
    )
    ls.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print the alert log (``superstorm alerts list``): a table, or JSON records.

    Reads the SQLite alert log ``--log``, else :func:`forecasting.alerting.log.default_path`
    (``$SUPERSTORM_ALERT_LOG`` or ``$SUPERSTORM_HOME/alerts.sqlite``); a missing default log
    means no alerts (nothing is created).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line; fields used:

        - ``all`` (bool, ``--all``): every message (extensions, cancellations, all-clears,
          ended alerts) instead of the active ones only;
        - ``json`` (bool, ``--json``): print :func:`forecasting.alerting.log.feed_record`
          records as a JSON list instead of the table of :func:`format_table`;
        - ``log`` (Path or None, ``--log FILE``): the alert log to read; a named file that does
          not exist is an error (exit 2), not an empty list.

    Returns
    -------
    int
        Exit status: 0 (also when there are no alerts; "no active alerts" is printed).

    Raises
    ------
    ValueError
        If ``--log`` names a file that does not exist (``main`` prints it, exit 2).
    """
    from forecasting.alerting.log import AlertLog, default_path, feed_record

    path = getattr(args, "log", None)
    if path is not None and not path.is_file():
        raise ValueError(
            f"--log {path}: no alert log there; a replay's log is "
            "$SUPERSTORM_HOME/replays/<stamp>/alerts.sqlite"
        )
    path = path if path is not None else default_path()
    if not path.exists():
        records = []
    else:
        log = AlertLog(path)
        msgs = log.messages() if args.all else log.messages(status="active")
        records = [feed_record(m) for m in msgs]
    if args.json:
        print(json.dumps(records, indent=1))
        return 0
    if not records:
        print("no alerts" if args.all else "no active alerts")
        return 0
    for line in format_table(records):
        print(line)
    return 0


#: the table's column headers, in order (cells: :func:`_cells`)
COLUMNS = ("serial", "kind", "level", "prob", "issued", "valid from", "valid to", "status")


def _cells(r: dict) -> list[str]:
    """Return the table cells of one feed record (in :data:`COLUMNS` order)."""
    status = r["status"] + ("" if r["action"] in ("issue", "escalate") else f" ({r['action']})")
    return [
        str(r["serial"]),
        str(r["kind"]),
        str(r["level"]),
        "" if r["probability"] is None else f"{r['probability']:.2f}",
        str(r["issued"]),
        str(r["valid_start"]),
        str(r["valid_end"] or "open"),
        status,
    ]


def format_table(records: list[dict]) -> list[str]:
    """Format the alert table as lines; each column as wide as its widest cell or header.

    Parameters
    ----------
    records : list of dict
        :func:`forecasting.alerting.log.feed_record` rows.

    Returns
    -------
    list of str
        Header line, then one line per record (serial and probability right-aligned).
    """
    rows = [_cells(r) for r in records]
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *rows, strict=True)]
    right = {"serial", "prob"}

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if name in right else c.ljust(w)
            for name, c, w in zip(COLUMNS, cells, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(list(COLUMNS)), *(line(r) for r in rows)]
