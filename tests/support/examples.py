"""Real-data example inputs for the dashboards (tests, benchmark, screenshots, demos).

Nothing here is invented: observations come from recorded OMNI2 files
(``../shared/data/omni2_low_res``) and the two forecasts are the project's own baselines
(:mod:`forecasting.models.baselines`), fitted on the ``window`` before the first issue time and
using only the data known at each issue time:

* ``persistence_spread``: :class:`~forecasting.models.baselines.Persistence` (newest known value
  plus the training residual quantiles per lead);
* ``climatology_window``: :class:`~forecasting.models.baselines.Climatology` (quantiles of the
  training values).

They are labelled with those names on every page, never as the TFT.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecasting.models.baselines import Climatology, Persistence, ResidualQuantileForecaster
from forecasting.schema import QUANTILES

HOUR = pd.Timedelta("1h")
#: hourly leads 1..24 h
LEADS_24H = pd.to_timedelta(range(1, 25), "h")


def baseline_example(
    cls: type[ResidualQuantileForecaster],
    label: str,
    observed: xr.Dataset,
    init_times: Sequence | pd.DatetimeIndex,
    lead_times: Sequence | pd.TimedeltaIndex = LEADS_24H,
    *,
    names: Sequence[str] = ("dst", "kp"),
    window: str = "30D",
    quantiles: Sequence[float] = QUANTILES,
) -> xr.Dataset:
    """Forecasts of baseline ``cls`` fitted on the ``window`` before the first issue time.

    Only data before the first issue time trains it, and each forecast sees only what is
    known at its own issue time; the result is labelled ``label`` (model version ``example``).
    """
    inits, leads = pd.DatetimeIndex(init_times), pd.TimedeltaIndex(lead_times)
    t0 = inits.min()
    train = observed.sel(time=slice(t0 - pd.Timedelta(window), t0 - HOUR))
    model = cls(quantiles=quantiles).fit(train, lead_times=leads, targets=list(names))
    fc = model.forecast(observed, inits, leads, targets=tuple(names))
    fc.attrs.update(
        model=label,
        model_version="example",
        description=f"{cls.name} baseline fitted on the previous {window} (tests.support.examples)",
    )
    return fc


#: the persistence baseline, labelled ``persistence_spread``
persistence_spread = functools.partial(baseline_example, Persistence, "persistence_spread")
#: the climatology baseline, labelled ``climatology_window``
climatology_window = functools.partial(baseline_example, Climatology, "climatology_window")


def example_skill(
    archives: dict[str, xr.Dataset], observed: xr.Dataset, reference: str = "persistence_spread"
) -> xr.Dataset:
    """A ``skill.nc``-shaped dataset (rmse, mae, r, skill_vs_persistence, crps, coverage_80,
    hss) for the example forecasts, so the Verification page can be shown without a backtest.

    Every score is :func:`forecasting.verification.scores.score` (HSS for Kp >= 5 /
    Dst <= -50 nT with the median); ``reference`` is the persistence-like model behind
    ``skill_vs_persistence``.
    """
    from forecasting.verification.scores import score  # noqa: PLC0415

    keys = ("rmse", "mae", "r", "skill_vs_persistence", "crps", "coverage_80", "hss")
    models = list(archives)
    targets = ["dst", "kp"]
    lead = archives[models[0]]["lead_time"].values
    out = {k: np.full((len(targets), len(models), len(lead)), np.nan) for k in keys}
    primary = {"dst": -50.0, "kp": 5.0}
    for mi, m in enumerate(models):
        for ti, n in enumerate(targets):
            ref = archives.get(reference) if m != reference else None
            s = score(archives[m], observed, n, persistence=ref, thresholds=(primary[n],))
            if m == reference:
                s["skill_vs_persistence"] = xr.zeros_like(s["rmse"]).where(s["n"] > 0)
            for k in keys:
                da = s[k].sel(threshold=primary[n]) if "threshold" in s[k].dims else s[k]
                out[k][ti, mi] = da.values
    return xr.Dataset(
        {k: (("target", "model", "lead_time"), v) for k, v in out.items()},
        coords={"target": targets, "model": models, "lead_time": lead},
        attrs={"description": "example scores of tests.support.examples forecasts"},
    )


def load_omni2(data_dir: str | Path, year: int = 2024) -> xr.Dataset:
    """Recorded OMNI2 hourly file for ``year`` from ``data_dir/omni2_low_res*``."""
    from data_sources.omni2 import parse_omni2  # noqa: PLC0415

    data_dir = Path(data_dir)
    for folder in ("omni2_low_res", "omni2_low_res_dynaml"):
        for path in sorted((data_dir / folder).glob(f"omni2_{year}*")):
            return parse_omni2(path)
    raise FileNotFoundError(f"no OMNI2 file for {year} under {data_dir}/omni2_low_res*")


def example_inputs(
    data_dir: str | Path,
    *,
    issue: str = "2024-05-10T20:00",
    archive_start: str = "2024-05-03",
    archive_step: str = "3h",
) -> dict:
    """Everything :func:`dashboards.site.build_site` takes, from the recorded OMNI2 2024 file.

    The latest forecast is issued at ``issue`` (default: 2024-05-10 20:00 UTC, as the Gannon
    storm began); the archive holds both example models every ``archive_step`` from
    ``archive_start`` to three days after the issue (a hindcast, so the storm can be verified).
    """
    obs = load_omni2(data_dir, 2024)
    issue_t = pd.Timestamp(issue)
    inits = pd.date_range(archive_start, issue_t + pd.Timedelta("3D"), freq=archive_step)
    archive = {
        "persistence_spread": persistence_spread(obs, inits),
        "climatology_window": climatology_window(obs, inits),
    }
    forecast = persistence_spread(obs, [issue_t])
    return {
        "forecast": forecast,
        "observed": obs,
        "archive": archive,
        "skill": example_skill(archive, obs),
        "alerts": None,
        "model_info": None,
    }
