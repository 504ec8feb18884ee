"""The alert log: SQLite at ``$SUPERSTORM_HOME/alerts.sqlite``, the source of truth.

Tables
------
``runs``
    One row per forecast issue time whose actions were committed. A run whose issue time is
    already here is a no-op (a re-run after a crash neither loses nor repeats anything).
``messages``
    One row per product message with an SWPC-like ``serial``: ``issue`` and ``escalate``
    rows are alerts (``status`` active / superseded / cancelled / expired / ended);
    ``extend``, ``cancel``, ``expire`` and ``all_clear`` rows refer to one (``refers_to``)
    and change its status or window. A UNIQUE constraint on
    ``(action, kind, family, level, valid_start, valid_end, run_time)`` plus
    ``INSERT OR IGNORE`` make writes idempotent.
``deliveries``
    Every delivery attempt of a message (``delivered`` or ``failed`` with the error).

All writes of one run happen in one ``BEGIN IMMEDIATE`` transaction. The JSON feed of active
alerts, ``$SUPERSTORM_HOME/alerts/active.json``, is rewritten (temp file + rename) from the
log after each change, so it can always be rebuilt from the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from data_sources import config
from forecasting.alerting.rules import (
    ALL_CLEAR,
    CANCEL,
    ESCALATE,
    EXPIRE,
    EXTEND,
    ISSUE,
    ActiveAlert,
    AlertAction,
    RuleState,
    format_message,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_time   TEXT PRIMARY KEY,
    committed  TEXT NOT NULL,
    n_messages INTEGER NOT NULL,
    note       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS messages (
    serial      INTEGER PRIMARY KEY AUTOINCREMENT,
    action      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    family      TEXT NOT NULL,
    level       TEXT NOT NULL,
    probability REAL,
    valid_start TEXT NOT NULL,
    valid_end   TEXT NOT NULL DEFAULT '',
    issue_time  TEXT NOT NULL,
    run_time    TEXT NOT NULL,
    refers_to   INTEGER REFERENCES messages(serial),
    episode     INTEGER,
    status      TEXT NOT NULL,
    notify      INTEGER NOT NULL DEFAULT 1,
    text        TEXT NOT NULL,
    updated     TEXT NOT NULL,
    UNIQUE (action, kind, family, level, valid_start, valid_end, run_time)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    serial     INTEGER NOT NULL REFERENCES messages(serial),
    attempted  TEXT NOT NULL,
    run_time   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_serial ON deliveries(serial);
"""

#: status an action gives the alert it refers to
_STATUS_AFTER = {ESCALATE: "superseded", CANCEL: "cancelled", EXPIRE: "expired", ALL_CLEAR: "ended"}
#: actions that create a new alert (with its own serial and status 'active')
_PRODUCTS = (ISSUE, ESCALATE)
#: actions operators are not notified of (a warning simply runs out)
_SILENT = (EXPIRE,)


def _iso(t) -> str:
    if t is None or (not isinstance(t, str) and pd.isna(t)):
        return ""
    t = pd.Timestamp(t)
    if t.tzinfo is not None:
        t = t.tz_convert(None)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(s: str) -> pd.Timestamp | None:
    return pd.Timestamp(s.rstrip("Z")) if s else None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_path() -> Path:
    """``$SUPERSTORM_ALERT_LOG`` when set (replays, backfills), else ``$SUPERSTORM_HOME/alerts.sqlite``."""
    env = os.environ.get("SUPERSTORM_ALERT_LOG")
    return Path(env).expanduser() if env else config.home() / "alerts.sqlite"


def feed_path(home: Path | None = None) -> Path:
    """``$SUPERSTORM_HOME/alerts/active.json``."""
    return (home or config.home()) / "alerts" / "active.json"


class RunOrderError(ValueError):
    """A run older than the newest committed run (the log only moves forward)."""


