"""OMNI2 parser (fast numpy path and strict errors) and getter through the loopback mirror."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from data_sources import omni2
from data_sources.http import DownloadError


@pytest.fixture(scope="module")
def raw2024(data_dir) -> bytes:
    return (data_dir / "omni2_low_res" / "omni2_2024.dat").read_bytes()


def _slow_words(raw: bytes) -> np.ndarray:
    return np.array(raw.split(), dtype=float).reshape(-1, omni2.N_WORDS)


def test_parse_2024_real_values(raw2024):
    ds = omni2.parse_omni2(raw2024, name="omni2_2024.dat")
    assert ds.sizes["time"] == 8784
    t = ds.indexes["time"]
    assert t[0] == pd.Timestamp("2024-01-01 00:00") and t[-1] == pd.Timestamp("2024-12-31 23:00")
    assert float(ds["dst"].min()) == -406.0
    assert ds["dst"].idxmin().values == np.datetime64("2024-05-11T02:00")
    assert float(ds["kp"].max()) == 9.0  # Kp 9o on 2024-05-10/11
    assert ds["dst"].attrs["units"] == "nT" and ds["dst"].attrs["data_version"] == "provisional"
    # fills became NaN: 2024-03-29 18:00 starts a 5 h IMF gap
    assert np.isnan(ds["bx_gsm"].sel(time="2024-03-29T18:00").item())


@pytest.mark.parametrize(
    "rel",
    [
        "omni2_low_res/omni2_2024.dat",
        "omni2_low_res/omni2_2017.dat",
        "omni2_low_res_dynaml/omni2_2000.csv",
    ],
)
def test_fast_words_bit_identical_to_float(data_dir, rel):
    raw = (data_dir / rel).read_bytes()
    slow = _slow_words(raw).view(np.int64)
    for fast_path in (omni2._words_fixed, omni2._words_fast):
        fast = fast_path(raw, raw.count(b"\n"))
        assert fast is not None, f"the recorded file must take {fast_path.__name__}"
        np.testing.assert_array_equal(fast.view(np.int64), slow)


def test_misaligned_word_leaves_fixed_path_but_parses_the_same(raw2024):
    lines = raw2024.splitlines(keepends=True)[:4]
    assert lines[2][30:36] == b"   4.5"  # word 9, |B|, of 2024-01-01 02:00
    lines[2] = lines[2][:30] + b" 4.5  " + lines[2][36:]  # same line length, left-aligned
    raw = b"".join(lines)
    assert omni2._words_fixed(raw, 4) is None
    np.testing.assert_array_equal(omni2._words(raw, "x"), _slow_words(raw))
    lines[2] = lines[2][:30] + b"  4.55" + lines[2][36:]  # decimal point moved
    assert omni2._words_fixed(b"".join(lines), 4) is None
    # word 23 (temperature, F9.0) ends in its "."; "-." keeps the layout but has no digit
    lines = raw2024.splitlines(keepends=True)[:4]
    w23 = list(re.finditer(rb"\S+", lines[2]))[22]
    assert w23.group().endswith(b".")
    width = w23.end() - w23.start()
    lines[2] = lines[2][: w23.start()] + b" " * (width - 2) + b"-." + lines[2][w23.end() :]
    raw = b"".join(lines)
    assert omni2._words_fixed(raw, 4) is None
    with pytest.raises(ValueError, match=r"line 3, word 23: '-\.' is not a number"):
        omni2.parse_omni2(raw)


def test_unusual_numbers_take_slow_path_with_same_values(raw2024):
    lines = raw2024.splitlines(keepends=True)[:3]
    words = lines[1].split()
    words[8] = b"5.4e0"  # float() accepts it; the fast path must hand over, not reject
    lines[1] = b" ".join(words) + b"\n"
    raw = b"".join(lines)
    assert omni2._words_fast(raw, 3) is None
    ds = omni2.parse_omni2(raw)
    assert ds["b_total"].values[1] == np.float32(5.4)


def test_truncated_line_names_file_and_line(raw2024):
    lines = raw2024.splitlines(keepends=True)[:5]
    lines[3] = lines[3][:100] + b"\n"
    with pytest.raises(ValueError, match=r"bad\.dat, line 4: expected 55 words"):
        omni2.parse_omni2(b"".join(lines), name="bad.dat")


def test_non_numeric_word_names_word(raw2024):
    lines = raw2024.splitlines(keepends=True)[:5]
    words = lines[2].split()
    words[24] = b"4x5."
    lines[2] = b" ".join(words) + b"\n"
    with pytest.raises(ValueError, match=r"x\.dat, line 3, word 25: b?'4x5\.' is not a number"):
        omni2.parse_omni2(b"".join(lines), name="x.dat")


def test_impossible_hour_and_empty_file(raw2024):
    lines = raw2024.splitlines(keepends=True)[:2]
    words = lines[1].split()
    words[2] = b"24"
    lines[1] = b" ".join(words) + b"\n"
    with pytest.raises(ValueError, match="line 2, words 2-3: day 1 hour 24 out of range"):
        omni2.parse_omni2(b"".join(lines))
    with pytest.raises(ValueError, match="empty file"):
        omni2.parse_omni2(b"")


def test_get_omni2_through_mirror_skips_missing_year(mirrored_home, fresh_mirror):
    ds = omni2.get_omni2("2000-12-31", "2002-01-02")  # 2001 is not recorded: a real gap
    years = set(ds.indexes["time"].year)
    assert years == {2000, 2002}
    assert ds.indexes["time"][0] == pd.Timestamp("2000-12-31")
    assert ds.indexes["time"][-1] == pd.Timestamp("2002-01-01 23:00")
    assert (mirrored_home / "cache" / "omni2" / "omni2_2000.dat").is_file()


def test_get_omni2_truncated_body_is_error_and_not_cached(mirrored_home, fresh_mirror):
    path = "spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni/omni2_2023.dat"
    fresh_mirror.faults.truncate.add(path)
    with pytest.raises(DownloadError, match="IncompleteRead|truncated"):
        omni2.get_omni2("2023-01-01", "2023-02-01", retries=1, backoff=0.01)
    assert not (mirrored_home / "cache" / "omni2" / "omni2_2023.dat").exists()
