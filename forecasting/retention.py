"""Retention: what superstorm deletes, so a running service does not fill its disk.

Left alone, ``$SUPERSTORM_HOME`` only grows: an inputs file per hourly run, an archived
forecast per model per run, Prefect's run history, and the temporary files of writes
interrupted by a crash or ``kill -9``. :func:`prune` removes, per :class:`RetentionPolicy`
(``[retention]`` in ``$SUPERSTORM_HOME/config.toml``, or overrides):

* ``inputs_days``: per-run inputs files ``runs/inputs/inputs_<issue>.nc`` older than this;
* ``archive_days``: archived forecasts ``archive/<model>/<YYYY>/<model>_<issue>.nc`` whose
  issue time is older than this (``None``: keep the archive for ever);
* ``prefect_days``: finished Prefect flow runs (completed, failed, cancelled, crashed) that
  started longer ago than this;
* ``quarantine_days``: corrupt store files moved aside (``store/<source>/.quarantine/``);
* ``baseline_days``: cached baseline fits (``models/baselines/*.json``); pickled caches of
  older releases (``*.pkl``) are never read and always removed;
* ``temp_hours``: orphan temporary files of atomic writes (``*.part``, ``*.tmp``, hidden
  registry folders and pointers) older than this many hours; a write in progress is younger.

The store (``store/``), the download cache, the model registry's versions and the alert log
are never pruned. Every removal is logged; ``dry_run`` lists without deleting.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

from data_sources import config
from data_sources.timeconv import to_utc

log = logging.getLogger(__name__)

_STAMP = re.compile(r"_(\d{8}T\d{4})\.(nc|json)$")
_TEMP_SUFFIXES = (".part", ".tmp")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind of file is kept (``None``: for ever). Days unless named hours."""

    inputs_days: float | None = 30.0
    archive_days: float | None = 730.0
    prefect_days: float | None = 30.0
    quarantine_days: float | None = 30.0
    baseline_days: float | None = 400.0
    temp_hours: float = 1.0

    def __post_init__(self) -> None:
        """Check every limit is a number >= 0 (``None`` keeps for ever, not for ``temp_hours``)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name != "temp_hours":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(
                    f"retention {f.name} = {value!r} is not valid: give a number >= 0"
                    + ("" if f.name == "temp_hours" else " (or leave it out to use the default)")
                )

    @classmethod
    def from_config(cls, **overrides: float | None) -> RetentionPolicy:
        """Defaults, then ``[retention]`` of ``config.toml``, then ``overrides`` (not None).

        In ``config.toml``, ``"keep"``, ``"forever"`` or ``-1`` mean keep for ever (None).

        Parameters
        ----------
        **overrides : float or None
            Field name (``inputs_days``, ``archive_days``, ``prefect_days``,
            ``quarantine_days``, ``baseline_days`` [days]; ``temp_hours`` [h]) -> value;
            ``None`` values are ignored (the configured or default value stays).

        Returns
        -------
        RetentionPolicy
            The merged, validated policy.

        Raises
        ------
        ValueError
            For an unknown key or a bad value; the message names it and the valid keys.
        """
        known = {f.name for f in fields(cls)}
        configured = dict(config._config_file().get("retention", {}))
        unknown = sorted(set(configured) - known)
        if unknown:
            raise ValueError(
                f"unknown [retention] key(s) {unknown} in {config.home() / 'config.toml'}; "
                f"valid keys: {sorted(known)}"
            )
        for key, value in configured.items():  # "keep" / "forever" / -1 mean keep for ever
            if value in ("keep", "forever", -1):
                configured[key] = None
        values = {**configured, **{k: v for k, v in overrides.items() if v is not None}}
        return cls(**values)


@dataclass
class PruneReport:
    """What :func:`prune` removed (or would remove, with ``dry_run``)."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    freed_bytes: int = 0
    prefect_runs: int = 0
    dry_run: bool = False
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """Number of files removed of ``kind``.

        Parameters
        ----------
        kind : str
            ``temp``, ``inputs``, ``archive``, ``quarantine`` or ``baselines``.

        Returns
        -------
        int
            Paths removed (or listed, with ``dry_run``); 0 for a kind with none.
        """
        return len(self.removed.get(kind, []))

    def summary(self) -> str:
        """One line per kind, for the CLI.

        Returns
        -------
        str
            Newline-joined lines: removed count per kind, Prefect runs, space freed [MB]
            and one line per error.
        """
        verb = "would remove" if self.dry_run else "removed"
        lines = [f"{kind}: {verb} {len(paths)}" for kind, paths in sorted(self.removed.items())]
        lines.append(f"prefect flow runs: {verb} {self.prefect_runs}")
        lines.append(
            f"space {'to free' if self.dry_run else 'freed'}: {self.freed_bytes / 1e6:.1f} MB"
        )
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """Plain dict (for JSON output).

        Returns
        -------
        dict
            ``removed`` (kind -> list of path strings), ``freed_bytes``, ``prefect_runs``,
            ``dry_run``, ``errors``.
        """
        return asdict(self)


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.lstat().st_size


def _remove(path: Path, kind: str, report: PruneReport) -> None:
    try:
        size = _size(path)
        if not report.dry_run:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        report.removed.setdefault(kind, []).append(str(path))
        report.freed_bytes += size
        log.info("prune %s: %s %s", kind, "would remove" if report.dry_run else "removed", path)
    except FileNotFoundError:
        pass  # removed meanwhile
    except OSError as exc:
        report.errors.append(f"{path}: {exc}")


