r"""Per-lead recalibration of a model's event probabilities, fitted on the validation years.

A probability of an event such as P(Kp >= 5-) or P(Dst <= -100 nT) read off the forecast
quantiles (:func:`forecasting.schema.exceedance_probability`) is only as reliable as the
quantiles' tails. At long leads the TFT's tails are too confident: on the validation years
2013-2014 its P(G1) had a Brier skill of -0.20 at 12 h and -0.34 at 24 h against the training
years' base rate. A Platt map per event and lead time (Platt 1999),

.. math::

    p' = \sigma(a_{e,h}\, \mathrm{logit}(p) + b_{e,h}),

fitted by penalised maximum likelihood on the validation years, restores it (cross-fitted
2013 <-> 2014: Brier skill of P(G1) +0.05 at 12 h, +0.04 at 24 h). The map is monotone
(``a > 0``), so it reorders nothing; the penalty ``l2 ((a - 1)^2 + b^2)`` pulls a map fitted
on few events toward the identity. Events with fewer than ``min_events`` occurrences at a lead
keep the raw probability there.

The fitted table is JSON in the model's ``metadata.json`` (``event_calibration``);
:func:`forecasting.models.predict.predict_many` copies each target's part into the forecast
variable's :data:`forecasting.schema.EVENT_CALIBRATION_ATTR`, and
:func:`~forecasting.schema.exceedance_probability` applies it, so alerts, products,
dashboards and scores all see the same recalibrated probability.

Platt, J. (1999), Probabilistic outputs for support vector machines and comparisons to
regularized likelihood methods, in *Advances in Large Margin Classifiers*, MIT Press.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import timeconv
from forecasting import schema
from forecasting.verification import scores

#: format tag of the stored table (bump when its layout changes)
FORMAT = "platt-per-lead-v1"
#: fewest occurrences of an event at a lead for that lead to get its own map
MIN_EVENTS = 10
#: strength of the pull toward the identity map (a = 1, b = 0)
L2 = 1.0
#: the map's slope is kept in this range (monotone, never flat)
SLOPE_RANGE = (0.05, 5.0)


def fit_platt(p: np.ndarray, occurred: np.ndarray, *, l2: float = L2) -> tuple[float, float]:
    """Fit ``(a, b)`` of :func:`forecasting.schema.platt` by penalised maximum likelihood.

    Damped Newton's method (backtracking) on the Bernoulli log-likelihood of ``occurred`` given
    ``sigmoid(a logit(p) + b)``, plus ``l2 ((a - 1)^2 + b^2)``.

    Parameters
    ----------
    p
        Raw probabilities [1] (finite).
    occurred
        Outcomes, 1.0 event, 0.0 none (same shape as ``p``).
    l2
        Penalty toward the identity map (0: plain maximum likelihood).

    Returns
    -------
    (float, float)
        Slope ``a`` (clipped to :data:`SLOPE_RANGE`) and intercept ``b``.
    """
    q = np.clip(np.asarray(p, dtype=float), schema.PLATT_EPS, 1.0 - schema.PLATT_EPS)
    x = np.log(q / (1.0 - q))
    o = np.asarray(occurred, dtype=float)
    prior = np.array([1.0, 0.0])

    def loss(th: np.ndarray) -> float:
        z = th[0] * x + th[1]
        return float(np.sum(np.logaddexp(0.0, z) - o * z) + l2 * np.sum((th - prior) ** 2))

    theta = prior.copy()
    current = loss(theta)
    for _ in range(100):
        z = theta[0] * x + theta[1]
        s = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow
        r = s - o
        grad = np.array([np.sum(r * x), np.sum(r)]) + 2.0 * l2 * (theta - prior)
        w = s * (1.0 - s)
        hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hess + (2.0 * l2 + 1e-9) * np.eye(2), grad)
        t = 1.0
        while t > 1e-6:  # backtracking: Newton overshoots on overconfident inputs
            trial = theta - t * step
            trial[0] = float(np.clip(trial[0], *SLOPE_RANGE))
            value = loss(trial)
            if value <= current:
                break
            t *= 0.5
        else:
            break
        done = current - value < 1e-10 * max(1.0, abs(current))
        theta, current = trial, value
        if done:
            break
    return float(theta[0]), float(theta[1])


def fit_event_calibration(
    forecast: xr.Dataset,
    observed: xr.Dataset,
    *,
    events: Sequence[scores.Event] = scores.DECISION_EVENTS,
    min_events: int = MIN_EVENTS,
    l2: float = L2,
    fitted_on: str = "",
) -> dict:
    """Fit a Platt map per event and lead time on a validation-year forecast.

    Fit it on the validation years only (hourly issue times give the rare events enough
    occurrences), never on the test years.

    Parameters
    ----------
    forecast
        The model's forecast (:mod:`forecasting.schema`) issued in the validation years, as
        it will be served (after its quantile calibration), without event recalibration.
    observed
        Hourly observations (``dst`` [nT], ``kp``) covering the forecasts' target hours.
    events
        Events to fit (default: P(Kp >= 5-..9-) and P(Dst <= -50/-100/-250 nT),
        :data:`forecasting.verification.scores.DECISION_EVENTS`).
    min_events
        Fewest occurrences at a lead for that lead to get a map; rarer leads keep ``a = 1,
        b = 0`` and are listed in ``n_events``.
    l2
        Penalty toward the identity map.
    fitted_on
        Free text saying what it was fitted on (``"years 2013, 2014"``).

    Returns
    -------
    dict
        JSON-ready: ``format``, ``method``, ``fitted_on``, ``n_init``, ``min_events``, ``l2``,
        and ``events``: event name -> ``target``, ``threshold`` (target units), ``below``,
        ``lead_hours``, ``a``, ``b``, ``n``
        (pairs) and ``n_events`` (occurrences) per lead. Events with no fitted lead are left
        out.
    """
    hours = pd.TimedeltaIndex(forecast["lead_time"].values) / pd.Timedelta("1h")
    lead_hours = [int(round(h)) for h in hours]
    out: dict = {
        "format": FORMAT,
        "method": (
            "Platt (1999) map sigmoid(a logit(p) + b) per event and lead time, penalised "
            f"toward the identity (l2 = {l2:g}); leads with fewer than {min_events} events "
            "keep the raw probability"
        ),
        "fitted_on": fitted_on,
        "n_init": int(forecast.sizes["init_time"]),
        "min_events": int(min_events),
        "l2": float(l2),
        "events": {},
    }
    for event in events:
        if event.target not in forecast or event.target not in observed:
            continue
        p = scores.event_probability(_raw(forecast), event).transpose("init_time", "lead_time")
        obs = timeconv.observed_for(forecast, observed, event.target)
        hit = event.occurred(obs).astype(float).where(np.isfinite(obs))
        o = hit.transpose("init_time", "lead_time").values
        pv = p.values
        a, b, n, k = [], [], [], []
        for j in range(len(lead_hours)):
            ok = np.isfinite(pv[:, j]) & np.isfinite(o[:, j])
            n.append(int(ok.sum()))
            k.append(int(o[ok, j].sum()))
            fit = fit_platt(pv[ok, j], o[ok, j], l2=l2) if k[-1] >= min_events else (1.0, 0.0)
            a.append(round(fit[0], 6))
            b.append(round(fit[1], 6))
        if max(k, default=0) < min_events:
            continue
        out["events"][event.name] = {
            "target": event.target,
            "threshold": float(event.threshold),
            "below": bool(event.below),
            "lead_hours": lead_hours,
            "a": a,
            "b": b,
            "n": n,
            "n_events": k,
        }
    return out


def _raw(forecast: xr.Dataset) -> xr.Dataset:
    """``forecast`` with any event recalibration removed from its variables."""
    out = forecast.copy()
    for name in out.data_vars:
        out[name].attrs.pop(schema.EVENT_CALIBRATION_ATTR, None)
    return out


def attach_event_calibration(forecast: xr.Dataset, table: dict) -> xr.Dataset:
    """Copy each target's maps of ``table`` into its variable's attribute (a new dataset).

    Parameters
    ----------
    forecast
        A forecast of the model the table was fitted for.
    table
        A mapping from :func:`fit_event_calibration` (``model.metadata["event_calibration"]``).

    Returns
    -------
    xr.Dataset
        ``forecast`` whose ``dst`` / ``kp`` carry
        :data:`forecasting.schema.EVENT_CALIBRATION_ATTR` (compact JSON of their events), and
        a dataset attribute ``event_calibration`` naming the method and what it was fitted on.

    Raises
    ------
    ValueError
        If the table's format is not :data:`FORMAT`.
    """
    if table.get("format") != FORMAT:
        raise ValueError(
            f"event calibration format {table.get('format')!r} is not {FORMAT!r}; refit it "
            "with forecasting.models.event_calibration.fit_event_calibration"
        )
    out = forecast.copy()
    for name in out.data_vars:
        part = {
            ev: {key: entry[key] for key in ("threshold", "lead_hours", "a", "b") if key in entry}
            for ev, entry in table["events"].items()
            if entry["target"] == name
        }
        if part:
            out[name].attrs[schema.EVENT_CALIBRATION_ATTR] = json.dumps(part, separators=(",", ":"))
    out.attrs["event_calibration"] = (
        f"{table['format']}: {table.get('method', '')}; fitted on "
        f"{table.get('fitted_on') or 'unspecified data'}"
    )
    return out
