"""Model registry: save / load round trip, latest, promote/current, metadata; train() end to end."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from forecasting.models import registry
from forecasting.models.predict import predict
from forecasting.models.train import train
from forecasting.splits import YearSplit

warnings.filterwarnings("ignore")

SPLIT = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, 2007))


@pytest.fixture(scope="module")
def ds(omni_2005_2006) -> xr.Dataset:
    return omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))


@pytest.fixture(scope="module")
def saved(ds, tmp_path_factory, tiny_tft):
    home = tmp_path_factory.mktemp("home")
    version = train("quick", data=ds, split=SPLIT, out=home, overrides=tiny_tft)
    return home, version


def test_version_folder_contents(saved):
    home, version = saved
    folder = home / "models" / "tft" / version
    for name in (
        "checkpoint.pt",
        "hparams.json",
        "dataset_params.json",
        "config.json",
        "metadata.json",
    ):
        assert (folder / name).is_file(), name
    assert not list(folder.glob("*.pkl")) and not (folder / "hparams.pt").exists()
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["preset"] == "quick" and meta["version"] == version
    assert meta["split"]["train"] == [2005] and meta["split"]["validate"] == [2006]
    assert meta["training_span"][0].startswith("2005-12")
    assert "bz_gsm" in meta["features"] and meta["code_version"]
    assert meta["created"].endswith("Z")
    val = meta["metrics"]["validation"]
    assert val["dst_rmse_1h"] > 0 and 0 <= val["kp_coverage80_24h"] <= 1
    # event decision probabilities chosen on the validation year, readable by alerts
    from forecasting.verification.scores import DECISION_EVENTS, decision_threshold

    assert set(meta["decision_thresholds"]) == {e.name for e in DECISION_EVENTS}
    assert 0 < decision_threshold(meta, "dst<=-50") < 1
    assert sum(meta["interpretation"]["encoder_variables"].values()) == pytest.approx(100, abs=0.1)


def test_load_round_trip_predicts_identically(saved, ds):
    home, version = saved
    a = registry.load(version, home=home)
    b = registry.load("latest", home=home)
    assert b.version == version
    fa = predict(a, ds, "2006-01-20T00:00")
    fb = predict(b, ds, "2006-01-20T00:00")
    np.testing.assert_array_equal(fa.dst.values, fb.dst.values)
    assert fa.attrs["model_version"] == version


def test_latest_promote_current(saved, ds):
    home, first = saved
    model = registry.load(first, home=home)
    second = registry.save(model, home=home, version=first + "-copy")
    assert registry.list_versions(home) == sorted([first, second])
    assert registry.current(home) is None
    with pytest.raises(ValueError, match="no promoted model"):
        registry.load("current", home=home)
    registry.promote(first, home=home)
    assert registry.current(home) == first
    assert registry.load("current", home=home).version == first
    registry.promote(second, home=home)
    assert registry.current(home) == second
    assert not [p for p in (home / "models" / "tft").iterdir() if p.name.startswith(".")]


def test_errors_name_the_problem(saved, tmp_path):
    home, version = saved
    with pytest.raises(ValueError, match="already exists"):
        registry.save(registry.load(version, home=home), home=home, version=version)
    with pytest.raises(ValueError, match="unknown model version 'nope'"):
        registry.load("nope", home=home)
    with pytest.raises(ValueError, match="superstorm train"):
        registry.load("latest", home=tmp_path / "empty")


def test_update_metadata(saved):
    home, version = saved
    meta = registry.update_metadata(version, {"test_metrics": {"dst_rmse": 1.0}}, home=home)
    assert meta["test_metrics"] == {"dst_rmse": 1.0}
    assert registry.load(version, home=home).metadata["test_metrics"] == {"dst_rmse": 1.0}


def test_cli_registers_train_and_evaluate():
    from superstorm_cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "--preset", "full", "--data", "/x"])
    assert args.preset == "full" and args.data == "/x" and callable(args.func)
    args = parser.parse_args(["evaluate", "--version", "v1"])
    assert args.version == "v1" and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--preset", "huge"])


def test_evaluate_version_writes_skill_report(saved, ds, tmp_path):
    from forecasting.models.train import evaluate_version

    home, version = saved
    split = YearSplit(train=(2005, 2005), validate=(2004, 2004), test=(2006, 2006))
    res = evaluate_version(
        version, data=ds, split=split, home=home, out_dir=tmp_path, init_every="6h", storms=False
    )
    assert "tft" in res.model.values and "persistence" in res.model.values
    assert np.isfinite(res["rmse"].sel(model="tft", target="dst")).all()
    assert (tmp_path / "skill.md").is_file() and (tmp_path / "skill.nc").is_file()


def test_dst_centre_saved_and_old_configs_load(saved, ds):
    """A "last"-centred model round-trips; a config saved before the option loads as "mean"."""
    from forecasting.models import pipeline

    home, version = saved
    model = registry.load(version, home=home)
    assert model.config.dst_center == "last"
    dst_norm = model.dataset_parameters["target_normalizer"].normalizers[0]
    assert isinstance(dst_norm, pipeline.LastValueNormalizer)
    old = registry.save(model, home=home, version=version + "-old")
    cfg = home / "models" / "tft" / old / "config.json"
    d = json.loads(cfg.read_text())
    del d["dst_center"]
    cfg.write_text(json.dumps(d))
    loaded = registry.load(old, home=home)
    assert loaded.config.dst_center == "mean"
    fc = predict(loaded, ds, "2006-01-20T00:00")
    np.testing.assert_array_equal(fc.dst.values, predict(model, ds, "2006-01-20T00:00").dst.values)


# ------------------------------------------------------------------ crafted files: 0 code run
class _Boom:
    """Unpickling this runs ``os.system`` (touching a marker file) under a plain pickle load."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _copy_version(home, version, name):
    import shutil

    base = home / "models" / "tft"
    shutil.copytree(base / version, base / name)
    return base / name


