"""Reference forecasters scored beside the TFT.

Persistence, 27-day recurrence, climatology, and the Burton et al. (1975) and O'Brien &
McPherron (2000) ring-current models for Dst (:mod:`forecasting.models.physics`).

Every class implements the Forecaster contract (docs/CONTRACTS.md): ``name``, ``version`` and
``forecast(ds, init_times, lead_times, *, targets=("dst", "kp")) -> xr.Dataset`` built by
:func:`forecasting.schema.make_forecast`, vectorised over many init times.

Visibility: a forecast issued at ``t`` (a whole UTC hour) uses only values whose interval
ended by ``t`` (:func:`data_sources.timeconv.interval_end`). The vectorised lookups here
(:func:`last_known`, :func:`visible_at`) are proven equal to ``timeconv.known_at`` by tests.
"Last known" tolerates short gaps: the newest value known at ``t`` within ``max_gap`` (3 h).

Quantiles: each model makes a point forecast; ``fit(train_ds)`` runs it over the training
period (hourly inits) and stores, per target and lead, the empirical quantiles
(:data:`schema.QUANTILES`) of the residuals ``observed - point``; the forecast quantiles are
``point + residual quantile``. For persistence these residuals are exactly the empirical
lead-L changes. Climatology's quantiles are the training distribution itself (optionally by
calendar month). Kp quantiles are clipped to [0, 9].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from data_sources import timeconv
from data_sources.derived import dynamic_pressure
from forecasting import schema
from forecasting.models import physics

HOUR = pd.Timedelta("1h")
RECURRENCE = pd.Timedelta(hours=648)  # 27 days, one solar (Bartels) rotation
DEFAULT_FIT_LEADS = pd.to_timedelta(np.arange(1, 73), unit="h")
KP_RANGE = (0.0, 9.0)


# --------------------------------------------------------------------------- lookups


def _hourly(ds: xr.Dataset, name: str) -> pd.Series:
    """``ds[name]`` as a float series on a continuous hourly grid (missing hours NaN)."""
    if name not in ds:
        raise ValueError(f"dataset has no {name!r} (variables: {sorted(map(str, ds.data_vars))})")
    s = ds[name].to_series().astype(float)
    s = s[~s.index.duplicated()].sort_index()
    if s.empty:
        return s
    grid = pd.date_range(s.index[0].floor("1h"), s.index[-1], freq="1h")
    return s.reindex(grid)


def _check_inits(init_times: ArrayLike) -> pd.DatetimeIndex:
    init = pd.DatetimeIndex(np.atleast_1d(init_times))
    if len(init) == 0:
        raise ValueError("no init_times given")
    if (init != init.floor("1h")).any():
        bad = init[init != init.floor("1h")][0]
        raise ValueError(f"init_time {bad} is not on a whole hour; round it with .floor('1h')")
    return init


def _lookup(series: pd.Series, labels: np.ndarray) -> np.ndarray:
    """Values of an hourly-grid ``series`` at ``labels`` (any shape); NaN off the grid."""
    labels = np.asarray(labels, dtype="datetime64[ns]")
    if series.empty:
        return np.full(labels.shape, np.nan)
    t0 = series.index[0].to_datetime64()
    pos = (labels - t0) // np.timedelta64(1, "h")
    vals = series.to_numpy(dtype=float)
    ok = (pos >= 0) & (pos < len(vals)) & ((labels - t0) % np.timedelta64(1, "h") == 0)
    out = np.full(labels.shape, np.nan)
    out[ok] = vals[pos[ok]]
    return out


def visible_at(
    series: pd.Series, name: str, labels: np.ndarray, init_times: ArrayLike
) -> np.ndarray:
    """Values at ``labels`` (shape ``(n_init, k)``) masked to NaN unless known at each init.

    Known means ``timeconv.interval_end(name, label) <= init_time`` (row-wise).

    Parameters
    ----------
    series : pandas.Series
        Hourly values of ``name`` on a continuous hourly grid (UTC naive, label = start of
        interval), as :func:`_hourly` makes them.
    name : str
        Variable name (``"dst"``, ``"kp"``, ``"v_sw"`` ...); sets its averaging interval and so
        when a label becomes known (:data:`data_sources.timeconv.INTERVAL`).
    labels : numpy.ndarray
        Hourly labels to look up (datetime64, UTC naive), shape ``(n_init, k)``.
    init_times : ArrayLike
        Issue times (UTC naive), ``n_init`` of them; row ``i`` of ``labels`` is masked at
        ``init_times[i]``.

    Returns
    -------
    numpy.ndarray
        Values in the unit of ``series``, shape ``(n_init, k)``; NaN where the label is off the
        grid, missing, or not yet known at its row's init time.
    """
    labels = np.asarray(labels, dtype="datetime64[ns]")
    init = pd.DatetimeIndex(init_times).values
    ends = np.asarray(timeconv.interval_end(name, labels.ravel()).values).reshape(labels.shape)
    vals = _lookup(series, labels)
    return np.where(ends <= init[:, None], vals, np.nan)


def last_known(
    series: pd.Series, name: str, init_times: ArrayLike, *, max_gap: str = "3h"
) -> np.ndarray:
    """Return the newest value of ``name`` known at each init time, back at most ``max_gap``.

    The newest interval known at ``t`` starts at ``floor(t, S) - S`` (``S`` the variable's
    interval); if it is missing, earlier hourly labels back to ``max_gap`` before it are tried.

    Parameters
    ----------
    series : pandas.Series
        Hourly values of ``name`` on a continuous hourly grid (UTC naive, label = start of
        interval).
    name : str
        Variable name; its averaging interval (:data:`data_sources.timeconv.INTERVAL`, 1 h
        when not listed) sets the newest known label.
    init_times : ArrayLike
        Issue times (UTC naive, whole hours).
    max_gap : str, default "3h"
        How far [pandas offset, e.g. ``"3h"``] before the newest known label to look for a
        non-missing value.

    Returns
    -------
    numpy.ndarray
        One value per init time in the unit of ``series``, shape ``(n_init,)``; NaN when
        nothing is known within ``max_gap``.

    Raises
    ------
    ValueError
        If ``init_times`` is empty or not on whole hours.
    """
    init = _check_inits(init_times)
    step = timeconv.INTERVAL.get(name, HOUR)
    newest = (init.floor(step) - step).values
    back = np.arange(0, int(pd.Timedelta(max_gap) / HOUR) + 1) * np.timedelta64(1, "h")
    labels = newest[:, None] - back[None, :]
    vals = visible_at(series, name, labels, init)
    first = np.argmax(~np.isnan(vals), axis=1)
    return vals[np.arange(len(init)), first]


def observed_targets(series: pd.Series, init_times: ArrayLike, lead_times: ArrayLike) -> np.ndarray:
    """Observed values verifying each ``(init, lead)``: labels ``init + lead - 1 h``.

    Parameters
    ----------
    series : pandas.Series
        Hourly observations on a continuous hourly grid (UTC naive, label = start of hour).
    init_times : ArrayLike
        Issue times (UTC naive), ``n_init`` of them.
    lead_times : ArrayLike
        Lead times, ``n_lead`` of them (:func:`data_sources.timeconv.target_labels`).

    Returns
    -------
    numpy.ndarray
        Observed values in the unit of ``series``, shape ``(n_init, n_lead)``; NaN where the
        target hour is missing or off the grid.
    """
    return _lookup(series, timeconv.target_labels(init_times, lead_times))


def _lead_hours(lead_times: ArrayLike) -> np.ndarray:
    lead = pd.TimedeltaIndex(np.atleast_1d(lead_times))
    hours = lead / HOUR
    if (hours != np.round(hours)).any() or (hours < 1).any():
        raise ValueError(f"lead_times must be whole hours >= 1 h; got {list(lead)}")
    return hours.to_numpy(dtype=float)


def p_dyn_series(ds: xr.Dataset) -> pd.Series:
    """Dynamic pressure [nPa]: ``p_dyn`` where present, gaps filled with ``2e-6 n V^2`` (OMNI2).

    Parameters
    ----------
    ds : xr.Dataset
        Hourly data on ``time`` holding ``p_dyn`` [nPa], or ``n_p`` [cm^-3] and ``v_sw``
        [km s-1], or all three.

    Returns
    -------
    pandas.Series
        Hourly ``P_dyn`` [nPa] on a continuous hourly grid (missing hours NaN).

    Raises
    ------
    ValueError
        If ``ds`` has neither ``p_dyn`` nor both ``n_p`` and ``v_sw``.
    """
    formula = None
    if "n_p" in ds and "v_sw" in ds:
        formula = dynamic_pressure(_hourly(ds, "n_p"), _hourly(ds, "v_sw"))
    if "p_dyn" in ds:
        p = _hourly(ds, "p_dyn")
        return p if formula is None else p.fillna(formula)
    if formula is None:
        raise ValueError("need p_dyn, or n_p and v_sw, for the pressure correction")
    return formula


# --------------------------------------------------------------------------- base class


class ResidualQuantileForecaster:
    """A point forecast plus per-lead empirical residual quantiles from a training period.

    Subclasses set ``name``, ``version``, ``supported`` (targets they can forecast) and
    implement :meth:`point`.
    """

    name: str = ""
    version: str = "1"
    supported: tuple[str, ...] = ("dst", "kp")

    def __init__(self, *, quantiles: Sequence[float] = schema.QUANTILES) -> None:
        self.quantiles = tuple(float(q) for q in quantiles)
        self.residual_quantiles_: dict[str, pd.DataFrame] = {}
        self.fit_span_: tuple[str, str] | None = None

    # -- subclasses
    def point(
        self, ds: xr.Dataset, init_times: ArrayLike, lead_times: ArrayLike, target: str
    ) -> np.ndarray:
        """Deterministic forecast of ``target``, shape ``(n_init, n_lead)`` (subclasses).

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour) holding ``target``.
        init_times : ArrayLike
            Issue times (UTC naive, whole hours), ``n_init`` of them.
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h), ``n_lead`` of them; lead ``L`` targets the hour
            labelled ``init + L - 1 h``.
        target : str
            Variable to forecast (``"dst"`` [nT] or ``"kp"``), one of :attr:`supported`.

        Returns
        -------
        numpy.ndarray
            Point forecast in the target's unit, shape ``(n_init, n_lead)``; NaN where the
            inputs it needs are unknown at the init time.
        """
        raise NotImplementedError

    # -- training
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has stored residual quantiles."""
        return bool(self.residual_quantiles_)

    def fit(
        self,
        train_ds: xr.Dataset,
        *,
        lead_times: ArrayLike = DEFAULT_FIT_LEADS,
        targets: Sequence[str] = ("dst", "kp"),
        init_every: str = "1h",
    ) -> ResidualQuantileForecaster:
        """Store residual quantiles per target and lead over ``train_ds`` (hourly inits).

        Runs :meth:`point` from every init time in the span and keeps, per target and lead,
        the quantiles :attr:`quantiles` of ``observed - point``.

        Parameters
        ----------
        train_ds : xr.Dataset
            Hourly training data on ``time`` (UTC naive, label = start of hour) holding the
            targets and the inputs :meth:`point` needs.
        lead_times : ArrayLike, default 1..72 h
            Leads (whole hours >= 1 h) to fit; a later forecast may ask only for these.
        targets : Sequence[str], default ("dst", "kp")
            Targets to fit; those not in :attr:`supported` are skipped.
        init_every : str, default "1h"
            Spacing of the training init times (pandas offset).

        Returns
        -------
        ResidualQuantileForecaster
            ``self``, fitted (``residual_quantiles_``: target -> DataFrame ``(lead, quantile)``
            of residuals in the target's unit; ``fit_span_``: first and last training time).

        Raises
        ------
        ValueError
            If a lead is not a whole hour >= 1 h, a target is missing, or some lead has fewer
            than 50 training pairs.
        """
        lead = pd.TimedeltaIndex(lead_times)
        _lead_hours(lead)
        times = pd.DatetimeIndex(train_ds.indexes["time"])
        init = pd.date_range(times.min().ceil("1h") + HOUR, times.max(), freq=init_every)
        fitted = {}
        for target in self._targets(train_ds, targets, fitting=True):
            pred = self.point(train_ds, init, lead, target)
            obs = observed_targets(_hourly(train_ds, target), init, lead)
            resid = obs - pred
            ok = ~np.isnan(resid)
            if ok.sum(axis=0).min() < 50:
                raise ValueError(
                    f"{self.name}: too few training pairs for {target!r} "
                    f"({int(ok.sum(axis=0).min())} at some lead); give a longer train_ds"
                )
            q = np.nanquantile(resid, self.quantiles, axis=0).T  # (lead, quantile)
            fitted[target] = pd.DataFrame(q, index=lead, columns=list(self.quantiles))
        self.residual_quantiles_ = fitted
        self.fit_span_ = (str(times.min()), str(times.max()))
        return self

    def _targets(
        self, ds: xr.Dataset, targets: Sequence[str], *, fitting: bool = False
    ) -> list[str]:
        wanted = [t for t in targets if t in self.supported]
        if not wanted:
            raise ValueError(f"{self.name} forecasts {self.supported}; asked for {tuple(targets)}")
        missing = [t for t in wanted if t not in ds]
        if missing:
            raise ValueError(
                f"{self.name}: dataset lacks target(s) {missing} needed for the forecast"
            )
        return wanted

    def _residual_quantiles(self, target: str, lead: pd.TimedeltaIndex) -> np.ndarray:
        if target not in self.residual_quantiles_:
            raise ValueError(f"{self.name} is not fitted for {target!r}: call .fit(train_ds) first")
        table = self.residual_quantiles_[target]
        absent = lead.difference(table.index)
        if len(absent):
            raise ValueError(
                f"{self.name} was fitted for leads up to {table.index.max()}; "
                f"refit with lead_times covering {list(absent)}"
            )
        return table.loc[lead].to_numpy()

    # -- the Forecaster contract
    def forecast(
        self,
        ds: xr.Dataset,
        init_times: ArrayLike,
        lead_times: ArrayLike,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Quantile forecast ``(init_time, lead_time, quantile)`` for the supported targets.

        Each quantile is ``point + residual quantile`` of the fitted lead.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour) holding the targets
            and the inputs :meth:`point` needs; only values known at each init time are used.
        init_times : ArrayLike
            Issue times (UTC naive, whole hours).
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h), each one fitted.
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted; those not in :attr:`supported` are left out of the output.

        Returns
        -------
        xr.Dataset
            Forecast in the :func:`forecasting.schema.make_forecast` schema: one variable per
            target (Dst [nT], Kp clipped to [0, 9]) on ``(init_time, lead_time, quantile)``,
            attrs ``model``, ``model_version``, ``data_cutoff`` and ``fit_span``.

        Raises
        ------
        ValueError
            If an init time is not a whole hour, a lead is not a whole hour >= 1 h, ``ds``
            lacks a target, or the model is not fitted for a target or lead.
        """
        init = _check_inits(init_times)
        lead = pd.TimedeltaIndex(np.atleast_1d(lead_times))
        _lead_hours(lead)
        values = {}
        for target in self._targets(ds, targets):
            rq = self._residual_quantiles(target, lead)
            pred = self.point(ds, init, lead, target)
            arr = pred[:, :, None] + rq[None, :, :]
            if target == "kp":
                arr = np.clip(arr, *KP_RANGE)
            values[target] = arr
        return schema.make_forecast(
            values,
            init_time=init,
            lead_time=lead,
            quantiles=self.quantiles,
            model=self.name,
            model_version=self.version,
            data_cutoff=init.max(),
            extra_attrs={"fit_span": " to ".join(self.fit_span_ or ("", ""))},
        )


# --------------------------------------------------------------------------- baselines


class Persistence(ResidualQuantileForecaster):
    """Last known value held for every lead; quantiles = training lead-L changes."""

    name = "persistence"

    def point(
        self, ds: xr.Dataset, init_times: ArrayLike, lead_times: ArrayLike, target: str
    ) -> np.ndarray:
        """Last value of ``target`` known at each init (:func:`last_known`), for every lead.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour) holding ``target``.
        init_times : ArrayLike
            Issue times (UTC naive, whole hours), ``n_init`` of them.
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h), ``n_lead`` of them; lead ``L`` targets the hour
            labelled ``init + L - 1 h``.
        target : str
            Variable to forecast (``"dst"`` [nT] or ``"kp"``), one of :attr:`supported`.

        Returns
        -------
        numpy.ndarray
            Point forecast in the target's unit, shape ``(n_init, n_lead)``; NaN where the
            inputs it needs are unknown at the init time.
        """
        last = last_known(_hourly(ds, target), target, init_times)
        return np.repeat(last[:, None], len(np.atleast_1d(lead_times)), axis=1)


class Recurrence27(ResidualQuantileForecaster):
    """The value 27 days (648 h) before the target hour (solar-rotation recurrence)."""

    name = "recurrence27"

    def point(
        self, ds: xr.Dataset, init_times: ArrayLike, lead_times: ArrayLike, target: str
    ) -> np.ndarray:
        """Value of ``target`` 648 h before each target hour, if known at the init time.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour) holding ``target``.
        init_times : ArrayLike
            Issue times (UTC naive, whole hours), ``n_init`` of them.
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h), ``n_lead`` of them; lead ``L`` targets the hour
            labelled ``init + L - 1 h``.
        target : str
            Variable to forecast (``"dst"`` [nT] or ``"kp"``), one of :attr:`supported`.

        Returns
        -------
        numpy.ndarray
            Point forecast in the target's unit, shape ``(n_init, n_lead)``; NaN where the
            inputs it needs are unknown at the init time.
        """
        init = _check_inits(init_times)
        labels = timeconv.target_labels(init, lead_times) - RECURRENCE.to_timedelta64()
        return visible_at(_hourly(ds, target), target, labels, init)


class Climatology(ResidualQuantileForecaster):
    """The training-period distribution of the target (overall or by calendar month).

    ``by="month"`` uses the month of the target hour; quantiles are the empirical quantiles
    of the training values, the median is the point forecast.
    """

    name = "climatology"

    def __init__(self, *, by: str = "none", quantiles: Sequence[float] = schema.QUANTILES) -> None:
        if by not in ("none", "month"):
            raise ValueError(f"Climatology(by={by!r}): use 'none' or 'month'")
        super().__init__(quantiles=quantiles)
        self.by = by
        self.table_: dict[str, pd.DataFrame] = {}

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has stored the climatology tables."""
        return bool(self.table_)

    def fit(
        self,
        train_ds: xr.Dataset,
        *,
        lead_times: ArrayLike = DEFAULT_FIT_LEADS,
        targets: Sequence[str] = ("dst", "kp"),
        init_every: str = "1h",
    ) -> Climatology:
        """Store the empirical quantiles of each target over ``train_ds``.

        One row of quantiles overall (``by="none"``) or one per calendar month (``by="month"``).

        Parameters
        ----------
        train_ds : xr.Dataset
            Hourly training data on ``time`` (UTC naive, label = start of hour) holding the
            targets.
        lead_times : ArrayLike, default 1..72 h
            Unused (climatology does not depend on the lead); kept for the common signature.
        targets : Sequence[str], default ("dst", "kp")
            Targets to fit; those not in :attr:`supported` are skipped.
        init_every : str, default "1h"
            Unused; kept for the common signature.

        Returns
        -------
        Climatology
            ``self``, fitted (``table_``: target -> DataFrame, rows month 1-12 or a single row
            0, columns the quantiles, in the target's unit).

        Raises
        ------
        ValueError
            If a target is missing or has fewer than 50 values in ``train_ds``.
        """
        times = pd.DatetimeIndex(train_ds.indexes["time"])
        tables = {}  # a refit replaces every table (targets of an earlier fit do not survive)
        for target in self._targets(train_ds, targets, fitting=True):
            s = _hourly(train_ds, target).dropna()
            if len(s) < 50:
                raise ValueError(f"climatology: only {len(s)} {target!r} values in train_ds")
            key = s.index.month if self.by == "month" else np.zeros(len(s), int)
            table = s.groupby(key).quantile(list(self.quantiles)).unstack()
            tables[target] = table
        self.table_ = tables
        self.fit_span_ = (str(times.min()), str(times.max()))
        return self

    def _quantiles_at(self, target: str, labels: np.ndarray) -> np.ndarray:
        if target not in self.table_:
            raise ValueError(f"climatology is not fitted for {target!r}: call .fit(train_ds) first")
        table = self.table_[target]
        flat = pd.DatetimeIndex(labels.ravel())
        key = flat.month if self.by == "month" else np.zeros(len(flat), int)
        vals = table.reindex(key).to_numpy()
        return vals.reshape(*labels.shape, len(self.quantiles))

    def point(
        self, ds: xr.Dataset, init_times: ArrayLike, lead_times: ArrayLike, target: str
    ) -> np.ndarray:
        """Climatological median of ``target`` (of the target hour's month with ``by="month"``).

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour); unused (the
            climatology depends only on the target hour).
        init_times : ArrayLike
            Issue times (UTC naive, whole hours), ``n_init`` of them.
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h), ``n_lead`` of them; lead ``L`` targets the hour
            labelled ``init + L - 1 h``.
        target : str
            Variable to forecast (``"dst"`` [nT] or ``"kp"``), one of :attr:`supported`.

        Returns
        -------
        numpy.ndarray
            Point forecast in the target's unit, shape ``(n_init, n_lead)``.
        """
        labels = timeconv.target_labels(_check_inits(init_times), lead_times)
        mid = int(np.argmin(np.abs(np.asarray(self.quantiles) - 0.5)))
        return self._quantiles_at(target, labels)[..., mid]

    def forecast(
        self,
        ds: xr.Dataset,
        init_times: ArrayLike,
        lead_times: ArrayLike,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Climatological quantiles of each target hour (of its calendar month with ``by="month"``).

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour) holding the targets
            (their values are not used).
        init_times : ArrayLike
            Issue times (UTC naive, whole hours).
        lead_times : ArrayLike
            Lead times (whole hours >= 1 h).
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted; those not in :attr:`supported` are left out of the output.

        Returns
        -------
        xr.Dataset
            Forecast in the :func:`forecasting.schema.make_forecast` schema: one variable per
            target (Dst [nT], Kp clipped to [0, 9]) on ``(init_time, lead_time, quantile)``,
            attrs ``model``, ``model_version``, ``data_cutoff``, ``fit_span`` and
            ``climatology_by``.

        Raises
        ------
        ValueError
            If an init time is not a whole hour, a lead is not a whole hour >= 1 h, ``ds``
            lacks a target, or the model is not fitted for a target or lead.
        """
        init = _check_inits(init_times)
        lead = pd.TimedeltaIndex(np.atleast_1d(lead_times))
        _lead_hours(lead)
        labels = timeconv.target_labels(init, lead)
        values = {t: self._quantiles_at(t, labels) for t in self._targets(ds, targets)}
        return schema.make_forecast(
            values,
            init_time=init,
            lead_time=lead,
            quantiles=self.quantiles,
            model=self.name,
            model_version=self.version,
            data_cutoff=init.max(),
            extra_attrs={
                "fit_span": " to ".join(self.fit_span_ or ("", "")),
                "climatology_by": self.by,
            },
        )


class _RingCurrent(ResidualQuantileForecaster):
    """Dst from a ring-current model started from the last known Dst.

    The solar wind (V, Bz, P_dyn) of the newest hour known at the issue time is held
    persistent over the forecast (DESIGN.md); ``Dst*`` then relaxes exactly as
    ``Q tau + (Dst*_0 - Q tau) exp(-L / tau)``, and ``Dst = Dst* + b sqrt(P) - c``.
    Kp is not forecast (omitted from the output).
    """

    supported = ("dst",)
    model: physics.RingCurrentModel

    def _targets(
        self, ds: xr.Dataset, targets: Sequence[str], *, fitting: bool = False
    ) -> list[str]:
        if "dst" not in targets:
            raise ValueError(f"{self.name} forecasts only 'dst'; asked for {tuple(targets)}")
        return super()._targets(ds, ["dst"], fitting=fitting)

    def point(
        self, ds: xr.Dataset, init_times: ArrayLike, lead_times: ArrayLike, target: str
    ) -> np.ndarray:
        init = _check_inits(init_times)
        hours = _lead_hours(lead_times)
        dst0 = last_known(_hourly(ds, "dst"), "dst", init)
        v = last_known(_hourly(ds, "v_sw"), "v_sw", init)
        bz = last_known(_hourly(ds, "bz_gsm"), "bz_gsm", init)
        p = last_known(p_dyn_series(ds), "p_dyn", init)
        q, tau = physics.drivers(self.model, v, bz)
        star0 = physics.dst_star(dst0, p, self.model)
        star = physics.step_dst_star(star0[:, None], q[:, None], tau[:, None], hours[None, :])
        return physics.dst_from_star(star, p[:, None], self.model)


class Burton(_RingCurrent):
    """Burton, McPherron & Russell (1975) Dst model (see :mod:`forecasting.models.physics`)."""

    name = "burton"
    model = physics.BURTON


class OBrienMcPherron(_RingCurrent):
    """O'Brien & McPherron (2000) Dst model (see :mod:`forecasting.models.physics`)."""

    name = "obrien_mcpherron"
    model = physics.OBRIEN_MCPHERRON


def all_baselines() -> list[ResidualQuantileForecaster]:
    """One unfitted instance of every baseline of the forecaster registry, in its order.

    Returns
    -------
    list of ResidualQuantileForecaster
        ``persistence``, ``recurrence27``, ``climatology``, ``burton``, ``obrien_mcpherron``
        (the order of :data:`forecasting.models.base.BASELINES`), each to be fitted.
    """
    from forecasting.models.base import BASELINES  # the registry imports this module

    return [cls() for cls in BASELINES.values()]
