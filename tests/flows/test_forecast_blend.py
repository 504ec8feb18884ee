"""The forecast flow runs the current TFT's stored blend as model ``blend`` (issue 9).

A tiny promoted TFT (seconds) with its stored blend, recorded OMNI2 of Dec 2005 - Jan 2006,
and synthetic validation reports as the evidence; no Prefect server (``run_forecast``).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from flows import forecast as ff
from forecasting import archive
from forecasting.alerting.rules import DECISION_ATTR, model_event_probabilities
from forecasting.models import promotion, stored_blend
from forecasting.models.train import train
from forecasting.splits import YearSplit

warnings.filterwarnings("ignore")

SPLIT = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, 2007))
BASELINES = ("persistence", "obrien_mcpherron")


@pytest.fixture(scope="module")
def stored(omni_2005_2006, tmp_path_factory, tiny_tft):
    """A home with a promoted tiny TFT and its stored blend; the recorded inputs file."""
    ds = omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))
    home = tmp_path_factory.mktemp("blendhome")
    version = train("quick", data=ds, split=SPLIT, out=home, overrides=tiny_tft, promote=True)
    record = stored_blend.fit_blend(version, home=home, data=ds)
    recorded = home / "omni2_2005_2006.nc"
    ds.to_netcdf(recorded)
    return home, version, record, recorded


@pytest.fixture
def run(stored, monkeypatch):
    home, version, record, recorded = stored
    monkeypatch.setenv("SUPERSTORM_HOME", str(home))
    monkeypatch.delenv("SUPERSTORM_ALERT_WEBHOOK", raising=False)

    def go(t: str) -> dict:
        return ff.run_forecast(
            pd.Timestamp(t),
            live=False,
            recorded=recorded,
            baselines=BASELINES,
            deliver=False,
            dashboards=False,
            strict=False,
        )

    return go


def _report(path, versions: str, *, part: str = "validate") -> None:
    """Storm-time RMSE (model; TFT on the same pairs): the blend verified best for Dst."""
    models = ["tft", "persistence", "obrien_mcpherron", "blend"]
    lead = pd.to_timedelta([1, 6, 12], unit="h")
    own = np.array(
        [
            [[10.0, 30.0, 40.0], [12.0, 36.0, 48.0], [9.0, 27.0, 36.0], [8.0, 24.0, 32.0]],
            [[0.5, 1.0, 1.2], [0.6, 1.2, 1.4], [np.nan] * 3, [0.55, 1.1, 1.3]],
        ]
    )
    ref = np.array(
        [
            [[10.0, 30.0, 40.0]] * 4,
            [[0.5, 1.0, 1.2], [0.5, 1.0, 1.2], [np.nan] * 3, [0.5, 1.0, 1.2]],
        ]
    )
    dims = ("target", "model", "lead_time")
    xr.Dataset(
        {"storm_time_rmse": (dims, own), "storm_time_rmse_of_reference": (dims, ref)},
        coords={"target": ["dst", "kp"], "model": models, "lead_time": lead.values},
        attrs={"scored_part": part, "scored_years": "2006", "model_versions": versions},
    ).to_netcdf(path)


def _versions(version: str, blend: str) -> str:
    return f"tft={version};persistence=1;obrien_mcpherron=1;blend={blend}"


def _validation_report(stored, blend_version: str | None = None) -> None:
    home, version, record, _ = stored
    folder = home / "reports" / "validation"
    folder.mkdir(parents=True, exist_ok=True)
    _report(folder / "skill.nc", _versions(version, blend_version or record.version))


def test_a_stored_blend_is_archived_and_chosen_where_it_verified_best(stored, run):
    home, version, record, _ = stored
    _validation_report(stored)
    res = run("2006-01-20 12:00")
    by_name = {m["model"]: m for m in res["models"]}
    assert list(by_name) == ["tft", *BASELINES, "blend"]
    blend = by_name["blend"]
    assert blend["path"] and blend["version"] == record.version and blend["horizon"] == 24
    t = pd.Timestamp("2006-01-20 12:00")
    assert "blend" in archive.models() and archive.list_issues("blend")["issue_time"].tolist() == [
        t
    ]
    fc = archive.load(t, "blend")
    assert fc.attrs["members"] == "tft,obrien_mcpherron,persistence"
    assert fc.attrs["model_version"] == record.version
    # the evidence ranks the blend first for Dst, the TFT for Kp
    assert res["primary"]["primary"] == {"dst": "blend", "kp": "tft"}
    assert "verified best" in res["primary"]["basis"]["dst"]
    assert "blend 0.80" in res["primary"]["basis"]["dst"]
    primary = archive.load(t, archive.PRIMARY)
    np.testing.assert_allclose(primary["dst"].values, fc["dst"].values)
    assert "blend=" in primary.attrs["model_version"]
    # the alerts use the blend's own decision probabilities for Dst (chosen at its fit)
    want, _ = model_event_probabilities(
        {"decision_thresholds": record.decision_thresholds}, ("dst",)
    )
    used = json.loads(primary.attrs.get(DECISION_ATTR, "{}"))
    assert {k: v for k, v in used.items() if k.startswith("dst")} == want
    # a re-run reuses the archived blend
    again = run("2006-01-20 12:00")
    assert {m["model"]: m for m in again["models"]}["blend"]["note"] == "reused archive"


def test_figures_about_another_fit_of_the_blend_are_left_out(stored, run):
    home, version, record, _ = stored
    _validation_report(stored, blend_version=version + "@20000101T000000Z")
    res = run("2006-01-20 13:00")
    assert res["primary"]["primary"]["dst"] == "obrien_mcpherron"  # next best, 0.90
    assert "blend left out" in res["primary"]["basis"]["dst"]
    assert "blend 0.80" not in res["primary"]["basis"]["dst"]


def test_an_unusable_blend_is_logged_and_the_run_goes_on(stored, run, caplog):
    home, version, record, _ = stored
    _validation_report(stored)
    path = record.path
    good = path.read_text()
    try:
        path.write_text(good.replace(stored_blend.FORMAT, "superstorm-blend/0"))
        with caplog.at_level("WARNING", logger="flows.forecast"):
            res = run("2006-01-20 14:00")
    finally:
        path.write_text(good)
    blend = {m["model"]: m for m in res["models"]}["blend"]
    assert blend["path"] is None and str(path) in blend["note"]
    assert f"superstorm blend --version {version}" in blend["note"]
    assert any("blend not run" in r.getMessage() for r in caplog.records)
    assert not archive.path_for("blend", pd.Timestamp("2006-01-20 14:00")).exists()
    # the blend that did not run is passed over, said so; the next verified model is primary
    assert res["primary"]["primary"]["dst"] == "obrien_mcpherron"
    assert "blend: no finite dst forecast this hour" in res["primary"]["basis"]["dst"]
    assert res["primary"]["path"] and res["alerts"]["unavailable"] == ""


def test_no_stored_blend_runs_no_blend_step(stored, run):
    home, version, record, _ = stored
    path = record.path
    good = path.read_text()
    path.unlink()
    try:
        res = run("2006-01-20 15:00")
    finally:
        path.write_text(good)
    assert [m["model"] for m in res["models"]] == ["tft", *BASELINES]


def test_a_test_year_report_with_the_blend_is_never_evidence(stored, tmp_path):
    home, version, record, _ = stored
    _report(tmp_path / "skill.nc", _versions(version, record.version), part="test")
    ev, why = promotion.load_primary_evidence(
        version, tmp_path, tmp_path / "none.jsonl", versions={"blend": record.version}
    )
    assert ev is None and "not the validation years" in why
    # the same figures on the validation years are evidence, the blend ranked first for Dst
    (tmp_path / "validation").mkdir()
    _report(tmp_path / "validation" / "skill.nc", _versions(version, record.version))
    ev, _ = promotion.load_primary_evidence(
        version, tmp_path, tmp_path / "none.jsonl", versions={"blend": record.version}
    )
    assert ev is not None and min(ev.ratios["dst"], key=ev.ratios["dst"].get) == "blend"
