r"""Quantile-averaging blend of member forecasters (seed ensembles, TFT + baselines).

:class:`Blend` is a :class:`~forecasting.models.base.Forecaster` that asks each member for its
quantile forecast and averages the members quantile by quantile ("Vincentization", Vincent
1912; Ratcliff 1979; for forecasts Lichtendahl, Grushka-Cockayne & Winkler 2013):

.. math::

    q_{blend}(\tau) = \sum_m w_m(\mathrm{target}, \mathrm{lead})\, q_m(\tau),
    \quad w_m \ge 0, \quad \sum_m w_m = 1.

The same piece serves a seed or snapshot ensemble (members = TFTs, weights equal or fitted)
and a combination of the TFT with a baseline (the TFT and O'Brien-McPherron for Dst, the TFT
and persistence for Kp). A weighted mean of non-decreasing quantile sequences with
non-negative weights is non-decreasing, so the blend's quantiles never cross; a mean of Kp
values in [0, 9] stays in [0, 9].

Missing members: a member "forecasts" an ``(init_time, lead_time)`` when all its quantiles
there are finite (O'Brien-McPherron gives nothing when the plasma is missing; a model that
does not forecast a target is missing for it everywhere). The weights are renormalised over
the members that forecast. Where none of the members with a positive weight forecasts, the
members that do forecast are averaged with equal weights, so the blend is NaN only where
every member is.

Weights (:class:`BlendWeights`) are chosen by :func:`fit_weights` on the VALIDATION years
only: per target and lead, the point of a simplex grid that minimises the mean pinball loss
(:func:`forecasting.verification.scores.pinball_loss`, averaged over the quantile levels) on
the pairs where every member and the observation are finite, with storm-time issue times
(:func:`forecasting.verification.scores.storm_time`, within 24 h of an hour with Dst <=
-100 nT, known only in hindsight: fine for fitting) counted ``storm_weight`` times. At
forecast time the blend uses only the stored weights. They are JSON (:meth:`BlendWeights.save`
/ :meth:`BlendWeights.load`), never pickled.

The blend is not in :data:`forecasting.models.base.FORECASTERS`: a factory there is built from
its name alone (``get_forecaster(name)``), while a blend needs trained members and a fitted
weight file; and every name there joins the skill report's fixed model grid and the backtest
CLI's model list. :func:`forecasting.evaluation.evaluate.evaluate` and the backtests take any
Forecaster instance, so a :class:`Blend` is scored beside the others by passing it in the list
(give its baseline members fitted, or the same instances that ``evaluate`` fits).

The deployed blend of a registered TFT (the TFT with O'Brien-McPherron for Dst and with
persistence for Kp, weights fitted on the TFT's validation years) is stored beside that TFT and
loaded ready to forecast by :mod:`forecasting.models.stored_blend`; the forecast flow runs it as
the model ``blend``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from data_sources import timeconv
from data_sources.netcdf import write_bytes_atomic
from forecasting import schema
from forecasting.models.base import Forecaster
from forecasting.models.event_calibration import attach_event_calibration
from forecasting.verification import scores

HOUR = pd.Timedelta("1h")
#: storm-time issue times count this many times in the fitting loss (issue 9's storm focus)
STORM_WEIGHT = 5.0
#: spacing of the weight grid on the simplex
GRID_STEP = 0.05
#: leads of equal weights when a blend is made without weights
DEFAULT_LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
#: JSON format version of :class:`BlendWeights`
FORMAT = 1


def _lead_hours(lead_times: ArrayLike) -> list[int]:
    """Whole-hour leads >= 1 h as ints; ``ValueError`` naming the first bad one."""
    lead = pd.TimedeltaIndex(np.atleast_1d(lead_times))
    hours = np.asarray(lead / HOUR, dtype=float)
    bad = (hours != np.round(hours)) | (hours < 1)
    if bad.any():
        raise ValueError(f"lead_times must be whole hours >= 1 h; got {lead[bad][0]}")
    return [int(h) for h in hours]


def _check_weights(w: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(w, dtype=float)
    if arr.ndim != 1 or not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{what}: weights must be finite and >= 0; got {list(arr)}")
    if not np.isclose(arr.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{what}: weights must sum to 1; got {list(arr)} (sum {arr.sum():g})")
    return arr / arr.sum()


@dataclass
class BlendWeights:
    """Member weights per target and lead time, JSON-serialisable.

    Parameters
    ----------
    members : Sequence[str]
        Member names, in the order of each weight vector.
    table : Mapping[str, Mapping[int, Sequence[float]]]
        Target (``dst``, ``kp``) -> lead [h] -> one weight per member (each >= 0, summing
        to 1).
    info : dict
        How the weights were chosen (years, storm weight, grid step, losses); free JSON.
    """

    members: Sequence[str]
    table: Mapping[str, Mapping[int, Sequence[float]]]
    info: dict = field(default_factory=dict)
    _w: dict[str, dict[int, np.ndarray]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check names, leads and that every weight vector is non-negative and sums to 1."""
        self.members = tuple(str(m) for m in self.members)
        if not self.members or len(set(self.members)) != len(self.members):
            raise ValueError(f"members must be distinct names; got {list(self.members)}")
        checked: dict[str, dict[int, np.ndarray]] = {}
        for target, leads in self.table.items():
            checked[str(target)] = {}
            for lead, w in leads.items():
                arr = _check_weights(w, f"{target} lead {lead} h")
                if len(arr) != len(self.members):
                    raise ValueError(
                        f"{target} lead {lead} h: {len(arr)} weights for "
                        f"{len(self.members)} members {list(self.members)}"
                    )
                checked[str(target)][int(lead)] = arr
        self._w = checked
        self.table = {
            t: {h: [float(x) for x in w] for h, w in ls.items()} for t, ls in checked.items()
        }

    @classmethod
    def equal(
        cls, members: Sequence[str], targets: Sequence[str], lead_times: ArrayLike
    ) -> BlendWeights:
        """Equal weights ``1 / M`` for every target and lead (a plain seed-ensemble mean).

        Parameters
        ----------
        members : Sequence[str]
            Member names.
        targets : Sequence[str]
            Targets (``dst``, ``kp``).
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h, timedeltas).

        Returns
        -------
        BlendWeights
            Weights ``1 / len(members)`` everywhere.
        """
        w = [1.0 / len(members)] * len(members)
        hours = _lead_hours(lead_times)
        return cls(members, {t: {h: w for h in hours} for t in targets}, {"method": "equal"})

    def weights(self, target: str, lead_hours: int) -> np.ndarray:
        """Give the member weights of ``target`` at lead ``lead_hours``.

        Parameters
        ----------
        target : str
            ``dst`` or ``kp``.
        lead_hours : int
            Lead time [h].

        Returns
        -------
        numpy.ndarray
            One weight per member (order of :attr:`members`), >= 0, summing to 1.

        Raises
        ------
        ValueError
            If the target or lead has no weights (fit them with :func:`fit_weights`).
        """
        if target not in self._w:
            raise ValueError(f"no blend weights for {target!r}; weights hold {sorted(self._w)}")
        leads = self._w[target]
        if int(lead_hours) not in leads:
            raise ValueError(
                f"no blend weights for {target} at lead {lead_hours} h; fitted leads "
                f"{min(leads)}..{max(leads)} h: refit with fit_weights over these leads"
            )
        return leads[int(lead_hours)].copy()

    def to_json(self) -> dict:
        """Give the weights as plain JSON types.

        Returns
        -------
        dict
            ``{"format", "members", "weights": {target: {lead_hours: [w...]}}, "info"}``.
        """
        return {
            "format": FORMAT,
            "members": list(self.members),
            "weights": {
                t: {str(h): [float(x) for x in w] for h, w in sorted(leads.items())}
                for t, leads in self.table.items()
            },
            "info": self.info,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> BlendWeights:
        """Rebuild weights from :meth:`to_json`'s output.

        Parameters
        ----------
        obj : Mapping[str, Any]
            The JSON object.

        Returns
        -------
        BlendWeights
            The weights, checked.

        Raises
        ------
        ValueError
            If the format is unknown or a weight vector is invalid.
        """
        if obj.get("format") != FORMAT:
            raise ValueError(f"blend weights format {obj.get('format')!r}; expected {FORMAT}")
        table = {t: {int(h): w for h, w in leads.items()} for t, leads in obj["weights"].items()}
        return cls(obj["members"], table, dict(obj.get("info", {})))

    def save(self, path: str | Path) -> Path:
        """Write the weights as JSON, atomically (temporary file, then rename).

        Parameters
        ----------
        path : str or Path
            File to write (``.json``); its folder is created.

        Returns
        -------
        Path
            The written file.
        """
        return write_bytes_atomic(json.dumps(self.to_json(), indent=1), path)

    @classmethod
    def load(cls, path: str | Path) -> BlendWeights:
        """Read weights written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            The JSON file.

        Returns
        -------
        BlendWeights
            The weights, checked.
        """
        with open(path) as fh:
            return cls.from_json(json.load(fh))


# --------------------------------------------------------------------------- combining


def _member_array(
    fc: xr.Dataset,
    target: str,
    init: pd.DatetimeIndex,
    lead: pd.TimedeltaIndex,
    quantiles: np.ndarray,
) -> np.ndarray:
    """``fc[target]`` on ``(init, lead, quantile)``; all NaN when the member lacks the target."""
    shape = (len(init), len(lead), len(quantiles))
    if target not in fc:
        return np.full(shape, np.nan)
    levels = np.asarray(fc["quantile"].values, dtype=float)
    if len(levels) != len(quantiles) or not np.allclose(levels, quantiles):
        raise ValueError(
            f"members must share quantile levels to be averaged; got {list(levels)} and "
            f"{list(quantiles)}"
        )
    da = fc[target].reindex(init_time=init.values, lead_time=lead.values)
    return np.asarray(da.transpose("init_time", "lead_time", "quantile").values, dtype=float)


def combine(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted quantile average over members, renormalised over the members that forecast.

    Parameters
    ----------
    stack : numpy.ndarray
        Member quantiles, shape ``(member, ..., quantile)``, in the target's unit (Dst [nT],
        Kp); a member forecasts a sample when all its quantiles there are finite.
    weights : numpy.ndarray
        One weight per member (>= 0, summing to 1), or shape ``(member, ...)`` without the
        quantile axis to vary them per sample.

    Returns
    -------
    numpy.ndarray
        Blended quantiles, shape ``stack.shape[1:]``; NaN only where no member forecasts.
        Where no member with a positive weight forecasts, the forecasting members get equal
        weights.
    """
    present = np.isfinite(stack).all(axis=-1)  # (member, ...)
    w = np.asarray(weights, dtype=float).reshape(
        np.shape(weights) + (1,) * (present.ndim - np.ndim(weights))
    )
    w = np.where(present, np.broadcast_to(w, present.shape), 0.0)
    total = w.sum(axis=0)
    fallback = present.astype(float)
    w = np.where((total > 0)[None], w, fallback)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = w / total[None]
    vals = np.where(present[..., None], stack, 0.0)
    out = (w[..., None] * vals).sum(axis=0)
    return np.where((total > 0)[..., None], out, np.nan)


def blend_forecasts(
    forecasts: Mapping[str, xr.Dataset],
    weights: BlendWeights,
    *,
    targets: Sequence[str] = ("dst", "kp"),
    name: str = "blend",
    version: str = "",
) -> xr.Dataset:
    """Blend member forecasts already made (keys = member names) with ``weights``.

    Parameters
    ----------
    forecasts : Mapping[str, xr.Dataset]
        Member name -> forecast in the :func:`forecasting.schema.make_forecast` schema; every
        member of ``weights`` must be present. The first member's ``init_time`` and
        ``lead_time`` are the blend's; the others are aligned to them.
    weights : BlendWeights
        Weights per target and lead.
    targets : Sequence[str], default ("dst", "kp")
        Targets wanted; those no member forecasts, or with no weights, are left out.
    name : str, default "blend"
        The blend's model name.
    version : str, default ""
        Its ``model_version`` (default: the members' ``name=version`` joined by ``+``).

    Returns
    -------
    xr.Dataset
        Blended forecast in the :func:`forecasting.schema.make_forecast` schema, attrs
        ``members`` and ``member_versions``.

    Raises
    ------
    ValueError
        If a member is missing, the members' quantile levels differ, or a lead has no weights.
    """
    absent = [m for m in weights.members if m not in forecasts]
    if absent:
        raise ValueError(f"no forecast from blend member(s) {absent}; have {sorted(forecasts)}")
    made = [forecasts[m] for m in weights.members if forecasts[m].data_vars]
    if not made:
        raise ValueError(f"no blend member forecasts any target; members {list(weights.members)}")
    first = made[0]
    init = pd.DatetimeIndex(first["init_time"].values)
    lead = pd.TimedeltaIndex(first["lead_time"].values)
    quantiles = np.asarray(first["quantile"].values, dtype=float)
    hours = _lead_hours(lead)
    values = {}
    for target in targets:
        if target not in weights.table or not any(target in f for f in forecasts.values()):
            continue
        stack = np.stack(
            [_member_array(forecasts[m], target, init, lead, quantiles) for m in weights.members]
        )
        w = np.stack([weights.weights(target, h) for h in hours], axis=1)  # (member, lead)
        values[target] = combine(stack, w[:, None, :])
    if not values:
        raise ValueError(f"the blend has no weights for any of the targets {list(targets)}")
    mv = "+".join(f"{m}={forecasts[m].attrs.get('model_version', '')}" for m in weights.members)
    return schema.make_forecast(
        values,
        init_time=init,
        lead_time=lead,
        quantiles=[float(q) for q in quantiles],
        model=name,
        model_version=version or mv,
        data_cutoff=max(pd.Timestamp(f.attrs["data_cutoff"]) for f in made).tz_localize(None),
        extra_attrs={"members": ",".join(weights.members), "member_versions": mv},
    )


class Blend:
    """A Forecaster averaging its members' quantiles with per-target, per-lead weights.

    Parameters
    ----------
    members : Mapping[str, Forecaster] or Sequence[Forecaster]
        The member forecasters, trained (baselines fitted); a sequence is keyed by each
        member's ``name`` (names must be distinct: key seed-ensemble TFTs yourself).
    weights : BlendWeights or None
        Weights naming exactly these members; ``None``: :meth:`BlendWeights.equal` over
        ``lead_times_default`` and both targets (a plain ensemble mean).
    name : str, default "blend"
        Model name (archive folder, report row).
    lead_times_default : ArrayLike, default 1..24 h
        Leads of the equal weights when ``weights`` is None.
    version : str, default ""
        The blend's own version (a stored blend: its TFT version and fit time, see
        :mod:`forecasting.models.stored_blend`); ``""``: the members' versions.
    event_calibration : dict or None
        The blend's own event-probability recalibration
        (:func:`forecasting.models.event_calibration.fit_event_calibration` on its
        validation-year forecasts), attached to every forecast; ``None``: raw probabilities.
    """

    def __init__(
        self,
        members: Mapping[str, Forecaster] | Sequence[Forecaster],
        weights: BlendWeights | None = None,
        *,
        name: str = "blend",
        lead_times_default: ArrayLike = DEFAULT_LEADS,
        version: str = "",
        event_calibration: dict | None = None,
    ) -> None:
        if isinstance(members, Mapping):
            self.members = dict(members)
        else:
            self.members = {m.name: m for m in members}
            if len(self.members) != len(members):
                raise ValueError(
                    f"member names {[m.name for m in members]} repeat; pass a mapping "
                    "{'tft_seed0': f0, 'tft_seed1': f1, ...}"
                )
        if not self.members:
            raise ValueError("a blend needs at least one member")
        for key, m in self.members.items():
            if not isinstance(m, Forecaster):
                raise TypeError(f"member {key!r} ({type(m).__name__}) is not a Forecaster")
        if weights is None:
            weights = BlendWeights.equal(list(self.members), ("dst", "kp"), lead_times_default)
        if set(weights.members) != set(self.members):
            raise ValueError(
                f"weights are for members {list(weights.members)}, the blend has "
                f"{list(self.members)}"
            )
        self.weights = weights
        self.name = name
        self._version = str(version)
        self.event_calibration = event_calibration

    @property
    def version(self) -> str:
        """The version given, else the member versions, ``name=version`` joined by ``+``."""
        return self._version or self.member_versions

    @property
    def member_versions(self) -> str:
        """Member versions, ``name=version`` joined by ``+``."""
        return "+".join(f"{k}={getattr(m, 'version', '')}" for k, m in self.members.items())

    def member_forecasts(
        self,
        ds: xr.Dataset,
        init_times: pd.DatetimeIndex | Sequence,
        lead_times: pd.TimedeltaIndex | Sequence,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> dict[str, xr.Dataset]:
        """Each member's forecast (members that forecast none of ``targets`` are left out).

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour); each member uses
            only what is known at each issue time.
        init_times : pandas.DatetimeIndex or Sequence
            Issue times (UTC naive, whole hours).
        lead_times : pandas.TimedeltaIndex or Sequence
            Lead times (whole hours >= 1 h).
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted.

        Returns
        -------
        dict[str, xr.Dataset]
            Member key -> its forecast (Dst [nT], Kp quantiles).
        """
        out = {}
        for key, m in self.members.items():
            supported = getattr(m, "supported", None)
            wanted = tuple(t for t in targets if supported is None or t in supported)
            if wanted:
                out[key] = m.forecast(ds, init_times, lead_times, targets=wanted)
        return out

    def forecast(
        self,
        ds: xr.Dataset,
        init_times: pd.DatetimeIndex | Sequence,
        lead_times: pd.TimedeltaIndex | Sequence,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Blended quantile forecasts ``(init_time, lead_time, quantile)`` for ``targets``.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour): the solar wind
            and the targets (``dst`` [nT], ``kp``); each member uses only what is known at
            each issue time (:func:`data_sources.timeconv.known_at`).
        init_times : pandas.DatetimeIndex or Sequence
            Issue times (UTC naive, whole hours).
        lead_times : pandas.TimedeltaIndex or Sequence
            Lead times (whole hours >= 1 h), each one with weights.
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted.

        Returns
        -------
        xr.Dataset
            In the :func:`forecasting.schema.make_forecast` schema, model :attr:`name`;
            carrying :attr:`event_calibration` when the blend has one.
        """
        init = pd.DatetimeIndex(np.atleast_1d(init_times))
        lead = pd.TimedeltaIndex(np.atleast_1d(lead_times))
        _lead_hours(lead)
        fcs = self.member_forecasts(ds, init, lead, targets=targets)
        if not fcs:
            raise ValueError(f"no blend member forecasts any of {list(targets)}")
        ordered = {k: fcs[k] for k in self.weights.members if k in fcs}
        missing = [k for k in self.weights.members if k not in fcs]
        for k in missing:  # a member with none of the targets: absent everywhere
            ordered[k] = xr.Dataset(attrs={"model_version": self.members[k].version})
        out = blend_forecasts(
            ordered, self.weights, targets=targets, name=self.name, version=self.version
        )
        if self.event_calibration:
            out = attach_event_calibration(out, self.event_calibration)
        return out


