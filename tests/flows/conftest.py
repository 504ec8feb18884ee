"""Fixtures of the flow tests: the recorded 2015 storm, a webhook receiver, fast retries."""

from __future__ import annotations

import functools

import pytest

from data_sources.omni2 import parse_omni2
from forecasting.alerting import delivery
from tests.forecasting.alerting.test_delivery import Receiver


@pytest.fixture(scope="module")
def recorded(data_dir, tmp_path_factory):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")
    path = tmp_path_factory.mktemp("rec") / "omni2_2015_q1.nc"
    ds.sel(time=slice("2015-01-01", "2015-03-31")).to_netcdf(path)
    return path


@pytest.fixture
def receiver(monkeypatch):
    r = Receiver()
    monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", r.url)
    monkeypatch.delenv("SUPERSTORM_ALERT_BLOCK", raising=False)
    yield r
    r.stop()


@pytest.fixture
def fast_retries(monkeypatch):
    """Delivery retries without the 1-2-4 s pauses (the logic is the same)."""
    monkeypatch.setattr(
        delivery,
        "deliver_pending",
        functools.partial(delivery.deliver_pending, retry_delays=(0.01,)),
    )
