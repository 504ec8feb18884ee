"""Baseline fits cached as JSON: identical forecasts after a reload, crafted files never run."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from forecasting.models import baseline_cache, baselines

LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
INIT = pd.DatetimeIndex(["2006-03-10T00:00", "2006-03-10T06:00"])


@pytest.fixture(scope="module")
def train(omni_2005_2006):
    return omni_2005_2006.sel(time=slice("2005-01-01", "2005-12-31T23:00"))


@pytest.mark.parametrize("cls", list(baseline_cache.CLASSES.values()))
def test_json_round_trip_forecasts_identically(cls, train, omni_2005_2006):
    model = cls().fit(train, lead_times=LEADS, targets=list(cls.supported))
    again = baseline_cache.from_json(baseline_cache.to_json(model))
    assert type(again) is cls and again.fit_span_ == model.fit_span_
    a = model.forecast(omni_2005_2006, INIT, LEADS, targets=list(cls.supported))
    b = again.forecast(omni_2005_2006, INIT, LEADS, targets=list(cls.supported))
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values)


class _Boom:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_crafted_caches_never_run(home, tmp_path, omni_2005_2006):
    marker = tmp_path / "pwned"
    t = pd.Timestamp("2006-03-10T05:00")
    fit_end = t.to_period("M").to_timestamp()
    json_cache = baseline_cache.cache_path("persistence", fit_end)
    json_cache.parent.mkdir(parents=True)
    json_cache.write_bytes(pickle.dumps(_Boom(marker)))  # a pickle where JSON is expected
    legacy = json_cache.with_suffix(".pkl")  # the path older releases read with pickle.load
    legacy.write_bytes(pickle.dumps(_Boom(marker)))
    recorded = tmp_path / "recorded.nc"
    omni_2005_2006.to_netcdf(recorded)
    baseline_cache._FITTED.clear()
    model = baseline_cache.fitted_baseline("persistence", t, leads=LEADS, recorded=recorded)
    assert isinstance(model, baselines.Persistence) and model.is_fitted
    assert not marker.exists()
    assert baseline_cache.from_json(json_cache.read_text()).fit_span_ == model.fit_span_
    with pytest.raises(baseline_cache.BaselineCacheError, match="unknown baseline"):
        baseline_cache.from_json(
            '{"format": "superstorm-baseline/1", "name": "os.system", "quantiles": []}'
        )
