"""The forecast flow's primary model per target (issue 9 §3) and the alert decision probabilities.

Synthetic forecasts and evidence files only (no Prefect, no training): each test runs in well
under a second.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting import archive, schema
from forecasting.alerting import rules
from forecasting.models import promotion

T0 = pd.Timestamp("2015-03-17 12:00")
LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
VERSION = "20261201T120000-full"


def _fc(name: str, dst: float, kp: float, *, version: str = "v1") -> xr.Dataset:
    q = np.array(schema.QUANTILES)
    spread = (q - 0.5)[None, None, :]
    return schema.make_forecast(
        {
            "dst": np.full((1, len(LEADS), len(q)), dst) + 40.0 * spread,
            "kp": np.full((1, len(LEADS), len(q)), kp) + 4.0 * spread,
        },
        init_time=[T0],
        lead_time=LEADS,
        model=name,
        model_version=version,
    )


def _report(path, *, part: str = "validate", version: str = VERSION) -> None:
    """A validation skill report: O'Brien-McPherron beats the TFT in storm time for Dst."""
    models = ["tft", "persistence", "obrien_mcpherron"]
    lead = pd.to_timedelta([1, 6, 12, 24], unit="h")
    own = np.array(
        [
            [[10.0, 30.0, 40.0, 60.0], [12.0, 35.0, 50.0, 60.0], [7.0, 25.0, 36.0, 99.0]],
            [[0.5, 1.0, 1.2, 1.4], [0.6, 1.3, 1.5, 1.6], [np.nan] * 4],
        ]
    )
    ref = np.array(
        [
            [[10.0, 30.0, 40.0, 60.0], [10.0, 30.0, 40.0, 60.0], [9.0, 29.0, 41.0, 60.0]],
            [[0.5, 1.0, 1.2, 1.4], [0.5, 1.0, 1.2, 1.4], [np.nan] * 4],
        ]
    )
    dims = ("target", "model", "lead_time")
    ds = xr.Dataset(
        {"storm_time_rmse": (dims, own), "storm_time_rmse_of_reference": (dims, ref)},
        coords={"target": ["dst", "kp"], "model": models, "lead_time": lead.values},
        attrs={
            "scored_part": part,
            "scored_years": "2013,2014",
            "model_versions": f"tft={version};persistence=;obrien_mcpherron=",
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)


def test_report_ratios_rank_models_against_the_tft_on_shared_pairs(tmp_path):
    _report(tmp_path / "validation" / "skill.nc")
    ev, why = promotion.load_primary_evidence(VERSION, tmp_path, tmp_path / "none.jsonl")
    assert ev is not None and why == "" and "validation skill report" in ev.source
    dst = ev.ratios["dst"]
    # leads <= 12 h only: (7 + 25 + 36) / (9 + 29 + 41)
    assert dst["obrien_mcpherron"] == pytest.approx(68 / 79)
    assert dst["persistence"] == pytest.approx(97 / 80) and dst["tft"] == 1.0
    assert "obrien_mcpherron" not in ev.ratios["kp"]  # no Kp forecast: not ranked


@pytest.mark.parametrize(
    ("part", "version", "said"),
    [("test", VERSION, "not the validation years"), ("validate", "other", "another TFT")],
)
def test_test_year_or_foreign_reports_are_never_evidence(tmp_path, part, version, said):
    _report(tmp_path / "skill.nc", part=part, version=version)
    ev, why = promotion.load_primary_evidence(VERSION, tmp_path, tmp_path / "none.jsonl")
    assert ev is None and said in why and "no promotion record" in why


def test_promotion_record_is_the_second_source(tmp_path):
    rec = tmp_path / "promotions.jsonl"
    entry = {
        "decided": "2026-12-01T10:00:00Z",
        "candidate": VERSION,
        "held_out": ["2013-01-01", "2015-01-01"],
        "figures": {
            "dst": {
                "lead_h": [1, 2, 13],
                "vs_baselines": {
                    "burton": {
                        "candidate_rmse": [10.0, 20.0, 30.0],
                        "baseline_rmse": [12.0, 21.0, 1.0],
                        "n": [5, 5, 5],
                    }
                },
            }
        },
    }
    rec.write_text("not json\n" + json.dumps({"candidate": "older"}) + "\n" + json.dumps(entry))
    ev, _ = promotion.load_primary_evidence(VERSION, tmp_path / "reports", rec)
    assert ev is not None and "promotion record" in ev.source
    assert ev.ratios["dst"] == {"burton": pytest.approx(33 / 30), "tft": 1.0}  # 13 h left out
    assert ev.ratios["kp"] == {}


def test_choose_primary_best_verified_then_next_usable_then_unchecked():
    ev = promotion.PrimaryEvidence(
        "report", {"dst": {"tft": 1.0, "obrien_mcpherron": 0.8, "persistence": 1.2}, "kp": {}}
    )
    fcs = {"tft": _fc("tft", -50, 3), "obrien_mcpherron": _fc("obrien_mcpherron", -60, 3)}
    c = promotion.choose_primary(fcs, ev, default="tft")
    assert c.models == {"dst": "obrien_mcpherron", "kp": "tft"}
    assert "verified best" in c.basis["dst"] and "obrien_mcpherron 0.80" in c.basis["dst"]
    assert "unchecked" in c.basis["kp"]
    assert "report has no storm-time figures for kp" in c.basis["kp"]
    # the best verified model gives NaN this hour: the next ranked one, said so
    fcs["obrien_mcpherron"]["dst"][:] = np.nan
    c = promotion.choose_primary(fcs, ev, default="tft")
    assert c.models["dst"] == "tft" and "no finite dst forecast this hour" in c.basis["dst"]
    # no evidence and the TFT did not run: no baseline stands in unverified
    c = promotion.choose_primary({"persistence": _fc("persistence", -5, 2)}, None, default="tft")
    assert c.models == {}


def _register(home, thresholds: dict) -> None:
    folder = home / "models" / "tft" / VERSION
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({"decision_thresholds": thresholds}))


