"""What every sub-command shares: strict UTC time arguments and quiet, one-line error output.

Times typed on the command line must be ISO 8601 (``2024-05-10``, ``2024-05-10T18:00``,
``2024-05-10T18:00Z``): a date such as ``05/10/2024`` is refused rather than silently read
month-first.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
from collections.abc import Callable, Iterator

import pandas as pd

ISO_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)?"  # optional time of day
    r"(?:Z|[+-]\d{2}:?\d{2})?$"  # optional UTC offset
)

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
    # not "sunpy": sunpy's logger must be created by sunpy itself (its own Logger class);
    # a plain logger made here first breaks `import sunpy` (`_set_defaults`), and with it the
    # solar_indices ingest
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
    """A tqdm bar of ``total`` steps on stderr, as a ``progress(name)`` callback.

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
