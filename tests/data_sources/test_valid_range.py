"""Physical range checks in the parsers: a corrupted value is flagged NaN, never data."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from data_sources import kyoto_dst, omni2, swpc
from data_sources.base import OutOfRangeWarning, apply_valid_range
from data_sources.vocabulary import VARIABLES, Variable, describe


def test_every_variable_has_limits_and_direction():
    for var in VARIABLES.values():
        lo, hi = var.valid_range
        assert lo < hi
    assert describe("dst").storm_direction == "low"
    assert describe("kp").storm_direction == "high"
    assert describe("ap").storm_direction == "high"
    assert describe("v_sw").storm_direction is None
    # the most extreme events on record are inside the limits
    assert describe("dst").valid_range[0] <= -589 and describe("kp").valid_range == (0.0, 9.0)


def test_variable_rejects_bad_spec():
    with pytest.raises(ValueError, match="min < max"):
        Variable("x", "1", "x", (1.0, 0.0))
    with pytest.raises(ValueError, match="storm_direction"):
        Variable("x", "1", "x", (0.0, 1.0), "down")


def _corrupt_dst_line(raw: bytes, day: int, hour: int, new: bytes) -> bytes:
    lines = raw.split(b"\n")
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) > 40 and int(words[1]) == day and int(words[2]) == hour:
            spans = [m.span() for m in re.finditer(rb"\S+", line)]
            start, end = spans[40]  # word 41 = Dst (I6; -99998 needs one more column)
            lines[i] = line[:start] + b" " + new + line[end:]
            return b"\n".join(lines)
    raise AssertionError("line not found")


def test_omni2_dst_minus_99998_is_flagged_not_a_superstorm(data_dir):
    raw = (data_dir / "omni2_low_res" / "omni2_2024.dat").read_bytes()
    bad = _corrupt_dst_line(raw, day=100, hour=5, new=b"-99998")
    with pytest.warns(OutOfRangeWarning, match=r"omni2_bad\.dat: 1 value\(s\) of dst .*-99998"):
        ds = omni2.parse_omni2(bad, name="omni2_bad.dat")
    assert np.isnan(ds["dst"].sel(time="2024-04-09T05:00").item())
    assert ds["dst"].attrs["n_out_of_range"] == 1
    assert float(ds["dst"].min()) == -406.0  # the real Gannon storm minimum survives
    clean = omni2.parse_omni2(raw, name="omni2_2024.dat")
    assert "n_out_of_range" not in clean["dst"].attrs
    assert int(ds["dst"].isnull().sum()) == int(clean["dst"].isnull().sum()) + 1


def test_swpc_kyoto_json_out_of_range(data_dir):
    rows = json.loads((data_dir / "swpc_products" / "kyoto-dst.json").read_bytes())
    rows[5][1] = "-99998"
    rows[6][1] = "1e9"
    with pytest.warns(OutOfRangeWarning, match="2 value"):
        ds = swpc.parse_swpc_json(json.dumps(rows).encode(), name="kyoto-dst.json")
    assert int(ds["dst"].attrs["n_out_of_range"]) == 2
    assert float(ds["dst"].min()) > -2000


def test_swpc_plasma_infinite_speed_flagged(data_dir):
    rows = json.loads((data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json").read_bytes())
    rows[10][2] = "Infinity"
    with pytest.warns(OutOfRangeWarning, match="v_sw"):
        ds = swpc.parse_swpc_json(json.dumps(rows).encode(), name="plasma-7-day.json")
    assert np.isfinite(ds["v_sw"].max().item())


def test_real_files_raise_no_range_warning(data_dir, recwarn):
    omni2.parse_omni2(data_dir / "omni2_low_res" / "omni2_2024.dat")
    kyoto_dst.parse_wdc_dst(data_dir / "kyoto_dst_wdc" / "Dst_all_excl2001_2003.wdc")
    swpc.parse_swpc_json(data_dir / "swpc_rtsw" / "plasma-7-day_2024-05-08.json")
    assert not [w for w in recwarn if issubclass(w.category, OutOfRangeWarning)]


def test_apply_valid_range_ignores_qc_and_unknown(data_dir):
    ds = omni2.parse_omni2(data_dir / "omni2_low_res" / "omni2_2017.dat")
    ds["dst_qc"] = ds["dst"] * 0 + 99  # not a physical variable: untouched
    out = apply_valid_range(ds, name="x")
    assert int(out["dst_qc"].max()) == 99
