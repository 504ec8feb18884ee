"""The stored blend of a registered TFT: fit on its validation years, save, load, refuse bad files.

One tiny TFT (seconds) trained on Dec 2005, validated on Jan 2006 (recorded OMNI2).
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting.models import registry, stored_blend
from forecasting.models.base import Forecaster
from forecasting.models.ensemble import Blend, blend_forecasts
from forecasting.models.predict import TFTForecaster
from forecasting.models.train import train
from forecasting.splits import YearSplit

warnings.filterwarnings("ignore")

SPLIT = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, 2007))
LEADS = pd.to_timedelta(np.arange(1, 25), unit="h")
INIT = pd.date_range("2006-01-20 00:00", periods=6, freq="1h")


@pytest.fixture(scope="module")
def ds(omni_2005_2006) -> xr.Dataset:
    return omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def saved(ds, tmp_path_factory, tiny_tft):
    home = tmp_path_factory.mktemp("home")
    version = train("quick", data=ds, split=SPLIT, out=home, overrides=tiny_tft)
    record = stored_blend.fit_blend(version, home=home, data=ds)
    return home, version, record


def test_fit_save_load_round_trip(saved, ds):
    home, version, record = saved
    path = home / "models" / "tft" / version / "blend.json"
    assert record.path == path and path.is_file()
    obj = json.loads(path.read_text())  # plain JSON, no pickle
    assert obj["format"] == stored_blend.FORMAT and obj["tft_version"] == version
    assert obj["members"] == {"dst": ["tft", "obrien_mcpherron"], "kp": ["tft", "persistence"]}
    assert obj["fitted_on"]["part"] == "validate" and obj["fitted_on"]["years"] == [2006]
    assert obj["fitted_on"]["training_years"] == [2005]
    assert pd.Timestamp(obj["fitted_on"]["last"]) < pd.Timestamp("2007-01-01")
    assert obj["created"].endswith("Z") and obj["tft_calibration"]
    assert set(obj["baselines"]) == {"obrien_mcpherron", "persistence"}
    # the blend's own event recalibration and decision probabilities, fitted on validation
    assert obj["event_calibration"]["format"] == "platt-per-lead-v1"
    assert "2006" in obj["event_calibration"]["fitted_on"]
    assert {"kp>=4.67", "dst<=-50"} <= set(obj["decision_thresholds"])
    w = record.weights
    assert list(w.members) == ["tft", "obrien_mcpherron", "persistence"]
    for h in range(1, 25):  # each target blends only its own members
        assert w.weights("dst", h)[2] == 0.0 and w.weights("kp", h)[1] == 0.0
        assert np.isclose(w.weights("dst", h).sum(), 1.0)

    blend = stored_blend.load_blend(version, home=home)
    assert isinstance(blend, Blend) and isinstance(blend, Forecaster)
    assert blend.name == "blend" and blend.version == record.version
    assert record.version.startswith(version + "@")
    fc = blend.forecast(ds, INIT, LEADS)
    assert fc.attrs["model"] == "blend" and fc.attrs["model_version"] == record.version
    # the same as blending the members' own forecasts with the stored weights
    tft = TFTForecaster(registry.load(version, home=home)).forecast(ds, INIT, LEADS)
    om = record.baselines["obrien_mcpherron"].forecast(ds, INIT, LEADS, targets=("dst",))
    pers = record.baselines["persistence"].forecast(ds, INIT, LEADS, targets=("kp",))
    want = blend_forecasts({"tft": tft, "obrien_mcpherron": om, "persistence": pers}, w)
    for t in ("dst", "kp"):
        np.testing.assert_allclose(fc[t].values, want[t].values, atol=1e-9)
    # the reread fit is the one written: same weights and baseline quantiles
    again = stored_blend.read_record(version, home=home)
    assert again is not None and again.weights.to_json() == w.to_json()
    assert again.decision_thresholds == record.decision_thresholds
    assert again.event_calibration == record.event_calibration
    assert fc.attrs["event_calibration"].startswith("platt-per-lead-v1")
    for name, b in record.baselines.items():
        for t, table in b.residual_quantiles_.items():
            pd.testing.assert_frame_equal(again.baselines[name].residual_quantiles_[t], table)
    text = record.summary((1, 6))
    assert "lead  1 h: tft" in text and "lead  6 h" in text and "mean pinball loss" in text


def test_missing_members_follow_the_blend_rule_within_each_target(saved, ds):
    """No plasma: O'Brien-McPherron gives nothing, the TFT carries Dst; persistence never does."""
    home, version, _ = saved
    blend = stored_blend.load_blend(version, home=home)
    assert blend is not None
    members = blend.member_forecasts(ds, INIT, LEADS)
    assert "dst" not in members["persistence"] and "kp" not in members["obrien_mcpherron"]
    no_plasma = ds.copy()
    for v in ("v_sw", "n_p", "p_dyn"):
        if v in no_plasma:
            no_plasma[v] = no_plasma[v].where(no_plasma["time"] < INIT[0] - pd.Timedelta("6h"))
    assert np.isnan(blend.member_forecasts(no_plasma, INIT, LEADS)["obrien_mcpherron"]["dst"]).all()
    fc = blend.forecast(no_plasma, INIT, LEADS)
    tft = TFTForecaster(registry.load(version, home=home)).forecast(no_plasma, INIT, LEADS)
    assert np.isfinite(fc["dst"]).all()
    np.testing.assert_allclose(fc["dst"].values, tft["dst"].values, atol=1e-9)
    # with plasma the O'Brien-McPherron share moves the blend off the TFT
    with_om = blend.forecast(ds, INIT, LEADS)["dst"]
    own = TFTForecaster(registry.load(version, home=home)).forecast(ds, INIT, LEADS)["dst"]
    assert np.abs(with_om.values - own.values).max() > 1e-3