class AlertLog:
    """The SQLite alert log. Open with ``AlertLog(path)``; every method opens its own connection.

    Parameters
    ----------
    path
        Database file (default ``$SUPERSTORM_HOME/alerts.sqlite``).
    feed
        JSON feed path (default ``active.json`` under ``alerts/`` beside the database).
    """

    def __init__(self, path: str | Path | None = None, *, feed: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.feed = Path(feed) if feed is not None else self.path.parent / "alerts" / "active.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys = ON")
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ------------------------------------------------------------------ queries

    def has_run(self, run_time) -> bool:
        """Whether the actions of the run issued at ``run_time`` are committed."""
        with self._connect() as con:
            row = con.execute("SELECT 1 FROM runs WHERE run_time = ?", (_iso(run_time),)).fetchone()
        return row is not None

    def last_run(self) -> pd.Timestamp | None:
        """Issue time of the newest committed run."""
        with self._connect() as con:
            row = con.execute("SELECT MAX(run_time) AS t FROM runs").fetchone()
        return _ts(row["t"]) if row and row["t"] else None

    def state(self) -> RuleState:
        """The alerts in force, for :func:`forecasting.alerting.rules.evaluate_rules`."""
        return RuleState(
            active=[
                ActiveAlert(
                    serial=r["serial"],
                    kind=r["kind"],
                    family=r["family"],
                    level=r["level"],
                    probability=float(r["probability"])
                    if r["probability"] is not None
                    else float("nan"),
                    valid_start=_ts(r["valid_start"]),
                    valid_end=_ts(r["valid_end"]),
                    issue_time=_ts(r["issue_time"]),
                )
                for r in self.messages(status="active")
            ]
        )

    def messages(self, *, status: str | None = None, run_time=None) -> list[dict]:
        """Messages (oldest first) with their delivery state, optionally filtered."""
        sql = (
            "SELECT m.*, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.serial = m.serial) AS attempts, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.serial = m.serial "
            " AND d.outcome = 'delivered') AS delivered "
            "FROM messages m"
        )
        where, args = [], []
        if status is not None:
            where.append("m.status = ?")
            args.append(status)
        if run_time is not None:
            where.append("m.run_time = ?")
            args.append(_iso(run_time))
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY m.serial", args)]

    def deliveries(self, serial: int | None = None) -> list[dict]:
        """Delivery attempts (oldest first)."""
        sql, args = "SELECT * FROM deliveries", []
        if serial is not None:
            sql, args = sql + " WHERE serial = ?", [serial]
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY id", args)]

    def undelivered(self) -> list[dict]:
        """Messages operators must get that no attempt has delivered yet (oldest first)."""
        return [m for m in self.messages() if m["notify"] and not m["delivered"]]

    # ------------------------------------------------------------------ writes

    def record_run(self, run_time, actions: Iterable[AlertAction], *, note: str = "") -> list[dict]:
        """Apply the actions of the run issued at ``run_time`` in one transaction.

        Idempotent: if ``run_time`` is already committed nothing is written and that run's
        messages are returned. A run older than the newest committed one raises
        :class:`RunOrderError` (replay into a fresh ``SUPERSTORM_HOME`` instead).

        Returns
        -------
        list of dict
            The messages of this run (as :meth:`messages` returns them).
        """
        run = _iso(run_time)
        actions = list(actions)
        with self._transaction() as con:
            if con.execute("SELECT 1 FROM runs WHERE run_time = ?", (run,)).fetchone():
                pass
            else:
                newest = con.execute("SELECT MAX(run_time) AS t FROM runs").fetchone()["t"]
                if newest and run < newest:
                    raise RunOrderError(
                        f"run {run} is older than the newest logged run {newest}; the alert "
                        "log only moves forward (replay into a fresh SUPERSTORM_HOME)"
                    )
                for action in actions:
                    self._apply(con, action, run)
                con.execute(
                    "INSERT INTO runs (run_time, committed, n_messages, note) VALUES (?, ?, ?, ?)",
                    (run, _now(), len(actions), note),
                )
        self.write_feed()
        return self.messages(run_time=run)

    def _apply(self, con: sqlite3.Connection, a: AlertAction, run: str) -> None:
        episode = None
        if a.refers_to is not None:
            ref = con.execute("SELECT * FROM messages WHERE serial = ?", (a.refers_to,)).fetchone()
            if ref is None:
                raise ValueError(f"{a.action} refers to serial {a.refers_to}, which is not logged")
            episode = ref["episode"]
        cur = con.execute(
            "INSERT OR IGNORE INTO messages (action, kind, family, level, probability, "
            "valid_start, valid_end, issue_time, run_time, refers_to, episode, status, notify, "
            "text, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.action,
                a.kind,
                a.family,
                a.level,
                a.probability if a.probability == a.probability else None,
                _iso(a.valid_start),
                _iso(a.valid_end),
                _iso(a.issue_time),
                run,
                a.refers_to,
                episode,
                "active" if a.action in _PRODUCTS else "issued",
                0 if a.action in _SILENT else 1,
                format_message(a),
                _now(),
            ),
        )
        if cur.rowcount == 0:  # the same condition and window is already logged
            return
        serial = cur.lastrowid
        if a.action in _PRODUCTS and episode is None:
            con.execute("UPDATE messages SET episode = ? WHERE serial = ?", (serial, serial))
        if a.refers_to is None:
            return
        if a.action == EXTEND:
            con.execute(
                "UPDATE messages SET valid_end = ?, probability = ?, updated = ? WHERE serial = ?",
                (_iso(a.valid_end), a.probability, _now(), a.refers_to),
            )
        elif a.action in _STATUS_AFTER:
            con.execute(
                "UPDATE messages SET status = ?, updated = ? WHERE serial = ? AND status = 'active'",
                (_STATUS_AFTER[a.action], _now(), a.refers_to),
            )
            if a.action == ALL_CLEAR:  # the episode is over: nothing of it stays active
                con.execute(
                    "UPDATE messages SET status = 'ended', updated = ? "
                    "WHERE episode = ? AND status = 'active'",
                    (_now(), episode),
                )

    def record_delivery(
        self, serial: int, *, outcome: str, run_time, channel: str, error: str = ""
    ) -> None:
        """Record one delivery attempt (``outcome`` 'delivered' or 'failed')."""
        with self._transaction() as con:
            con.execute(
                "INSERT INTO deliveries (serial, attempted, run_time, channel, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (serial, _now(), _iso(run_time), channel, outcome, error[:2000]),
            )
        self.write_feed()

    # ------------------------------------------------------------------ feed

    def active_alerts(self) -> list[dict]:
        """Active alerts in feed form (serial, kind, level, probability, window, status)."""
        return [feed_record(m) for m in self.messages(status="active")]

    def write_feed(self) -> Path:
        """Rewrite the JSON feed of active alerts atomically (temp file + rename)."""
        doc = {"generated": _now(), "source": str(self.path), "alerts": self.active_alerts()}
        self.feed.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.feed.parent, prefix=".active-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.feed)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return self.feed


def feed_record(m: dict) -> dict:
    """One message as a JSON-ready record."""
    p = m.get("probability")
    return {
        "serial": m["serial"],
        "action": m["action"],
        "kind": m["kind"],
        "family": m["family"],
        "level": m["level"],
        "probability": None if p is None else round(float(p), 4),
        "issued": m["issue_time"],
        "valid_start": m["valid_start"],
        "valid_end": m["valid_end"] or None,
        "status": m["status"],
        "refers_to": m["refers_to"],
        "episode": m["episode"],
        "delivered": bool(m.get("delivered")),
        "message": m["text"],
    }
