"""The CLI refuses an installation where another distribution shadows a superstorm package."""

import importlib.util
from pathlib import Path

import pytest

from superstorm_cli import common
from superstorm_cli.main import main


def test_this_checkout_is_one_installation():
    root = common.check_installation()
    assert (root / "flows" / "forecast.py").is_file()


def test_a_foreign_flows_package_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    foreign = tmp_path / "site" / "flows"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text("")
    real = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "flows":
            return importlib.util.spec_from_file_location(
                "flows", foreign / "__init__.py", submodule_search_locations=[str(foreign)]
            )
        return real(name, *args)

    monkeypatch.setattr(common.importlib.util, "find_spec", find_spec)
    with pytest.raises(common.InstallationError, match=r"flows.*no forecast\.py.*own virtual"):
        common.check_installation()
    assert main(["alerts", "list"]) == 2
    assert "not superstorm's" in capsys.readouterr().err


def test_split_packages_are_refused(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere" / "dashboards"
    other.mkdir(parents=True)
    (other / "site.py").write_text("")
    real = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "dashboards":
            return importlib.util.spec_from_file_location(
                "dashboards", other / "__init__.py", submodule_search_locations=[str(other)]
            )
        return real(name, *args)

    monkeypatch.setattr(common.importlib.util, "find_spec", find_spec)
    with pytest.raises(common.InstallationError, match="split over several folders"):
        common.check_installation()
    assert Path(str(other)).parent.name == "elsewhere"
