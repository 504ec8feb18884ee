"""The forecast dataset schema, shared by scheduled forecasts and backtests.

Dims ``init_time`` (UTC issue time), ``lead_time`` (timedelta) and ``quantile``; coordinate
``valid_time = init_time + lead_time``; one data variable per target (``dst`` [nT], ``kp``)
holding quantile values; attrs ``model``, ``model_version``, ``data_cutoff``, ``created``.

Time convention (DESIGN.md): a forecast issued at ``init_time`` t uses only hourly values
labelled h with ``h + 1 h <= t``. ``data_cutoff`` is the end of the newest interval used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.vocabulary import describe

ArrayT = TypeVar("ArrayT", float, np.ndarray, pd.Series, xr.DataArray)

QUANTILES: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)

#: NOAA G-scale: lowest Kp of each level, in thirds, as SWPC's own products apply it.
#: A level N starts at N- (N - 1/3): SWPC's 3-Day Forecast labels each 3-hour Kp with its
#: level, e.g. the product issued 2026 Jan 21 1230 UTC (NOAA/SWPC ``3-day-forecast.txt``,
#: "NOAA Kp index breakdown") reads ``4.67 (G1)``, ``5.67 (G2)``, ``6.33 (G2)``, ``6.67 (G3)``
#: and ``7.00 (G3)``, and below-threshold values such as ``4.33`` carry no label. The NOAA Space
#: Weather Scales define G4 as "Kp = 8, including a 9-", so 9- (26/3) is still G4 and G5 starts
#: at 9o. (The recorded SWPC products in ``shared/data/swpc_products`` hold no ``noaa_scale``
#: field, so the citation is SWPC's text product.) The same thresholds drive probabilities,
#: colours and alerts (:data:`KP_THRESHOLDS`, ``dashboards.colors``, ``forecasting.alerting``).
G_SCALE: dict[str, float] = {
    "G1": 14.0 / 3.0,
    "G2": 17.0 / 3.0,
    "G3": 20.0 / 3.0,
    "G4": 23.0 / 3.0,
    "G5": 9.0,
}

#: Exceedance thresholds: Kp >= level (NOAA G1..G5), Dst <= level (Gonzalez et al. 1994).
KP_THRESHOLDS: tuple[float, ...] = tuple(G_SCALE.values())
DST_THRESHOLDS: tuple[float, ...] = (-50.0, -100.0, -250.0)

REQUIRED_ATTRS = ("model", "model_version", "data_cutoff", "created")

#: the way each storm index moves in a storm: Dst falls ("low"), Kp and ap rise ("high").
#: Mirrors ``data_sources.vocabulary.Variable.storm_direction``; read it from there once every
#: storm index carries the field.
STORM_DIRECTION: dict[str, str] = {"dst": "low", "kp": "high", "ap": "high", "ap_daily": "high"}

#: Kp is stored in thirds as float32: 8- (7.6667) must still reach G4's 23/3
_THIRDS_TOL = 1e-6


def storm_direction(name: str) -> str:
    """``"low"`` if storms drive ``name`` down (Dst), ``"high"`` if up (Kp, ap).

    Parameters
    ----------
    name : str
        Storm index: ``dst`` (storms drive it down) or ``kp``, ``ap``, ``ap_daily`` (up).

    Returns
    -------
    str
        ``"low"`` or ``"high"`` (:data:`STORM_DIRECTION`).

    Raises
    ------
    ValueError
        If ``name`` is not a storm index; the message lists the ones that are.
    """
    try:
        return STORM_DIRECTION[name]
    except KeyError:
        known = ", ".join(STORM_DIRECTION)
        raise ValueError(f"{name!r} is not a storm index; storm indices are {known}") from None


def exceeds(name: str, values: ArrayT, threshold: float) -> ArrayT:
    """Whether ``values`` of storm index ``name`` reach ``threshold`` in its storm direction.

    Parameters
    ----------
    name
        ``dst`` (event: ``values <= threshold`` [nT]) or ``kp`` / ``ap`` (event: ``values >=
        threshold``; Kp thirds stored as float32 count, so 7.6667 reaches 23/3).
    values
        Scalar, numpy array, pandas Series or xarray DataArray (units of ``name``).
    threshold
        Level in the units of ``name`` (e.g. -100 nT, Kp 5).

    Returns
    -------
    Same type as ``values``
        Boolean; NaN never exceeds.
    """
    if storm_direction(name) == "low":
        return values <= threshold
    return values >= threshold - _THIRDS_TOL


def most_severe(name: str, values: np.ndarray) -> int:
    """Position of the most storm-like finite value of ``values`` (min Dst, max Kp).

    Parameters
    ----------
    name : str
        Storm index: ``dst`` (storms drive it down) or ``kp``, ``ap``, ``ap_daily`` (up).
    values : np.ndarray
        Values of ``name`` (nT for Dst, Kp in thirds); NaN is skipped. A flattened
        position is returned for arrays of more than one dimension.

    Returns
    -------
    int
        Index of the minimum (Dst) or maximum (Kp, ap); raises ``ValueError`` when
        every value is NaN (numpy's ``nanargmin``/``nanargmax``).
    """
    pick = np.nanargmin if storm_direction(name) == "low" else np.nanargmax
    return int(pick(values))


def kp_label(kp: float) -> str:
    """Kp in NOAA thirds notation: 23/3 -> ``8-``, 5.0 -> ``5``, 5.333 -> ``5+``.

    Parameters
    ----------
    kp : float
        Kp as a decimal (0 to 9, in thirds); rounded to the nearest third.

    Returns
    -------
    str
        ``"<n>"``, ``"<n>+"`` or ``"<n+1>-"`` (e.g. ``"9-"`` for 26/3).
    """
    thirds = int(round(kp * 3))
    base, rest = divmod(thirds, 3)
    return {0: f"{base}", 1: f"{base}+", 2: f"{base + 1}-"}[rest]


def make_forecast(
    values: dict[str, np.ndarray],
    *,
    init_time: Sequence | pd.DatetimeIndex,
    lead_time: Sequence | pd.TimedeltaIndex,
    quantiles: Sequence[float] = QUANTILES,
    model: str,
    model_version: str,
    data_cutoff: pd.Timestamp | str | None = None,
    extra_attrs: dict | None = None,
) -> xr.Dataset:
    """Build a forecast dataset.

    Parameters
    ----------
    values
        Target name (``dst``, ``kp``) -> array ``(init_time, lead_time, quantile)``.
        Quantiles are sorted along the last axis (crossing quantiles are repaired by sorting).
    init_time, lead_time, quantiles
        Coordinates. ``lead_time`` is timedelta (e.g. ``pd.to_timedelta(range(1, 25), "h")``).
    model, model_version
        Which model made it (``tft``, ``persistence`` ...) and its registry version.
    data_cutoff
        End of the newest input interval used; defaults to the last ``init_time``.
    extra_attrs
        More global attributes (e.g. ``latency``, ``source``); they may override the
        defaults above.

    Returns
    -------
    xr.Dataset
        The schema above; validated by :func:`validate_forecast`.
    """
    init = pd.DatetimeIndex(init_time).astype("datetime64[ns]")
    lead = pd.TimedeltaIndex(lead_time).astype("timedelta64[ns]")
    q = np.asarray(quantiles, dtype=float)
    data_vars = {}
    for name, arr in values.items():
        arr = np.sort(np.asarray(arr, dtype="float32"), axis=-1)
        if arr.shape != (len(init), len(lead), len(q)):
            raise ValueError(
                f"forecast {name!r} has shape {arr.shape}; expected "
                f"(init_time, lead_time, quantile) = {(len(init), len(lead), len(q))}"
            )
        var = describe(name)
        data_vars[name] = (
            ("init_time", "lead_time", "quantile"),
            arr,
            {"units": var.units, "long_name": f"forecast {var.long_name}"},
        )
    valid = init.values[:, None] + lead.values[None, :]
    ds = xr.Dataset(
        data_vars,
        coords={
            "init_time": ("init_time", init, {"long_name": "forecast issue time (UTC)"}),
            "lead_time": ("lead_time", lead, {"long_name": "time after init_time"}),
            "quantile": ("quantile", q, {"long_name": "quantile level", "units": "1"}),
            "valid_time": (
                ("init_time", "lead_time"),
                valid,
                {"long_name": "init_time + lead_time"},
            ),
        },
    )
    cutoff = pd.Timestamp(data_cutoff) if data_cutoff is not None else init.max()
    ds.attrs.update(
        model=model,
        model_version=str(model_version),
        data_cutoff=cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        Conventions="CF-1.8",
        **(extra_attrs or {}),
    )
    return validate_forecast(ds)


def validate_forecast(ds: xr.Dataset) -> xr.Dataset:
    """Check a dataset against the forecast schema; raise ``ValueError`` saying what is off.

    Parameters
    ----------
    ds : xr.Dataset
        Candidate forecast: needs dims ``init_time``, ``lead_time``, ``quantile``, the
        ``valid_time`` coordinate, at least one target variable and the attrs
        :data:`REQUIRED_ATTRS`.

    Returns
    -------
    xr.Dataset
        ``ds`` itself, unchanged.

    Raises
    ------
    ValueError
        Naming the missing dimension, attribute or coordinate.
    """
    for dim in ("init_time", "lead_time", "quantile"):
        if dim not in ds.dims:
            raise ValueError(f"forecast lacks dimension {dim!r}; dims are {tuple(ds.dims)}")
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise ValueError(f"forecast lacks attributes {missing}")
    if "valid_time" not in ds.coords:
        raise ValueError("forecast lacks the valid_time coordinate (init_time + lead_time)")
    if not ds.data_vars:
        raise ValueError("forecast has no target variables")
    return ds


def median(ds: xr.Dataset, name: str) -> xr.DataArray:
    """The 0.5 quantile of ``name`` (nearest quantile if 0.5 is absent).

    Parameters
    ----------
    ds : xr.Dataset
        A forecast (schema above).
    name : str
        Target variable (``dst`` [nT], ``kp``).

    Returns
    -------
    xr.DataArray
        The median on ``(init_time, lead_time)`` in the target's units, with a scalar
        ``quantile`` coordinate.
    """
    return ds[name].sel(quantile=0.5, method="nearest")


def cdf_at(values: np.ndarray, levels: np.ndarray, threshold: float) -> np.ndarray:
    """P(X <= ``threshold``) from quantile values (last axis) at quantile ``levels``.

    The CDF is linear between forecast quantiles; beyond the outermost quantiles it is
    extended linearly with the slope of the two outermost ones and clipped to [0, 1], so a
    threshold just outside the forecast range gets a small, non-zero probability.

    Parameters
    ----------
    values : np.ndarray
        Quantile values, any leading shape, quantiles on the last axis (sorted here);
        units of the variable (nT, Kp).
    levels : np.ndarray
        Quantile levels in (0, 1), one per entry of the last axis of ``values``.
    threshold : float
        Value at which the CDF is read, in the units of ``values``.

    Returns
    -------
    np.ndarray
        P(X <= threshold) in [0, 1], shape ``values.shape[:-1]``; NaN where a row has NaN.
    """
    v = np.sort(np.asarray(values, dtype=float), axis=-1)
    q = np.asarray(levels, dtype=float)
    flat = v.reshape(-1, len(q))
    n = len(q)
    out = np.full(len(flat), np.nan)
    ok = ~np.isnan(flat).any(axis=1)
    rows = flat[ok]
    # the last quantile at or below the threshold (-1: below them all), as np.interp finds it
    j = (rows <= threshold).sum(axis=1) - 1
    lo = j < 0
    hi = (j == n - 1) & (threshold > rows[:, -1])
    res = np.full(len(rows), q[-1])  # threshold equal to the top quantile
    mid = (j >= 0) & (j < n - 1)
    jm = j[mid]
    r = np.arange(len(rows))[mid]
    x0, x1 = rows[r, jm], rows[r, jm + 1]
    res[mid] = q[jm] + (threshold - x0) * (q[jm + 1] - q[jm]) / (x1 - x0)
    low_slope = (q[1] - q[0]) / np.maximum(rows[lo, 1] - rows[lo, 0], 1e-6)
    res[lo] = q[0] - (rows[lo, 0] - threshold) * low_slope
    high_slope = (q[-1] - q[-2]) / np.maximum(rows[hi, -1] - rows[hi, -2], 1e-6)
    res[hi] = q[-1] + (threshold - rows[hi, -1]) * high_slope
    out[ok] = res
    return np.clip(out, 0.0, 1.0).reshape(v.shape[:-1])


#: variable attribute holding a model's per-lead recalibration of its event probabilities
#: (JSON ``{event name: {"threshold": t, "lead_hours": [...], "a": [...], "b": [...]}}``),
#: written at prediction time from the model's validation-year fit
#: (:func:`forecasting.models.event_calibration.fit_event_calibration`) and applied by
#: :func:`exceedance_probability`
EVENT_CALIBRATION_ATTR = "event_calibration"
#: probabilities are clipped to [EPS, 1 - EPS] before the logit of :func:`platt`
PLATT_EPS = 1e-4


def severity(threshold: float, below: bool) -> float:
    """Order event levels from the least severe up (Dst -50 before -100 nT, Kp 5- before 6-).

    Parameters
    ----------
    threshold
        Level in the target's units (nT for Dst).
    below
        True for ``value <= threshold`` (Dst), False for ``value >= threshold`` (Kp).

    Returns
    -------
    float
        A key that grows with severity: ``-threshold`` below, ``threshold`` above.
    """
    return -threshold if below else threshold


def event_name(name: str, threshold: float, below: bool) -> str:
    """Name an event: ``dst<=-100``, ``kp>=5``, ``kp>=4.67`` (G1, Kp >= 5-).

    Parameters
    ----------
    name
        Target (``dst``, ``kp``).
    threshold
        Level in the target's units (nT for Dst).
    below
        True for ``value <= threshold``, False for ``value >= threshold``.

    Returns
    -------
    str
        ``{name}{<= or >=}{threshold to 3 significant digits}``.
    """
    return f"{name}{'<=' if below else '>='}{threshold:.3g}"


def platt(p: np.ndarray, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """Recalibrate probabilities: ``sigmoid(a logit(p) + b)`` (Platt 1999).

    Platt, J. (1999), Probabilistic outputs for support vector machines and comparisons to
    regularized likelihood methods, in *Advances in Large Margin Classifiers*, MIT Press.
    ``a = 1, b = 0`` is the identity (up to the clip to [:data:`PLATT_EPS`, 1 - EPS]).

    Parameters
    ----------
    p
        Probabilities [1]; NaN stays NaN.
    a, b
        Slope and intercept of the map in logit space (broadcast against ``p``).

    Returns
    -------
    np.ndarray
        Recalibrated probabilities [1] in (0, 1).
    """
    q = np.clip(np.asarray(p, dtype=float), PLATT_EPS, 1.0 - PLATT_EPS)
    z = np.asarray(a) * np.log(q / (1.0 - q)) + np.asarray(b)
    return 1.0 / (1.0 + np.exp(-z))


def _event_maps(da: xr.DataArray, name: str, below: bool) -> list[tuple[float, dict]]:
    """The recalibrated events of ``da`` in one direction, least severe first."""
    text = da.attrs.get(EVENT_CALIBRATION_ATTR)
    if not text:
        return []
    try:
        table = json.loads(str(text))
        op = "<=" if below else ">="
        found = [
            (float(entry.get("threshold", key[len(name) + 2 :])), entry)
            for key, entry in table.items()
            if key.startswith(name + op)
        ]
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            f"{da.name} attribute {EVENT_CALIBRATION_ATTR}={str(text)[:80]!r} is not a JSON "
            "object of event -> map; refit it with forecasting.models.event_calibration."
            "fit_event_calibration, or drop the attribute"
        ) from None
    return sorted(found, key=lambda te: severity(te[0], below))


def _apply_map(p: np.ndarray, entry: dict, hours: np.ndarray, axis: int) -> np.ndarray:
    """``entry``'s Platt map per lead (``hours`` along ``axis``); uncovered leads stay raw."""
    known = {int(h): i for i, h in enumerate(entry["lead_hours"])}
    cols = [known.get(int(h)) for h in hours]
    a = np.array([entry["a"][c] if c is not None else 1.0 for c in cols])
    b = np.array([entry["b"][c] if c is not None else 0.0 for c in cols])
    shape = [1] * p.ndim
    shape[axis] = len(cols)
    out = platt(p, a.reshape(shape), b.reshape(shape))
    raw = np.array([c is None for c in cols]).reshape(shape)
    return np.where(raw | np.isnan(p), p, out)


def _recalibrated(
    da: xr.DataArray, levels: np.ndarray, threshold: float, below: bool
) -> np.ndarray | None:
    """P(event) recalibrated by the variable's maps, coherent across levels (None: no maps).

    Each recalibrated event ``e_k`` (least severe first) gets ``min(f_k(p_k), P(e_{k-1}))``,
    so the probabilities never rise with severity. Any other threshold takes the map of the
    nearest less severe recalibrated event (its raw probability where there is none) and is
    kept between the recalibrated probabilities of its two neighbours.
    """
    maps = _event_maps(da, str(da.name), below)
    if not maps or "lead_time" not in da.dims:
        return None
    axis = da.dims.index("lead_time")
    hours = np.round(pd.TimedeltaIndex(da["lead_time"].values) / pd.Timedelta("1h")).astype(int)
    values = da.values

    def raw(thr: float) -> np.ndarray:
        p_below = cdf_at(values, levels, thr)
        return p_below if below else 1.0 - p_below

    chain: list[tuple[float, np.ndarray]] = []
    for thr, entry in maps:
        cal = _apply_map(raw(thr), entry, hours, axis)
        chain.append((thr, cal if not chain else np.fmin(cal, chain[-1][1])))
    x = severity(float(threshold), below)
    for thr, cal in chain:
        if abs(severity(thr, below) - x) <= 5e-3:  # names keep 3 significant digits (4.67 = 14/3)
            return cal
    less = [(thr, c) for thr, c in chain if severity(thr, below) < x]
    more = [c for thr, c in chain if severity(thr, below) > x]
    p = raw(float(threshold))
    if less:
        entry = dict(maps)[less[-1][0]]
        p = np.fmin(_apply_map(p, entry, hours, axis), less[-1][1])
    if more:
        p = np.fmax(p, more[0])
    return p


def exceedance_probability(
    ds: xr.Dataset,
    name: str,
    threshold: float,
    *,
    below: bool | None = None,
    recalibrate: bool = True,
) -> xr.DataArray:
    """P(``name`` beyond ``threshold``) per ``(init_time, lead_time)`` from the quantiles.

    ``below`` defaults to True for ``dst`` (P(Dst <= threshold)) and False otherwise
    (P(Kp >= threshold)). See :func:`cdf_at` for the interpolation. When the variable carries
    the model's event recalibration (:data:`EVENT_CALIBRATION_ATTR`, fitted on the validation
    years), the probability is recalibrated per lead time (:func:`platt`), coherently across
    levels: it never rises with severity (an event without its own map takes the nearest less
    severe event's and stays between its neighbours' probabilities). Every consumer (alerts,
    products, dashboards, scores) gets the same probability.

    Parameters
    ----------
    ds : xr.Dataset
        A forecast (schema above).
    name : str
        Target variable (``dst``, ``kp``).
    threshold : float
        Event level in the target's units (e.g. -100 nT, Kp 5).
    below : bool or None
        True: P(value <= threshold); False: P(value >= threshold); None: from
        :func:`storm_direction`.
    recalibrate : bool
        Apply the variable's event recalibration when it has one (default True); False gives
        the raw probability of the quantiles.

    Returns
    -------
    xr.DataArray
        Probability [1] on the forecast's dims other than ``quantile``, with attrs
        ``long_name`` (``P(dst <= -100)``), ``units`` and ``recalibrated`` ("yes"/"no").

    Raises
    ------
    ValueError
        If the variable's :data:`EVENT_CALIBRATION_ATTR` is not valid JSON.
    """
    below = (storm_direction(name) == "low") if below is None else below
    da = ds[name].transpose(..., "quantile")
    p_below = cdf_at(da.values, ds["quantile"].values, threshold)
    dims = da.dims[:-1]
    p = p_below if below else 1.0 - p_below
    fitted = (
        _recalibrated(da, ds["quantile"].values, float(threshold), below) if recalibrate else None
    )
    cal = p if fitted is None else fitted
    out = xr.DataArray(cal, dims=dims, coords={d: ds[d] for d in dims})
    op = "<=" if below else ">="
    out.attrs.update(
        long_name=f"P({name} {op} {threshold:g})",
        units="1",
        recalibrated="yes" if cal is not p else "no",
    )
    return out
