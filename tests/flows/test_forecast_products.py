"""The forecast flow's 72-h lead grid, its SWPC-layout products and what it shows in Prefect.

A promoted 72-h model stands in as persistence on the 1..72 h grid (a TFT takes minutes to
train); under Prefect the per-model task-run names, the project's own warning about a failed
SWPC source and the link artifacts are read back from the Prefect API.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from types import SimpleNamespace

import pandas as pd
import pytest
import xarray as xr

from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from flows import forecast as ff
from forecasting import archive

ISSUE = pd.Timestamp("2024-05-08 18:00")  # end of the recorded SWPC plasma week
PLASMA = "services.swpc.noaa.gov/products/solar-wind/plasma-7-day.json"


class Model72:
    """A promoted model with a 72-h horizon (persistence on the 1..72 h grid)."""

    name = "tft"
    supported = ("dst", "kp")

    def __init__(self) -> None:
        self.model = SimpleNamespace(config=SimpleNamespace(horizon=72), version="fake72")

    def forecast(self, ds, init_times, lead_times, *, targets=("dst", "kp")) -> xr.Dataset:
        base = ff.fitted_baseline("persistence", init_times[0], leads=lead_times)
        fc = base.forecast(ds, init_times, lead_times, targets=targets)
        fc.attrs.update(model="tft", model_version="fake72")
        return fc


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_lead_grid_comes_from_the_model():
    assert len(ff.lead_grid(None)) == 24
    assert ff.lead_grid(Model72())[-1] == pd.Timedelta("72h")


def test_log_forwarding_is_silent_outside_a_run():
    attached = ff.forward_project_logs()
    assert ff.forward_project_logs() == []  # once per process
    assert set(attached) <= set(ff.PROJECT_LOGGERS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "without a flow run id" warning
        logging.getLogger("data_sources.test").warning("outside any run")


@pytest.mark.slow  # the temporary Prefect server takes ~40 s to start on a busy machine
def test_72h_run_writes_products_and_names_tasks(
    harness, mirrored_home, fresh_mirror, data_dir, monkeypatch
):
    home = mirrored_home
    Store().write(
        "omni2",
        parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat").sel(
            time=slice("2024-04-01", "2024-05-31")
        ),
    )
    fresh_mirror.faults.fail_next[PLASMA] = 100
    monkeypatch.setattr(ff, "current_tft", lambda: (Model72(), ""))
    from forecasting.models import registry

    monkeypatch.setattr(registry, "current", lambda home=None: "fake72")
    monkeypatch.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)
    state = ff.forecast_flow(
        issue_time=ISSUE.isoformat(),
        live=True,
        baselines=["persistence", "burton"],
        deliver=False,
        dashboards=True,
        return_state=True,
    )
    assert state.is_completed(), state
    res = state.result()
    assert [(m["model"], m["horizon"]) for m in res["models"]] == [
        ("tft", 72),
        ("persistence", 72),
        ("burton", 72),
    ]
    fc = archive.load(ISSUE, "tft")
    assert fc.sizes["lead_time"] == 72

    products = home / "products"
    assert sorted(p.name for p in products.iterdir()) == [
        "3-day-forecast.txt",
        "alerts.json",
        "dst-forecast.json",
        "kp-forecast.json",
    ]
    text = (products / "3-day-forecast.txt").read_text()
    assert ":Issued: 2024 May 08 1800 UTC" in text
    assert "Kp index breakdown May 08-May 10 2024" in text
    assert "n/a" not in text.split("Kp index breakdown")[1].split("Geomagnetic Activity")[0]
    kp = json.loads((products / "kp-forecast.json").read_text())
    assert kp[-1][0] == "2024-05-11 15:00:00" and kp[-1][2] == "predicted"  # lead 72 h
    dst = json.loads((products / "dst-forecast.json").read_text())
    assert sum(r[2] == "predicted" for r in dst[1:]) == 72
    assert isinstance(json.loads((products / "alerts.json").read_text()), list)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()
        logs = client.read_logs()
        arts = {a.key: a for a in client.read_artifacts()}
    names = {r.name for r in runs}
    assert {"forecast-tft", "forecast-persistence", "forecast-burton"} <= names
    lines = [entry.message for entry in logs if entry.flow_run_id == flow_run_id]
    assert any(re.search(r"input solar_wind: swpc_rtsw: failed", m) for m in lines), lines
    assert {"superstorm-products", "superstorm-dashboard", "forecast-summary"} <= set(arts)
    assert arts["superstorm-products"].data.startswith("[")  # a markdown link
    assert "3-day-forecast.txt" in arts["superstorm-products"].data
