"""Train / validate / test split by whole years, and the data of each part, from the store.

Default split: train 1998-2010, validate 2011-2014, test 2015 onwards. Whole years only,
so no storm is cut between parts; overlapping parts are rejected. The years come from the
command line (``--train-years 1998-2010``), else ``config.toml`` (``[split]``, ``[split.quick]``,
:func:`data_sources.config.split_years`), else the preset (:func:`configured_split`).

Every consumer (train, evaluate, retrain, backtest) reads its data the same way: the store
filled by ``superstorm ingest`` -> :func:`data_sources.dataset.build_dataset`
(:func:`load_training_data`, :func:`load_split_data`, :func:`load_period`). A part without solar
wind or Dst in the store is an error that names the ``superstorm ingest`` command to run.
Data for training never holds the test years' values (they are blanked).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.dataset import PRIORITY, SOLAR_WIND, build_dataset
from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from data_sources.timeconv import TimeLike

log = logging.getLogger(__name__)

YearRange = tuple[int, int | None]

#: the full preset's default years. The validation years choose the snapshots, fit the
#: quantile calibration per regime, the event recalibration and the decision probabilities,
#: and gate promotions. In the recorded data 2011-2014 hold 13 storms <= -100 nT (723
#: storm-time issue hours); 2013-2014, the validation years before, held 4 (213 hours), too
#: few for the rare levels (G4, Dst <= -100). Training keeps 51 of its 60 storms.
FULL_SPLIT: dict[str, YearRange] = {
    "train": (1998, 2010),
    "validate": (2011, 2014),
    "test": (2015, None),
}


def _check_range(part: str, rng: object) -> tuple[int, int | None]:
    if not isinstance(rng, tuple | list) or len(rng) != 2:
        raise ValueError(f"YearSplit.{part}={rng!r}: give (first_year, last_year or None)")
    first, last = rng
    for y in (first, last):
        if y is not None and (not isinstance(y, int | np.integer) or isinstance(y, bool)):
            raise ValueError(f"YearSplit.{part}={rng!r}: years must be whole ints (e.g. 2015)")
    if first is None:
        raise ValueError(f"YearSplit.{part}={rng!r}: the first year is required")
    if last is not None and last < first:
        raise ValueError(f"YearSplit.{part}={rng!r}: last year {last} is before first year {first}")
    return int(first), None if last is None else int(last)


@dataclass(frozen=True)
class YearSplit:
    """Inclusive year ranges ``(first, last)``; ``last=None`` means open-ended."""

    train: YearRange = FULL_SPLIT["train"]
    validate: YearRange = FULL_SPLIT["validate"]
    test: YearRange = FULL_SPLIT["test"]

    def __post_init__(self) -> None:
        """Check each year range and that train, validate and test do not overlap."""
        parts = {p: _check_range(p, getattr(self, p)) for p in ("train", "validate", "test")}
        for p, rng in parts.items():
            object.__setattr__(self, p, rng)
        names = list(parts)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                a1: float | None
                b1: float | None
                (a0, a1), (b0, b1) = parts[a], parts[b]
                a1 = np.inf if a1 is None else a1
                b1 = np.inf if b1 is None else b1
                if a0 <= b1 and b0 <= a1:
                    raise ValueError(
                        f"YearSplit: {a} {parts[a]} overlaps {b} {parts[b]}; "
                        "give each year to one part only"
                    )

    def bounds(self, part: str) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        """``[start, end)`` timestamps of ``part`` (``end`` None when open-ended).

        Parameters
        ----------
        part : str
            ``train``, ``validate`` or ``test``.

        Returns
        -------
        tuple of (pd.Timestamp, pd.Timestamp or None)
            Jan 1 00:00 UTC (naive) of the first year and of the year after the last one;
            ``None`` for an open-ended part.

        Raises
        ------
        ValueError
            For any other ``part``.
        """
        if part not in ("train", "validate", "test"):
            raise ValueError(f"unknown split part {part!r}; use train, validate or test")
        first, last = getattr(self, part)
        end = None if last is None else pd.Timestamp(f"{last + 1}-01-01")
        return pd.Timestamp(f"{first}-01-01"), end

    def select(self, ds: xr.Dataset, part: str) -> xr.Dataset:
        """The hours of ``ds`` in ``part`` (labels in ``[start, end)``).

        Parameters
        ----------
        ds : xr.Dataset
            Dataset with a sorted ``time`` index (naive UTC hour labels).
        part : str
            ``train``, ``validate`` or ``test``.

        Returns
        -------
        xr.Dataset
            ``ds`` cut along ``time`` to the part's whole years.
        """
        start, end = self.bounds(part)
        stop = None if end is None else end - pd.Timedelta("1ns")
        return ds.sel(time=slice(start, stop))

    def years(self, part: str, available: Iterable[int]) -> list[int]:
        """The years of ``available`` falling in ``part``.

        Parameters
        ----------
        part : str
            ``train``, ``validate`` or ``test``.
        available : Iterable[int]
            Candidate years (e.g. the years a store holds); duplicates are dropped.

        Returns
        -------
        list of int
            Sorted years of ``available`` within the part's inclusive range.

        Raises
        ------
        ValueError
            For any other ``part``.
        """
        self.bounds(part)  # names the parts on a typo
        first, last = getattr(self, part)
        return [
            int(y) for y in sorted(set(available)) if y >= first and (last is None or y <= last)
        ]


#: the default split's test years stay out of training and validation
DEFAULT_TEST_FIRST_YEAR = 2015

_YEARS = re.compile(r"^\s*(\d{4})\s*(?:(-)\s*(\d{4})?)?\s*$")

#: preset -> default split years (the quick preset is a 3-year demo)
PRESET_SPLITS: dict[str, dict[str, YearRange]] = {
    "full": FULL_SPLIT,
    "quick": {"train": (2004, 2005), "validate": (2006, 2006), "test": (2007, 2007)},
}


def parse_years(text: str | int, part: str = "years") -> YearRange:
    """``"1998-2012"`` -> ``(1998, 2012)``; ``"2015-"`` -> ``(2015, None)``; ``"2007"`` -> ``(2007, 2007)``.

    Parameters
    ----------
    text
        Inclusive whole-year range; an open end (``"2015-"``) runs to the last stored year.
    part
        Name used in the error message (``train``, ``--val-years`` ...).

    Returns
    -------
    YearRange
        ``(first, last)`` inclusive; ``last`` None for an open end.

    Raises
    ------
    ValueError
        If ``text`` is not one of those forms or the range runs backwards.
    """
    m = _YEARS.match(str(text))
    if not m:
        raise ValueError(
            f"{part} {text!r}: give whole years as FIRST-LAST (1998-2012), FIRST- (2015-) "
            "or one year (2007)"
        )
    first = int(m.group(1))
    last = None if m.group(2) and not m.group(3) else int(m.group(3) or first)
    if last is not None and last < first:
        raise ValueError(f"{part} {text!r}: last year {last} is before first year {first}")
    return first, last


def format_years(rng: YearRange) -> str:
    """``(1998, 2012)`` -> ``"1998-2012"``; ``(2015, None)`` -> ``"2015-"``.

    Parameters
    ----------
    rng : YearRange
        Inclusive ``(first, last)`` years; ``last`` None for open-ended.

    Returns
    -------
    str
        The form :func:`parse_years` reads; one year alone (``"2007"``) when first == last.
    """
    first, last = rng
    if last is None:
        return f"{first}-"
    return str(first) if first == last else f"{first}-{last}"


def configured_split(
    preset: str = "full",
    *,
    train: str | YearRange | None = None,
    validate: str | YearRange | None = None,
    test: str | YearRange | None = None,
) -> YearSplit:
    """The year split: these arguments, else ``config.toml``, else the preset's default.

    Parameters
    ----------
    preset
        ``full`` (1998-2010 / 2011-2014 / 2015-) or ``quick`` (2004-2005 / 2006 / 2007).
    train, validate, test
        Year ranges (``"1998-2012"``, ``"2015-"`` or a tuple) replacing that part.

    Returns
    -------
    YearSplit
        The split; a warning is logged when training or validation takes any of the default
        test years (2015 onwards), which then no longer score out of sample.

    Raises
    ------
    ValueError
        For an unknown preset, a malformed range, or parts that overlap.
    """
    from data_sources import config

    if preset not in PRESET_SPLITS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESET_SPLITS)}")
    parts: dict[str, YearRange] = dict(PRESET_SPLITS[preset])
    for part, text in config.split_years(preset, presets=PRESET_SPLITS).items():
        parts[part] = parse_years(text, f"config.toml [split] {part}")
    for part, given in (("train", train), ("validate", validate), ("test", test)):
        if given is not None:
            parts[part] = parse_years(given, part) if isinstance(given, str | int) else given
    split = YearSplit(**{k: tuple(v) for k, v in parts.items()})  # type: ignore[arg-type]
    for part in ("train", "validate"):
        _, last = getattr(split, part)
        if last is None or last >= DEFAULT_TEST_FIRST_YEAR:
            log.warning(
                "%s years %s take default test years (%d onwards): scores on those years are "
                "no longer out of sample",
                part,
                format_years(getattr(split, part)),
                DEFAULT_TEST_FIRST_YEAR,
            )
    return split


# ---------------------------------------------------------------------- data from the store
def last_stored_year(store: Store) -> int | None:
    """The last year any solar-wind source holds in ``store`` (None when it holds none).

    Parameters
    ----------
    store : Store
        The store; sources counted are those of ``PRIORITY["v_sw"]`` and ``local_*`` ones.

    Returns
    -------
    int or None
        Latest stored year (UTC) of those sources; ``None`` when none is stored.
    """
    stored = [s for s in store.sources() if s in PRIORITY["v_sw"] or s.startswith("local_")]
    years = [y for s in stored for y in store.years(s)]
    return max(years) if years else None


def _ingest_hint(first: int, last: int) -> str:
    return (
        f"run `superstorm ingest --source omni2 --start {first}-01-01 --end {last + 1}-01-01` "
        "(add --source kyoto_dst for Dst), or `superstorm ingest --recorded DATA_DIR`"
    )


def _years_with(ds: xr.Dataset, names: Iterable[str], first: int, last: int) -> list[int]:
    """Years in ``[first, last]`` where any of ``names`` has an (observed) value."""
    have = [n for n in names if n in ds]
    if not have:
        return []
    years = pd.DatetimeIndex(ds.indexes["time"]).year
    ok = np.zeros(len(years), dtype=bool)
    for n in have:
        ok |= np.isfinite(ds[n].values)
    return [int(y) for y in np.unique(years[ok]) if first <= y <= last]


def require_data(ds: xr.Dataset, first: int, last: int, store: Store) -> None:
    """Raise when ``ds`` has no solar wind or no Dst in the years ``first..last``.

    Parameters
    ----------
    ds : xr.Dataset
        Hourly dataset on ``time`` (:func:`data_sources.dataset.build_dataset` output).
    first, last : int
        Inclusive year range to check (UTC years).
    store : Store
        The store ``ds`` came from; named in the message.

    Raises
    ------
    ValueError
        Naming the years, the store and the ``superstorm ingest`` command that fills it.
    """
    span = format_years((first, last))
    if not _years_with(ds, SOLAR_WIND, first, last):
        raise ValueError(
            f"no solar wind in the store {store.root} for {span}: {_ingest_hint(first, last)}"
        )
    if not _years_with(ds, ("dst",), first, last):
        raise ValueError(
            f"no Dst in the store {store.root} for {span}: run `superstorm ingest --source "
            f"kyoto_dst --start {first}-01-01 --end {last + 1}-01-01` (or omni2)"
        )


def _build(
    start: TimeLike,
    end: TimeLike,
    store: Store,
    priority: dict[str, list[str] | tuple[str, ...]] | None,
) -> xr.Dataset:
    try:
        return build_dataset(start, end, store=store, priority=priority)
    except ValueError as exc:
        if "no stored values" not in str(exc):
            raise
        first, last = pd.Timestamp(start).year, (pd.Timestamp(end) - pd.Timedelta("1h")).year
        raise ValueError(
            f"no solar wind in the store {store.root} for {format_years((first, last))}: "
            f"{_ingest_hint(first, last)}"
        ) from None


def load_period(
    start: TimeLike,
    end: TimeLike,
    *,
    store: Store | None = None,
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
) -> xr.Dataset:
    """The hourly dataset ``[start, end)`` built from the store, checked for solar wind and Dst.

    Parameters
    ----------
    start, end
        UTC bounds (``end`` exclusive), on whole hours.
    store
        Store to read (default ``Store()`` under ``$SUPERSTORM_HOME``).
    priority
        Source priority passed to :func:`data_sources.dataset.build_dataset`.

    Returns
    -------
    xr.Dataset
        :func:`data_sources.dataset.build_dataset` output with ``attrs["loaded_from"]``.

    Raises
    ------
    ValueError
        If the store holds no solar wind or no Dst in the span (the message names the
        ``superstorm ingest`` command to run).
    """
    store = store or Store()
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    ds = _build(start, end, store, priority)
    require_data(ds, start.year, (end - pd.Timedelta("1h")).year, store)
    ds.attrs["loaded_from"] = f"store {store.root}"
    return ds


def part_range(split: YearSplit, part: str, store: Store) -> tuple[int, int]:
    """Inclusive ``(first, last)`` years of ``part``; an open end becomes the last stored year.

    Parameters
    ----------
    split : YearSplit
        The year split.
    part : str
        ``train``, ``validate`` or ``test``.
    store : Store
        Store consulted for the last stored year (:func:`last_stored_year`).

    Returns
    -------
    tuple of (int, int)
        First and last year, both inclusive.

    Raises
    ------
    ValueError
        If ``part`` is open-ended and the store holds no solar wind from its first year on.
    """
    first, last = getattr(split, part)
    if last is None:
        stored = last_stored_year(store)
        if stored is None or stored < first:
            raise ValueError(
                f"no solar wind in the store {store.root} for {format_years((first, None))}: "
                f"{_ingest_hint(first, max(first, stored or first))}"
            )
        last = stored
    return first, last


def _blank(ds: xr.Dataset, start: pd.Timestamp, end: pd.Timestamp) -> xr.Dataset:
    """``ds`` with every value in ``[start, end)`` set missing (NaN, ``<var>_qc`` = 2)."""
    t = pd.DatetimeIndex(ds.indexes["time"])
    inside = xr.DataArray((t >= start) & (t < end), dims="time", coords={"time": ds["time"]})
    if not bool(inside.any()):
        return ds
    out = ds.copy()
    for name, da in ds.data_vars.items():
        if str(name).endswith("_qc"):
            out[name] = da.where(~inside, 2).astype(da.dtype)
        elif da.dtype.kind == "f":
            out[name] = da.where(~inside)
        out[name].attrs = da.attrs
    return out


def load_split_data(
    split: YearSplit,
    parts: Sequence[str] = ("train", "validate"),
    *,
    store: Store | None = None,
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
) -> xr.Dataset:
    """The store's hourly dataset over the years of ``parts`` of ``split``.

    The grid runs from Jan 1 of the first year of ``parts`` to the end of the last one, so
    years between parts stay as context; unless ``"test"`` is among ``parts`` the test
    years' values are blanked, so nothing fitted or tuned on the result sees them.

    Parameters
    ----------
    split
        The year split.
    parts
        Parts to cover (``train``, ``validate``, ``test``).
    store
        Store to read (default ``Store()`` under ``$SUPERSTORM_HOME``).
    priority
        Source priority passed to :func:`data_sources.dataset.build_dataset`.

    Returns
    -------
    xr.Dataset
        With ``attrs`` ``loaded_from``, ``split`` and ``years_loaded`` (years with solar wind).

    Raises
    ------
    ValueError
        If a part has no solar wind or no Dst in the store; the message names the years and
        the ``superstorm ingest`` command to run.
    """
    store = store or Store()
    parts = tuple(parts)
    if not parts or any(p not in ("train", "validate", "test") for p in parts):
        raise ValueError(f"parts {parts!r}: choose from train, validate, test")
    ranges = {p: part_range(split, p, store) for p in parts}
    first = min(r[0] for r in ranges.values())
    last = max(r[1] for r in ranges.values())
    ds = _build(f"{first}-01-01", f"{last + 1}-01-01", store, priority)
    for a, b in ranges.values():
        require_data(ds, a, b, store)
    if "test" not in parts:
        t0, t1 = split.bounds("test")
        ds = _blank(ds, t0, t1 if t1 is not None else pd.Timestamp.max)
    ds.attrs.update(
        loaded_from=f"store {store.root}",
        split=", ".join(f"{p} {format_years(getattr(split, p))}" for p in parts),
        years_loaded=",".join(map(str, _years_with(ds, SOLAR_WIND, first, last))),
    )
    return ds


def load_training_data(
    split: YearSplit,
    *,
    store: Store | None = None,
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
) -> xr.Dataset:
    """The training and validation years of ``split`` from the store (test years blanked).

    See :func:`load_split_data`; raises ``ValueError`` such as "no solar wind in the store for
    1998-2010: run `superstorm ingest --source omni2 --start 1998-01-01 --end 2011-01-01`".

    Parameters
    ----------
    split : YearSplit
        The year split; its ``train`` and ``validate`` parts are loaded.
    store : Store or None
        Store to read; ``None`` uses ``Store()`` under ``$SUPERSTORM_HOME``.
    priority : dict or None
        Variable -> source names in order of preference, passed to
        :func:`data_sources.dataset.build_dataset`; ``None`` uses its default
        (:data:`data_sources.dataset.PRIORITY`).

    Returns
    -------
    xr.Dataset
        Hourly dataset from Jan 1 of the first training year to the end of the last
        validation year, test years blanked (NaN, ``*_qc`` = 2); attrs as
        :func:`load_split_data`.
    """
    return load_split_data(split, ("train", "validate"), store=store, priority=priority)


def load_evaluation_data(
    split: YearSplit,
    *,
    store: Store | None = None,
    priority: dict[str, list[str] | tuple[str, ...]] | None = None,
) -> xr.Dataset:
    """The training (baselines are fitted there) through test years of ``split`` from the store.

    Parameters
    ----------
    split : YearSplit
        The year split; its ``train`` and ``test`` parts are loaded (validation years in
        between stay as context).
    store : Store or None
        Store to read; ``None`` uses ``Store()`` under ``$SUPERSTORM_HOME``.
    priority : dict or None
        Variable -> source names in order of preference, passed to
        :func:`data_sources.dataset.build_dataset`; ``None`` uses its default
        (:data:`data_sources.dataset.PRIORITY`).

    Returns
    -------
    xr.Dataset
        Hourly dataset from Jan 1 of the first training year to the end of the last test
        year (an open test end: the last stored year); attrs as :func:`load_split_data`.

    Raises
    ------
    ValueError
        If a part has no solar wind or no Dst in the store (names the ingest command).
    """
    return load_split_data(split, ("train", "test"), store=store, priority=priority)


# ---------------------------------------------------------------------- recorded files
#: recorded OMNI2 folders of the recorded-data folder; later ones win for duplicate years
OMNI_FOLDERS = ("omni2_low_res_dynaml", "omni2_low_res")


def recorded_omni_files(data_dir: str | Path) -> dict[int, Path]:
    """Year -> recorded OMNI2 file; ``omni2_low_res`` wins over ``omni2_low_res_dynaml``.

    For tests and benchmarks that need raw recorded years; the library reads the store.

    Parameters
    ----------
    data_dir : str or Path
        The recorded-data folder holding ``omni2_low_res/`` and/or
        ``omni2_low_res_dynaml/`` (files ``omni2_<YYYY>.dat`` or ``.csv``).

    Returns
    -------
    dict of int to Path
        Year -> file, for every year found.

    Raises
    ------
    ValueError
        If neither folder holds an OMNI2 file.
    """
    files: dict[int, Path] = {}
    for folder in OMNI_FOLDERS:
        for path in sorted((Path(data_dir) / folder).glob("omni2_*")):
            m = re.match(r"omni2_(\d{4})", path.name)
            if m and path.suffix in (".dat", ".csv"):
                files[int(m.group(1))] = path
    if not files:
        raise ValueError(f"no recorded OMNI2 files under {data_dir}/{{{','.join(OMNI_FOLDERS)}}}")
    return files


def load_recorded_omni(data_dir: str | Path, years: Iterable[int] | None = None) -> xr.Dataset:
    """Concatenate the recorded OMNI2 hourly files of ``data_dir`` on a continuous hourly grid.

    A test and benchmark helper on an explicit folder (no default): train, evaluate, retrain
    and backtest read the store instead (:func:`load_training_data`, :func:`load_period`).

    Parameters
    ----------
    data_dir
        The recorded-data folder.
    years
        Years to load (default: every recorded year). Years without a file (2001, 2003,
        2016, ...) stay as NaN gaps inside the grid; asking only for absent years raises.

    Returns
    -------
    xr.Dataset
        Canonical OMNI2 variables, ``time`` hourly from Jan 1 of the first loaded year to the
        end of the last one, with ``attrs["years_loaded"]``.
    """
    files = recorded_omni_files(data_dir)
    wanted = sorted(files) if years is None else sorted({int(y) for y in years})
    have = [y for y in wanted if y in files]
    if not have:
        raise ValueError(f"no recorded OMNI2 file for years {wanted}; recorded: {sorted(files)}")
    parts = [parse_omni2(files[y]) for y in have]
    ds = xr.concat(parts, dim="time", combine_attrs="override") if len(parts) > 1 else parts[0]
    ds = ds.sortby("time")
    ds = ds.isel(time=~ds.indexes["time"].duplicated())
    grid = pd.date_range(f"{have[0]}-01-01", f"{have[-1] + 1}-01-01", freq="1h", inclusive="left")
    ds = ds.reindex(time=grid)
    ds.attrs["years_loaded"] = ",".join(str(y) for y in have)
    ds.attrs["source_url"] = ";".join(str(files[y]) for y in have)
    return ds
