"""Kyoto Dst (WDC format): parser on the recorded files, getter through the loopback mirror."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from data_sources.http import DownloadError
from data_sources.kyoto_dst import (
    get_kyoto_dst,
    mirror_files,
    month_path,
    parse_wdc_dst,
    split_monthly,
    year_hint_from_name,
)

HOST = "wdc.kugi.kyoto-u.ac.jp"


@pytest.fixture(scope="module")
def wdc_dir(data_dir):
    return data_dir / "kyoto_dst_wdc"


@pytest.fixture(scope="module")
def dst_all(wdc_dir):
    return parse_wdc_dst(wdc_dir / "Dst_all_excl2001_2003.wdc")


@pytest.fixture(scope="module")
def real_line(wdc_dir) -> str:
    """A real final line: 1989-03-14 (the March 1989 storm)."""
    for line in (wdc_dir / "Dst_all_excl2001_2003.wdc").read_text().splitlines():
        if line.startswith("DST8903*14"):
            return line
    raise AssertionError("1989-03-14 not in the recorded file")


def at(ds, when: str) -> float:
    return float(ds["dst"].sel(time=pd.Timestamp(when)))


# ----------------------------------------------------------------------------- parser


def test_dst_all_storms_versions_and_layout(dst_all):
    assert at(dst_all, "1989-03-14 01:00") == -589
    assert float(dst_all["dst"].min()) == -589
    assert at(dst_all, "2004-11-08 06:00") == -374
    assert at(dst_all, "2015-03-17 22:00") == -223
    assert at(dst_all, "2017-09-08 01:00") == -124
    # first line: 'DST5701*01  X219 000 011 013 ...' -> hour 1 (00-01 UT) labelled 00:00
    assert dst_all.indexes["time"][0] == pd.Timestamp("1957-01-01 00:00")
    assert at(dst_all, "1957-01-01 00:00") == 11 and at(dst_all, "1957-01-01 01:00") == 13
    assert dst_all.sizes["time"] == 22015 * 24
    assert dst_all.indexes["time"].is_monotonic_increasing
    assert dst_all["time"].dtype == np.dtype("datetime64[ns]")
    assert int(dst_all["dst"].isnull().sum()) == 0
    # 2001 and 2003 are gaps in the recorded file
    years = set(dst_all.indexes["time"].year)
    assert 2001 not in years and 2003 not in years and 2002 in years
    ver = dst_all["dst_version"]
    assert ver.dtype == np.int8
    assert list(ver.attrs["flag_values"]) == [0, 1, 2]
    assert ver.attrs["flag_meanings"] == "final provisional quicklook"
    assert int(ver.sel(time="2014-12-31 23:00")) == 0
    assert int(ver.sel(time="2015-03-17 22:00")) == 1
    assert int(ver.sel(time="2017-09-08 01:00")) == 2
    # the newest, least final version in the file
    assert dst_all["dst"].attrs["data_version"] == "quicklook"
    assert dst_all["dst"].attrs["units"] == "nT"
    for key in ("source", "source_url", "cadence", "retrieved"):
        assert key in dst_all.attrs


def test_dst_2015_csv_is_wdc_provisional(wdc_dir):
    ds = parse_wdc_dst(wdc_dir / "dst_2015.csv")
    assert ds.sizes["time"] == 365 * 24
    assert float(ds["dst"].min()) == -223
    assert ds["dst"].idxmin().values == np.datetime64("2015-03-17T22:00")
    assert ds["dst"].attrs["data_version"] == "provisional"
    assert (ds["dst_version"] == 1).all()


def test_dst2000_blank_century_needs_year_hint(wdc_dir):
    path = wdc_dir / "dst2000.txt"
    with pytest.raises(
        ValueError, match=r"dst2000.txt, line 1, columns 15-16 \(century\).*year_hint"
    ):
        parse_wdc_dst(path)
    assert year_hint_from_name(path) == 2000
    ds = parse_wdc_dst(path, year_hint=year_hint_from_name(path))
    assert ds.sizes["time"] == 366 * 24
    assert ds.indexes["time"][0] == pd.Timestamp("2000-01-01")
    assert float(ds["dst"].min()) == -301
    assert ds["dst"].idxmin().values == np.datetime64("2000-07-16T00:00")
    # blank version columns: NGDC's archived final series
    assert ds["dst"].attrs["data_version"] == "final"
    with pytest.raises(ValueError, match=r"line 1, columns 4-5 \(year\).*year_hint=1999"):
        parse_wdc_dst(path, year_hint=1999)


def test_dst2000_ngdc_differs_from_newer_final_by_at_most_4nt(wdc_dir, dst_all):
    old = parse_wdc_dst(wdc_dir / "dst2000.txt", year_hint=2000)["dst"]
    new = dst_all["dst"].sel(time=slice("2000-01-01", "2000-12-31 23:00"))
    diff = np.abs(old.values - new.values)
    assert diff.max() == 4 and (diff > 0).any()


def _replace(line: str, col: int, text: str) -> str:
    """Replace 1-based columns starting at ``col`` with ``text``."""
    return line[: col - 1] + text + line[col - 1 + len(text) :]


def test_fill_9999_is_nan_and_base_value(real_line):
    ds = parse_wdc_dst(_replace(real_line, 21, "9999").encode())
    assert np.isnan(ds["dst"].values[0]) and ds["dst"].values[1] == -589
    # base value (columns 17-20) is in units of 100 nT and added to every hour
    ds = parse_wdc_dst(_replace(real_line, 17, "  -1").encode())
    assert ds["dst"].values[1] == -689


@pytest.mark.parametrize(
    ("col", "text", "match"),
    [
        (25, "-5x9", r"line 2, columns 25-28 \(hour 2\): '-5x9' is not an integer"),
        (11, "ZZX9", r"line 2, columns 11-14 \(version\)"),
        (9, "30", r"line 2, columns 4-10 \(date\): 1989-02-30 is not a calendar date"),
        (1, "KP ", r"line 2, columns 1-3/8"),
        (117, "abcd", r"line 2, columns 117-120 \(daily mean\)"),
    ],
)
def test_malformed_lines_name_file_line_and_columns(real_line, col, text, match):
    bad = _replace(real_line, col, text)
    if col == 9:  # 1989-02-30: not a date
        bad = _replace(bad, 6, "02")
    body = ("# header\n" + bad + "\n").encode()
    with pytest.raises(ValueError, match=r"^bad\.wdc, " + match):
        parse_wdc_dst(body, name="bad.wdc")


def test_truncated_line_and_empty_input(real_line):
    with pytest.raises(ValueError, match=r"x, line 1: 60 characters"):
        parse_wdc_dst(real_line[:60].encode(), name="x")
    with pytest.raises(ValueError, match="no WDC Dst lines"):
        parse_wdc_dst(b"# only a header\n", name="x")
    with pytest.raises(ValueError, match="appears more than once"):
        parse_wdc_dst((real_line + "\n" + real_line + "\n").encode(), name="x")


def test_split_monthly_places_months_by_version_and_round_trips(wdc_dir, dst_all):
    monthly = split_monthly((wdc_dir / "Dst_all_excl2001_2003.wdc").read_bytes())
    assert month_path("final", 1990, 3) == "dst_final/199003/dst9003.for.request"
    assert "dst_final/198903/dst8903.for.request" in monthly
    assert "dst_provisional/201503/dst1503.for.request" in monthly
    assert "dst_final/201503/dst1503.for.request" not in monthly
    assert "dst_realtime/201709/dst1709.for.request" in monthly
    assert not any("/2001" in k or "/2003" in k for k in monthly)
    body = b"".join(monthly[k] for k in monthly if "/2004" in k)
    again = parse_wdc_dst(body)
    ref = dst_all["dst"].sel(time=slice("2004-01-01", "2004-12-31 23:00"))
    np.testing.assert_array_equal(again["dst"].values, ref.values)


def test_mirror_files_paths(data_dir):
    files = mirror_files(data_dir)
    assert f"{HOST}/dst_final/199003/dst9003.for.request" in files
    assert len(files) == 724  # 62 years + 4 months minus 2001 and 2003
    assert mirror_files(data_dir / "nowhere") == {}


# ----------------------------------------------------------------------------- getter


def _url_path(kind: str, year: int, month: int) -> str:
    return f"{HOST}/{month_path(kind, year, month)}"


def test_get_final_month_cached_for_good(mirrored_home, fresh_mirror):
    ds = get_kyoto_dst("1989-03-01", "1989-04-01")
    assert ds.sizes["time"] == 31 * 24
    assert at(ds, "1989-03-14 01:00") == -589
    assert ds["dst"].attrs["data_version"] == "final"
    cached = mirrored_home / "cache" / "kyoto_dst" / month_path("final", 1989, 3)
    assert cached.exists()
    fresh_mirror.faults.requests.clear()
    again = get_kyoto_dst("1989-03-01", "1989-04-01")
    assert fresh_mirror.faults.requests == []  # served from the cache
    np.testing.assert_array_equal(again["dst"].values, ds["dst"].values)


def test_get_falls_back_final_provisional_realtime(mirrored_home, fresh_mirror):
    ds = get_kyoto_dst("2015-03-17", "2015-03-18")
    assert fresh_mirror.faults.requests == [
        _url_path("final", 2015, 3),
        _url_path("provisional", 2015, 3),
    ]
    assert at(ds, "2015-03-17 22:00") == -223
    assert ds["dst"].attrs["data_version"] == "provisional"
    fresh_mirror.faults.requests.clear()
    ds = get_kyoto_dst("2017-09-08", "2017-09-09")
    assert fresh_mirror.faults.requests == [
        _url_path(k, 2017, 9) for k in ("final", "provisional", "realtime")
    ]
    assert at(ds, "2017-09-08 01:00") == -124
    assert ds["dst"].attrs["data_version"] == "quicklook"
    # a span across versions: 2014-12 final, 2015-01 provisional
    ds = get_kyoto_dst("2014-12-31 22:00", "2015-01-01 02:00")
    assert list(ds["dst_version"].values) == [0, 0, 1, 1]
    assert ds["dst"].attrs["data_version"] == "provisional"


def test_provisional_months_are_refreshed_each_call(mirrored_home, fresh_mirror):
    get_kyoto_dst("2016-05-01", "2016-05-02")
    fresh_mirror.faults.requests.clear()
    get_kyoto_dst("2016-05-01", "2016-05-02")
    assert _url_path("provisional", 2016, 5) in fresh_mirror.faults.requests


def test_missing_month_is_a_logged_gap(mirrored_home, fresh_mirror, caplog):
    with caplog.at_level(logging.WARNING, logger="data_sources.kyoto_dst"):
        ds = get_kyoto_dst("2000-12-31", "2001-02-01")
    assert "2001-01" in caplog.text and "a gap" in caplog.text
    assert ds.sizes["time"] == 24
    assert ds.indexes["time"][-1] == pd.Timestamp("2000-12-31 23:00")
    with pytest.raises(ValueError, match="no Kyoto Dst"):
        get_kyoto_dst("2001-03-01", "2001-04-01")


def test_http_500_is_retried(mirrored_home, fresh_mirror):
    fresh_mirror.faults.fail_next[_url_path("final", 2004, 11)] = 2
    ds = get_kyoto_dst("2004-11-08", "2004-11-09", backoff=0.01)
    assert at(ds, "2004-11-08 06:00") == -374


def test_truncated_or_failing_download_never_enters_cache(mirrored_home, fresh_mirror):
    cache = mirrored_home / "cache" / "kyoto_dst"
    path = _url_path("final", 2004, 11)
    fresh_mirror.faults.truncate.add(path)
    with pytest.raises(DownloadError, match="IncompleteRead|truncated"):
        get_kyoto_dst("2004-11-01", "2004-12-01", retries=1, backoff=0.01)
    fresh_mirror.faults.truncate.clear()
    fresh_mirror.faults.fail_next[path] = 5
    with pytest.raises(DownloadError, match="HTTP 500"):
        get_kyoto_dst("2004-11-01", "2004-12-01", retries=1, backoff=0.01)
    assert not (cache / "dst_final" / "200411").exists() or not any(
        (cache / "dst_final" / "200411").iterdir()
    )
    # a body that arrives whole but is not WDC Dst is rejected by the parser
    fresh_mirror.faults.fail_next.clear()
    fresh_mirror.faults.replace[path] = b"<html>maintenance</html>\n"
    with pytest.raises(ValueError, match="characters, a WDC Dst line has 120"):
        get_kyoto_dst("2004-11-01", "2004-12-01", retries=1, backoff=0.01)
    assert not (cache / month_path("final", 2004, 11)).exists()


def test_failed_refresh_keeps_good_cached_provisional(mirrored_home, fresh_mirror):
    good = get_kyoto_dst("2015-03-01", "2015-04-01")
    cached = mirrored_home / "cache" / "kyoto_dst" / month_path("provisional", 2015, 3)
    before = cached.read_bytes()
    path = _url_path("provisional", 2015, 3)
    fresh_mirror.faults.truncate.add(path)
    again = get_kyoto_dst("2015-03-01", "2015-04-01", retries=1, backoff=0.01)
    np.testing.assert_array_equal(again["dst"].values, good["dst"].values)
    assert cached.read_bytes() == before
    fresh_mirror.faults.truncate.clear()
    fresh_mirror.faults.replace[path] = before[:200]  # whole HTTP body, cut mid-line
    with pytest.raises(ValueError, match="line 2"):
        get_kyoto_dst("2015-03-01", "2015-04-01", retries=1, backoff=0.01)
    assert cached.read_bytes() == before
    assert not list(cached.parent.glob("*.part"))


def test_bad_interval():
    with pytest.raises(ValueError, match="must be after start"):
        get_kyoto_dst("2015-03-02", "2015-03-01")
