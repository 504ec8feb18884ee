"""Acceptance: `superstorm train` trains and registers a model from the store `superstorm ingest`
filled, with SUPERSTORM_DATA pointing at an EMPTY folder (no recorded files reachable)."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from data_sources.mirror.server import default_data_dir
from data_sources.store import Store
from forecasting.models import registry
from superstorm_cli.main import main

warnings.filterwarnings("ignore")


def tiny_config_toml(home, tiny_tft) -> None:
    """``config.toml`` with a ``[tft.quick]`` table of the tiny settings."""
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[tft.quick]"] + [f"{k} = {v!r}" for k, v in tiny_tft.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def empty_data(tmp_path, monkeypatch):
    folder = tmp_path / "empty-data"
    folder.mkdir()
    monkeypatch.setenv("SUPERSTORM_DATA", str(folder))
    return folder


@pytest.mark.timeout(400)
def test_train_quick_from_the_ingested_store(mirrored_home, empty_data, tiny_tft, capsys, tmp_path):
    tiny_config_toml(mirrored_home, tiny_tft)  # the documented [tft.quick] table shrinks it
    assert (
        main(["ingest", "--source", "omni2", "--start", "2004-01-01", "--end", "2008-01-01"]) == 0
    )
    assert Store().years("omni2") == [2004, 2005, 2006, 2007]
    capsys.readouterr()
    t0 = time.perf_counter()
    assert main(["train", "--preset", "quick", "--progress"]) == 0
    seconds = time.perf_counter() - t0
    out, err = capsys.readouterr()
    epochs = tiny_tft["max_epochs"]
    progress = [line for line in err.splitlines() if line.startswith(f"epoch {epochs}/{epochs}")]
    assert progress and "samples/s" in progress[0] and "left <=" in progress[0], err[-2000:]
    version = registry.resolve("latest")
    assert f"trained TFT version {version}" in out
    meta = json.loads((mirrored_home / "models" / "tft" / version / "metadata.json").read_text())
    assert meta["split"]["train"] == [2004, 2005] and meta["split"]["validate"] == [2006]
    assert meta["split"]["ranges"] == {"train": "2004-2005", "validate": "2006", "test": "2007"}
    assert meta["data"]["loaded_from"] == f"store {mirrored_home / 'store'}"
    assert meta["data"]["years_loaded"] == "2004,2005,2006"  # the test year 2007 never loaded
    assert meta["data"]["variables"]["dst"].startswith("omni2=")
    assert meta["training_span"][0].startswith("2004-01")
    assert meta["metrics"]["validation"]["dst_rmse_1h"] > 0
    assert meta["config"]["hidden_size"] == tiny_tft["hidden_size"]  # config.toml honoured
    print(f"store-based quick train (tiny settings): {seconds:.1f} s")
    # evaluate reads the model's own split from its metadata and the store: test year 2007
    reports = tmp_path / "reports"
    assert main(["evaluate", "--reports", str(reports)]) == 0
    skill = (reports / "skill.md").read_text()
    assert "2007" in skill and "persistence" in skill
    assert list(empty_data.iterdir()) == []  # nothing read or written there


def test_train_with_an_empty_store_names_the_ingest_command(home, empty_data, capsys):
    assert main(["train", "--preset", "quick"]) == 2
    err = capsys.readouterr().err
    assert "no solar wind in the store" in err and "2004-2006" in err
    assert "superstorm ingest --source omni2 --start 2004-01-01 --end 2007-01-01" in err
    assert registry.list_versions() == []


def test_year_options_are_checked_before_anything_loads(home, capsys):
    assert main(["train", "--train-years", "2004-2006", "--val-years", "2006"]) == 2
    assert "overlaps" in capsys.readouterr().err
    assert main(["train", "--test-years", "2007..2008"]) == 2
    assert "FIRST-LAST" in capsys.readouterr().err


def test_no_default_recorded_folder(monkeypatch):
    monkeypatch.delenv("SUPERSTORM_DATA", raising=False)
    with pytest.raises(ValueError, match="set SUPERSTORM_DATA"):
        default_data_dir()


def test_threads_and_part_options(home, monkeypatch, capsys):
    """``train --threads N`` reaches the TFT config; ``evaluate --part validate`` writes the
    validation report where the forecast flow looks for its primary-model evidence."""
    import forecasting.models.train as mt
    from forecasting.models.promotion import VALIDATION_REPORT

    seen: dict = {}
    monkeypatch.setattr(mt, "train", lambda preset, **kw: seen.update(kw) or "v-test")
    monkeypatch.setattr(mt, "evaluate_version", lambda v, **kw: seen.update(evaluated=kw))
    monkeypatch.setattr(mt, "split_of", lambda model: mt.default_split("quick"))
    monkeypatch.setattr(registry, "load", lambda v: None)
    assert main(["train", "--preset", "quick", "--threads", "1"]) == 0
    assert seen["overrides"] == {"threads": 1}
    assert main(["train", "--threads", "0"]) == 2
    assert "--threads 0" in capsys.readouterr().err
    assert main(["evaluate", "--part", "validate"]) == 0
    assert seen["evaluated"]["part"] == "validate"
    out = seen["evaluated"]["out_dir"]
    assert out.parts[-2:] == ("reports", Path(VALIDATION_REPORT).parent.name)
    assert main(["evaluate", "--part", "validate", "--test-years", "2007"]) == 2


def test_unknown_config_toml_tft_setting_is_named(home, capsys):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[tft.quick]\nmax_epoch = 1\n")
    assert main(["train", "--preset", "quick"]) == 2
    err = capsys.readouterr().err
    assert "config.toml" in err and "max_epoch" in err and "max_epochs" in err


def test_progress_is_shown_when_asked_or_interactive(monkeypatch):
    from superstorm_cli.train import show_progress

    assert show_progress(True) is True and show_progress(False) is False
    monkeypatch.setattr("sys.stderr", type("Tty", (), {"isatty": lambda self: True})())
    assert show_progress(None) is True
    monkeypatch.setattr("sys.stderr", type("Pipe", (), {"isatty": lambda self: False})())
    assert show_progress(None) is False
