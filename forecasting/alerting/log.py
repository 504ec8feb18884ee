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

Concurrency (issue 11). A run reads the alerts in force, evaluates the rules and writes its
actions inside ONE ``BEGIN IMMEDIATE`` transaction (:meth:`AlertLog.commit_run`), so two runs at
once (the same hour, or consecutive hours) are serialised and never issue the same escalation
twice. Delivery claims a message in the transaction that marks it in flight (``lease_owner``,
``lease_until``; :meth:`AlertLog.claim`): overlapping deliveries never send the same message, a
recorded success is never sent again, and a lease whose owner died (kill -9) or expired is taken
over. Pending messages of one episode are grouped into the newest (``grouped_into``): after an
outage the operator gets the current state, with what it supersedes listed in it.

Clock. An issue time later than the wall clock plus ``future_tolerance`` (default 2 h,
``SUPERSTORM_FUTURE_TOLERANCE_HOURS``) is refused (:class:`FutureIssueTimeError`), and a
future row already in the log never blocks later runs.

The JSON feed of active alerts, ``$SUPERSTORM_HOME/alerts/active.json``, is rewritten (temp
file + rename) from the log after each change, so it can always be rebuilt from the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from data_sources import config
from data_sources.netcdf import write_bytes_atomic
from data_sources.timeconv import TimeLike, to_utc
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
#: columns added after the first release (``ALTER TABLE`` on older logs)
_MESSAGE_COLUMNS = {
    "lease_owner": "TEXT",
    "lease_until": "TEXT",
    "grouped_into": "INTEGER",
}
#: default tolerance for issue times ahead of the wall clock [h]
FUTURE_TOLERANCE_HOURS = 2.0

#: status an action gives the alert it refers to
_STATUS_AFTER = {ESCALATE: "superseded", CANCEL: "cancelled", EXPIRE: "expired", ALL_CLEAR: "ended"}
#: actions that create a new alert (with its own serial and status 'active')
_PRODUCTS = (ISSUE, ESCALATE)
#: actions operators are not notified of (a warning simply runs out)
_SILENT = (EXPIRE,)


def _iso(t: TimeLike | None) -> str:
    if t is None or (not isinstance(t, str) and pd.isna(t)):
        return ""
    return to_utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(s: str) -> pd.Timestamp | None:
    return pd.Timestamp(s.rstrip("Z")) if s else None


def wall_clock() -> pd.Timestamp:
    """Return the real current time; tests replace it to simulate clock jumps.

    Returns
    -------
    pandas.Timestamp
        Now, naive UTC (not rounded to the hour).
    """
    return pd.Timestamp(datetime.now(UTC)).tz_convert(None)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _future_tolerance() -> timedelta:
    raw = os.environ.get("SUPERSTORM_FUTURE_TOLERANCE_HOURS", str(FUTURE_TOLERANCE_HOURS))
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(
            f"SUPERSTORM_FUTURE_TOLERANCE_HOURS={raw!r} is not a number of hours; "
            f"set e.g. {FUTURE_TOLERANCE_HOURS}"
        ) from None
    if not hours >= 0:
        raise ValueError(f"SUPERSTORM_FUTURE_TOLERANCE_HOURS={raw!r} must be >= 0")
    return timedelta(hours=hours)


