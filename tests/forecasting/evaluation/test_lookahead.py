"""No look-ahead: a TFT forecast issued at t depends only on values known at t.

Perturbing every input value that is not yet known at t (all variables: every label >= t,
plus the Kp/ap 3-h block and the daily F10.7 still in progress at t) leaves the forecast
unchanged, through both ``predict`` and the batched ``predict_many``; perturbing a value
known before t changes it, so the test can fail.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from data_sources import timeconv
from forecasting.models import pipeline
from forecasting.models.predict import predict, predict_many
from forecasting.models.tft import fit, get_config

warnings.filterwarnings("ignore")

T = pd.Timestamp("2006-01-15T13:00")  # not on a 3-h Kp boundary: a Kp block is in progress


@pytest.fixture(scope="module")
def ds(omni_2005_2006) -> xr.Dataset:
    return omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def model(ds, tiny_tft):
    frame = pipeline.feature_frame(ds)
    return fit(
        frame, train_years=(2005,), val_years=(2006,), config=get_config("quick", **tiny_tft)
    )


def _perturb_unknown(ds: xr.Dataset, t: pd.Timestamp, seed: int = 0) -> xr.Dataset:
    """Every value with interval_end > t replaced by random garbage (all variables)."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    labels = out.indexes["time"]
    n_changed = 0
    for name in out.data_vars:
        late = np.asarray(timeconv.interval_end(name, labels) > t)
        vals = out[name].values.copy()
        vals[late] = rng.normal(0.0, 500.0, late.sum())
        out[name] = ("time", vals, out[name].attrs)
        n_changed += int(late.sum())
    assert n_changed > 0
    return out


def _same(a, b) -> bool:
    return all(np.array_equal(a[n].values, b[n].values) for n in ("dst", "kp"))


def test_unknown_values_do_not_change_the_forecast(ds, model):
    base = predict(model, ds, T)
    bad = _perturb_unknown(ds, T)
    # the in-progress Kp block (12-15 UT) and today's F10.7 are among the perturbed values
    assert bad.kp.sel(time="2006-01-15T12:00").item() != ds.kp.sel(time="2006-01-15T12:00").item()
    assert _same(base, predict(model, bad, T))
    # labels >= t only (the plain reading of the rule), all variables
    late = ds.copy(deep=True)
    for name in late.data_vars:
        late[name] = late[name].where(late.time < T, -777.0)
    assert _same(base, predict(model, late, T))


def test_batched_path_has_no_lookahead(ds, model):
    times = pd.DatetimeIndex([T - pd.Timedelta("5h"), T])
    base = predict_many(model, ds, times)
    bad = _perturb_unknown(ds, T)  # unknown at the LATEST issue time
    again = predict_many(model, bad, times)
    assert _same(base, again)
    # and per issue time: values unknown at the earlier time must not reach its forecast
    early = predict_many(model, _perturb_unknown(ds, times[0], seed=1), times)
    np.testing.assert_array_equal(early.dst.values[0], base.dst.values[0])


@pytest.mark.parametrize(
    "name, label",
    [
        ("bz_gsm", "2006-01-15T11:00"),
        ("v_sw", "2006-01-15T12:00"),
        ("dst", "2006-01-15T12:00"),
        ("kp", "2006-01-15T09:00"),
    ],
)
def test_known_values_do_change_the_forecast(ds, model, name, label):
    """The test above could fail: values known at t (interval ended by t) do matter."""
    assert timeconv.interval_end(name, pd.DatetimeIndex([label]))[0] <= T
    base = predict(model, ds, T)
    changed = ds.copy(deep=True)
    sel = changed.indexes["time"].get_indexer(pd.DatetimeIndex([label]))
    vals = changed[name].values.copy()
    step = timeconv.INTERVAL.get(name, timeconv.HOUR) // timeconv.HOUR
    vals[sel[0] : sel[0] + step] += 40.0 if name != "kp" else 5.0
    changed[name] = ("time", vals, changed[name].attrs)
    assert not _same(base, predict(model, changed, T))