def test_step_primary_merges_archives_and_records(home):
    from flows import forecast as ff

    _register(
        home,
        {
            "kp>=4.67": {"threshold": 0.3, "basis": "validation years"},
            "kp>=5.67": {"threshold": None, "inherited_from": "kp>=4.67"},
            "dst<=-50": {"threshold": 0.2, "basis": "validation years"},
        },
    )
    _report(home / "reports" / "validation" / "skill.nc")
    models = []
    for name, dst in (("tft", -50.0), ("obrien_mcpherron", -70.0), ("persistence", -40.0)):
        fc = _fc(name, dst, 4.0, version=VERSION if name == "tft" else "")
        models.append({"model": name, "version": fc.attrs["model_version"]})
        models[-1]["path"] = str(archive.save(fc))
    res = ff.step_primary(models, T0)
    assert res["primary"] == {"dst": "obrien_mcpherron", "kp": "tft"}
    stored = archive.load(T0, archive.PRIMARY)
    assert stored.attrs["primary"] == "dst=obrien_mcpherron;kp=tft"
    assert "verified best" in stored.attrs["primary_basis"]
    assert float(stored["dst"].sel(quantile=0.5).max()) == -70.0
    # only the TFT's own target gets its stored decision probabilities (G2 inherits G1's;
    # levels the model stores nothing for keep the fixed probability)
    probs = json.loads(stored.attrs[rules.DECISION_ATTR])
    assert probs == {"kp>=4.67": 0.3, "kp>=5.67": 0.3}
    # the primary copy is not a model of its own in scorecards and dashboards
    assert archive.PRIMARY not in archive.models() and archive.PRIMARY in archive.models(
        primary=True
    )
    again = ff.step_primary(models, T0)
    assert again["note"] == "reused archive" and again["primary"] == res["primary"]
    assert again["basis"]["dst"].startswith("obrien_mcpherron: verified best")


def test_step_primary_without_evidence_keeps_the_tft_and_says_so(home, caplog):
    from flows import forecast as ff

    fc = _fc("tft", -30.0, 2.0, version=VERSION)
    models = [{"model": "tft", "version": VERSION, "path": str(archive.save(fc))}]
    with caplog.at_level("WARNING", logger="flows.forecast"):
        res = ff.step_primary(models, T0)
    assert res["primary"] == {"dst": "tft", "kp": "tft"}
    assert "unchecked: no validation-year evidence" in res["basis"]["dst"]
    assert any("unchecked" in r.getMessage() for r in caplog.records)
    assert rules.DECISION_ATTR not in archive.load(T0, archive.PRIMARY).attrs  # no thresholds
    # no model forecast at all: no primary path, so the alerts give FORECAST_UNAVAILABLE
    none = ff.step_primary([{"model": "tft", "version": "", "path": None}], T0 + LEADS[0])
    assert none["path"] is None


