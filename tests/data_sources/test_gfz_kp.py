"""GFZ Kp: WDC and JSON parsers on the recorded files, the since-1932 layout, the getter."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data_sources.gfz_kp import (
    encode_kp_since_1932,
    get_gfz_kp,
    mirror_dataset,
    mirror_files,
    parse_kp_json,
    parse_kp_since_1932,
    parse_kp_wdc,
)
from data_sources.http import DownloadError

SINCE = "kp.gfz-potsdam.de/app/files/Kp_ap_Ap_SN_F107_since_1932.txt"

# Real lines of GFZ's Kp_ap_Ap_SN_F107_since_1932.txt (the first day of the record, with
# its F10.7 fills, and the March 1989 storm), as quoted in public code.
HEADER = (
    "# PURPOSE: This file distributes the geomagnetic planetary three-hour index Kp\n"
    "#YYY MM DD  days  days_m  Bsr dB    Kp1    Kp2    Kp3    Kp4    Kp5    Kp6    Kp7    Kp8"
    "  ap1  ap2  ap3  ap4  ap5  ap6  ap7  ap8    Ap  SN F10.7obs F10.7adj D\n"
)
FIRST_DAY = (
    "1932 01 01     0     0.5 1352 10  3.333  2.667  2.333  2.667  3.333  2.667  3.333  3.333"
    "   18   12    9   12   18   12   18   18    15  22     -1.0     -1.0 2"
)
QUEBEC = (
    "1989 03 13 20891 20891.5 2126  3  6.000  7.667  8.667  8.333  8.333  8.333  8.667  9.000"
    "   80  179  300  236  236  236  300  400   246 210    256.0    253.0 2"
)


@pytest.fixture(scope="module")
def kp_dir(data_dir):
    return data_dir / "gfz_kp"


@pytest.fixture(scope="module")
def real(data_dir):
    """The mirror's real values (Celestrak SW-All.txt + GFZ WDC 2009/2020)."""
    return mirror_dataset(str(data_dir.resolve()))


# ----------------------------------------------------------------------------- WDC


def test_wdc_definitive_2009(kp_dir):
    ds = parse_kp_wdc(kp_dir / "Kp_def2009.wdc")
    assert ds.sizes["time"] == 365 * 8
    assert ds.indexes["time"][0] == pd.Timestamp("2009-01-01 00:00")
    assert ds.indexes["time"][1] == pd.Timestamp("2009-01-01 03:00")
    # ' 9 1 12394 1172327202317 717150  6  9 12  7  9  6  3  6  70.42'
    np.testing.assert_allclose(
        ds["kp"].values[:8] * 3, [5, 7, 8, 6, 7, 5, 2, 5], atol=1e-5
    )  # 2-, 2+, 3-, 2o, 2+, 2-, 1-, 2-
    assert list(ds["ap"].values[:8]) == [6, 9, 12, 7, 9, 6, 3, 6]
    assert (ds["ap_daily"].values[:8] == 7).all()
    assert ds["kp"].attrs["data_version"] == "definitive"
    assert (ds["kp_version"] == 0).all()
    assert ds["kp_version"].attrs["flag_meanings"] == "definitive nowcast"
    assert ds.attrs["cadence"] == "3h"
    assert float(ds["kp"].max()) <= 9 and int(ds["kp"].isnull().sum()) == 0


def test_wdc_nowcast_2020(kp_dir):
    ds = parse_kp_wdc(kp_dir / "Kp_now2020.wdc")
    assert ds.sizes["time"] == 366 * 8
    assert ds["kp"].attrs["data_version"] == "nowcast"
    assert (ds["kp_version"] == 1).all()
    # last line: '2012312556 92310 713 3 7 3 7 73  9  4  3  5  2  3  2  3  40.10'
    last = ds.sel(time=slice("2020-12-31", None))
    np.testing.assert_allclose(last["kp"].values * 3, [7, 3, 2, 4, 1, 2, 1, 2], atol=1e-5)
    assert last["ap_daily"].values[0] == 4


