"""The benchmark scripts' own arithmetic still runs against the current code.

The benchmarks time real training and are run by hand (``benchmarks/``); their pure parts are
checked here so that a move in the library does not break them unseen.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from forecasting.models.tft import get_config


def _bench(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exact_forecasts(obs, init, leads_h):
    """Dst the forecasts verify against at ``init`` x ``leads_h``, per quantile level, and a
    maker of Dst forecasts (values, model name) on that grid."""
    import numpy as np
    import pandas as pd

    from data_sources import timeconv
    from forecasting import schema

    lead = pd.to_timedelta(list(leads_h), "h")
    levels = np.asarray(schema.QUANTILES)
    grid = dict(init_time=init, lead_time=lead, model_version="synthetic")

    def forecast(values, model):
        return schema.make_forecast({"dst": values}, model=model, **grid)

    stub = forecast(np.zeros((len(init), len(lead), len(levels))), "x")
    return timeconv.observed_for(stub, obs, "dst").values[..., None] + 0 * levels, forecast


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_bench_train_projects_a_training_run(preset):
    config = get_config(preset)
    line = _bench("bench_train").projection(config, 400.0, cores=2)
    train = config.max_epochs * config.limit_train_batches * config.batch_size
    assert line.startswith(f"{preset} preset: {train} training windows")
    minutes = float(line.split(" min on 2 quiet cores")[0].rsplit(" ", 1)[1])
    assert minutes > 0


def test_ab_calibration_shows_each_held_out_years_coverage():
    """Cross-fitting two years whose errors differ 3x: the quiet year, calibrated on the
    noisy one, over-covers and the noisy year under-covers; the per-year rows say so."""
    from statistics import NormalDist

    import numpy as np
    import pandas as pd
    import xarray as xr

    from data_sources import timeconv
    from forecasting import schema

    ab = _bench("ab_calibration")
    rng = np.random.default_rng(0)
    time = pd.date_range("2011-01-01", "2012-12-31T23:00", freq="1h")
    obs = xr.Dataset({"dst": ("time", -10 + 5 * rng.standard_normal(len(time)))}, {"time": time})
    init = time[48:-48:6]
    lead = pd.to_timedelta(list(ab.LEADS), "h")
    levels = np.asarray(schema.QUANTILES)
    make = dict(init_time=init, lead_time=lead, model="tft", model_version="synthetic")
    stub = schema.make_forecast({"dst": np.zeros((len(init), len(lead), len(levels)))}, **make)
    truth = timeconv.observed_for(stub, obs, "dst").values
    sigma = np.where(init.year == 2011, 2.0, 6.0)[:, None, None]
    z = np.asarray([NormalDist().inv_cdf(q) for q in levels])
    median = truth[..., None] + sigma * rng.standard_normal(truth.shape)[..., None]
    fc = schema.make_forecast({"dst": median + 0.5 * sigma * z}, **make)
    after, years = ab.cross_fit(fc, obs, 6, {"dst_edges": [], "kp_edges": []})
    rows = {r.split("|")[1].strip(): r for r in ab.per_year(after, obs).splitlines()[2:]}
    assert years == [2011, 2012] and set(rows) == {"2011", "2012"}
    cov = {y: [float(v) for v in rows[y].split("|")[3].split("/")] for y in rows}
    assert min(cov["2011"]) > 0.95 and max(cov["2012"]) < 0.7, cov


def test_storm_report_splits_storm_time_by_the_regime_known_at_issue():
    """A storm whose onset no issue time saw: rows for quiet-at-issue and in-storm issue
    times, each the model's RMSE against the best baseline's on the same pairs."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from forecasting.verification import scores

    report = _bench("storm_report")
    time = pd.date_range("2012-03-01", periods=24 * 12, freq="1h")
    dst = np.full(len(time), -10.0)
    dst[24 * 6 : 24 * 7] = -150.0  # a day of storm, no precursor in Dst or Kp
    obs = xr.Dataset({"dst": ("time", dst)}, {"time": time})
    init = time[30:-30]
    truth, forecast = _exact_forecasts(obs, init, report.SHOW)
    fcs = {
        "tft_cal": forecast(truth + 3.0, "tft"),
        report.BEST_BASELINE: forecast(truth - 6.0, "om"),
    }
    storm = scores.storm_time(init, obs)
    rows = [r for r in report.regime_table(fcs, obs, storm) if r.startswith("| ") and "(" in r]
    labels = [r.split("|")[1].strip() for r in rows[1:]]
    assert labels[0].startswith("0, quiet at issue") and labels[-1].startswith("2 ("), labels
    for row in rows[1:]:
        assert row.count("(0.50)") == len(report.SHOW), row


def test_storm_report_all_hours_ratio_is_on_common_pairs():
    """A model silent for half the period (no solar wind) is compared with persistence on
    the other half only, not with persistence's errors where the model gave nothing."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    report = _bench("storm_report")
    time = pd.date_range("2016-01-01", periods=24 * 20, freq="1h")
    obs = xr.Dataset({"dst": ("time", np.full(len(time), -10.0))}, {"time": time})
    init = time[30:-30]
    truth, forecast = _exact_forecasts(obs, init, report.SHOW)
    first = (np.arange(len(init)) < len(init) // 2)[:, None, None]
    tft = np.where(first, np.nan, truth + 1.0)
    persistence = truth + np.where(first, 10.0, 2.0)
    fcs = {
        "tft": forecast(tft, "tft"),
        "persistence": forecast(persistence, "persistence"),
    }
    (row,) = [
        r for r in report.common_pairs_table(fcs, obs, ["tft"], "persistence") if "tft vs" in r
    ]
    assert row.count("1.00 / 2.00 (0.50)") == len(report.SHOW), row