# --------------------------------------------------------------------------- fitting


def simplex_grid(n_members: int, step: float = GRID_STEP) -> np.ndarray:
    """Every weight vector on the simplex with components a multiple of ``step``.

    Parameters
    ----------
    n_members : int
        Number of members (>= 1).
    step : float, default :data:`GRID_STEP`
        Grid spacing; ``1 / step`` must be a whole number.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_points, n_members)``, rows >= 0 summing to 1; the vertices (one member
        alone) come first, then the other points.

    Raises
    ------
    ValueError
        If ``n_members < 1``, ``1 / step`` is not whole, or the grid would exceed 20,000
        points (use a coarser ``step``).
    """
    if n_members < 1:
        raise ValueError(f"n_members={n_members}: need at least one member")
    k = round(1.0 / step)
    if k < 1 or not np.isclose(k * step, 1.0):
        raise ValueError(f"step={step}: 1/step must be a whole number (0.1, 0.05, 0.25 ...)")
    rows = [
        c
        for c in itertools.product(range(k + 1), repeat=n_members - 1)
        if sum(c) <= k and len(c) == n_members - 1
    ]
    if len(rows) > 20_000:
        raise ValueError(
            f"{len(rows)} grid points for {n_members} members at step {step}: use a coarser step"
        )
    grid = np.array([[*c, k - sum(c)] for c in rows], dtype=float) / k
    vertex = (grid == 1.0).any(axis=1)
    return np.concatenate([grid[vertex], grid[~vertex]])


