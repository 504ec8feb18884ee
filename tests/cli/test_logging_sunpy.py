"""The CLI's quiet logging must not break sunpy (the solar_indices source imports it)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
from superstorm_cli.common import configure_logging
configure_logging(False)
import sunpy.timeseries  # failed with "'Logger' object has no attribute '_set_defaults'"
print("sunpy ok")
"""


def test_configure_logging_leaves_sunpys_logger_to_sunpy():
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "sunpy ok" in out.stdout
