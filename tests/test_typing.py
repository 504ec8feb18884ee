"""mypy (untyped defs disallowed) passes on every production package."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


PACKAGES = ["data_sources", "forecasting", "flows", "dashboards", "superstorm_cli"]


def test_mypy_is_clean_on_every_package():
    pytest.importorskip("mypy", reason="mypy is in the dev extras: pip install -e '.[dev]'")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert cfg["disallow_untyped_defs"] is True and cfg["files"] == PACKAGES
    run = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_project_warnings_are_errors():
    from data_sources.base import SuperstormWarning

    with pytest.raises(SuperstormWarning):
        import warnings

        warnings.warn("a project warning", SuperstormWarning, stacklevel=1)
