"""Real-data example inputs for the dashboards (tests, benchmark, screenshots, demos).

Nothing here is invented: observations come from recorded OMNI2 files
(``../shared/data/omni2_low_res``) and the two forecasts are simple empirical models computed
from those observations with only the data known at each issue time
(:func:`data_sources.timeconv.known_at` semantics):

* ``persistence_spread``: the newest known value plus the quantiles of the real changes over
  the same lead seen in the preceding ``window`` (persistence with empirical spread);
* ``climatology_window``: the quantiles of the values seen in the preceding ``window``.

They are labelled with those names on every page, never as the TFT.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from forecasting.schema import QUANTILES, make_forecast

HOUR = pd.Timedelta("1h")
CLIP = {"kp": (0.0, 9.0)}
#: hourly leads 1..24 h
LEADS_24H = pd.to_timedelta(range(1, 25), "h")


def _known(series: pd.Series, name: str, t: pd.Timestamp, window: pd.Timedelta) -> pd.Series:
    s = series[(series.index >= t - window) & (series.index < t)]
    ok = timeconv.interval_end(name, s.index) <= t
    return s[np.asarray(ok)]


def persistence_spread(
    observed: xr.Dataset,
    init_times: Sequence | pd.DatetimeIndex,
    lead_times: Sequence | pd.TimedeltaIndex = LEADS_24H,
    *,
    names: Sequence[str] = ("dst", "kp"),
    window: str = "30D",
    quantiles: Sequence[float] = QUANTILES,
) -> xr.Dataset:
    """Persistence with empirical spread: last known value + quantiles of real L-hour changes.

    For issue time t and lead L the target is the hour labelled t + L - 1 h; the changes are
    ``x(h + L') - x(h)`` over the known part of ``[t - window, t)``, with L' = L plus the age of
    the newest known value (so a 3-hourly Kp known 2 h late gets the spread of a longer step).
    """
    inits = pd.DatetimeIndex(init_times)
    leads = pd.TimedeltaIndex(lead_times)
    win = pd.Timedelta(window)
    q = np.asarray(quantiles, dtype=float)
    values = {n: np.full((len(inits), len(leads), len(q)), np.nan) for n in names}
    cutoff = []
    for i, t in enumerate(inits):
        newest = []
        for n in names:
            s = _known(observed[n].to_series().astype(float), n, t, win).dropna()
            if len(s) < 48:
                continue
            last_label = s.index[-1]
            newest.append(timeconv.interval_end(n, [last_label])[0])
            hourly = s.asfreq("1h")
            for j, lead in enumerate(leads):
                step = int((t + lead - HOUR - last_label) / HOUR)
                change = (hourly.shift(-step) - hourly).dropna()
                if len(change) < 24:
                    continue
                qs = s.iloc[-1] + np.quantile(change.to_numpy(), q)
                lo, hi = CLIP.get(n, (-np.inf, np.inf))
                values[n][i, j] = np.clip(qs, lo, hi)
        cutoff.append(max(newest) if newest else t)
    return make_forecast(
        values,
        init_time=inits,
        lead_time=leads,
        quantiles=q,
        model="persistence_spread",
        model_version="example",
        data_cutoff=max(cutoff) if cutoff else None,
        extra_attrs={
            "description": "persistence + empirical spread of real changes "
            f"over the previous {window} (tests.support.examples)"
        },
    )


def climatology_window(
    observed: xr.Dataset,
    init_times: Sequence | pd.DatetimeIndex,
    lead_times: Sequence | pd.TimedeltaIndex = LEADS_24H,
    *,
    names: Sequence[str] = ("dst", "kp"),
    window: str = "30D",
    quantiles: Sequence[float] = QUANTILES,
) -> xr.Dataset:
    """Quantiles of the values known in ``[t - window, t)``, the same for every lead."""
    inits = pd.DatetimeIndex(init_times)
    leads = pd.TimedeltaIndex(lead_times)
    q = np.asarray(quantiles, dtype=float)
    values = {n: np.full((len(inits), len(leads), len(q)), np.nan) for n in names}
    for i, t in enumerate(inits):
        for n in names:
            s = _known(observed[n].to_series().astype(float), n, t, pd.Timedelta(window)).dropna()
            if len(s) >= 48:
                values[n][i, :, :] = np.quantile(s.to_numpy(), q)[None, :]
    return make_forecast(
        values,
        init_time=inits,
        lead_time=leads,
        quantiles=q,
        model="climatology_window",
        model_version="example",
        extra_attrs={"description": f"quantiles of the previous {window} (tests.support.examples)"},
    )


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