def _weighted_loss(
    blended: xr.DataArray, obs: xr.DataArray, storm: np.ndarray, storm_weight: float
) -> np.ndarray:
    """Mean pinball loss per grid point, storm-time samples counted ``storm_weight`` times."""
    total = np.zeros(blended.sizes["grid"])
    weight = 0.0
    for mask, factor in ((storm, storm_weight), (~storm, 1.0)):
        n = int(mask.sum())
        if n == 0 or factor == 0:
            continue
        part = scores.pinball_loss(blended.isel(init_time=mask), obs.isel(init_time=mask))
        total += factor * n * part.mean("quantile").values
        weight += factor * n
    return total / weight


def fit_weights(
    forecasts: Mapping[str, xr.Dataset],
    observed: xr.Dataset,
    *,
    targets: Sequence[str] = ("dst", "kp"),
    storm_weight: float = STORM_WEIGHT,
    storm_threshold: float = -100.0,
    storm_window: str = "24h",
    step: float = GRID_STEP,
    grid_chunk: int = 64,
) -> BlendWeights:
    """Choose blend weights per target and lead by the storm-weighted mean pinball loss.

    Give it VALIDATION-year forecasts only (never the test years). Per target and lead, every
    point of :func:`simplex_grid` is scored on the pairs where every member forecasting the
    target and the observation are finite; the loss is the mean over quantile levels of
    :func:`forecasting.verification.scores.pinball_loss`, with storm-time issue times
    (:func:`forecasting.verification.scores.storm_time`) counted ``storm_weight`` times. Ties
    go to the earlier grid point (a single member before a mixture). Members that do not
    forecast a target get weight 0 for it.

    Parameters
    ----------
    forecasts : Mapping[str, xr.Dataset]
        Member name -> forecast on the same ``init_time`` and ``lead_time``
        (:func:`forecasting.schema.make_forecast` schema), from the validation years.
    observed : xr.Dataset
        Hourly observations on ``time`` (UTC naive, interval start) holding the targets
        (``dst`` [nT], ``kp``).
    targets : Sequence[str], default ("dst", "kp")
        Targets to fit; those no member forecasts are skipped.
    storm_weight : float, default :data:`STORM_WEIGHT`
        Factor (>= 1 up-weights) on storm-time samples; 1 = all hours alike.
    storm_threshold : float, default -100.0
        Storm level [nT] of Dst defining storm time.
    storm_window : str, default "24h"
        Half-width of the storm-time window around each storm hour (pandas offset).
    step : float, default :data:`GRID_STEP`
        Weight-grid spacing.
    grid_chunk : int, default 64
        Grid points scored at once (memory: chunk x issue times x quantiles floats).

    Returns
    -------
    BlendWeights
        Weights per target and lead [h]; ``info`` records the fitted period, storm weight,
        grid, sample counts and the loss of each member alone and of the blend per lead.

    Raises
    ------
    ValueError
        If ``forecasts`` is empty, members' coordinates differ, ``storm_weight`` < 0, or a
        target and lead has no pair where every member forecasts.
    """
    if not forecasts:
        raise ValueError("no member forecasts to fit blend weights on")
    if storm_weight < 0:
        raise ValueError(f"storm_weight={storm_weight}: must be >= 0")
    names = list(forecasts)
    first = forecasts[names[0]]
    for n in names[1:]:
        for c in ("init_time", "lead_time", "quantile"):
            if not np.array_equal(forecasts[n][c].values, first[c].values):
                raise ValueError(
                    f"member {n!r} has other {c} values than {names[0]!r}; forecast every "
                    "member on the same issue times, leads and quantiles"
                )
    init = pd.DatetimeIndex(first["init_time"].values)
    lead = pd.TimedeltaIndex(first["lead_time"].values)
    quantiles = np.asarray(first["quantile"].values, dtype=float)
    storm_all = np.asarray(
        scores.storm_time(init, observed, threshold=storm_threshold, window=storm_window).values
        if "dst" in observed
        else np.zeros(len(init), dtype=bool)
    )
    table: dict[str, dict[int, list[float]]] = {}
    losses: dict[str, dict[str, list[float]]] = {}
    counts: dict[str, list[int]] = {}
    for target in targets:
        have = [n for n in names if target in forecasts[n]]
        if not have or target not in observed:
            continue
        obs_all = timeconv.observed_for(first, observed, target)
        grid = simplex_grid(len(have), step)
        table[target], counts[target] = {}, []
        losses[target] = {**{n: [] for n in have}, "blend": []}
        for j, h in enumerate(_lead_hours(lead)):
            stack = np.stack(
                [
                    _member_array(forecasts[n], target, init, lead[j : j + 1], quantiles)[:, 0]
                    for n in have
                ]
            )  # (member, init, quantile)
            obs = obs_all.isel(lead_time=j).values
            ok = np.isfinite(stack).all(axis=(0, 2)) & np.isfinite(obs)
            if not ok.any():
                raise ValueError(
                    f"{target} lead {h} h: no issue time where every member "
                    f"{have} and the observation are finite"
                )
            best = _best_point(
                stack[:, ok], obs[ok], storm_all[ok], grid, quantiles, storm_weight, grid_chunk
            )
            w_full = np.zeros(len(names))
            w_full[[names.index(n) for n in have]] = grid[best[0]]
            table[target][h] = [float(x) for x in w_full]
            for i, n in enumerate(have):
                losses[target][n].append(float(best[1][i]))
            losses[target]["blend"].append(float(best[2]))
            counts[target].append(int(ok.sum()))
    if not table:
        raise ValueError(f"no member forecasts any of {list(targets)} with observations")
    info = {
        "method": "simplex grid, minimum storm-weighted mean pinball loss",
        "loss": "forecasting.verification.scores.pinball_loss averaged over quantile levels",
        "storm_weight": storm_weight,
        "storm_time": f"issue times within {storm_window} of an hour with Dst <= "
        f"{storm_threshold:g} nT",
        "grid_step": step,
        "fitted_on": f"{init.min()} to {init.max()} ({len(init)} issue times)",
        "n_storm_issue_times": int(storm_all.sum()),
        "leads_h": _lead_hours(lead),
        "n_pairs": counts,
        "member_loss": losses,
    }
    return BlendWeights(names, table, info)


def _best_point(
    stack: np.ndarray,
    obs: np.ndarray,
    storm: np.ndarray,
    grid: np.ndarray,
    quantiles: np.ndarray,
    storm_weight: float,
    chunk: int,
) -> tuple[int, np.ndarray, float]:
    """Index of the grid point with the least weighted loss, member losses, that loss."""
    coords = {"init_time": np.arange(stack.shape[1]), "quantile": quantiles}
    obs_da = xr.DataArray(obs, dims="init_time", coords={"init_time": coords["init_time"]})
    loss = np.empty(len(grid))
    for start in range(0, len(grid), chunk):
        g = grid[start : start + chunk]
        blended = np.einsum("gm,miq->giq", g, stack)
        da = xr.DataArray(blended, dims=("grid", "init_time", "quantile"), coords=coords)
        loss[start : start + len(g)] = _weighted_loss(da, obs_da, storm, storm_weight)
    best = int(np.argmin(loss))  # first minimum: vertices come first
    vertex = [int(np.flatnonzero(grid[:, i] == 1.0)[0]) for i in range(stack.shape[0])]
    return best, loss[vertex], float(loss[best])
