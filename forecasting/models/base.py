"""The forecaster contract and the one registry of model names.

Every model the CLI, flows, dashboards and backtests can run is a :class:`Forecaster`:

* ``name``: the model name (``tft``, ``persistence`` ...), also the archive folder;
* ``version``: the version written to ``model_version`` of every forecast it makes;
* ``forecast(ds, init_times, lead_times, *, targets=("dst", "kp")) -> xr.Dataset``: quantile
  forecasts in the schema of :func:`forecasting.schema.make_forecast`, using only what is
  known at each issue time (:func:`data_sources.timeconv.known_at`).

Optional parts (checked by type, never probed by name): a
:class:`~forecasting.models.baselines.ResidualQuantileForecaster` is fitted with
``fit(train_ds, ...)`` and says ``is_fitted``.

:data:`FORECASTERS` maps each name to a factory; ask :func:`get_forecaster` for an instance
and :data:`MODEL_NAMES` / :data:`BASELINE_NAMES` for the names.

A :class:`forecasting.models.ensemble.Blend` (quantile average of member forecasters, weights
per target and lead) is a Forecaster too, but not in :data:`FORECASTERS`: it is built from
trained members and a fitted weight file, not from its name, and a name here would join the
skill report's fixed model grid. Pass the instance to ``evaluate`` or a backtest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd
import xarray as xr

from data_sources.registry import lookup
from forecasting.models import baselines

if TYPE_CHECKING:  # torch is imported only when a TFT is asked for
    from forecasting.models.tft import TFTModel


@runtime_checkable
class Forecaster(Protocol):
    """What every model offers (see the module docstring)."""

    name: str

    @property
    def version(self) -> str:
        """Version written to ``model_version`` of each forecast."""
        ...

    def forecast(
        self,
        ds: xr.Dataset,
        init_times: pd.DatetimeIndex | Sequence,
        lead_times: pd.TimedeltaIndex | Sequence,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Quantile forecasts ``(init_time, lead_time, quantile)`` for ``targets``.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour): the solar wind
            (``v_sw`` [km s-1], ``bz_gsm`` [nT], ...) and the targets (``dst`` [nT], ``kp``);
            only values known at each issue time may be used
            (:func:`data_sources.timeconv.known_at`).
        init_times : pandas.DatetimeIndex or Sequence
            Issue times (UTC naive, whole hours).
        lead_times : pandas.TimedeltaIndex or Sequence
            Lead times (whole hours >= 1 h); lead ``L`` targets the hour labelled
            ``init + L - 1 h``.
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted; a model that cannot forecast one leaves it out.

        Returns
        -------
        xr.Dataset
            In the :func:`forecasting.schema.make_forecast` schema: one variable per target on
            ``(init_time, lead_time, quantile)`` with ``model`` and ``model_version`` attrs.
        """
        ...


def _tft(version: TFTModel | str = "latest", batch_size: int = 512) -> Forecaster:
    """Build the TFT forecaster of a registry ``version`` or a trained :class:`TFTModel`.

    Imports torch only when called.
    """
    from forecasting.models.predict import TFTForecaster

    return TFTForecaster(version, batch_size=batch_size)


#: baseline name -> class (unfitted instances: fit them on data before the forecast window)
BASELINES: dict[str, type[baselines.ResidualQuantileForecaster]] = {
    cls.name: cls
    for cls in (
        baselines.Persistence,
        baselines.Recurrence27,
        baselines.Climatology,
        baselines.Burton,
        baselines.OBrienMcPherron,
    )
}

#: model name -> factory; ``tft`` takes the registry version (default ``"latest"``)
FORECASTERS: dict[str, Callable[..., Forecaster]] = {"tft": _tft, **BASELINES}

#: every model name, in the report's order
MODEL_NAMES: tuple[str, ...] = tuple(FORECASTERS)
#: the baselines run beside the primary model
BASELINE_NAMES: tuple[str, ...] = tuple(BASELINES)


def get_forecaster(name: str, **kw: object) -> Forecaster:
    """Make a new forecaster for model ``name``.

    Parameters
    ----------
    name : str
        A name of :data:`MODEL_NAMES`.
    **kw : object
        Passed to the factory (``tft``: ``version``, ``batch_size``; a baseline:
        ``quantiles``, and ``by`` for ``climatology``).

    Returns
    -------
    Forecaster
        Baselines come unfitted.

    Raises
    ------
    data_sources.registry.UnknownNameError
        A ``ValueError`` (and ``KeyError``) if ``name`` is unknown; the message lists the known names.
    """
    return lookup(FORECASTERS, name, "model")(**kw)
