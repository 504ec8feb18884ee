"""What every sub-command shares: strict UTC time arguments and quiet, one-line error output.

Times typed on the command line must be ISO 8601 (``2024-05-10``, ``2024-05-10T18:00``,
``2024-05-10T18:00Z``): a date such as ``05/10/2024`` is refused rather than silently read
month-first.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

ISO_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?"  # optional time of day
    r"(?:Z|[+-]\d{2}:?\d{2})?$"  # optional UTC offset
)

#: superstorm's import packages and one module each must hold. The names are generic (PyPI has a
#: ``flows`` package): :func:`check_installation` refuses a mixed installation.
FIRST_PARTY: dict[str, str] = {
    "data_sources": "dataset.py",
    "forecasting": "schema.py",
    "dashboards": "site.py",
    "flows": "forecast.py",
    "superstorm_cli": "main.py",
}

#: Loggers of other libraries that print a line per request or per step at INFO.
NOISY_LOGGERS = (
    "httpx",
    "httpcore",
    "urllib3",
    "requests",
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    # Lightning resets its package logger to INFO when it is imported (after this runs), so its
    # per-run lines ("GPU available", "max_epochs reached") are quieted at their own loggers
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
    "pytorch_lightning.utilities.rank_zero",
    "prefect",
    "distributed",
    "matplotlib",
    # not "sunpy": creating its logger before sunpy is imported gives a plain Logger, and
    # sunpy's own logger set-up then fails ("'Logger' object has no attribute '_set_defaults'")
)


def utc_time(text: str) -> pd.Timestamp:
    """Parse an ISO 8601 time typed on the command line into a naive UTC timestamp.

    Parameters
    ----------
    text : str
        ``YYYY-MM-DD`` with an optional ``THH[:MM[:SS]]`` and an optional ``Z`` or ``+HH:MM``
        offset (converted to UTC).

    Returns
    -------
    pandas.Timestamp
        Naive timestamp in UTC.

    Raises
    ------
    argparse.ArgumentTypeError
        When ``text`` is not ISO 8601; the message names the value and the accepted form.
    """
    value = text.strip()
    if not ISO_TIME.match(value):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 UTC time; write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM "
            "(e.g. 2024-05-10T18:00)"
        )
    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid time: {exc}") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def configure_logging(verbose: bool) -> None:
    """Quiet logs by default: the project's warnings and errors only; ``-v`` shows everything.

    Parameters
    ----------
    verbose : bool
        ``True`` for DEBUG output from the project and INFO from other libraries.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
    # Lightning attaches its own console handler and also propagates to the root logger, so
    # every line appeared twice: keep one (the root handler).
    for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler):
                logger.removeHandler(handler)


@contextlib.contextmanager
def progress_bar(total: int, desc: str, unit: str) -> Iterator[Callable[[str], None]]:
    """Show a tqdm bar of ``total`` steps on stderr, advanced by a ``progress(name)`` callback.

    The library functions take such a callback (``ingest_recorded(progress=...)``,
    ``run_backtest(progress=...)``) and print nothing themselves. tqdm's ``disable=None``
    hides the bar when stderr is not a terminal, so pipes, logs and CI stay quiet.

    Parameters
    ----------
    total : int
        Number of steps (sources, blocks).
    desc : str
        Label in front of the bar, e.g. ``"ingest"``.
    unit : str
        Name of one step, e.g. ``"source"`` or ``"block"``.

    Yields
    ------
    callable
        ``progress(name)``: advance one step and show ``name`` (the step just done).
    """
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, disable=None, leave=True) as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name, refresh=False)
            bar.update(1)

        yield step


class InstallationError(RuntimeError):
    """superstorm's import packages are missing, split or shadowed by another distribution."""


def check_installation() -> Path:
    """The folder that holds superstorm's packages, after checking none is another project's.

    superstorm installs five top-level import packages (:data:`FIRST_PARTY`) with generic
    names. Another distribution of the same name (PyPI has a ``flows``) would shadow one, or
    pip would mix their files in one folder; either gives confusing import errors much later.
    This check finds each package without importing it.

    Returns
    -------
    Path
        The common parent folder of the five packages (the checkout, or ``site-packages``).

    Raises
    ------
    InstallationError
        If a package is missing, lives in another folder than the others, or lacks the module
        superstorm's own copy holds; the message names the path and the fix.
    """
    homes = {}
    for name, module in FIRST_PARTY.items():
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise InstallationError(
                f"package {name!r} of superstorm is not importable; reinstall superstorm "
                "(pip install -e . in the checkout)"
            )
        folder = Path(next(iter(spec.submodule_search_locations)))
        if not (folder / module).is_file():
            raise InstallationError(
                f"the {name!r} package at {folder} is not superstorm's (it has no {module}): "
                f"another installed distribution uses the name {name!r}; install superstorm in "
                "its own virtual environment (python -m venv .venv)"
            )
        homes[name] = folder.parent
    if len(set(homes.values())) > 1:
        where = ", ".join(f"{n} in {p}" for n, p in homes.items())
        raise InstallationError(
            f"superstorm's packages are split over several folders ({where}): another "
            "distribution shadows one of them; install superstorm in its own virtual environment"
        )
    return next(iter(homes.values()))
