"""``superstorm train --blend`` and ``superstorm blend``: the stored blend from the store."""

from __future__ import annotations

import warnings

from data_sources.store import Store
from forecasting.models import stored_blend
from superstorm_cli.main import main
from tests.cli.test_train_from_store import tiny_config_toml

warnings.filterwarnings("ignore")


def test_train_blend_then_refit_show_and_refuse_a_bad_file(home, omni_2005_2006, tiny_tft, capsys):
    tiny_config_toml(home, tiny_tft)  # a tiny TFT, trained from the store in seconds
    Store().write("omni2", omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00")))
    argv = ["train", "--preset", "quick", "--train-years", "2005", "--val-years", "2006"]
    assert main([*argv, "--test-years", "2007", "--blend"]) == 0
    out = capsys.readouterr().out
    first = stored_blend.read_record("latest")
    assert first is not None and f"trained TFT version {first.tft_version}" in out
    version = first.tft_version
    assert f"blend of tft {version}" in out and "lead 12 h:" in out
    path = home / "models" / "tft" / version / "blend.json"
    assert first.path == path and first.fitted_on["years"] == [2006]

    path.unlink()
    assert main(["blend", "--show", "--version", version]) == 2
    assert "has no stored blend" in capsys.readouterr().err
    assert main(["blend", "--version", version]) == 0  # refit from the store
    out = capsys.readouterr().out
    assert path.is_file() and f"stored {path}" in out
    assert "validation years 2006" in out and "training years 2005" in out
    for line in ("dst: members tft, obrien_mcpherron", "kp: members tft, persistence"):
        assert line in out
    assert out.count("lead  1 h:") == 2 and out.count("lead 24 h:") == 2
    assert f"superstorm evaluate --version {version} --part validate" in out
    again = stored_blend.read_record(version)
    assert again is not None and again.weights.table == first.weights.table  # deterministic
    assert main(["blend", "--show", "--version", version]) == 0
    assert "lead  6 h:" in capsys.readouterr().out
    path.write_text("[]")
    assert main(["blend", "--show", "--version", version]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"superstorm blend --version {version}" in err
