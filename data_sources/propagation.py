"""Ballistic propagation of L1 solar wind to the bow-shock nose, then OMNI-like hourly means.

The models are trained on OMNI, whose plasma and field are time-shifted from the observing
spacecraft to the Earth's bow-shock nose (BSN) before they are averaged (King &
Papitashvili 2005, doi:10.1029/2004JA010649; OMNI HRO documentation,
https://omniweb.gsfc.nasa.gov/html/HROdocum.html). SWPC's real-time products are the values
*measured at L1*, about 1.5 million km upstream: fed unshifted, they reach a model about an
hour early against what it learned (on the recorded May 2024 week SWPC hourly speed matches
OMNI best moved +1 h).

Here each 1-minute sample measured at time ``t`` at GSE distance ``X_sc`` is moved to its
arrival at the nose,

    t_bsn = t + (X_sc - X_bsn) / V_x ,

with ``V_x`` the radial speed (the plasma product's bulk speed ``v_sw``, nearly radial at
L1) averaged over the trailing :data:`SPEED_WINDOW` (10 min) ending at the sample. Per-minute
speeds scatter by several km/s, and at ~400 km/s each km/s changes the 1-h delay by ~9 s, so
unsmoothed delays make neighbouring minutes "overtake" each other spuriously (15 % of the
recorded May 2024 week); the trailing window is causal, so a value never changes once
published. This is the flat, Sun-Earth-normal limit of the phase-front shift that OMNI
uses (Weimer et al. 2003, doi:10.1029/2002JA009405, for the tilted phase-front version); it
ignores the front tilt and the Y/Z offset of the spacecraft, which is what a few-minute
error budget per hour allows.

Overtaking: a faster stream behind a slower one can reach the nose *before* it (its
arrival time precedes that of samples measured earlier). The shifted series must stay in
time order, so (as OMNI does when shifted records come out of order) the overtaken,
earlier-measured samples are dropped: a sample is kept only if it arrives strictly before
every sample measured after it. Physically that plasma is swept into the compression
region, which the faster stream's values then represent.

Spacecraft position: SWPC serves the position of the active spacecraft in a separate
ephemeris product; none is recorded in this project's data, so the documented fallback is
the nominal L1 distance :data:`L1_DISTANCE_KM` (pass ``x_sc_km`` per sample when an
ephemeris is available). The nose is put at :data:`BOW_SHOCK_NOSE_RE` Earth radii, a typical
subsolar bow-shock distance.

Hourly means (:func:`to_bow_shock_hourly`) follow :func:`data_sources.swpc.to_hourly`:
bins of *arrival* time labelled by the start of the hour, NaN unless at least
``min_coverage * 60`` valid samples arrived in the hour, ``p_dyn`` from the hourly means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from data_sources.base import finalize
from data_sources.swpc import DATA_VERSION, dynamic_pressure

#: Earth radius [km] used for the bow-shock distance
R_E_KM = 6371.2
#: nominal GSE X of an L1 monitor (ACE, DSCOVR, Wind orbit L1 at ~1.4-1.6e6 km) [km]
L1_DISTANCE_KM = 1.5e6
#: typical subsolar bow-shock nose distance [Earth radii]
BOW_SHOCK_NOSE_RE = 13.0
#: a speed gap in the plasma record is bridged by time interpolation over at most this
SPEED_GAP = pd.Timedelta("10min")
#: trailing window of the speed used for the delay (causal; see the module docstring)
SPEED_WINDOW = pd.Timedelta("10min")
#: physical bounds of the propagation speed [km s-1]; outside them a sample is not shifted
SPEED_BOUNDS = (150.0, 3000.0)


def delay_seconds(
    v_sw: np.ndarray,
    *,
    x_sc_km: float | np.ndarray = L1_DISTANCE_KM,
    x_bsn_km: float = BOW_SHOCK_NOSE_RE * R_E_KM,
) -> np.ndarray:
    """Ballistic travel time [s] from the spacecraft to the bow-shock nose.

    Parameters
    ----------
    v_sw
        Radial solar-wind speed of each sample [km s-1].
    x_sc_km
        GSE X of the spacecraft [km], scalar or one per sample (default: nominal L1).
    x_bsn_km
        GSE X of the bow-shock nose [km] (default 13 Earth radii).

    Returns
    -------
    numpy.ndarray
        ``(x_sc_km - x_bsn_km) / v_sw`` [s]; NaN where the speed is missing or outside
        :data:`SPEED_BOUNDS`.

    Raises
    ------
    ValueError
        If the spacecraft is not upstream of the nose (``x_sc_km <= x_bsn_km``).
    """
    v = np.asarray(v_sw, dtype=float)
    x = np.asarray(x_sc_km, dtype=float)
    if np.any(x <= x_bsn_km):
        raise ValueError(
            f"spacecraft X {np.min(x):.0f} km is not upstream of the bow-shock nose "
            f"({x_bsn_km:.0f} km); pass GSE X in km (L1 is ~1.5e6 km)"
        )
    ok = np.isfinite(v) & (v >= SPEED_BOUNDS[0]) & (v <= SPEED_BOUNDS[1])
    return np.where(ok, (x - x_bsn_km) / np.where(ok, v, 1.0), np.nan)


def not_overtaken(arrival: np.ndarray) -> np.ndarray:
    """True for samples that arrive strictly before every later-measured sample.

    ``arrival`` is in measurement order (float seconds or datetime64, NaN/NaT = unknown).
    A sample overtaken by a faster, later-measured one is False (see the module docstring).

    Parameters
    ----------
    arrival : numpy.ndarray
        Arrival time at the nose of each sample, in measurement order: float seconds
        (NaN = unknown) or ``datetime64`` (NaT = unknown).

    Returns
    -------
    numpy.ndarray
        Boolean, same length: True where the sample is kept; unknown arrivals are False.
    """
    a = np.asarray(arrival)
    if np.issubdtype(a.dtype, np.datetime64):
        valid = ~np.isnat(a)
        a = a.astype("datetime64[ns]").astype(np.int64).astype(float)
    else:
        a = a.astype(float)
        valid = np.isfinite(a)
    a = np.where(valid, a, np.inf)
    # later_min[i] = min arrival of samples i+1..n-1
    later_min = np.minimum.accumulate(a[::-1])[::-1]
    later_min = np.append(later_min[1:], np.inf)
    return valid & (a < later_min)


def _speed_at(
    times: pd.DatetimeIndex,
    speed: xr.DataArray | None,
    own: xr.Dataset,
    window: pd.Timedelta = SPEED_WINDOW,
) -> np.ndarray:
    """Delay speed at each sample time.

    The trailing ``window`` mean of the product's own ``v_sw`` (or ``speed``), with gaps up to
    :data:`SPEED_GAP` bridged by time interpolation.
    """
    src = own["v_sw"] if speed is None and "v_sw" in own else speed
    if src is None:
        raise ValueError(
            "no speed to propagate with: the dataset has no v_sw; pass speed=<plasma v_sw> "
            "(e.g. the SWPC plasma product) for the magnetic field"
        )
    s = src.to_series().astype(float)
    s = s[~s.index.duplicated()].sort_index().dropna()
    if s.empty:
        return np.full(len(times), np.nan)
    s = s.rolling(pd.Timedelta(window)).mean()
    union = s.index.union(times)
    filled = s.reindex(union).interpolate(method="time", limit_area="inside")
    near = pd.Series(s.index, index=s.index).reindex(union, method="nearest")
    too_far = np.abs(union - pd.DatetimeIndex(near.values)) > SPEED_GAP
    filled[too_far] = np.nan
    return filled.reindex(times).to_numpy(dtype=float)


def arrival_times(
    times: pd.DatetimeIndex | np.ndarray, speed: xr.DataArray | None
) -> pd.DatetimeIndex:
    """Arrival at the nose of every sample time (no sample dropped, for binning QC flags).

    Uses the delay speed of :func:`propagate`; a time without one takes
    :data:`NOMINAL_SPEED`.

    Parameters
    ----------
    times : pandas.DatetimeIndex or numpy.ndarray
        Measurement times at L1 (naive UTC), e.g. the 1-minute ``time`` of a plasma or mag
        product.
    speed : xr.DataArray or None
        Solar-wind speed [km s-1] on its own ``time`` (the plasma ``v_sw``); smoothed over
        :data:`SPEED_WINDOW` and interpolated to ``times`` across gaps up to
        :data:`SPEED_GAP`. ``None``: every sample travels at :data:`NOMINAL_SPEED`.

    Returns
    -------
    pandas.DatetimeIndex
        Naive UTC arrival time at the bow-shock nose, one per entry of ``times`` (nominal
        L1 distance, :data:`L1_DISTANCE_KM`); not necessarily increasing.
    """
    times = pd.DatetimeIndex(times)
    frame = xr.Dataset(coords={"time": times})
    v = _speed_at(times, speed, frame) if speed is not None else np.full(len(times), np.nan)
    d = delay_seconds(np.where(np.isfinite(v), v, NOMINAL_SPEED))
    return times + pd.to_timedelta(d, unit="s")


def propagate(
    ds: xr.Dataset,
    *,
    speed: xr.DataArray | None = None,
    x_sc_km: float | np.ndarray = L1_DISTANCE_KM,
    x_bsn_km: float = BOW_SHOCK_NOSE_RE * R_E_KM,
    speed_window: str | pd.Timedelta = SPEED_WINDOW,
) -> xr.Dataset:
    """Move 1-minute L1 samples to their arrival time at the bow-shock nose.

    Parameters
    ----------
    ds
        1-minute L1 dataset along ``time`` (measurement time, interval start), e.g.
        :func:`data_sources.swpc.parse_swpc_json` of the plasma or mag product.
    speed
        Speed [km s-1] to propagate with; default ``ds["v_sw"]``. The field product has no
        speed: pass the plasma ``v_sw`` (interpolated to the field times, gaps up to
        :data:`SPEED_GAP`).
    x_sc_km, x_bsn_km
        Spacecraft and nose GSE X [km] (see :func:`delay_seconds`).
    speed_window
        Trailing averaging window of the delay speed (``"1min"``: the sample's own speed).

    Returns
    -------
    xr.Dataset
        The kept samples on ``time`` = arrival time at the nose (strictly increasing),
        with ``measured_time`` (the L1 time) and ``delay_s`` [s] as extra coordinates.
        Samples without a usable speed, or overtaken (:func:`not_overtaken`), are dropped;
        ``attrs["n_dropped_no_speed"]`` and ``attrs["n_dropped_overtaken"]`` count them.
    """
    times = ds.indexes["time"]
    v = _speed_at(times, speed, ds, pd.Timedelta(speed_window))
    x = np.asarray(x_sc_km, dtype=float)
    if x.ndim and x.shape != (len(times),):
        raise ValueError(f"x_sc_km has {x.shape} values; give one scalar or one per sample")
    delay = delay_seconds(v, x_sc_km=x, x_bsn_km=x_bsn_km)
    arrival = times.values + (np.nan_to_num(delay) * 1e9).astype("timedelta64[ns]")
    arrival = np.where(np.isfinite(delay), arrival, np.datetime64("NaT"))
    keep = not_overtaken(arrival)
    no_speed = int((~np.isfinite(delay)).sum())
    out = ds.isel(time=np.flatnonzero(keep))
    out = out.assign_coords(
        measured_time=("time", times.values[keep]),
        delay_s=("time", delay[keep].astype("float32")),
    )
    out = out.assign_coords(time=arrival[keep])
    out.attrs = dict(ds.attrs)
    out.attrs.update(
        propagated_to="bow-shock nose",
        propagation=(
            f"ballistic, delay = (X_sc - X_bsn) / V; X_bsn = {x_bsn_km:.0f} km; X_sc = "
            + (f"{float(x):.0f} km (nominal L1)" if not x.ndim else "per-sample ephemeris")
        ),
        n_dropped_no_speed=no_speed,
        n_dropped_overtaken=int(len(times) - no_speed - keep.sum()),
    )
    return out


def hourly_means(prop: xr.Dataset, *, min_coverage: float = 0.5) -> xr.Dataset:
    """Hourly means over arrival-time bins of a :func:`propagate` result (hour-start labels).

    An hour of a variable with fewer than ``min_coverage * 60`` valid samples is NaN, the
    rule of :func:`data_sources.swpc.to_hourly`; ``p_dyn`` comes from the hourly ``n_p`` and
    ``v_sw`` (OMNI's ``2e-6 n V^2``).

    Parameters
    ----------
    prop : xr.Dataset
        A :func:`propagate` result: 1-minute samples on ``time`` = arrival at the nose
        (naive UTC), variables in vocabulary units.
    min_coverage : float, optional
        Fraction (0, 1] of the 60 possible 1-minute samples that must be valid for an hour
        to get a value (default 0.5, i.e. 30 samples).

    Returns
    -------
    xr.Dataset
        float32 hourly means on a gap-free hourly ``time`` (naive UTC, start of the hour at
        the nose) from the first to the last hour with a sample, plus ``p_dyn`` [nPa] when
        ``n_p`` and ``v_sw`` are present; annotated (:func:`data_sources.base.finalize`,
        cadence ``"1h"``) and carrying the propagation attributes.

    Raises
    ------
    ValueError
        If ``min_coverage`` is outside (0, 1] or ``prop`` has no samples.
    """
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage}")
    names = [v for v in map(str, prop.data_vars) if "time" in prop[v].dims]
    frame = prop[names].reset_coords(drop=True).to_dataframe()
    if frame.empty:
        raise ValueError("nothing left to average after propagation (no usable speed?)")
    hour = frame.index.floor("1h")
    means = frame.groupby(hour).mean()
    counts = frame.notna().groupby(hour).sum()
    means = means.where(counts >= min_coverage * 60)
    grid = pd.date_range(means.index.min(), means.index.max(), freq="1h", name="time")
    means = means.reindex(grid)
    out = xr.Dataset(
        {v: ("time", means[v].to_numpy(dtype="float32"), dict(prop[v].attrs)) for v in names},
        coords={"time": grid},
    )
    if "n_p" in out and "v_sw" in out:
        out["p_dyn"] = dynamic_pressure(out["n_p"], out["v_sw"]).astype("float32")
    version = {v: prop[v].attrs.get("data_version", DATA_VERSION) for v in names}
    version.setdefault("p_dyn", version.get("n_p", DATA_VERSION))
    out = finalize(
        out,
        source=prop.attrs.get("source", "swpc"),
        source_url=prop.attrs.get("source_url", ""),
        cadence="1h",
        data_version=version,
        name=prop.attrs.get("source_url", "<dataset>"),
    )
    for key in ("propagated_to", "propagation", "n_dropped_no_speed", "n_dropped_overtaken"):
        if key in prop.attrs:
            out.attrs[key] = prop.attrs[key]
    return out


def to_bow_shock_hourly(
    ds: xr.Dataset,
    *,
    speed: xr.DataArray | None = None,
    x_sc_km: float | np.ndarray = L1_DISTANCE_KM,
    min_coverage: float = 0.5,
) -> xr.Dataset:
    """L1 1-minute data -> propagated to the nose -> OMNI-like hourly means.

    The live counterpart of :func:`data_sources.swpc.to_hourly`; see :func:`propagate`
    and :func:`hourly_means` for the parameters.

    Parameters
    ----------
    ds : xr.Dataset
        1-minute L1 dataset on ``time`` (measurement time, naive UTC), e.g. the SWPC plasma
        or mag product.
    speed : xr.DataArray, optional
        Propagation speed [km s-1]; default ``ds["v_sw"]`` (pass the plasma ``v_sw`` for the
        field product).
    x_sc_km : float or numpy.ndarray, optional
        GSE X of the spacecraft [km], scalar or one per sample; default nominal L1
        (:data:`L1_DISTANCE_KM`, 1.5e6 km).
    min_coverage : float, optional
        Fraction (0, 1] of the hour's 60 samples that must be valid (default 0.5).

    Returns
    -------
    xr.Dataset
        OMNI-like hourly means at the bow-shock nose (see :func:`hourly_means`).
    """
    return hourly_means(propagate(ds, speed=speed, x_sc_km=x_sc_km), min_coverage=min_coverage)


# ----------------------------------------------------------------------------- availability
#: NOAA SWPC real-time solar wind: minutes from measurement to the published 1-min product
#: (engineering estimate; ``forecasting.latency.PRODUCT_DELAY["swpc_rtsw"]`` is this value)
PUBLICATION_DELAY = pd.Timedelta("5min")
#: speed assumed for an hour without one, when no earlier speed is known [km s-1]
NOMINAL_SPEED = 400.0
#: solar-wind variables that travel from L1 (and their hourly QC flags)
SOLAR_WIND: tuple[str, ...] = (
    "bx_gsm",
    "by_gsm",
    "bz_gsm",
    "b_total",
    "v_sw",
    "n_p",
    "t_p",
    "p_dyn",
    "e_y",
)


def l1_available_from(
    labels: ArrayLike,
    v_sw: ArrayLike,
    *,
    delay: pd.Timedelta = PUBLICATION_DELAY,
    x_sc_km: float = L1_DISTANCE_KM,
    x_bsn_km: float = BOW_SHOCK_NOSE_RE * R_E_KM,
) -> pd.DatetimeIndex:
    """When an hourly bow-shock value could first be known from an L1 monitor.

    The hour labelled ``h`` at the nose ends at ``h + 1 h``; its last plasma left L1
    ``(X_sc - X_bsn) / V_h`` earlier and was published ``delay`` after it was measured:

        available_from = h + 1 h - (X_sc - X_bsn) / V_h + delay .

    This is the rule for archives labelled at the nose (OMNI), from each hour's own speed
    ``V_h``; an hour without a speed takes the last earlier one (else
    :data:`NOMINAL_SPEED`). At 400 km/s the lead is ~59 min, so the hour that starts at the
    issue time is known at issue time for winds below ~360 km/s.

    Parameters
    ----------
    labels
        Hour-start labels at the bow-shock nose.
    v_sw
        Hourly speed [km s-1] per label.
    delay
        Publication delay of the real-time product (default :data:`PUBLICATION_DELAY`,
        5 min).
    x_sc_km
        GSE X of the L1 monitor [km] (default :data:`L1_DISTANCE_KM`, 1.5e6 km).
    x_bsn_km
        GSE X of the bow-shock nose [km] (default 13 Earth radii, ~82,800 km).

    Returns
    -------
    pandas.DatetimeIndex
        Naive UTC ``available_from`` per label (same length as ``labels``).
    """
    labels = pd.DatetimeIndex(labels)
    v = pd.Series(np.asarray(v_sw, dtype=float)).where(
        lambda s: (s >= SPEED_BOUNDS[0]) & (s <= SPEED_BOUNDS[1])
    )
    v = v.ffill().fillna(NOMINAL_SPEED).to_numpy()
    lag = pd.to_timedelta(delay_seconds(v, x_sc_km=x_sc_km, x_bsn_km=x_bsn_km), unit="s")
    return labels + pd.Timedelta("1h") - lag + pd.Timedelta(delay)


def lead_view(
    ds: xr.Dataset, available_from: pd.DatetimeIndex, *, names: tuple[str, ...] | None = None
) -> xr.Dataset:
    """Row ``h`` of each solar-wind variable = the newest hour known by the row's end ``h + 1 h``.

    The models read row ``h`` as "known at ``h + 1 h``" (:mod:`data_sources.timeconv`);
    with an L1 monitor the newest bow-shock hour known then can be ``h + 1`` or ``h + 2``
    (the lead L1 gives). This view puts that hour's values in row ``h``, so
    ``timeconv.known_at(view, t)`` holds exactly the solar wind known at ``t`` by
    ``available_from``, and every model, live or in a backtest, reads it with the same
    feature code. Rows whose newest known hour is missing are NaN (gaps stay gaps).

    Parameters
    ----------
    ds
        Hourly dataset (hour-start labels at the nose), e.g. OMNI or the propagated SWPC feed.
    available_from
        When each label's solar wind became known (:func:`l1_available_from`, or from the
        measured times of the live feed).
    names
        Variables to move (default: those of :data:`SOLAR_WIND` in ``ds`` and their
        ``<name>_rtqc`` flags).

    Returns
    -------
    xr.Dataset
        Same axis; ``attrs["l1_lead_view"] = "applied"``; ``attrs["l1_lead_hours_mean"]``
        is the mean number of hours the rows lead their labels.
    """
    labels = ds.indexes["time"]
    avail = np.asarray(pd.DatetimeIndex(available_from).values, dtype="datetime64[ns]")
    if len(avail) != len(labels):
        raise ValueError(f"available_from has {len(avail)} times for {len(labels)} labels")
    if names is None:
        names = tuple(
            n
            for n in map(str, ds.data_vars)
            if n in SOLAR_WIND or n.removesuffix("_rtqc") in SOLAR_WIND
        )
    # newest k with avail[k] <= row end: suffix minimum of avail is non-decreasing
    suffix_min = np.minimum.accumulate(avail[::-1])[::-1]
    row_end = np.asarray((labels + pd.Timedelta("1h")).values)
    k = np.searchsorted(suffix_min, row_end, side="right") - 1
    ok = k >= 0
    out = ds.copy()
    for name in names:
        vals = ds[name].values
        moved = np.full(vals.shape, np.nan, dtype="float64")
        moved[ok] = vals[k[ok]]
        out[name] = (
            "time",
            moved.astype(vals.dtype if vals.dtype.kind == "f" else "float32"),
            dict(ds[name].attrs),
        )
    lead = (k[ok] - np.flatnonzero(ok)) if ok.any() else np.array([0])
    out.attrs.update(
        l1_lead_view="applied",
        l1_lead_hours_mean=round(float(np.mean(lead)), 3),
    )
    return out