def test_wdc_century_and_malformed(kp_dir):
    raw = (kp_dir / "Kp_def2009.wdc").read_bytes()
    with pytest.raises(ValueError, match="2-digit year; pass year_hint"):
        parse_kp_wdc(raw, name="kp.wdc")
    ds = parse_kp_wdc(raw, name="kp.wdc", year_hint=2009, status="definitive")
    assert ds.indexes["time"][0].year == 2009
    lines = raw.decode().splitlines()
    n = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    good = lines[n]
    cases = [
        (good[:12] + "18" + good[14:], r"columns 13-14 \(Kp1\): 18 is not a Kp code"),
        (good[:28] + "151" + good[31:], r"columns 29-31 \(Kp sum\): 151 disagrees"),
        (good[:31] + " x9" + good[34:], r"columns 32-34 \(ap1\): ' x9' is not an integer"),
        (good[:40], r"40 characters, a WDC Kp line has 62"),
    ]
    for bad, match in cases:
        body = "\n".join(lines[:n] + [bad] + lines[n + 1 :]).encode()
        with pytest.raises(ValueError, match=rf"^Kp_def2009.wdc, line {n + 1}[:,] " + match):
            parse_kp_wdc(body, name="Kp_def2009.wdc")


# ----------------------------------------------------------------------------- JSON


def test_hp30_hp60_json(kp_dir):
    hp30 = parse_kp_json(kp_dir / "Hp30_2009-01.txt")
    hp60 = parse_kp_json(kp_dir / "Hp60_2009-01.txt")
    assert hp30.sizes["time"] == 1489 and hp60.sizes["time"] == 745
    assert hp30.attrs["cadence"] == "30min" and hp60.attrs["cadence"] == "1h"
    assert hp30.indexes["time"][1] - hp30.indexes["time"][0] == pd.Timedelta("30min")
    assert hp60.indexes["time"][-1] == pd.Timestamp("2009-02-01 00:00")
    raw = json.loads((kp_dir / "Hp60_2009-01.txt").read_bytes())
    np.testing.assert_allclose(hp60["hp60"].values, raw["Hp60"], rtol=1e-6)
    assert hp60["hp60"].attrs["units"] == "1"
    assert "hp60_version" not in hp60  # Hpo answers carry no status


def test_kp_json_status_fills_and_errors():
    doc = {
        "meta": {"source": "GFZ Potsdam"},
        "datetime": ["2024-05-10T18:00:00Z", "2024-05-10T21:00:00Z", "2024-05-11T00:00:00Z"],
        "Kp": [8.667, 8.667, -1],
        "status": ["def", "def", "now"],
    }
    ds = parse_kp_json(json.dumps(doc).encode(), name="api")
    assert ds["kp"].values[0] == pytest.approx(26 / 3)
    assert np.isnan(ds["kp"].values[2])
    assert list(ds["kp_version"].values) == [0, 0, 1]
    assert ds["kp"].attrs["data_version"] == "nowcast"
    with pytest.raises(ValueError, match=r"^api, field Kp: 2 values for 3 datetimes"):
        parse_kp_json(json.dumps({**doc, "Kp": [1.0, 2.0]}).encode(), name="api")
    with pytest.raises(ValueError, match=r"^api, field Kp\[1\] \(2024-05-10T21:00:00Z\): 'x'"):
        parse_kp_json(json.dumps({**doc, "Kp": [1.0, "x", 2.0]}).encode(), name="api")
    with pytest.raises(ValueError, match="^api: not JSON"):
        parse_kp_json(json.dumps(doc).encode()[:50], name="api")
    with pytest.raises(ValueError, match="none of the indices"):
        parse_kp_json(b'{"datetime": []}', name="api")


# ----------------------------------------------------------------------------- since 1932


