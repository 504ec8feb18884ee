"""The SWPC-layout products against the recorded SWPC samples (``swpc_products/``).

The recorded samples are SWPC's Geomagnetic Forecast (``*geomag_forecast.txt``) and
``kyoto-dst.json``; the 3-day forecast's Kp table rows, the probability block, the ``:Issued:``
line, and the JSON products' header and ``time_tag`` format are checked against them.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from forecasting.alerting.log import AlertLog
from forecasting.alerting.rules import ALERT, EXTEND, ISSUE, WARNING, WATCH, AlertAction
from forecasting.products import alerts_json, blocks, three_day
from forecasting.products.dst_json import dst_forecast_rows
from forecasting.products.kp_json import kp_forecast_rows
from forecasting.products.write import write_products
from tests.support.examples import load_omni2, persistence_spread

ISSUE_T = pd.Timestamp("2024-05-10T20:00")
ROW = re.compile(r"^(\d\d-\d\dUT)\s+(.*)$")
PROB = re.compile(
    r"^(Active|Minor storm|Moderate storm|Strong-Extreme storm)\s+([\d-]{2}(?:/[\d-]{2}){2})$"
)


@pytest.fixture(scope="module")
def obs(data_dir):
    return load_omni2(data_dir, 2024)


@pytest.fixture(scope="module")
def fc(obs):
    return persistence_spread(obs, [ISSUE_T])


def samples(data_dir) -> list[str]:
    folder = data_dir / "swpc_products"
    paths = sorted(folder.glob("*geomag_forecast.txt")) + [folder / "3-day-geomag-forecast.txt"]
    return [p.read_text() for p in paths]


def kp_rows(text: str) -> dict[str, list[str]]:
    """Block label -> cells of a Kp table (SWPC sample or ours)."""
    out = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            out[m.group(1)] = re.findall(r"\d\.\d\d(?: \(G\d\))?|n/a", m.group(2))
    return out


def test_three_day_table_has_the_samples_rows_and_days(data_dir, fc, obs):
    text = three_day.three_day_forecast(fc, obs, ISSUE_T)
    ours = kp_rows(text)
    for sample in samples(data_dir):
        theirs = kp_rows(sample)
        assert list(theirs) == list(ours) == list(blocks.BLOCK_LABELS)
        assert all(len(v) == 3 for v in theirs.values())
        # the day header: three "Mon DD" columns, as in the sample
        head = [ln for ln in sample.splitlines() if re.fullmatch(r"\s+(\w{3} \d\d\s*){3}", ln)]
        assert len(head) == 1
    assert re.search(r"^\s{13}May 10\s+May 11\s+May 12$", text, re.M)
    assert all(len(v) == 3 for v in ours.values())
    # a value at or above G1 carries its level; below it carries none
    for cells in ours.values():
        for cell in cells:
            if cell == "n/a":
                continue
            kp = float(cell[:4])
            level = blocks.g_scale(kp)
            assert cell == (f"{kp:.2f} ({level})" if level else f"{kp:.2f}")


def test_three_day_header_and_probabilities_follow_the_samples(data_dir, fc, obs):
    text = three_day.three_day_forecast(fc, obs, ISSUE_T)
    for doc in [*samples(data_dir), text]:
        issued = re.search(r"^:Issued: (.+)$", doc, re.M).group(1)
        datetime.strptime(issued, "%Y %b %d %H%M UTC")
        probs = [PROB.match(ln) for ln in doc.splitlines() if PROB.match(ln)]
        assert [m.group(1) for m in probs] == [
            "Active",
            "Minor storm",
            "Moderate storm",
            "Strong-Extreme storm",
        ]
        # the value column starts where the sample's does (label column of 22)
        assert {ln.index(m.group(2)) for ln, m in ((m.string, m) for m in probs)} == {22}
        assert re.search(r"Probabilities \d\d \w{3}-\d\d \w{3}$", doc, re.M)
    assert ":Issued: 2024 May 10 2000 UTC" in text
    assert "not an official NOAA SWPC product" in text


def test_three_day_uses_only_what_was_known(fc, obs):
    text = three_day.three_day_forecast(fc, obs, ISSUE_T)
    rows = kp_rows(text)
    # 15-18UT ended at 18:00 (known at 20:00): observed Kp 8- (G4) of the Gannon storm
    kp_obs = float(obs["kp"].sel(time="2024-05-10T15:00"))
    assert rows["15-18UT"][0] == f"{blocks.round_third(kp_obs):.2f} (G4)"
    # 18-21UT had not ended: the forecast's value, not the observation
    fc_kp = blocks.forecast_kp_blocks(fc)
    assert rows["18-21UT"][0].startswith(f"{fc_kp[pd.Timestamp('2024-05-10T18:00')]:.2f}")
    # the 24-h lead grid ends 2024-05-11 20:00: later blocks are n/a, and say so
    assert rows["21-00UT"][1] == "n/a" and all(c == "n/a" for c in (r[2] for r in rows.values()))
    assert "greatest observed 3 hr Kp over the past 24 hours was 7.67 (NOAA\nScale G4)" in text
    # an observed G-level day is certain (99, SWPC's ceiling); the day with no forecast '--'
    assert re.search(r"^Minor storm\s+99/\d\d/--$", text, re.M)


def test_three_day_without_a_forecast_says_so(obs):
    text = three_day.three_day_forecast(None, obs, ISSUE_T)
    assert "No Kp forecast is available for May 10-May 12 2024." in text
    assert kp_rows(text)["18-21UT"] == ["n/a", "n/a", "n/a"]


def test_kp_json_follows_swpc_layout(data_dir, fc, obs):
    rows = kp_forecast_rows(fc, obs, ISSUE_T)
    assert rows[0] == ["time_tag", "kp", "observed", "noaa_scale"]
    sample = json.loads((data_dir / "swpc_products" / "kyoto-dst.json").read_text())
    tag_format = "%Y-%m-%d %H:%M:%S"
    datetime.strptime(sample[1][0], tag_format)  # the same time_tag layout as SWPC's JSON
    times = [datetime.strptime(r[0], tag_format) for r in rows[1:]]
    assert all((b - a).total_seconds() == 3 * 3600 for a, b in zip(times, times[1:], strict=False))
    words = [r[2] for r in rows[1:]]
    assert set(words) == {"observed", "predicted"}
    assert words == sorted(words)  # observed rows first, then predicted
    for tag, kp, word, scale in rows[1:]:
        assert re.fullmatch(r"\d\.\d\d", kp)
        assert scale == blocks.g_scale(float(kp))
        if word == "observed":  # known at issue time: the 3-h block has ended
            assert pd.Timestamp(tag) + pd.Timedelta("3h") <= ISSUE_T
    assert rows[-1][0] == "2024-05-11 18:00:00"  # block holding the last lead (19:00 label)


def test_kp_json_marks_swpc_real_time_kp_estimated(fc, obs):
    estimated = obs.copy()
    estimated["kp"] = obs["kp"].assign_attrs(input_source="swpc_kp")
    words = {r[2] for r in kp_forecast_rows(fc, estimated, ISSUE_T)[1:]}
    assert words == {"estimated", "predicted"}


def test_dst_json_carries_observed_and_quantiles(data_dir, fc, obs):
    rows = dst_forecast_rows(fc, obs, ISSUE_T)
    sample = json.loads((data_dir / "swpc_products" / "kyoto-dst.json").read_text())
    assert rows[0][:2] == sample[0] == ["time_tag", "dst"]
    assert rows[0][2:] == ["observed"] + [f"q{q:g}" for q in fc["quantile"].values]
    observed = [r for r in rows[1:] if r[2] == "observed"]
    predicted = [r for r in rows[1:] if r[2] == "predicted"]
    assert observed[-1][0] == "2024-05-10 19:00:00"  # the hour ending at the issue time
    assert float(observed[-1][1]) == float(obs["dst"].sel(time="2024-05-10T19:00"))
    assert len(predicted) == fc.sizes["lead_time"] and predicted[0][0] == "2024-05-10 20:00:00"
    for r in predicted:
        q = np.array([float(v) for v in r[3:]])
        assert np.all(np.diff(q) >= 0) and float(r[1]) == q[3]  # median = q0.5
    assert all(isinstance(v, str) for r in observed for v in r[:3])


def _log_with_messages(path) -> list[dict]:
    log = AlertLog(path)
    t0 = pd.Timestamp("2024-05-10T17:00")
    warn = AlertAction(ISSUE, WARNING, "kp", "G1", 0.7, t0, t0 + pd.Timedelta("6h"), t0)
    log.record_run(t0, [warn])
    serial = log.messages()[0]["serial"]
    t1 = ISSUE_T
    log.record_run(
        t1,
        [
            AlertAction(
                EXTEND, WARNING, "kp", "G1", 0.8, t0, t1 + pd.Timedelta("6h"), t1, refers_to=serial
            ),
            AlertAction(
                ISSUE,
                ALERT,
                "kp",
                "G4",
                1.0,
                pd.Timestamp("2024-05-10T15:00"),
                None,
                t1,
                detail="observed Kp 8-",
            ),
            AlertAction(
                ISSUE,
                WATCH,
                "kp",
                "G3",
                0.6,
                pd.Timestamp("2024-05-11"),
                pd.Timestamp("2024-05-12"),
                t1,
            ),
        ],
    )
    return log.messages()


def test_alerts_json_follows_swpc_layout(tmp_path):
    messages = _log_with_messages(tmp_path / "alerts.sqlite")
    records = json.loads(alerts_json.alerts_json(messages, ISSUE_T))
    assert [list(r) for r in records] == [["product_id", "issue_datetime", "message"]] * 4
    issued = [datetime.strptime(r["issue_datetime"], "%Y-%m-%d %H:%M:%S.%f") for r in records]
    assert issued == sorted(issued, reverse=True)  # newest first
    for r in records:
        lines = r["message"].split("\r\n")
        code = re.fullmatch(r"Space Weather Message Code: (\w{6})", lines[0]).group(1)
        assert re.fullmatch(r"Serial Number: \d+", lines[1])
        assert re.fullmatch(r"Issue Time: \d{4} \w{3} \d\d \d{4} UTC", lines[2])
        assert lines[3] == ""
        assert (
            r["product_id"]
            == alerts_json.codes(
                next(m for m in messages if f"Serial Number: {m['serial']}" == lines[1])
            )[0]
        )
        assert code[:3] in ("WAR", "ALT", "WAT", "SUM")
    by_code = {r["message"].split("\r\n")[4]: r["message"] for r in records}
    first = messages[0]["serial"]
    ext = by_code["EXTENDED WARNING: Geomagnetic K-index of 5 expected"]
    assert f"Extension to Serial Number: {first}" in ext
    assert "Valid From: 2024 May 10 1700 UTC\r\nNow Valid Until: 2024 May 11 0200 UTC" in ext
    alert = by_code["ALERT: Geomagnetic K-index of 8"]
    assert "Synoptic Period: 1500-1800 UTC" in alert and "Active Warning: Yes" in alert
    assert "NOAA Scale: G4 - Severe" in alert
    watch = by_code["WATCH: Geomagnetic Storm Category G3 Predicted"]
    assert "May 11:  G3 (Strong)" in watch
    assert [r["product_id"] for r in records] == ["A50F", "K08A", "K05W", "K05W"]


def test_alerts_json_window_ends_at_the_issue_time(tmp_path):
    messages = _log_with_messages(tmp_path / "alerts.sqlite")
    assert len(alerts_json.alerts_records(messages, "2024-05-10T18:00")) == 1
    assert alerts_json.alerts_records(messages, "2024-05-20T00:00") == []


def test_write_products_is_atomic_and_readable(tmp_path, fc, obs, monkeypatch):
    out = tmp_path / "products"
    paths = write_products(out, fc, obs, [], ISSUE_T)
    assert sorted(paths) == sorted(
        ["3-day-forecast.txt", "kp-forecast.json", "dst-forecast.json", "alerts.json"]
    )
    assert all(oct(p.stat().st_mode & 0o777) == "0o644" for p in paths.values())
    before = {n: p.read_bytes() for n, p in paths.items()}

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_products(out, fc, obs, [], "2024-05-10T21:00")
    assert {n: p.read_bytes() for n, p in paths.items()} == before
    assert sorted(f.name for f in out.iterdir()) == sorted(before)  # no temp file left


def test_alerts_json_names_an_unavailable_forecast_not_stale_input(tmp_path):
    from forecasting.alerting.rules import ALL_CLEAR, FORECAST_UNAVAILABLE, STALE_INPUT

    log = AlertLog(tmp_path / "alerts.sqlite")
    t0 = pd.Timestamp("2024-05-10T17:00")
    down = AlertAction(
        ISSUE,
        FORECAST_UNAVAILABLE,
        "forecast",
        "forecast",
        float("nan"),
        t0,
        None,
        t0,
        detail="no usable primary forecast",
    )
    stale = AlertAction(ISSUE, STALE_INPUT, "solar_wind", "solar_wind", float("nan"), t0, None, t0)
    log.record_run(t0, [down, stale])
    by_kind = {m["kind"]: m for m in log.messages()}
    t1 = t0 + pd.Timedelta("2h")
    log.record_run(
        t1,
        [
            AlertAction(
                ALL_CLEAR,
                FORECAST_UNAVAILABLE,
                "forecast",
                "forecast",
                float("nan"),
                t0,
                t1,
                t1,
                refers_to=by_kind[FORECAST_UNAVAILABLE]["serial"],
            )
        ],
    )
    records = json.loads(alerts_json.alerts_json(log.messages(), t1))
    codes = {r["message"].split("\r\n")[0][-6:]: r["message"] for r in records}
    assert set(codes) == {"ALTFUN", "ALTSTL", "SUMFUN"}
    assert "ALERT: Forecast unavailable" in codes["ALTFUN"]
    assert "Solar wind input stale" in codes["ALTSTL"]
    assert "stale" not in codes["ALTFUN"].lower() and "stale" not in codes["SUMFUN"].lower()
