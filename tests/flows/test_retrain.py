"""The promotion gate (forecasting.models.promotion) and the retrain flow that calls it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting.models.promotion import (
    GateRule,
    decide,
    gate_issue_times,
    gate_scores,
    primary_model,
)

LEADS_H = [1, 3, 6, 12]


def _figures(cand, base, *, current=None, cur_all=None, cand_all=10.0, storms=30):
    entry = {
        "lead_h": LEADS_H,
        "storm_issue_times": storms,
        "vs_baselines": {
            "obrien_mcpherron": {"candidate_rmse": cand, "baseline_rmse": base, "n": [30] * 4},
            "persistence": {"candidate_rmse": cand, "baseline_rmse": [99.0] * 4, "n": [30] * 4},
        },
    }
    if current is not None:
        entry["vs_current"] = {
            "candidate_crps": cand_all,
            "current_crps": cur_all,
            "candidate_storm_rmse": cand,
            "current_storm_rmse": current,
            "storm_n": [30] * 4,
        }
    return {"dst": entry}


def test_gate_promotes_only_when_not_worse_than_best_baseline_at_every_lead():
    rule = GateRule()
    ok = decide(_figures([10, 20, 30, 50], [11, 21, 35, 60]), rule, has_current=False)
    assert ok.promote, ok.reasons
    bad = decide(_figures([10, 20, 36, 50], [11, 21, 35, 60]), rule, has_current=False)
    assert not bad.promote
    assert bad.reason == "dst: storm-time RMSE at 6 h 36 > best baseline obrien_mcpherron 35"
    slack = decide(
        _figures([10, 20, 36, 50], [11, 21, 35, 60]), GateRule(tolerance=0.05), has_current=False
    )
    assert slack.promote


def test_gate_compares_with_the_current_model_all_hours_and_storm_time():
    rule = GateRule()
    f = _figures([10, 20, 30, 50], [11, 21, 35, 60], current=[10, 20, 30, 50], cur_all=10.0)
    assert decide(f, rule, has_current=True).promote
    f = _figures([10, 20, 30, 50], [11, 21, 35, 60], current=[10, 20, 30, 50], cur_all=9.0)
    d = decide(f, rule, has_current=True)
    assert not d.promote and "all-hours crps 10 > current 9" in d.reason
    f = _figures([10, 20, 30, 50], [11, 21, 35, 60], current=[10, 19, 30, 50], cur_all=10.0)
    d = decide(f, rule, has_current=True)
    assert not d.promote and "storm-time RMSE at 3 h 20 > current 19" in d.reason
    d = decide(_figures([10] * 4, [11] * 4), rule, has_current=True)
    assert not d.promote and "current model does not forecast" in d.reason


def test_gate_refuses_without_storm_time_unless_told():
    f = _figures([None] * 4, [None] * 4, storms=0)
    d = decide(f, GateRule(), has_current=False)
    assert not d.promote and "no storm-time issue time" in d.reason
    assert decide(f, GateRule(require_storms=False), has_current=False).promote
    with pytest.raises(ValueError, match="metric"):
        GateRule(metric="r")
    with pytest.raises(ValueError, match="targets"):
        GateRule(targets=("ap",))


def test_gate_scores_and_issue_times_on_real_data(omni_2005_2006):
    from forecasting.models import baselines as B

    ds = omni_2005_2006
    rule = GateRule(max_lead_h=6)
    inits, storm = gate_issue_times(ds, "2006-12-01", "2006-12-31", rule)
    assert storm.any() and (~storm).any()
    assert (
        pd.DatetimeIndex(inits[storm.values]).to_series().diff().dropna() >= pd.Timedelta("1h")
    ).all()
    assert pd.Timestamp("2006-12-15 07:00") in inits  # December 2006 storm, hourly
    leads = pd.to_timedelta(np.arange(1, 7), unit="h")
    train = ds.sel(time=slice(None, "2006-11-30"))
    fcs = {}
    for b in (B.Persistence(), B.OBrienMcPherron(), B.Climatology()):
        b.fit(train, lead_times=leads, targets=["dst"])
        fcs[b.name] = b.forecast(ds, inits, leads, targets=("dst",))
    # persistence as candidate ties with itself and beats climatology: never worse
    two = {k: fcs[k] for k in ("persistence", "climatology")}
    fig = gate_scores(fcs["persistence"], None, two, ds, storm, rule)
    assert fig["dst"]["lead_h"] == [1, 2, 3, 4, 5, 6]
    d = decide(fig, rule, has_current=False)
    assert d.promote, d.reasons
    # O'Brien-McPherron as candidate: each lead against the best of all three baselines
    fig_obm = gate_scores(fcs["obrien_mcpherron"], None, fcs, ds, storm, rule)
    d = decide(fig_obm, rule, has_current=False)
    vb = fig_obm["dst"]["vs_baselines"]
    worse = [
        h
        for j, h in enumerate(fig_obm["dst"]["lead_h"])
        if vb["obrien_mcpherron"]["candidate_rmse"][j]
        > min(v["baseline_rmse"][j] for v in vb.values())
    ]
    assert d.promote is (not worse)
    assert [r for r in d.reasons if "best baseline" in r] == [
        r for r in d.reasons for h in worse if f"at {h} h " in r
    ]
    # climatology as candidate: far worse than persistence in storm time
    d = decide(gate_scores(fcs["climatology"], None, fcs, ds, storm, rule), rule, has_current=False)
    assert not d.promote and "storm-time RMSE at 1 h" in d.reasons[0]
    json.dumps(fig)  # the figures go into the JSON decision log


def test_primary_model_from_scorecard_and_skill():
    rows = []
    for model, crps in (("tft", 8.0), ("persistence", 9.0), ("burton", 7.0)):
        for h in (1, 6, 24):
            rows.append(
                {
                    "model": model,
                    "model_version": "1",
                    "target": "dst",
                    "lead_h": h,
                    "crps": crps + h / 10,
                }
            )
    rows.append(
        {"model": "burton", "model_version": "1", "target": "kp", "lead_h": 1, "crps": np.nan}
    )
    rows.append({"model": "tft", "model_version": "1", "target": "kp", "lead_h": 1, "crps": 0.5})
    card = pd.DataFrame(rows)
    assert primary_model(card, "dst") == "burton"
    assert primary_model(card, "dst", candidates=("tft", "persistence")) == "tft"
    assert primary_model(card, "kp") == "tft"
    with pytest.raises(ValueError, match="finite"):
        primary_model(card, "kp", candidates=("burton",))
    lead = pd.to_timedelta([1, 6], unit="h")
    skill = xr.Dataset(
        {
            "storm_time_rmse": (
                ("target", "model", "lead_time"),
                np.array([[[10, 20], [12, 17]], [[1, 1], [2, 2]]], float),
            )
        },
        coords={"target": ["dst", "kp"], "model": ["tft", "obrien_mcpherron"], "lead_time": lead},
    )
    assert primary_model(skill, "dst", metric="storm_time_rmse") == "obrien_mcpherron"
    assert primary_model(skill, "dst", metric="storm_time_rmse", max_lead_h=1) == "tft"


def test_record_decision_appends(home):
    from flows.retrain import record_decision

    record_decision({"candidate": "v2", "promoted": False, "reason": "worse"})
    record_decision({"candidate": "v3", "promoted": True, "reason": "ok"})
    lines = (home / "models" / "promotions.jsonl").read_text().splitlines()
    assert [json.loads(x)["candidate"] for x in lines] == ["v2", "v3"]


def test_run_retrain_gates_a_tiny_tft_on_validation_data(home, omni_2005_2006, tiny_tft):
    from flows.retrain import run_retrain
    from forecasting.models import registry
    from forecasting.models.train import train

    def train_fn(preset, *, data, overrides, promote):
        return train(preset, data=data, overrides=tiny_tft, promote=promote, metrics=False)

    rule = GateRule(max_lead_h=3)
    entry = run_retrain(
        "quick",
        data=omni_2005_2006,
        held_out=("2006-12-13", "2006-12-18"),
        rule=rule,
        train_fn=train_fn,
    )
    assert entry["n_storm_issue_times"] > 0 and entry["current"] is None
    fig = entry["figures"]["dst"]
    assert set(fig["vs_baselines"]) >= {"persistence", "obrien_mcpherron"}
    assert fig["lead_h"] == [1, 2, 3]
    # a one-epoch tiny TFT does not beat the physics baseline in storm time: kept out, said why
    assert entry["promoted"] is False and "best baseline" in entry["reason"]
    assert registry.current() is None
    logged = json.loads((home / "models" / "promotions.jsonl").read_text().splitlines()[-1])
    assert logged["candidate"] == entry["candidate"] and logged["figures"] == json.loads(
        json.dumps(entry["figures"])
    )


def test_gate_refuses_a_period_the_candidate_trained_on(home, omni_2005_2006):
    from flows.retrain import run_retrain

    def train_fn(*args, **kwargs):
        raise AssertionError("the period is refused before any training")

    # the quick preset trains on 2004-2005: a 2005 comparison would flatter the candidate
    with pytest.raises(ValueError, match=r"holds \[2005\], which candidate of preset 'quick'"):
        run_retrain(
            "quick", data=omni_2005_2006, held_out=("2005-06-01", "2005-07-01"), train_fn=train_fn
        )


def test_unseen_issue_times_drop_the_years_a_model_trained_on():
    from forecasting.models.promotion import held_out_years, unseen_issue_times

    init = pd.date_range("2012-12-31 20:00", "2013-01-01 03:00", freq="1h")
    storm = xr.DataArray(np.arange(len(init)) % 2 == 0, coords={"init_time": init})
    kept, mask = unseen_issue_times(init, storm, [2011, 2012])
    assert list(kept) == list(init[4:])
    assert mask.values.tolist() == storm.values[4:].tolist()
    assert list(mask["init_time"].values) == list(kept.values)
    assert held_out_years("2011-01-01", "2015-01-01") == [2011, 2012, 2013, 2014]
    assert held_out_years("2011-03-01", "2011-03-02") == [2011]


def test_gate_leaves_out_the_years_the_current_model_trained_on(home, omni_2005_2006, tiny_tft):
    from flows.retrain import run_retrain
    from forecasting.models import registry
    from forecasting.models.train import train
    from forecasting.splits import YearSplit

    # the current model trained on 2006 (another split): the candidate's validation year
    current = train(
        "quick",
        data=omni_2005_2006,
        split=YearSplit(train=(2006, 2006), validate=(2005, 2005), test=(2007, None)),
        overrides=tiny_tft,
        promote=True,
        metrics=False,
        calibrate=False,
    )

    def train_fn(preset, *, data, overrides, promote):
        return train(preset, data=data, overrides=tiny_tft, promote=promote, metrics=False)

    entry = run_retrain(
        "quick", data=omni_2005_2006, held_out=("2006-12-13", "2006-12-18"), train_fn=train_fn
    )
    assert entry["current"] == current and entry["compared_years"] == []
    assert entry["n_issue_times"] == 0 and entry["figures"] == {}
    assert entry["promoted"] is False and "training year of the current model" in entry["reason"]
    assert registry.current() == current


def test_primary_by_target_and_merge():
    from forecasting import schema
    from forecasting.models import promotion
    from forecasting.models.promotion import merge_primary, primary_by_target

    init = pd.date_range("2020-01-01", periods=2, freq="1h")
    lead = pd.to_timedelta([1, 2], unit="h")

    def fc(name, value, targets=("dst", "kp")):
        return schema.make_forecast(
            {t: np.full((2, 2, 7), value) for t in targets},
            init_time=init,
            lead_time=lead,
            model=name,
            model_version=f"{name}-v",
        )

    fcs = {
        "tft": fc("tft", 1.0),
        "persistence": fc("persistence", 2.0),
        "burton": fc("burton", 3.0, ("dst",)),
    }
    card = pd.DataFrame(
        [
            {"model": m, "model_version": "1", "target": t, "lead_h": 1, "crps": c}
            for m, t, c in (
                ("tft", "dst", 5.0),
                ("persistence", "dst", 6.0),
                ("tft", "kp", 0.9),
                ("persistence", "kp", 0.7),
            )
        ]
    )
    choice = primary_by_target(card, default="tft", candidates=tuple(fcs))
    assert choice == {"dst": "tft", "kp": "persistence"}
    assert primary_by_target(None, default="tft") == {"dst": "tft", "kp": "tft"}
    fcs["tft"]["dst"].attrs[schema.EVENT_CALIBRATION_ATTR] = '{"dst<=-100":{}}'
    merged = merge_primary(fcs, choice)
    assert float(merged["dst"].max()) == 1.0 and float(merged["kp"].max()) == 2.0
    # each target keeps its own model's variable attributes (the event recalibration)
    assert merged["dst"].attrs[schema.EVENT_CALIBRATION_ATTR] == '{"dst<=-100":{}}'
    assert schema.EVENT_CALIBRATION_ATTR not in merged["kp"].attrs
    assert merged["kp"].attrs == fcs["persistence"]["kp"].attrs
    assert merged.attrs["primary"] == "dst=tft;kp=persistence"
    assert promotion.parse_primary_attr(merged.attrs["primary"]) == choice  # round trip
    assert promotion.parse_primary_attr(None) == {} == promotion.parse_primary_attr("")
    assert merged.attrs["model_version"] == "tft=tft-v;persistence=persistence-v"
    with pytest.raises(ValueError, match="burton"):
        merge_primary(fcs, {"kp": "burton"})


def test_retrain_flow_refuses_a_half_given_comparison_period():
    import pytest

    from flows.retrain import retrain_flow

    with pytest.raises(ValueError, match="give both bounds"):
        retrain_flow.fn(preset="quick", held_out_start="2006-01-01")


def test_a_promoted_model_gets_its_blend_and_a_failed_fit_is_logged(home, monkeypatch, caplog):
    import logging
    from types import SimpleNamespace

    from flows import retrain
    from forecasting.models import stored_blend

    # no model and no store in this home: the fit fails, is logged with the retry, returns ""
    with caplog.at_level(logging.WARNING, logger="flows.retrain"):
        assert retrain.fit_promoted_blend("20990101T000000-quick") == ""
    assert "superstorm blend --version 20990101T000000-quick" in caplog.text
    seen = []

    def fake_fit(version):
        seen.append(version)
        return SimpleNamespace(path=home / "models" / "tft" / version / "blend.json")

    monkeypatch.setattr(stored_blend, "fit_blend", fake_fit)
    assert retrain.fit_promoted_blend("v1").endswith("v1/blend.json") and seen == ["v1"]
    # the flow fits it only after a promotion
    decisions = iter([{"candidate": "v2", "promoted": False, "reason": "worse"}])
    monkeypatch.setattr(retrain, "retrain_task", lambda *a, **k: next(decisions))
    monkeypatch.setattr(retrain, "blend_task", retrain.fit_promoted_blend)
    assert "blend" not in retrain.retrain_flow.fn(preset="quick")
    decisions = iter([{"candidate": "v3", "promoted": True, "reason": "better"}])
    out = retrain.retrain_flow.fn(preset="quick")
    assert out["blend"].endswith("v3/blend.json") and seen == ["v1", "v3"]


def test_gate_refuses_a_comparison_period_that_ends_before_it_starts(home, omni_2005_2006):
    from flows.retrain import run_retrain

    def train_fn(*args, **kwargs):
        raise AssertionError("the period is refused before any training")

    with pytest.raises(ValueError, match="2006-12-18 .. 2006-12-13: the end must be after"):
        run_retrain(
            "quick", data=omni_2005_2006, held_out=("2006-12-18", "2006-12-13"), train_fn=train_fn
        )
