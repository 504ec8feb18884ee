"""Model inputs from the merged hourly dataset, with no look-ahead.

``build_features(ds)`` returns one row per hourly label ``h`` of ``ds``. Row ``h`` holds only
what is known at ``h + 1 h`` (the end of hour ``h``), following :mod:`data_sources.timeconv`:

* hourly values (solar wind, ``dst``): the value labelled ``h``;
* ``kp`` (3-hourly): the last COMPLETE 3-h interval by ``h + 1 h``, i.e. the interval starting
  at ``floor(h + 1 h, 3 h) - 3 h``;
* daily values (``f107``): the last complete day by ``h + 1 h``.

So a model issued at ``t`` may use every row ``h <= t - 1 h``. A test proves that
``build_features(timeconv.known_at(ds, t))`` equals ``build_features(ds)`` on those rows and
that perturbing any value labelled ``>= t`` changes no row ``< t``.

Missing values: each raw input column is forward-filled over at most ``fill_limit`` hours
(default 3; causal, so it adds no look-ahead) and gets an ``<name>_isnan`` indicator
(1.0 where the raw, unfilled value was missing at that row). Derived columns are computed
from the filled inputs; anything still missing stays NaN.

Derived columns (where their inputs exist):

* ``p_dyn`` [nPa] when the dataset lacks it: ``2e-6 n_p v_sw**2`` (OMNI2's formula,
  ``omni2.text`` word 29; n in cm-3, V in km s-1); gaps in a present ``p_dyn`` are filled
  from the same formula.
* ``newell`` [(km s-1)^(4/3) nT^(2/3)]: Newell et al. (2007), doi:10.1029/2006JA012015,
  ``dPhi/dt = V^(4/3) B_T^(2/3) sin^(8/3)(theta_c / 2)`` with ``B_T = sqrt(By^2 + Bz^2)``
  and clock angle ``theta_c = atan2(By, Bz)``. Without ``by_gsm`` the |Bz| form is used
  (``B_T = |Bz|``, ``theta_c`` = 0 or 180 deg, i.e. ``V^(4/3) Bs^(2/3)``) and the metadata
  says so.
* ``e_y`` [mV m-1]: ``-V Bz 1e-3`` (dawn-dusk interplanetary electric field).
* ``vbs`` [mV m-1]: ``V max(-Bz, 0) 1e-3`` (rectified, Burton et al. 1975).
* ``clock_sin``, ``clock_cos``: sine and cosine of the IMF clock angle ``atan2(By, Bz)``.
* ``doy_sin``, ``doy_cos``, ``ut_sin``, ``ut_cos``: day-of-year and UT phases, standing in for
  the Russell & McPherron (1973) semiannual/diurnal modulation (the model can learn the
  R-M combination from them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from data_sources.derived import dynamic_pressure
from forecasting.models import physics

#: raw inputs taken from the dataset when present (canonical names)
RAW_INPUTS: tuple[str, ...] = (
    "bz_gsm",
    "by_gsm",
    "b_total",
    "v_sw",
    "n_p",
    "p_dyn",
    "dst",
    "kp",
    "f107",
)

DERIVED_DOC: dict[str, str] = {
    "p_dyn": "2e-6 n_p v_sw^2 nPa (OMNI2 formula) where the dataset's p_dyn is absent or missing",
    "newell": "Newell et al. (2007) V^(4/3) B_T^(2/3) sin^(8/3)(theta_c/2)",
    "newell_bz_only": "Newell et al. (2007) without By: V^(4/3) Bs^(2/3) (|Bz| form)",
    "e_y": "-V Bz 1e-3 mV/m",
    "vbs": "V max(-Bz,0) 1e-3 mV/m (rectified)",
    "clock_sin": "sin(atan2(By, Bz))",
    "clock_cos": "cos(atan2(By, Bz))",
    "doy_sin": "sin(2 pi day-of-year / 365.25) of the row label",
    "doy_cos": "cos(2 pi day-of-year / 365.25) of the row label",
    "ut_sin": "sin(2 pi UT hour / 24) of the row label",
    "ut_cos": "cos(2 pi UT hour / 24) of the row label",
}


def _time_index(ds: xr.Dataset) -> pd.DatetimeIndex:
    if "time" not in ds.dims:
        raise ValueError(f"dataset lacks a 'time' dimension (dims: {tuple(ds.dims)})")
    return pd.DatetimeIndex(ds.indexes["time"])


def known_by_end_of_row(series: pd.Series, name: str, labels: pd.DatetimeIndex) -> np.ndarray:
    """Values of ``name`` known at ``labels + 1 h``: the last complete interval by then.

    For an interval length ``S`` (``timeconv.INTERVAL``; 1 h by default) the row labelled ``h``
    gets the value labelled ``floor(h + 1 h, S) - S``. For hourly values this is ``h`` itself.

    Parameters
    ----------
    series : pd.Series
        Hourly values of ``name`` (units of the variable, e.g. nT, km/s) indexed by naive UTC
        hour labels (interval starts); a coarse index (Kp 3 h, F10.7 daily) repeats its
        interval's value on each hour.
    name : str
        Canonical variable name (``dst``, ``kp``, ``v_sw`` ...); it picks the interval
        length from ``timeconv.INTERVAL``.
    labels : pd.DatetimeIndex
        Row labels (naive UTC, start of hour) to fill.

    Returns
    -------
    np.ndarray
        float, same length as ``labels``; NaN where the source interval is absent.
    """
    step = timeconv.INTERVAL.get(name, timeconv.HOUR)
    src = (labels + timeconv.HOUR).floor(step) - step
    # the value of a coarse interval: its first non-NaN hourly value (hourly series repeat it)
    if step != timeconv.HOUR:
        series = series.groupby(series.index.floor(step)).first()
    return series.reindex(src).to_numpy(dtype=float)


def calendar_phases(labels: pd.DatetimeIndex) -> pd.DataFrame:
    """Day-of-year and UT phases of hourly ``labels``: ``doy_sin, doy_cos, ut_sin, ut_cos``.

    Parameters
    ----------
    labels
        Hour labels (UTC).

    Returns
    -------
    pandas.DataFrame
        ``doy = day_of_year - 1 + hour / 24``; phases ``2 pi doy / 365.25`` and ``2 pi UT / 24``
        [rad] as sine and cosine (stand-ins for the Russell & McPherron 1973 semiannual and
        diurnal modulation), indexed by ``labels``.
    """
    labels = pd.DatetimeIndex(labels)
    doy = (labels.dayofyear - 1 + labels.hour / 24.0).to_numpy(dtype=float)
    ut = (labels.hour + labels.minute / 60.0).to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "doy_sin": np.sin(2 * np.pi * doy / 365.25),
            "doy_cos": np.cos(2 * np.pi * doy / 365.25),
            "ut_sin": np.sin(2 * np.pi * ut / 24.0),
            "ut_cos": np.cos(2 * np.pi * ut / 24.0),
        },
        index=labels,
    )


def _derive(df: pd.DataFrame, notes: dict) -> pd.DataFrame:
    out = {}
    has = df.columns
    if {"n_p", "v_sw"} <= set(has):
        formula = dynamic_pressure(df["n_p"], df["v_sw"])
        if "p_dyn" in has:
            out["p_dyn"] = df["p_dyn"].fillna(formula)
            notes["p_dyn"] = "observed; gaps filled with 2e-6 n V^2"
        else:
            out["p_dyn"] = formula
            notes["p_dyn"] = DERIVED_DOC["p_dyn"]
    if {"v_sw", "bz_gsm"} <= set(has):
        v, bz = df["v_sw"], df["bz_gsm"]
        out["e_y"] = physics.electric_field(v, bz)
        out["vbs"] = physics.vbs(v, bz)
        notes["e_y"], notes["vbs"] = DERIVED_DOC["e_y"], DERIVED_DOC["vbs"]
        if "by_gsm" in has:
            by = df["by_gsm"]
            theta = pd.Series(physics.clock_angle(by, bz), index=df.index)
            out["newell"] = physics.newell_coupling(v, by, bz)
            out["clock_sin"], out["clock_cos"] = np.sin(theta), np.cos(theta)
            for key in ("clock_sin", "clock_cos"):
                out[key] = out[key].where(by.notna() & bz.notna())
            notes["newell"] = DERIVED_DOC["newell"]
            notes["clock_sin"], notes["clock_cos"] = (
                DERIVED_DOC["clock_sin"],
                DERIVED_DOC["clock_cos"],
            )
        else:
            out["newell"] = physics.newell_coupling(v, None, bz)
            notes["newell"] = DERIVED_DOC["newell_bz_only"]
    phases = calendar_phases(df.index)
    for key in phases.columns:
        out[key] = phases[key].to_numpy()
        notes[key] = DERIVED_DOC[key]
    for key, val in out.items():
        df[key] = np.asarray(val, dtype=float)
    return df


def build_features(ds: xr.Dataset, *, fill_limit: int = 3, indicators: bool = True) -> pd.DataFrame:
    """Hourly feature table from a merged dataset (``build_dataset`` or ``parse_omni2``).

    Parameters
    ----------
    ds
        Dataset with dim ``time`` (hourly labels = interval starts) and any of the canonical
        variables in :data:`RAW_INPUTS`; ``*_qc`` flags and other variables are ignored.
    fill_limit
        Forward-fill each raw input over at most this many hours (causal). 0 disables it.
    indicators
        Add ``<name>_isnan`` columns (1.0 where the raw value was missing).

    Returns
    -------
    pandas.DataFrame
        Index = the dataset's time labels; row ``h`` uses only values known at ``h + 1 h``.
        ``df.attrs["feature_metadata"]`` describes it (see :func:`feature_metadata`).
    """
    labels = _time_index(ds)
    present = [v for v in RAW_INPUTS if v in ds.data_vars and ds[v].dims == ("time",)]
    if not present:
        raise ValueError(
            f"dataset holds none of the feature inputs {RAW_INPUTS}; it has {sorted(map(str, ds.data_vars))}"
        )
    if len(labels) and not labels.is_monotonic_increasing:
        raise ValueError("dataset time labels are not sorted; call ds.sortby('time') first")
    # work on a continuous hourly grid so fill limits are in hours, then return ds's labels
    grid = pd.date_range(labels.min(), labels.max(), freq="1h") if len(labels) else labels
    raw = pd.DataFrame(index=grid)
    for name in present:
        s = ds[name].to_series().astype(float)
        s = s[~s.index.duplicated()]
        raw[name] = known_by_end_of_row(s, name, grid)
    filled = raw.ffill(limit=fill_limit) if fill_limit > 0 else raw.copy()
    notes: dict[str, str] = {}
    df = _derive(filled.copy(), notes)
    if indicators:
        for name in present:
            df[f"{name}_isnan"] = raw[name].isna().astype(float)
    df = df.reindex(labels)
    df.index.name = "time"
    df.attrs["feature_metadata"] = {
        "inputs": present,
        "derived": notes,
        "columns": list(df.columns),
        "fill": f"forward fill <= {fill_limit} h, causal; <name>_isnan flags raw gaps"
        if fill_limit > 0
        else "no fill; NaN kept",
        "availability": "row h uses values known at h + 1 h (timeconv.interval_end)",
        "newell_form": "full (By, Bz)" if "by_gsm" in present else "bz_only",
    }
    return df


def feature_metadata(df: pd.DataFrame) -> dict:
    """What :func:`build_features` used and derived for ``df``.

    Parameters
    ----------
    df : pd.DataFrame
        A feature table returned by :func:`build_features` (its ``attrs`` carry the record).

    Returns
    -------
    dict
        ``inputs`` (raw variables used), ``derived`` (column -> formula/reference),
        ``columns``, ``fill`` (missing-value policy), ``availability`` and ``newell_form``.

    Raises
    ------
    ValueError
        If ``df`` was not made by :func:`build_features`.
    """
    meta = df.attrs.get("feature_metadata")
    if meta is None:
        raise ValueError("DataFrame was not made by build_features (no feature_metadata attr)")
    return dict(meta)
