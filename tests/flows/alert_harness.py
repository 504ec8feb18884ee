"""Shared harness of the alert-path fault tests (issue 11): the 2015-03-17 storm replayed as if live.

Recorded data: the 2015-03-17 storm in ``omni2_2015_hourlyavg.dat`` (Kp 5+ at 06-09 UT, 8- at
12-15 UT; Dst minimum -223 nT at 22 UT), persistence as the primary model (no TFT registered).
The webhook receiver (:class:`tests.forecasting.alerting.test_delivery.Receiver`) honours
``Idempotency-Key``: ``payloads`` are the deliveries an operator sees, ``keys`` every request.
The fixtures (``recorded``, ``receiver``, ``fast_retries``) are in ``tests/flows/conftest.py``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from flows import forecast as ff
from forecasting.alerting.log import AlertLog
from tests.forecasting.alerting.test_delivery import Receiver

REPO = Path(__file__).resolve().parents[2]
DAY = pd.Timestamp("2015-03-17")


def at(h: float) -> pd.Timestamp:
    return DAY + pd.Timedelta(hours=h)


def run(t, recorded, **kw):
    kw.setdefault("dashboards", False)
    return ff.run_forecast(t, live=False, recorded=recorded, baselines=(), **kw)


def replay(start, end, recorded, **kw):
    return ff.replay(start, end, recorded=recorded, baselines=(), **kw)


def duplicates(values) -> int:
    return sum(n - 1 for n in Counter(values).values() if n > 1)


def product_keys(log: AlertLog) -> list[tuple]:
    """(kind, family, level, episode) of every issue/escalate: each must appear once."""
    return [
        (m["kind"], m["family"], m["level"], m["episode"], m["valid_start"])
        for m in log.messages()
        if m["action"] in ("issue", "escalate")
    ]


def lost(log: AlertLog) -> list[int]:
    """Serials operators must get that no delivery (own or grouped) carried."""
    return [m["serial"] for m in log.undelivered()]


def carried(receiver: Receiver) -> list[int]:
    """Serials that reached the operator, directly or grouped into a later message."""
    out = []
    for p in receiver.payloads:
        body = json.loads(p["body"])
        out += [body["serial"]] + [g["serial"] for g in body.get("grouped", [])]
    return out
