"""Range checks at the alert boundary: no out-of-range value can raise an alert.

The parsers flag values outside the physical limits of :data:`data_sources.vocabulary.VARIABLES`
(``Variable.valid_range``) as they read them; this module applies the same limits once more
where observations and forecasts meet the alert rules, because values also arrive from
elsewhere (live feeds, a user's file, a model that diverged). A value outside its range, or
not finite (``inf``), is set to NaN (the alert rules never act on NaN) and counted, so the run
can say what it dropped. For a forecast, one bad value makes the whole variable untrusted: a
model that produced ``Dst = -5000 nT`` somewhere says nothing reliable anywhere.
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import xarray as xr

from data_sources import vocabulary

log = logging.getLogger(__name__)


def valid_range(name: str) -> tuple[float, float] | None:
    """Physical limits of a canonical variable, from ``Variable.valid_range``.

    Parameters
    ----------
    name : str
        Canonical variable name (``dst``, ``kp``, ``bz_gsm`` ...).

    Returns
    -------
    tuple of float or None
        ``(min, max)`` in the variable's vocabulary unit (nT for Dst, Kp in thirds 0..9,
        km/s for speed ...), inclusive; ``None`` for a name outside the vocabulary (not
        checked).
    """
    var = vocabulary.VARIABLES.get(name)
    return None if var is None else cast(tuple[float, float], tuple(var.valid_range))


def _bad(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    lo, hi = limits
    with np.errstate(invalid="ignore"):
        return np.isinf(values) | (values < lo) | (values > hi)


def mask_observations(ds: xr.Dataset | None) -> tuple[xr.Dataset | None, dict[str, int]]:
    """Observations with every out-of-range or infinite value set to NaN.

    Parameters
    ----------
    ds : xarray.Dataset or None
        Hourly observations on ``time`` (UTC naive, start of hour; canonical names,
        vocabulary units). ``None`` (no observations) passes through.

    Returns
    -------
    (xarray.Dataset or None, dict)
        The masked copy (``None`` for ``None``), and the number of values dropped per
        variable (only those > 0). Non-float and non-vocabulary variables are left as they are.
    """
    if ds is None:
        return None, {}
    out, dropped = ds.copy(), {}
    for name in ds.data_vars:
        limits = valid_range(str(name))
        if limits is None or not np.issubdtype(ds[name].dtype, np.floating):
            continue
        bad = _bad(ds[name].values, limits)
        if bad.any():
            dropped[str(name)] = int(bad.sum())
            out[name] = ds[name].where(~xr.DataArray(bad, dims=ds[name].dims))
    for name, n in dropped.items():
        log.warning(
            "alert boundary: %d %s value(s) outside the physical range %s dropped before the "
            "alert rules (check the input source)",
            n,
            name,
            valid_range(name),
        )
    return out, dropped


def mask_forecast(fc: xr.Dataset | None) -> tuple[xr.Dataset | None, dict[str, int]]:
    """Set every forecast variable holding an out-of-range or infinite value to NaN.

    Parameters
    ----------
    fc : xarray.Dataset or None
        Forecast dataset (:mod:`forecasting.schema` layout: ``init_time``, ``lead_time``,
        ``quantile``; variables named as in the vocabulary, e.g. ``dst`` [nT], ``kp``
        [thirds]); ``attrs["model"]`` names the model in the warning. ``None`` passes through.

    Returns
    -------
    (xarray.Dataset or None, dict)
        The masked copy (an untrusted variable is all NaN, so it can neither raise nor cancel
        a warning), and the number of bad values per untrusted variable.
    """
    if fc is None:
        return None, {}
    out, dropped = fc.copy(), {}
    for name in fc.data_vars:
        limits = valid_range(str(name))
        if limits is None or not np.issubdtype(fc[name].dtype, np.floating):
            continue
        bad = _bad(fc[name].values, limits)
        if bad.any():
            dropped[str(name)] = int(bad.sum())
            out[name] = xr.full_like(fc[name], np.nan)
    for name, n in dropped.items():
        log.warning(
            "alert boundary: the %s forecast (%s) has %d value(s) outside the physical range "
            "%s; it is not used for alerts in this run",
            name,
            fc.attrs.get("model", "?"),
            n,
            valid_range(name),
        )
    return out, dropped
