"""Live tests against the real upstream servers: opt-in with ``pytest -m network``.

They run the same getters as every other test, with the default (real) base URLs, into an
isolated cache. Deselected by default (``addopts = -m 'not network'``); never run in CI.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.network


@pytest.fixture(autouse=True)
def real_servers(home, monkeypatch):
    for var in (
        "SUPERSTORM_MIRROR",
        "SUPERSTORM_URL_OMNI2",
        "SUPERSTORM_URL_KYOTO_DST",
        "SUPERSTORM_URL_GFZ_KP",
        "SUPERSTORM_URL_SWPC",
        "SUPERSTORM_URL_CELESTRAK",
    ):
        monkeypatch.delenv(var, raising=False)


def test_omni2_spdf():
    from data_sources.omni2 import get_omni2

    ds = get_omni2("2024-05-10", "2024-05-12")
    assert ds.sizes["time"] == 48
    assert float(ds.dst.min()) < -300  # the May 2024 superstorm


def test_kyoto_dst_wdc():
    from data_sources.kyoto_dst import get_kyoto_dst

    ds = get_kyoto_dst("2015-03-17", "2015-03-19")
    assert ds.sizes["time"] == 48
    assert float(ds.dst.min()) < -200


def test_gfz_kp_file_and_json():
    from data_sources.gfz_kp import get_gfz_kp

    for method in ("file", "json"):
        ds = get_gfz_kp("2024-05-10", "2024-05-12", method=method)
        assert float(ds.kp.max()) == pytest.approx(9.0)


def test_swpc_realtime_products():
    from data_sources import swpc

    now = pd.Timestamp.now("UTC").tz_localize(None)
    for get in (swpc.get_swpc_plasma, swpc.get_swpc_mag, swpc.get_swpc_kp, swpc.get_swpc_dst):
        ds = get(now - pd.Timedelta("3D"), now)
        assert ds.sizes["time"] > 0
        newest = pd.Timestamp(ds.time.values[-1])
        assert now - newest < pd.Timedelta("1D"), f"{get.__name__}: newest sample {newest}"


def test_celestrak_download():
    from data_sources.celestrak import get_celestrak

    ds = get_celestrak("2024-05-10", "2024-05-12", download=True)
    assert np.nanmax(ds.kp.values) == pytest.approx(9.0)


def test_solar_indices_swpc():
    from data_sources.solar_indices import get_solar_indices

    ds = get_solar_indices("2020-01-01", "2021-01-01")
    assert ds.sizes["time"] == 12