def new_owner() -> str:
    """Make a delivery-lease owner id: ``host:pid:random``.

    Returns
    -------
    str
        Host name, process id and 8 random hex digits; a lease whose owner is a dead process
        of this host is taken over at once (see :meth:`AlertLog.claim`).
    """
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str | None) -> bool:
    """Whether the lease owner ``host:pid:...`` is a process of this host that no longer runs."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host: wait for the lease to expire
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def default_path() -> Path:
    """Where the alert log lives.

    Returns
    -------
    pathlib.Path
        ``$SUPERSTORM_ALERT_LOG`` when set (replays, backfills; ``~`` expanded), else
        ``$SUPERSTORM_HOME/alerts.sqlite``.
    """
    env = os.environ.get("SUPERSTORM_ALERT_LOG")
    return Path(env).expanduser() if env else config.home() / "alerts.sqlite"


def feed_path(home: Path | None = None) -> Path:
    """Path of the JSON feed of active alerts.

    Parameters
    ----------
    home : pathlib.Path, optional
        Superstorm home directory; default ``$SUPERSTORM_HOME`` (:func:`data_sources.config.home`).

    Returns
    -------
    pathlib.Path
        ``<home>/alerts/active.json`` (not created here).
    """
    return (home or config.home()) / "alerts" / "active.json"


class RunOrderError(ValueError):
    """A run older than the newest committed run (the log only moves forward)."""


class FutureIssueTimeError(ValueError):
    """An issue time ahead of the wall clock by more than the tolerance (a clock jump)."""


def check_issue_time(
    run_time: TimeLike, *, tolerance: timedelta | None = None, now: TimeLike | None = None
) -> None:
    """Refuse an issue time later than ``now`` (wall clock) plus ``tolerance``.

    Parameters
    ----------
    run_time : TimeLike
        Issue time of the run (UTC; aware times are converted).
    tolerance : datetime.timedelta, optional
        How far ahead of the clock ``run_time`` may be; default
        ``SUPERSTORM_FUTURE_TOLERANCE_HOURS`` or :data:`FUTURE_TOLERANCE_HOURS` (2 h).
    now : TimeLike, optional
        The clock (UTC); default :func:`wall_clock`.

    Raises
    ------
    ValueError
        If ``SUPERSTORM_FUTURE_TOLERANCE_HOURS`` is not a number of hours >= 0.
    ------
    FutureIssueTimeError
        Naming the issue time, the clock and the tolerance, and how to proceed.
    """
    tol = _future_tolerance() if tolerance is None else tolerance
    t = _ts(_iso(run_time))
    clock = wall_clock() if now is None else _ts(_iso(now))
    assert t is not None and clock is not None
    if t > clock + pd.Timedelta(tol):
        raise FutureIssueTimeError(
            f"issue time {_iso(t)} is {(t - clock) / pd.Timedelta('1h'):.1f} h ahead of the "
            f"clock ({_iso(clock)}); more than the {pd.Timedelta(tol) / pd.Timedelta('1h'):g} h "
            "tolerance. Check the system clock or the --issue-time value "
            "(SUPERSTORM_FUTURE_TOLERANCE_HOURS sets the tolerance); nothing was logged"
        )


class AlertLog:
    """The SQLite alert log. Open with ``AlertLog(path)``; every method opens its own connection.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        Database file (default :func:`default_path`: ``$SUPERSTORM_ALERT_LOG`` or
        ``$SUPERSTORM_HOME/alerts.sqlite``); its folder is created.
    feed : str or pathlib.Path, optional
        JSON feed path (default ``active.json`` under ``alerts/`` beside the database).
    """

    def __init__(self, path: str | Path | None = None, *, feed: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.feed = Path(feed) if feed is not None else self.path.parent / "alerts" / "active.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(SCHEMA)
            have = {r["name"] for r in con.execute("PRAGMA table_info(messages)")}
            for name, kind in _MESSAGE_COLUMNS.items():
                if name not in have:
                    with contextlib.suppress(sqlite3.OperationalError):  # a racing opener added it
                        con.execute(f"ALTER TABLE messages ADD COLUMN {name} {kind}")

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

    def has_run(self, run_time: TimeLike) -> bool:
        """Whether the actions of the run issued at ``run_time`` are committed.

        Parameters
        ----------
        run_time : TimeLike
            Issue time of the run (UTC; compared to the second).

        Returns
        -------
        bool
            ``True`` when the ``runs`` table holds it (re-running it is a no-op).
        """
        with self._connect() as con:
            row = con.execute("SELECT 1 FROM runs WHERE run_time = ?", (_iso(run_time),)).fetchone()
        return row is not None

    def last_run(self) -> pd.Timestamp | None:
        """Issue time of the newest committed run (rows beyond the clock tolerance ignored).

        Returns
        -------
        pandas.Timestamp or None
            Naive UTC issue time; ``None`` for an empty log. A row more than the future
            tolerance ahead of :func:`wall_clock` (a past clock jump) is not counted.
        """
        with self._connect() as con:
            t = self._newest(con)
        return _ts(t) if t else None

    @staticmethod
    def _newest(con: sqlite3.Connection) -> str | None:
        """Newest logged run time not ahead of the wall clock by more than the tolerance."""
        limit = _iso(wall_clock() + pd.Timedelta(_future_tolerance()))
        row = con.execute("SELECT MAX(run_time) AS t FROM runs WHERE run_time <= ?", (limit,))
        return row.fetchone()["t"]

    def state(self, con: sqlite3.Connection | None = None) -> RuleState:
        """Read the alerts in force, for :func:`forecasting.alerting.rules.evaluate_rules`.

        Parameters
        ----------
        con : sqlite3.Connection, optional
            An open connection to read through (inside :meth:`commit_run`'s transaction);
            default: a connection of its own.

        Returns
        -------
        RuleState
            Every message with status ``active`` (oldest first) as an :class:`ActiveAlert`
            (naive UTC times; a missing probability is NaN).
        """
        if con is None:
            with self._connect() as own:
                return self.state(own)
        rows = con.execute("SELECT * FROM messages WHERE status = 'active' ORDER BY serial")
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
                for r in rows
            ]
        )

    def messages(
        self,
        *,
        status: str | None = None,
        run_time: TimeLike | None = None,
        serial: int | None = None,
    ) -> list[dict]:
        """Messages (oldest first) with their delivery state, optionally filtered.

        ``delivered`` counts the message's own successful deliveries and those of the
        message it is grouped into.

        Parameters
        ----------
        status : str, optional
            Only messages with this status (``active``, ``superseded``, ``cancelled``,
            ``expired``, ``ended``; ``issued`` for extend / cancel / expire / all_clear rows).
        run_time : TimeLike, optional
            Only the messages written by the run issued at this time (UTC).
        serial : int, optional
            Only the message with this serial.

        Returns
        -------
        list of dict
            One dict per message: the ``messages`` columns (times as ISO UTC strings ending
            in ``Z``; ``valid_end`` ``""`` when open-ended) plus ``attempts`` (delivery tries)
            and ``delivered`` (successful deliveries, > 0 once delivered).
        """
        sql = (
            "SELECT m.*, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.serial = m.serial) AS attempts, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.outcome = 'delivered' "
            " AND (d.serial = m.serial OR d.serial = m.grouped_into)) AS delivered "
            "FROM messages m"
        )
        where: list[str] = []
        args: list[object] = []
        if status is not None:
            where.append("m.status = ?")
            args.append(status)
        if run_time is not None:
            where.append("m.run_time = ?")
            args.append(_iso(run_time))
        if serial is not None:
            where.append("m.serial = ?")
            args.append(int(serial))
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY m.serial", args)]

    def deliveries(self, serial: int | None = None) -> list[dict]:
        """Delivery attempts (oldest first).

        Parameters
        ----------
        serial : int, optional
            Only the attempts for this message; default all.

        Returns
        -------
        list of dict
            One dict per attempt: ``id``, ``serial``, ``attempted`` (wall clock, ISO UTC),
            ``run_time`` (the delivering run), ``channel`` (label, never a URL), ``outcome``
            (``delivered`` / ``failed``), ``error`` (redacted, at most 2000 characters).
        """
        sql, args = "SELECT * FROM deliveries", []
        if serial is not None:
            sql, args = sql + " WHERE serial = ?", [serial]
        with self._connect() as con:
            return [dict(r) for r in con.execute(sql + " ORDER BY id", args)]

    def undelivered(self) -> list[dict]:
        """Messages operators must get that no attempt has delivered yet (oldest first).

        Returns
        -------
        list of dict
            Messages as :meth:`messages` gives them with ``notify`` set (EXPIRE rows are silent)
            and no successful delivery of their own or of the message they are grouped into.
            Leases are not considered here (see :meth:`claim`).
        """
        return [m for m in self.messages() if m["notify"] and not m["delivered"]]

    # ------------------------------------------------------------------ writes

    def record_run(
        self, run_time: TimeLike, actions: Iterable[AlertAction], *, note: str = ""
    ) -> list[dict]:
        """Apply the given actions of the run issued at ``run_time`` in one transaction.

        Idempotent: if ``run_time`` is already committed nothing is written and that run's
        messages are returned. See :meth:`commit_run` (which evaluates inside the lock).

        Parameters
        ----------
        run_time : TimeLike
            Issue time of the run (UTC).
        actions : iterable of AlertAction
            Actions already evaluated (e.g. by :func:`~forecasting.alerting.rules.evaluate_rules`).
        note : str
            Stored with the run (e.g. the primary model).

        Returns
        -------
        list of dict
            This run's messages, as :meth:`messages` gives them.

        Raises
        ------
        FutureIssueTimeError, RunOrderError
            As :meth:`commit_run`; nothing is written.
        """
        actions = list(actions)
        return self.commit_run(run_time, lambda state, since: actions, note=note)[0]

    def commit_run(
        self,
        run_time: TimeLike,
        evaluate: Callable[[RuleState, pd.Timestamp | None], Iterable[AlertAction]],
        *,
        note: str = "",
        future_tolerance: timedelta | None = None,
    ) -> tuple[list[dict], bool]:
        """Read the alerts in force, evaluate, and write the run, in ONE serialised transaction.

        Parameters
        ----------
        run_time : TimeLike
            Issue time of the run (UTC).
        evaluate : callable
            ``evaluate(state, since) -> actions``: the rules, given the alerts in force and the
            issue time of the previous logged run (``None`` for the first). Runs inside the
            ``BEGIN IMMEDIATE`` lock, so it must be quick and pure.
        note : str
            Stored with the run (e.g. the primary model).
        future_tolerance : datetime.timedelta, optional
            How far ``run_time`` may be ahead of the wall clock (default 2 h, see module doc).

        Returns
        -------
        (list of dict, bool)
            This run's messages, and whether the run was already logged (a repeat: nothing
            written).

        Raises
        ------
        FutureIssueTimeError
            ``run_time`` is ahead of the clock beyond the tolerance; nothing is written.
        RunOrderError
            ``run_time`` is older than the newest logged run (replay into a fresh home).
        """
        run = _iso(run_time)
        check_issue_time(run, tolerance=future_tolerance)
        repeat = False
        with self._transaction() as con:
            if con.execute("SELECT 1 FROM runs WHERE run_time = ?", (run,)).fetchone():
                repeat = True
            else:
                newest = self._newest(con)
                if newest and run < newest:
                    raise RunOrderError(
                        f"run {run} is older than the newest logged run {newest}; the alert "
                        "log only moves forward (replay into a fresh SUPERSTORM_HOME)"
                    )
                actions = list(evaluate(self.state(con), _ts(newest) if newest else None))
                for action in actions:
                    self._apply(con, action, run)
                con.execute(
                    "INSERT INTO runs (run_time, committed, n_messages, note) VALUES (?, ?, ?, ?)",
                    (run, _now(), len(actions), note),
                )
        self.write_feed()
        return self.messages(run_time=run), repeat

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
        self,
        serial: int,
        *,
        outcome: str,
        run_time: TimeLike,
        channel: str,
        error: str = "",
        owner: str | None = None,
    ) -> None:
        """Record one delivery attempt (``outcome`` 'delivered' or 'failed').

        With ``owner``, the lease that owner holds on ``serial`` is released in the same
        transaction. A ``delivered`` row is what makes delivery idempotent: a message with
        one is never claimed or sent again. The feed is rewritten afterwards.

        Parameters
        ----------
        serial : int
            The message delivered (or not).
        outcome : {"delivered", "failed"}
            Result of the attempt (the table's CHECK refuses anything else).
        run_time : TimeLike
            Issue time of the delivering run (UTC).
        channel : str
            Channel label (``webhook``, ``block``; never a URL).
        error : str
            Redacted error text of a failed attempt (stored to 2000 characters).
        owner : str, optional
            Lease owner (:func:`new_owner`) whose lease on ``serial`` ends with this attempt;
            ``None`` keeps the lease (more tries follow).
        """
        with self._transaction() as con:
            con.execute(
                "INSERT INTO deliveries (serial, attempted, run_time, channel, outcome, error) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (serial, _now(), _iso(run_time), channel, outcome, error[:2000]),
            )
            if owner is not None:
                con.execute(
                    "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
                    "WHERE serial = ? AND lease_owner = ?",
                    (serial, owner),
                )
        self.write_feed()

    def claim(
        self, owner: str, *, lease: timedelta = timedelta(minutes=5), exclude: Iterable[int] = ()
    ) -> dict | None:
        """Claim the oldest pending message for delivery, in the transaction that leases it.

        The pending messages of the claimed message's episode are grouped into the newest of
        them (``grouped_into``), which is the one returned and leased: the operator gets the
        current state, listing what it supersedes (``grouped``). A message is pending when
        operators must get it (``notify``), nothing delivered it (nor a message it is grouped
        into), and no live lease holds it: a lease expires after ``lease``, or at once when
        its owner was a process of this host that died.

        Parameters
        ----------
        owner : str
            Lease owner id (:func:`new_owner`).
        lease : datetime.timedelta
            How long the claim holds if its owner never reports back (default 5 min).
        exclude : iterable of int
            Serials not to claim (already tried in this delivery round).

        Returns
        -------
        dict or None
            The message (as :meth:`messages` gives it) plus ``grouped``: list of the
            ``{"serial", "text", "run_time"}`` it carries; ``None`` when nothing is pending.
        """
        exclude = set(exclude)
        now = _iso(wall_clock())
        with self._transaction() as con:
            rows = con.execute(
                "SELECT m.* FROM messages m WHERE m.notify = 1 AND NOT EXISTS ("
                " SELECT 1 FROM deliveries d WHERE d.outcome = 'delivered'"
                " AND (d.serial = m.serial OR d.serial = m.grouped_into)) ORDER BY m.serial"
            ).fetchall()
            held = {
                r["serial"]
                for r in rows
                if r["lease_owner"] is not None
                and (r["lease_until"] or "") >= now
                and not _owner_dead(r["lease_owner"])
            }
            free = [
                r
                for r in rows
                if r["serial"] not in exclude
                and r["serial"] not in held
                and r["grouped_into"] not in held  # carried by a delivery in flight
            ]
            if not free:
                return None
            episode = free[0]["episode"] or free[0]["serial"]
            same = [r for r in free if (r["episode"] or r["serial"]) == episode]
            carrier = same[-1]["serial"]
            older = [r["serial"] for r in same[:-1]]
            if older:
                marks = ",".join("?" * len(older))
                con.execute(
                    f"UPDATE messages SET grouped_into = ? WHERE serial IN ({marks}) "
                    f"OR grouped_into IN ({marks})",
                    (carrier, *older, *older),
                )
            until = _iso(wall_clock() + pd.Timedelta(lease))
            con.execute(
                "UPDATE messages SET lease_owner = ?, lease_until = ?, grouped_into = NULL "
                "WHERE serial = ?",
                (owner, until, carrier),
            )
            grouped = [
                dict(r)
                for r in con.execute(
                    "SELECT serial, text, run_time FROM messages WHERE grouped_into = ? "
                    "ORDER BY serial",
                    (carrier,),
                )
            ]
        (message,) = self.messages(serial=carrier)
        message["grouped"] = grouped
        return message

    # ------------------------------------------------------------------ feed

    def active_alerts(self) -> list[dict]:
        """Active alerts in feed form (serial, kind, level, probability, window, status).

        Returns
        -------
        list of dict
            :func:`feed_record` of every message with status ``active``, oldest first.
        """
        return [feed_record(m) for m in self.messages(status="active")]

    def write_feed(self) -> Path:
        """Rewrite the JSON feed of active alerts atomically (temp file + rename).

        Returns
        -------
        pathlib.Path
            The feed path (:attr:`feed`), holding ``{"generated", "source", "alerts"}``
            (``alerts`` from :meth:`active_alerts`); a failed write leaves the old feed.
        """
        doc = {"generated": _now(), "source": str(self.path), "alerts": self.active_alerts()}
        return write_bytes_atomic(json.dumps(doc, indent=1), self.feed)


def feed_record(m: dict) -> dict:
    """One message as a JSON-ready record.

    Parameters
    ----------
    m : dict
        A message as :meth:`AlertLog.messages` gives it.

    Returns
    -------
    dict
        ``serial``, ``action``, ``kind`` (WATCH / WARNING / ALERT / STALE_INPUT /
        FORECAST_UNAVAILABLE), ``family`` (``kp`` / ``dst`` ...), ``level`` (``G1`` ..
        ``G5``, ``DST50`` / ``DST100`` / ``DST250`` ...), ``probability`` (rounded to 4
        decimals; 1.0 for an observed ALERT, ``None`` when the action has none), ``issued``, ``valid_start``, ``valid_end``
        (ISO UTC ``Z``; ``None`` when open-ended), ``status``, ``refers_to``, ``episode``,
        ``delivered`` (bool) and ``message`` (the SWPC-like text).
    """
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