def test_since_1932_real_lines_and_exact_layout():
    ds = parse_kp_since_1932((HEADER + FIRST_DAY + "\n" + QUEBEC + "\n").encode())
    assert ds.sizes["time"] == 16
    day = ds.sel(time=slice("1989-03-13", "1989-03-13 21:00"))
    np.testing.assert_allclose(day["kp"].values * 3, [18, 23, 26, 25, 25, 25, 26, 27], atol=1e-5)
    assert list(day["ap"].values) == [80, 179, 300, 236, 236, 236, 300, 400]
    assert day["ap_daily"].values[0] == 246 and day["sunspot_number"].values[0] == 210
    assert day["f107"].values[0] == 256.0 and day["f107_adj"].values[0] == 253.0
    first = ds.sel(time="1932-01-01")
    assert first["f107"].isnull().all() and first["sunspot_number"].values[0] == 22
    assert (ds["kp_version"] == 0).all() and (ds["sunspot_number_version"] == 0).all()
    # the encoder writes these real lines back byte for byte (days, Bartels, widths, fills)
    lines = encode_kp_since_1932(ds).decode().splitlines()
    data = [ln for ln in lines if not ln.startswith("#")]
    assert data == [FIRST_DAY, QUEBEC]
    assert "#YYY MM DD  days  days_m  Bsr dB" in "\n".join(lines)


def test_since_1932_flags_fills_and_malformed():
    nowcast = QUEBEC[:-1] + "0"
    ds = parse_kp_since_1932((QUEBEC[:-1] + "1\n").encode())
    assert ds["kp"].attrs["data_version"] == "definitive"
    assert ds["sunspot_number"].attrs["data_version"] == "nowcast"
    filled = nowcast.replace("9.000   80", "-1.000   80").replace("  400   246", "   -1   246")
    ds = parse_kp_since_1932(filled.encode())
    assert np.isnan(ds["kp"].values[-1]) and np.isnan(ds["ap"].values[-1])
    assert ds["kp"].attrs["data_version"] == "nowcast" and (ds["kp_version"] == 1).all()
    with pytest.raises(ValueError, match=r"^f, line 2: expected 28 fields .* found 27"):
        parse_kp_since_1932(("#h\n" + QUEBEC[:-2] + "\n").encode(), name="f")
    with pytest.raises(ValueError, match=r"^f, line 1, field Kp3: '8.6x7' is not a number"):
        parse_kp_since_1932(QUEBEC.replace("8.667", "8.6x7", 1).encode(), name="f")
    with pytest.raises(ValueError, match=r"^f, line 1, field Kp1: 9.5 outside \[0, 9\]"):
        parse_kp_since_1932(QUEBEC.replace(" 6.000", " 9.500", 1).encode(), name="f")
    with pytest.raises(ValueError, match=r"^f, line 1, field D: 7.0 is not 0, 1 or 2"):
        parse_kp_since_1932((QUEBEC[:-1] + "7").encode(), name="f")
    with pytest.raises(ValueError, match=r"^f, line 1, date fields: 1989-2-30"):
        parse_kp_since_1932(QUEBEC.replace("1989 03 13", "1989 02 30").encode(), name="f")


def test_real_values_round_trip_and_sources(real, kp_dir):
    # Celestrak (tenths) and GFZ agree on the March 1989 storm day
    day = real.sel(time=slice("1989-03-13", "1989-03-13 21:00"))
    ref = parse_kp_since_1932(QUEBEC.encode())
    for var in ("kp", "ap", "ap_daily", "sunspot_number", "f107", "f107_adj"):
        np.testing.assert_allclose(day[var].values, ref[var].values, rtol=1e-6)
    # 2009 and 2020 Kp/ap/Ap are GFZ's own WDC files, with their status
    wdc = parse_kp_wdc(kp_dir / "Kp_def2009.wdc")
    sel = real.sel(time=wdc.indexes["time"])
    np.testing.assert_array_equal(sel["kp"].values, wdc["kp"].values)
    np.testing.assert_array_equal(sel["ap"].values, wdc["ap"].values)
    assert (sel["kp_version"] == 0).all()
    assert (real["kp_version"].sel(time="2020-06-01") == 1).all()
    assert real.indexes["time"][0] == pd.Timestamp("1957-10-01")
    # round trip: parse(encode(real)) == real, every variable, NaN where NaN
    again = parse_kp_since_1932(encode_kp_since_1932(real))
    for var in real.data_vars:
        np.testing.assert_array_equal(again[var].values, real[var].values)
    assert again["kp"].attrs["data_version"] == real["kp"].attrs["data_version"]


