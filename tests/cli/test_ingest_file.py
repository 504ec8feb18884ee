"""``superstorm ingest --file``: a researcher's own text listing into the store."""

from __future__ import annotations

import numpy as np
import pytest

from data_sources.store import Store
from superstorm_cli import main as cli
from tests.data_sources.test_local_file import _omni_2024, _omniweb_text


def test_ingest_file_puts_a_text_listing_in_the_store(home, data_dir, tmp_path, capsys):
    ds = _omni_2024(data_dir)
    path = tmp_path / "My-Listing.txt"
    _omniweb_text(ds, path)
    code = cli.main(
        [
            "ingest",
            "--file",
            str(path),
            "--layout",
            "text",
            "--time-columns",
            "year=YEAR,doy=DOY,hour=HR",
            "--map",
            "V=v_sw,BZ=bz_gsm",
            "--fill",
            "9999",
        ]
    )
    assert code == 0
    assert "local_my_listing" in capsys.readouterr().out
    stored = Store(home / "store").read("local_my_listing")
    np.testing.assert_allclose(stored["v_sw"].values, ds["v_sw"].values, atol=0.051, equal_nan=True)


def test_ingest_file_without_a_map_says_what_to_add(home, tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("time,V\n2024-05-10T00:00,400\n")
    assert cli.main(["ingest", "--file", str(path), "--time-column", "time"]) == 2
    assert "--map NATIVE=CANONICAL" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["V", "V=", "=v_sw"])
def test_ingest_file_malformed_map_is_refused(home, tmp_path, capsys, bad):
    path = tmp_path / "x.csv"
    path.write_text("time,V\n2024-05-10T00:00,400\n")
    assert cli.main(["ingest", "--file", str(path), "--time-column", "time", "--map", bad]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
