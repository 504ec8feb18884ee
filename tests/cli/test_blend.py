"""``superstorm blend``: fit the stored blend of a registered TFT from the store, show it."""

from __future__ import annotations

import warnings

import pytest

from data_sources.store import Store
from forecasting.models import stored_blend
from forecasting.models.train import train
from forecasting.splits import YearSplit
from superstorm_cli.main import main

warnings.filterwarnings("ignore")

SPLIT = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, 2007))


@pytest.fixture
def version(home, omni_2005_2006, tiny_tft):
    """A tiny TFT in the isolated home, whose store holds its training and validation months."""
    ds = omni_2005_2006.sel(time=slice("2005-12-01", "2006-01-31T23:00"))
    Store().write("omni2", ds)
    return train("quick", data=ds, split=SPLIT, overrides=tiny_tft)


def test_blend_fits_from_the_store_prints_weights_and_shows(version, home, capsys):
    assert main(["blend", "--show", "--version", version]) == 2
    assert "has no stored blend" in capsys.readouterr().err
    assert main(["blend", "--version", version]) == 0
    out = capsys.readouterr().out
    path = home / "models" / "tft" / version / "blend.json"
    assert path.is_file() and f"stored {path}" in out
    assert "validate years 2006" in out and "training years 2005" in out
    for line in ("dst: members tft, obrien_mcpherron", "kp: members tft, persistence"):
        assert line in out
    assert out.count("lead  1 h:") == 2 and out.count("lead 24 h:") == 2
    assert f"superstorm evaluate --version {version} --part validate" in out
    record = stored_blend.read_record(version)
    assert record is not None and record.fitted_on["years"] == [2006]
    assert main(["blend", "--show", "--version", version]) == 0
    assert "lead  6 h:" in capsys.readouterr().out
    path.write_text("[]")
    assert main(["blend", "--show", "--version", version]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and f"superstorm blend --version {version}" in err