def test_mirror_files_serves_the_exact_layout(data_dir):
    body = mirror_files(data_dir)[SINCE]
    assert b"superstorm offline mirror" in body
    first = next(ln for ln in body.decode().splitlines() if not ln.startswith("#"))
    assert len(first) == len(QUEBEC) and first.startswith("1957 10 01  9405  9405.5 1700 19")


# ----------------------------------------------------------------------------- getter


def test_get_file_method(mirrored_home, fresh_mirror):
    ds = get_gfz_kp("1989-03-13", "1989-03-15")
    assert ds.sizes["time"] == 16
    assert float(ds["kp"].sel(time="1989-03-13 21:00")) == 9.0
    assert ds.attrs["source_url"].endswith("kp.gfz-potsdam.de/app")
    cached = mirrored_home / "cache" / "gfz_kp" / "Kp_ap_Ap_SN_F107_since_1932.txt"
    assert cached.exists()
    fresh_mirror.faults.requests.clear()
    get_gfz_kp("2009-01-01", "2009-01-02")  # fresh cache: no download
    assert fresh_mirror.faults.requests == []


def test_get_file_failures_keep_cache(mirrored_home, fresh_mirror):
    fresh_mirror.faults.truncate.add(SINCE)
    with pytest.raises(DownloadError):
        get_gfz_kp("2009-01-01", "2009-01-02", retries=1, backoff=0.01)
    cache = mirrored_home / "cache" / "gfz_kp"
    assert not cache.exists() or not any(cache.iterdir())
    fresh_mirror.faults.truncate.clear()
    fresh_mirror.faults.fail_next[SINCE] = 1
    good = get_gfz_kp("2009-01-01", "2009-01-02", retries=1, backoff=0.01)
    before = (cache / "Kp_ap_Ap_SN_F107_since_1932.txt").read_bytes()
    fresh_mirror.faults.replace[SINCE] = before[:5000]  # whole body, cut mid-line
    with pytest.raises(ValueError, match="expected 28 fields"):
        get_gfz_kp("2009-01-01", "2009-01-02", refresh=True, retries=1, backoff=0.01)
    assert (cache / "Kp_ap_Ap_SN_F107_since_1932.txt").read_bytes() == before
    assert float(good["kp"].max()) > 0


def test_get_json_method_matches_file(mirrored_home, fresh_mirror):
    js = get_gfz_kp("2009-01-30", "2009-02-02", method="json", backoff=0.01)
    fl = get_gfz_kp("2009-01-30", "2009-02-02")
    assert js.sizes["time"] == 24
    for var in ("kp", "ap", "ap_daily", "sunspot_number", "f107", "f107_adj"):
        np.testing.assert_allclose(js[var].values, fl[var].values, rtol=1e-6)
    assert (js["kp_version"] == 0).all()
    # one request per index and month, cached for good once definitive
    assert len(fresh_mirror.faults.requests) >= 12
    fresh_mirror.faults.requests.clear()
    get_gfz_kp("2009-01-30", "2009-02-02", method="json", indices=("Kp", "ap"))
    assert fresh_mirror.faults.requests == []
    hp = get_gfz_kp("2009-01-10", "2009-01-11", method="json", indices=("Hp30",))
    assert hp.sizes["time"] == 48 and "hp30" in hp
    with pytest.raises(ValueError, match="unknown GFZ index"):
        get_gfz_kp("2009-01-10", "2009-01-11", method="json", indices=("Dst",))
    with pytest.raises(ValueError, match="request Hp30 / Hp60 on their own"):
        get_gfz_kp("2009-01-10", "2009-01-11", method="json", indices=("Kp", "Hp60"))
    with pytest.raises(ValueError, match="method"):
        get_gfz_kp("2009-01-10", "2009-01-11", method="ftp")