def _kp_probability(fc: xr.Dataset) -> float:
    return float(schema.exceedance_probability(fc, "kp", schema.G_SCALE["G1"]).max())


def test_alert_rules_use_the_forecasts_decision_probability():
    fc = _fc("tft", -10.0, 3.8)
    p = _kp_probability(fc)
    assert 0.1 < p < 0.5  # below the fixed 0.5: no WARNING by the fixed rule
    fixed = rules.evaluate_rules(fc, None, T0)
    assert not [a for a in fixed if a.kind == rules.WARNING]
    fc.attrs[rules.DECISION_ATTR] = json.dumps({"kp>=4.67": round(p - 0.05, 3)})
    acts = rules.evaluate_rules(fc, None, T0)
    warn = [a for a in acts if a.kind == rules.WARNING and a.action == rules.ISSUE]
    assert [a.level for a in warn] == ["G1"] and warn[0].probability == pytest.approx(p)
    # an explicit configuration wins; the flag turns the model's probabilities off
    own = rules.AlertConfig(event_probabilities=(("kp>=4.67", 0.9),))
    assert not [a for a in rules.evaluate_rules(fc, None, T0, config=own) if a.kind == "WARNING"]
    off = rules.AlertConfig(use_model_thresholds=False)
    assert not [a for a in rules.evaluate_rules(fc, None, T0, config=off) if a.kind == "WARNING"]


def test_cancel_keeps_the_same_hysteresis_at_a_lower_decision_probability():
    cfg = rules.AlertConfig(event_probabilities=(("kp>=4.67", 0.25),))
    g1 = rules.level_by_name("G1")
    assert cfg.issue_probability(g1, rules.WARNING) == 0.25
    assert cfg.cancel_probability_for(g1) == pytest.approx(0.1)  # 0.2 / 0.5 of it
    assert cfg.cancel_probability_for(rules.level_by_name("G2")) == cfg.cancel_probability
    active = rules.ActiveAlert(1, rules.WARNING, "kp", "G1", 0.3, T0, T0 + pd.Timedelta("6h"), T0)

    def actions(kp: float) -> list[str]:
        fc = _fc("tft", -10.0, kp)
        state = rules.RuleState(active=[active])
        now = T0 + pd.Timedelta("1h")
        return [
            a.action for a in rules.evaluate_rules(fc, None, now, state, cfg) if a.kind == "WARNING"
        ]

    p_mid = _kp_probability(_fc("tft", -10.0, 3.3))
    assert 0.1 < p_mid < 0.25 and actions(3.3) == []  # below issue, above cancel: kept
    assert actions(1.0) == [rules.CANCEL]
    with pytest.raises(ValueError, match="kp>=4.67"):
        rules.AlertConfig(event_probabilities=(("kp>=4.67", 0.0),))


def test_model_event_probabilities_skip_no_skill_levels():
    meta = {
        "version": VERSION,
        "decision_thresholds": {
            "dst<=-50": {"threshold": 0.35},
            "dst<=-100": {"threshold": 0.05, "no_skill": True},
            "dst<=-250": {"threshold": None, "inherited_from": "dst<=-100"},
        },
    }
    probs, notes = rules.model_event_probabilities(meta, ("dst",))
    assert probs == {"dst<=-50": 0.35}
    assert notes == [
        "dst<=-100: no skill on the validation years; fixed probability",
        "dst<=-250: no skill on the validation years (inherits dst<=-100); fixed probability",
    ]
    assert rules.model_event_probabilities({}, ("kp",))[0] == {}
    # a level whose skill lay below its less severe neighbour's threshold says so
    floored = {
        "threshold": 0.61,
        "no_skill": True,
        "floor": {"event": "dst<=-50", "threshold": 0.35},
        "unconstrained": {"threshold": 0.23, "score": 0.033},
    }
    meta["decision_thresholds"]["dst<=-100"] = floored
    assert rules.model_event_probabilities(meta, ("dst",))[1][0] == (
        "dst<=-100: no skill on the validation years at or above dst<=-50's 0.35 (alone: 0.23, "
        "HSS 0.033); fixed probability"
    )
