"""Every registered metric satisfies the Metric protocol and matches its scores function."""

import numpy as np
import pytest
import xarray as xr

from forecasting.verification import scores
from forecasting.verification.base import METRICS, Metric, get_metric


def _pair():
    rng = np.random.default_rng(0)
    obs = xr.DataArray(rng.normal(-20, 30, 200), dims="init_time")
    q = np.array([0.05, 0.1, 0.5, 0.9, 0.95])
    spread = xr.DataArray(
        np.array([-40, -25, 0, 25, 40.0]), dims="quantile", coords={"quantile": q}
    )
    quantiles = (obs + rng.normal(0, 10, 200)) + spread
    return quantiles, obs


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_is_a_metric(name):
    m = get_metric(name)
    assert isinstance(m, Metric) and m.name == name
    assert m.input in ("median", "quantiles") and m.better in ("lower", "higher", "nominal")
    quantiles, obs = _pair()
    fc = quantiles if m.input == "quantiles" else quantiles.sel(quantile=0.5, drop=True)
    value = float(m(fc, obs))
    assert np.isfinite(value)


def test_metrics_are_the_scores_functions():
    quantiles, obs = _pair()
    med = quantiles.sel(quantile=0.5, drop=True)
    assert float(get_metric("rmse")(med, obs)) == float(scores.rmse(med, obs))
    assert float(get_metric("crps")(quantiles, obs)) == float(scores.crps_quantile(quantiles, obs))
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        get_metric("nope")
