"""Prefect flow: ingest sources into the store.

Orchestration only; the work is in :mod:`data_sources.ingest`. Network tasks retry 3 times
after 2, 5 and 15 s, and tasks pass store paths between them, not data frames.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task


@task(name="ingest-source", retries=3, retry_delay_seconds=[2, 5, 15])
def ingest_source(source: str, start: str, end: str, store_root: str | None = None) -> list[str]:
    """Download ``source`` for ``[start, end)`` into the store (Prefect task, 3 retries).

    Parameters
    ----------
    source : str
        Source name registered in :mod:`data_sources` (``omni2``, ``kyoto_dst``, ``gfz_kp``,
        ``swpc`` ...).
    start, end : str
        UTC bounds (ISO date or time), ``end`` exclusive.
    store_root : str, optional
        Store folder; default the configured store (``$SUPERSTORM_HOME``).

    Returns
    -------
    list of str
        Paths of the yearly store files written or confirmed unchanged.
    """
    from data_sources.ingest import ingest
    from data_sources.store import Store

    store = Store(store_root) if store_root else None
    return [str(p) for p in ingest(source, start, end, store=store)]


@task(name="check-store")
def check_store(paths: list[str]) -> dict[str, int]:
    """Count the store files per source folder (they must all exist).

    Parameters
    ----------
    paths : list of str
        Store files the ingest tasks returned.

    Returns
    -------
    dict of str to int
        Source folder name -> number of files.

    Raises
    ------
    FileNotFoundError
        Listing the paths that do not exist.
    """
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"store files missing after ingest: {missing}")
    counts: dict[str, int] = {}
    for p in paths:
        counts[Path(p).parent.name] = counts.get(Path(p).parent.name, 0) + 1
    return counts


@flow(name="superstorm-ingest")
def ingest_flow(
    sources: list[str], start: str, end: str, store_root: str | None = None
) -> dict[str, list[str]]:
    """Ingest each of ``sources`` for ``[start, end)`` (UTC, ``end`` exclusive).

    Parameters
    ----------
    sources : list of str
        Source names (``omni2``, ``kyoto_dst``, ``gfz_kp`` ...), ingested concurrently.
    start, end : str
        UTC bounds (ISO date or time), ``end`` exclusive.
    store_root : str, optional
        Store folder; default the configured store.

    Returns
    -------
    dict of str to list of str
        Source -> the store files written or confirmed unchanged.
    """
    logger = get_run_logger()
    futures = {s: ingest_source.submit(s, start, end, store_root) for s in sources}
    result = {s: f.result() for s, f in futures.items()}
    counts = check_store([p for paths in result.values() for p in paths])
    logger.info("ingested %s", counts)
    return result