def test_legacy_pickle_converted_safely_and_predicts_identically(saved, ds):
    import torch

    home, version = saved
    model = registry.load(version, home=home)
    folder = _copy_version(home, version, version + "-legacy")
    torch.save(dict(model.network.hparams), folder / "hparams.pt")  # what older releases wrote
    (folder / "hparams.json").unlink()
    legacy = registry.load(version + "-legacy", home=home)
    assert (folder / "hparams.json").is_file()
    a = predict(model, ds, "2006-01-20T00:00").dst.values
    np.testing.assert_array_equal(a, predict(legacy, ds, "2006-01-20T00:00").dst.values)


def test_crafted_legacy_hparams_pt_is_refused(saved, tmp_path):
    import torch

    home, version = saved
    marker = tmp_path / "pwned"
    folder = _copy_version(home, version, version + "-crafted")
    (folder / "hparams.json").unlink()
    torch.save({"x": _Boom(marker)}, folder / "hparams.pt")
    with pytest.raises(registry.UnsafeModelError, match="superstorm train --preset quick"):
        registry.load(version + "-crafted", home=home)
    assert not marker.exists()
    assert not (folder / "hparams.json").exists()


def test_crafted_hparams_json_is_refused(saved, tmp_path):
    home, version = saved
    folder = _copy_version(home, version, version + "-json")
    crafted = {
        "__kind__": "object",
        "class": "os.system",
        "state": {"__kind__": "dict", "items": []},
    }
    (folder / "hparams.json").write_text(json.dumps(crafted))
    with pytest.raises(registry.UnsafeModelError, match="not allowed"):
        registry.load(version + "-json", home=home)


def test_current_pointer_outside_registry_is_refused(saved, tmp_path):
    import os
    import shutil

    home, version = saved
    base = home / "models" / "tft"
    outside = tmp_path / "evil"
    shutil.copytree(base / version, outside)
    current = base / "current"
    saved_text = current.read_text() if current.exists() else None
    try:
        for bad in ("../../../../" + str(outside), str(outside), ".hidden", "a/b"):
            current.write_text(bad + "\n")
            with pytest.raises(registry.UnsafeModelError, match="not a plain version name"):
                registry.load("current", home=home)
        link = base / "linked-version"
        os.symlink(outside, link)
        try:
            with pytest.raises(registry.UnsafeModelError, match="outside the registry"):
                registry.load("linked-version", home=home)
            current.write_text("linked-version\n")
            with pytest.raises(registry.UnsafeModelError, match="outside the registry"):
                registry.load("current", home=home)
        finally:
            link.unlink()
        current.write_text("not-a-version\n")
        with pytest.raises(registry.UnsafeModelError, match="not a saved version"):
            registry.load("current", home=home)
    finally:
        current.unlink(missing_ok=True)
        if saved_text is not None:
            current.write_text(saved_text)


def test_two_saves_in_one_second_get_their_own_versions(saved, monkeypatch):
    from datetime import UTC, datetime

    home, version = saved
    model = registry.load(version, home=home)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)

    monkeypatch.setattr(registry, "datetime", Frozen)
    first = registry.save(model, home=home)
    second = registry.save(model, home=home)
    preset = model.config.preset
    assert (first, second) == (f"20261202T100000-{preset}", f"20261202T100001-{preset}")
    assert registry.load(second, home=home).version == second