def test_no_stored_blend_is_none(saved):
    home, version, _ = saved
    model = registry.load(version, home=home)
    other = registry.save(model, home=home, version=version + "-bare")
    assert stored_blend.read_record(other, home=home) is None
    assert stored_blend.load_blend(other, home=home) is None


@pytest.fixture
def copy(saved):
    """A second registered version with its own stored blend, free to be broken."""
    home, version, record = saved
    name = version + "-copy"
    folder = home / "models" / "tft" / name
    shutil.rmtree(folder, ignore_errors=True)
    registry.save(registry.load(version, home=home), home=home, version=name)
    obj = stored_blend.to_json(record)
    obj["tft_version"] = name
    (folder / "blend.json").write_text(json.dumps(obj))
    assert stored_blend.load_blend(name, home=home) is not None
    yield home, name, folder / "blend.json", obj
    shutil.rmtree(folder, ignore_errors=True)


def _refused(home, name, path, match):
    with pytest.raises(stored_blend.BlendFileError, match=match) as err:
        stored_blend.load_blend(name, home=home)
    text = str(err.value)
    assert str(path) in text and f"superstorm blend --version {name}" in text
    return text


def test_corrupt_and_mismatched_files_are_refused_naming_file_and_fix(copy):
    home, name, path, obj = copy
    path.write_text("{not json")
    _refused(home, name, path, "not a readable blend file")
    path.write_text(json.dumps({**obj, "format": "superstorm-blend/0"}))
    _refused(home, name, path, "format")
    path.write_text(json.dumps({**obj, "tft_version": "20200101T000000-quick"}))
    _refused(home, name, path, "belongs to tft")
    bad = json.loads(json.dumps(obj))
    bad["weights"]["members"] = ["tft", "burton", "persistence"]
    path.write_text(json.dumps(bad))
    _refused(home, name, path, "weights for members")
    bad = json.loads(json.dumps(obj))
    bad["weights"]["weights"]["dst"]["1"] = [0.9, 0.9, 0.0]
    path.write_text(json.dumps(bad))
    _refused(home, name, path, "must sum to 1")
    bad = json.loads(json.dumps(obj))
    bad["baselines"]["persistence"]["state"]["format"] = "other"
    path.write_text(json.dumps(bad))
    _refused(home, name, path, "not a superstorm-baseline")
    bad = json.loads(json.dumps(obj))
    del bad["weights"]["weights"]["kp"]["24"]
    path.write_text(json.dumps(bad))
    _refused(home, name, path, "lack leads 24..24 h")


def test_a_recalibrated_tft_refuses_its_old_blend(copy):
    home, name, path, obj = copy
    meta = json.loads((path.parent / "metadata.json").read_text())
    table = dict(meta["calibration"], fitted_on="years 2006 (refitted)")
    registry.update_metadata(name, {"calibration": table}, home=home)
    _refused(home, name, path, "recalibrated since")


def test_evaluate_version_scores_the_stored_blend(saved, ds, tmp_path):
    from forecasting.models.train import evaluate_version

    home, version, record = saved
    res = evaluate_version(
        version,
        data=ds,
        split=SPLIT,
        home=home,
        out_dir=tmp_path,
        part="validate",
        init_times=pd.date_range("2006-01-05", "2006-01-25", freq="6h"),
        decisions=False,
        storms=False,
    )
    assert "blend" in res.model.values and f"blend={record.version}" in res.attrs["model_versions"]
    assert np.isfinite(res.rmse.sel(target="dst", model="blend")).all()
    md = (tmp_path / "skill.md").read_text()
    assert "| blend |" in md  # scored ...
    best_rows = [line for line in md.splitlines() if line.startswith("| **best baseline**")]
    assert best_rows and not any("(blend)" in line for line in best_rows)  # ... never a baseline
