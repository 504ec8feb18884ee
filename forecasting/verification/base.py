"""The metric contract and the one registry of metric names over :mod:`.scores`.

A :class:`Metric` is called ``metric(forecast, obs, dim="init_time") -> xr.DataArray``:

* ``input == "median"``: ``forecast`` is the point forecast (the 0.5 quantile) aligned with
  ``obs`` (:func:`data_sources.timeconv.observed_for`);
* ``input == "quantiles"``: ``forecast`` keeps the ``quantile`` dimension.

``better`` says which way is good (``"lower"`` for errors, ``"higher"`` for correlation and
efficiency, ``"nominal"`` for coverage, which should equal its nominal level). Every score
is computed in :mod:`forecasting.verification.scores`; this module only names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import xarray as xr

from data_sources.registry import by_name, lookup
from forecasting.verification import scores


@runtime_checkable
class Metric(Protocol):
    """A named score (see the module docstring)."""

    @property
    def name(self) -> str:
        """Metric name (``rmse`` ...)."""
        ...

    @property
    def input(self) -> str:
        """``"median"`` or ``"quantiles"``."""
        ...

    @property
    def better(self) -> str:
        """``"lower"``, ``"higher"`` or ``"nominal"``."""
        ...

    def __call__(
        self, forecast: xr.DataArray, obs: xr.DataArray, dim: str = scores.DIM
    ) -> xr.DataArray:
        """The score of ``forecast`` against ``obs`` over ``dim``.

        Parameters
        ----------
        forecast : xr.DataArray
            The median forecast aligned with ``obs`` (``input == "median"``) or the quantile
            forecast with a ``quantile`` dim (``input == "quantiles"``); target units (nT, Kp).
        obs : xr.DataArray
            Observations in the same units, on the forecast's other dims.
        dim : str
            Dimension(s) the score reduces over (default ``init_time``).

        Returns
        -------
        xr.DataArray
            The score over the remaining dims (e.g. ``lead_time``); units per metric
            (RMSE, MAE, CRPS in target units, MSE squared, r/PE/coverage unitless).
        """
        ...


@dataclass(frozen=True)
class ScoreFunction:
    """A function of :mod:`.scores` under its metric name (implements :class:`Metric`).

    Parameters
    ----------
    name
        Metric name as written in skill reports (``rmse``, ``crps`` ...).
    func
        ``func(forecast, obs, dim=...) -> xr.DataArray``.
    input
        ``"median"`` or ``"quantiles"``.
    better
        ``"lower"``, ``"higher"`` or ``"nominal"``.
    """

    name: str
    func: Callable[..., xr.DataArray]
    input: str = "median"
    better: str = "lower"

    def __call__(
        self, forecast: xr.DataArray, obs: xr.DataArray, dim: str = scores.DIM
    ) -> xr.DataArray:
        """The score of ``forecast`` against ``obs`` over ``dim``.

        Parameters
        ----------
        forecast : xr.DataArray
            The median forecast aligned with ``obs`` (``input == "median"``) or the quantile
            forecast with a ``quantile`` dim (``input == "quantiles"``); target units (nT, Kp).
        obs : xr.DataArray
            Observations in the same units, on the forecast's other dims.
        dim : str
            Dimension(s) the score reduces over (default ``init_time``).

        Returns
        -------
        xr.DataArray
            The score over the remaining dims (e.g. ``lead_time``); units per metric
            (RMSE, MAE, CRPS in target units, MSE squared, r/PE/coverage unitless).
        """
        return self.func(forecast, obs, dim=dim)


#: metric name -> metric; the names are those of ``skill.nc`` and the scorecards
METRICS: dict[str, Metric] = by_name(
    ScoreFunction("rmse", scores.rmse),
    ScoreFunction("mse", scores.mse),
    ScoreFunction("mae", scores.mae),
    ScoreFunction("r", scores.pearson_r, better="higher"),
    ScoreFunction("pe", scores.prediction_efficiency, better="higher"),
    ScoreFunction("crps", scores.crps_quantile, input="quantiles"),
    ScoreFunction("coverage_80", scores.interval_coverage, "quantiles", "nominal"),
)


def get_metric(name: str) -> Metric:
    """The metric called ``name``.

    Parameters
    ----------
    name : str
        Metric name: ``rmse``, ``mse``, ``mae``, ``r``, ``pe``, ``crps``, ``coverage_80``.

    Returns
    -------
    Metric
        The registered metric (:data:`METRICS`).

    Raises
    ------
    data_sources.registry.UnknownNameError
        A ``ValueError`` (and ``KeyError``) if ``name`` is unknown; the message lists the known names.
    """
    return lookup(METRICS, name, "metric")
