"""The Prefect forecast flow (under prefect_test_harness) and the input fallback chain."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import xarray as xr

from data_sources.live import refresh_inputs
from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from flows import forecast as ff
from forecasting import archive
from forecasting.alerting.log import AlertLog

ISSUE = pd.Timestamp("2024-05-08 18:00")  # end of the recorded SWPC plasma week
PLASMA = "services.swpc.noaa.gov/products/solar-wind/plasma-7-day.json"


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def recorded(data_dir, tmp_path_factory):
    ds = parse_omni2(data_dir / "omni2_low_res" / "omni2_2015_hourlyavg.dat")
    path = tmp_path_factory.mktemp("rec") / "omni2_2015_q1.nc"
    ds.sel(time=slice("2015-01-01", "2015-03-31")).to_netcdf(path)
    return path


def test_live_inputs_priority_and_freshness(mirrored_home):
    """SWPC real time first; Kyoto Dst missing for May 2024 -> next sources; reported."""
    res = refresh_inputs(ISSUE, lookback="3D")
    fr = res["freshness"]
    assert fr["solar_wind"]["source"] == "swpc_rtsw" and not fr["solar_wind"]["stale"]
    assert fr["solar_wind"]["newest"] == "2024-05-08T18:00:00Z"
    assert fr["kp"]["source"] == "swpc_kp" and not fr["kp"]["stale"]
    assert fr["dst"]["stale"] and fr["dst"]["source"] is None
    assert [s.split(":")[0] for s in fr["dst"]["tried"]] == ["kyoto_dst", "swpc_dst", "store"]
    with xr.open_dataset(res["path"]) as ds:
        assert pd.Timestamp(ds["time"].values[-1]) == ISSUE - pd.Timedelta("1h")
        # Kp of 15-18 UT is known at 18:00, the next block is not in the file
        assert float(ds["kp"].sel(time="2024-05-08 17:00")) == pytest.approx(2.0)
        assert ds["v_sw"].attrs["input_source"] == "swpc_rtsw"


def test_down_source_falls_back_to_store(mirrored_home, fresh_mirror, data_dir):
    """SWPC plasma answers HTTP 500: solar wind and Dst come from the store (OMNI2)."""
    Store().write(
        "omni2",
        parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat").sel(
            time=slice("2024-04-01", "2024-05-31")
        ),
    )
    fresh_mirror.faults.fail_next[PLASMA] = 100
    fr = refresh_inputs(ISSUE, lookback="3D")["freshness"]
    assert fr["solar_wind"]["source"] == "store" and not fr["solar_wind"]["stale"]
    assert fr["solar_wind"]["tried"][0].startswith("swpc_rtsw: failed")
    assert fr["dst"]["source"] == "store" and not fr["dst"]["stale"]
    assert fr["kp"]["source"] == "swpc_kp"


@pytest.mark.slow  # the temporary Prefect server takes ~40 s to start on a busy machine
def test_forecast_flow_under_prefect(harness, recorded, home, monkeypatch):
    monkeypatch.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)
    t = pd.Timestamp("2015-03-17 10:00")
    state = ff.forecast_flow(
        issue_time=t.isoformat(),
        live=False,
        recorded=str(recorded),
        baselines=["persistence", "climatology"],
        deliver=True,
        dashboards=True,
        return_state=True,
    )
    assert state.is_completed(), state
    res = state.result()
    assert [m["model"] for m in res["models"]] == ["persistence", "climatology"]
    assert set(archive.models()) == {"persistence", "climatology"}
    assert archive.list_issues("climatology")["issue_time"].tolist() == [t]
    log = AlertLog()
    assert log.has_run(t) and res["alert_serials"] == [m["serial"] for m in log.messages()]
    # Kp 6- of 06-09 UT is G2 on the SWPC scale in thirds (forecasting.schema.G_SCALE)
    assert {(m["kind"], m["level"]) for m in log.messages()} >= {
        ("ALERT", "G2"),
        ("ALERT", "DST50"),
    }
    assert json.loads((home / "alerts" / "active.json").read_text())["alerts"]
    assert (home / "site").is_dir() and any((home / "site").glob("*.html"))

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts()
    summary = [a for a in arts if a.key == "forecast-summary"]
    assert summary and "Input freshness" in summary[0].data
    assert "max probability over 24 h" in summary[0].data

    # delivery through a *saved* notification block chosen by name, and a replay through
    # the Prefect flow hour by hour: the pending messages of 10:00 go out at 11:00
    from forecasting.alerting.delivery import webhook_block
    from tests.forecasting.alerting.test_delivery import Receiver

    r = Receiver()
    try:
        webhook_block(r.url).save("ops-test", overwrite=True)
        monkeypatch.setenv("SUPERSTORM_ALERT_BLOCK", "custom-webhook/ops-test")
        runs = ff.replay(
            "2015-03-17 11:00",
            "2015-03-17 13:00",
            recorded=recorded,
            baselines=[],
            use_prefect=True,
        )
        assert [pd.Timestamp(x["issue_time"]) for x in runs] == [
            pd.Timestamp("2015-03-17 11:00"),
            pd.Timestamp("2015-03-17 12:00"),
        ]
        assert log.has_run("2015-03-17 12:00") and log.undelivered() == []
        sent = [json.loads(p["body"])["serial"] for p in r.payloads]
        assert sent == [m["serial"] for m in log.messages() if m["notify"]]
        assert all(d["channel"] == "block" for d in log.deliveries())
    finally:
        r.stop()
