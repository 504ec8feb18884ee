"""The probability figure says at which probability the alert rules act on each level."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dashboards import figures
from forecasting import schema
from forecasting.alerting.rules import DECISION_ATTR


def _fc() -> object:
    q = len(schema.QUANTILES)
    return schema.make_forecast(
        {"dst": np.full((1, 3, q), -20.0), "kp": np.full((1, 3, q), 3.0)},
        init_time=[pd.Timestamp("2015-03-17 12:00")],
        lead_time=pd.to_timedelta([1, 2, 3], unit="h"),
        model="tft",
        model_version="v",
    )


def test_note_names_the_models_decision_probabilities():
    fc = _fc()
    assert figures.decision_probabilities_note(fc) == "WARNING/WATCH at P >= 50% (fixed rule)"
    fc.attrs[DECISION_ATTR] = json.dumps({"kp>=4.67": 0.3, "dst<=-100": 0.15})
    note = figures.decision_probabilities_note(fc)
    assert "G1 30%" in note and "Dst <= -100 nT 15%" in note and "other levels 50%" in note
    fig = figures.probability_figure(fc)
    assert any(a.text == note for a in fig.layout.annotations)
