"""Train / validate / test split by whole years, and the recorded OMNI2 record to split.

Default split: train 1998-2012, validate 2013-2014, test 2015 onwards. Whole years only,
so no storm is cut between parts; overlapping parts are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.omni2 import parse_omni2

YearRange = tuple[int, int | None]

#: recorded OMNI2 folders under ``../shared/data``; later ones win for duplicate years
OMNI_FOLDERS = ("omni2_low_res_dynaml", "omni2_low_res")


def _check_range(part: str, rng) -> tuple[int, int | None]:
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

    train: YearRange = (1998, 2012)
    validate: YearRange = (2013, 2014)
    test: YearRange = (2015, None)

    def __post_init__(self) -> None:
        parts = {p: _check_range(p, getattr(self, p)) for p in ("train", "validate", "test")}
        for p, rng in parts.items():
            object.__setattr__(self, p, rng)
        names = list(parts)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                (a0, a1), (b0, b1) = parts[a], parts[b]
                a1 = np.inf if a1 is None else a1
                b1 = np.inf if b1 is None else b1
                if a0 <= b1 and b0 <= a1:
                    raise ValueError(
                        f"YearSplit: {a} {parts[a]} overlaps {b} {parts[b]}; "
                        "give each year to one part only"
                    )

    def bounds(self, part: str) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        """``[start, end)`` timestamps of ``part`` (``end`` None when open-ended)."""
        if part not in ("train", "validate", "test"):
            raise ValueError(f"unknown split part {part!r}; use train, validate or test")
        first, last = getattr(self, part)
        end = None if last is None else pd.Timestamp(f"{last + 1}-01-01")
        return pd.Timestamp(f"{first}-01-01"), end

    def select(self, ds: xr.Dataset, part: str) -> xr.Dataset:
        """The hours of ``ds`` in ``part`` (labels in ``[start, end)``)."""
        start, end = self.bounds(part)
        stop = None if end is None else end - pd.Timedelta("1ns")
        return ds.sel(time=slice(start, stop))

    def years(self, part: str, available) -> list[int]:
        """The years of ``available`` falling in ``part``."""
        first, last = getattr(self, part)
        return [
            int(y) for y in sorted(set(available)) if y >= first and (last is None or y <= last)
        ]


def recorded_omni_files(data_dir: str | Path) -> dict[int, Path]:
    """Year -> recorded OMNI2 file; ``omni2_low_res`` wins over ``omni2_low_res_dynaml``."""
    files: dict[int, Path] = {}
    for folder in OMNI_FOLDERS:
        for path in sorted((Path(data_dir) / folder).glob("omni2_*")):
            m = re.match(r"omni2_(\d{4})", path.name)
            if m and path.suffix in (".dat", ".csv"):
                files[int(m.group(1))] = path
    if not files:
        raise ValueError(f"no recorded OMNI2 files under {data_dir}/{{{','.join(OMNI_FOLDERS)}}}")
    return files


def load_recorded_omni(data_dir: str | Path, years=None) -> xr.Dataset:
    """Concatenate the recorded OMNI2 hourly files on a continuous hourly grid.

    Parameters
    ----------
    data_dir
        The recorded-data folder (``../shared/data``).
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