def _stamp(path: Path) -> pd.Timestamp | None:
    m = _STAMP.search(path.name)
    return pd.Timestamp(m.group(1)) if m else None


def _older_by_name(folder: Path, pattern: str, cutoff: pd.Timestamp) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(pattern) if (t := _stamp(p)) is not None and t < cutoff)


def _cutoff(now: pd.Timestamp, days: float) -> pd.Timestamp:
    return now - pd.Timedelta(days=days)


def _prune_archive(home: Path, cutoff: pd.Timestamp, report: PruneReport) -> None:
    root = home / "archive"
    for path in _older_by_name(root, "*/*/*.nc", cutoff):
        _remove(path, "archive", report)
    if root.is_dir() and not report.dry_run:
        for year in sorted(root.glob("*/*")):
            if year.is_dir() and not any(year.iterdir()):
                year.rmdir()


def _temp_files(home: Path, max_age_s: float, now_s: float) -> list[Path]:
    """Orphan temporary files and folders of interrupted atomic writes under ``home``."""
    found = []
    for path in home.rglob("*"):
        name = path.name
        registry_temp = (
            name.startswith(".")
            and path.parent.parent.name == "models"
            and path.parent.name != "baselines"
        )
        feed_temp = name.startswith(".active-") and name.endswith(".json")
        if not (name.endswith(_TEMP_SUFFIXES) or registry_temp or feed_temp):
            continue
        try:
            age = now_s - path.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age > max_age_s:
            found.append(path)
    # a temp folder's own contents go with it
    return sorted(p for p in found if not any(q in p.parents for q in found))


def prune_prefect_runs(
    days: float, *, dry_run: bool = False, now: pd.Timestamp | None = None
) -> int:
    """Delete finished Prefect flow runs that started more than ``days`` ago; return how many.

    Uses the configured Prefect API (``PREFECT_API_URL``, else Prefect's local database).
    Runs that are scheduled, pending or running are never touched.

    Parameters
    ----------
    days : float
        Age limit [days] on a run's start time.
    dry_run : bool
        Count the runs that would go, delete nothing.
    now : pd.Timestamp or None
        Reference time (naive values are UTC); ``None`` uses the clock.

    Returns
    -------
    int
        Flow runs deleted (or that would be, with ``dry_run``).
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    before = (now - pd.Timedelta(days=days)).to_pydatetime()
    finished = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
    flt = FlowRunFilter(
        start_time=FlowRunFilterStartTime(before_=before),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=finished)),
    )
    n = 0
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(flow_run_filter=flt, limit=200, offset=n if dry_run else 0)
            if not runs:
                return n
            for run in runs:
                if not dry_run:
                    client.delete_flow_run(run.id)
                n += 1
            if dry_run and len(runs) < 200:
                return n


def prune(
    policy: RetentionPolicy | None = None,
    *,
    home: str | Path | None = None,
    now: pd.Timestamp | None = None,
    dry_run: bool = False,
    prefect: bool = True,
) -> PruneReport:
    """Remove what ``policy`` no longer keeps under ``home``; return what was removed.

    Parameters
    ----------
    policy : RetentionPolicy, optional
        Default :meth:`RetentionPolicy.from_config`.
    home : path, optional
        Default ``$SUPERSTORM_HOME``.
    now : pandas.Timestamp, optional
        Reference time (naive UTC) for tests; default the clock.
    dry_run : bool
        List what would go, delete nothing.
    prefect : bool
        Also prune Prefect's run history (``policy.prefect_days``).

    Returns
    -------
    PruneReport
        Removed paths per kind, bytes freed, Prefect runs deleted, errors (a file that could
        not be removed is reported, the rest goes on).
    """
    policy = policy or RetentionPolicy.from_config()
    home = Path(home) if home is not None else config.home()
    now_ts = to_utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    now_s = now_ts.tz_localize("UTC").timestamp() if now is not None else time.time()
    report = PruneReport(dry_run=dry_run)
    if not home.is_dir():
        return report
    for path in _temp_files(home, policy.temp_hours * 3600.0, now_s):
        _remove(path, "temp", report)
    if policy.inputs_days is not None:
        cutoff = _cutoff(now_ts, policy.inputs_days)
        for path in _older_by_name(home / "runs" / "inputs", "inputs_*.nc", cutoff):
            _remove(path, "inputs", report)
    if policy.archive_days is not None:
        _prune_archive(home, _cutoff(now_ts, policy.archive_days), report)
    if policy.quarantine_days is not None:
        max_age = policy.quarantine_days * 86400.0
        for path in sorted((home / "store").glob("*/.quarantine/*")):
            if now_s - path.lstat().st_mtime > max_age:
                _remove(path, "quarantine", report)
    baselines = home / "models" / "baselines"
    for path in sorted(baselines.glob("*.pkl")) if baselines.is_dir() else []:
        _remove(path, "baselines", report)
    if policy.baseline_days is not None:
        for path in _older_by_name(baselines, "*.json", _cutoff(now_ts, policy.baseline_days)):
            _remove(path, "baselines", report)
    if prefect and policy.prefect_days is not None:
        try:
            report.prefect_runs = prune_prefect_runs(
                policy.prefect_days, dry_run=dry_run, now=now_ts
            )
        except Exception as exc:  # noqa: BLE001 - Prefect unreachable: say so, files are done
            report.errors.append(f"Prefect run history not pruned: {type(exc).__name__}: {exc}")
    return report
