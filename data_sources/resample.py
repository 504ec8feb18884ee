"""Sub-hourly records onto the hourly grid: one coverage rule for every source.

An hour is the mean of its valid samples, labelled by the start of the hour (OMNI's
convention), and only when at least ``min_coverage`` of the samples the cadence allows in that
hour are valid; otherwise NaN. SWPC's 1-minute real-time solar wind
(:func:`data_sources.swpc.to_hourly`) and researchers' own 1-, 5- or 10-minute files
(:mod:`data_sources.local_file`) both go through :func:`hourly_means`.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

HOUR = pd.Timedelta(hours=1)


def sample_step(ds: xr.Dataset) -> pd.Timedelta:
    """Median spacing of ``ds.time`` (NaT when fewer than two times).

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset with a ``time`` dimension (sample times, naive UTC).

    Returns
    -------
    pandas.Timedelta
        Median difference between consecutive times (e.g. 1 min for SWPC real-time solar
        wind); ``NaT`` when ``ds`` has fewer than two times.
    """
    return pd.Series(ds.indexes["time"]).diff().median()


def hourly_means(ds: xr.Dataset, *, min_coverage: float = 0.5) -> xr.Dataset:
    """Hourly means of a sub-hourly dataset with a minimum-coverage rule.

    Parameters
    ----------
    ds : xarray.Dataset
        Variables on a ``time`` dimension with a regular sub-hourly cadence (e.g. 1 or 5 min);
        labels are sample times, NaN marks a missing sample.
    min_coverage : float, optional
        Fraction (0, 1] of the hour's expected samples (``1 h / cadence``) that must be valid
        for the hour to get a value (default 0.5).

    Returns
    -------
    xarray.Dataset
        float32 hourly means labelled by the start of the hour; variable attributes kept.

    Raises
    ------
    ValueError
        If ``min_coverage`` is outside (0, 1], or the cadence is not shorter than one hour.
    """
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    step = sample_step(ds)
    if pd.isna(step) or step <= pd.Timedelta(0) or step >= HOUR:
        raise ValueError(
            f"hourly means need a sub-hourly cadence; the median step here is {step} "
            "(hourly or coarser data is already on the grid)"
        )
    expected = HOUR / step
    resampled = ds.resample(time="1h", label="left", closed="left")
    means = resampled.mean(skipna=True)
    counts = ds.notnull().resample(time="1h", label="left", closed="left").sum()
    out = means.where(counts >= min_coverage * expected)
    for name in out.data_vars:
        out[name] = out[name].astype("float32")
        out[name].attrs = dict(ds[name].attrs)
    return out
