"""Run the CF Conventions checker (``cfchecks``) offline.

``cfchecks`` downloads the CF standard-name, area-type and region tables at each run; this
machine has no internet. The standard-name table comes from the one the IOOS
``compliance-checker`` package ships (a real, versioned copy); superstorm's files use no
``area_type`` and no ``region`` attribute, so empty area-type and region tables stand in for
those two (any such attribute would then be reported as an error: stricter, not looser).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CFReport:
    """What cfchecks said about one file."""

    errors: int
    warnings: int
    output: str


def cfchecks_command() -> str | None:
    """The ``cfchecks`` executable beside this interpreter (or on PATH), if installed."""
    here = Path(sys.executable).with_name("cfchecks")
    return str(here) if here.exists() else shutil.which("cfchecks")


def standard_name_table() -> Path:
    """The CF standard-name table XML shipped by ``compliance-checker``."""
    import compliance_checker

    return Path(compliance_checker.__file__).parent / "data" / "cf-standard-name-table.xml"


def _empty_tables(folder: Path) -> tuple[Path, Path]:
    area = folder / "area-type-table.xml"
    region = folder / "standardized-region-list.xml"
    area.write_text(
        '<?xml version="1.0"?>\n<area_type_table><version_number>0</version_number>'
        "<date>none</date></area_type_table>\n"
    )
    region.write_text(
        '<?xml version="1.0"?>\n<standardized_region_list><version_number>0</version_number>'
        "<date>none</date></standardized_region_list>\n"
    )
    return area, region


def check(path: Path, workdir: Path) -> CFReport:
    """Run cfchecks on ``path`` with the offline tables; parse its error and warning counts."""
    cmd = cfchecks_command()
    if cmd is None:
        raise RuntimeError("cfchecks is not installed: pip install cfchecker (dev extras)")
    area, region = _empty_tables(workdir)
    proc = subprocess.run(
        [cmd, "-s", str(standard_name_table()), "-a", str(area), "-r", str(region), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
    )
    out = proc.stdout + proc.stderr
    errors = re.search(r"ERRORS detected: (\d+)", out)
    warnings = re.search(r"WARNINGS given: (\d+)", out)
    if errors is None or warnings is None:
        raise RuntimeError(f"cfchecks did not finish on {path}:\n{out[-3000:]}")
    return CFReport(int(errors.group(1)), int(warnings.group(1)), out)
