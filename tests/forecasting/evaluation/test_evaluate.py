"""Year split, recorded-OMNI loader, evaluate() and the skill report on a small real window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecasting.evaluation.evaluate import MODELS, evaluate, read_skill, write_skill_report
from forecasting.models import baselines as B
from forecasting.splits import YearSplit, load_recorded_omni, recorded_omni_files

LEAD = pd.to_timedelta(np.arange(1, 7), unit="h")


def test_year_split_validation():
    s = YearSplit()
    assert s.train == (1998, 2010) and s.validate == (2011, 2014) and s.test == (2015, None)
    assert s.bounds("validate") == (pd.Timestamp("2011-01-01"), pd.Timestamp("2015-01-01"))
    assert s.years("test", [2014, 2015, 2017, 2024]) == [2015, 2017, 2024]
    with pytest.raises(ValueError, match="overlaps"):
        YearSplit(train=(2000, 2010), validate=(2010, 2011), test=(2012, None))
    with pytest.raises(ValueError, match="overlaps"):
        YearSplit(train=(2016, 2017), validate=(2013, 2014), test=(2015, None))
    with pytest.raises(ValueError, match="whole ints"):
        YearSplit(train=(1998.5, 2012))
    with pytest.raises(ValueError, match="before first year"):
        YearSplit(train=(2012, 1998))


def test_recorded_files_prefer_low_res(data_dir):
    files = recorded_omni_files(data_dir)
    assert files[2015].parent.name == "omni2_low_res"
    assert files[2000].parent.name == "omni2_low_res_dynaml"
    assert 2001 not in files and 2003 not in files


def test_load_recorded_omni_keeps_gaps(data_dir):
    ds = load_recorded_omni(data_dir, years=[2014, 2015, 2017])
    t = pd.DatetimeIndex(ds.time.values)
    assert t[0] == pd.Timestamp("2014-01-01") and t[-1] == pd.Timestamp("2017-12-31 23:00")
    assert (np.diff(t.values) == np.timedelta64(1, "h")).all()
    assert ds.dst.sel(time="2016").isnull().all()  # 2016 has no recorded file: a gap
    assert float(ds.dst.sel(time="2015-03-17 22:00")) == -223  # omni2_low_res version
    with pytest.raises(ValueError, match="no recorded OMNI2 file"):
        load_recorded_omni(data_dir, years=[2001])


@pytest.fixture(scope="module")
def results(data_dir):
    ds = load_recorded_omni(data_dir, years=[2013, 2014, 2015])
    split = YearSplit(train=(2014, 2014), validate=(2013, 2013), test=(2015, None))
    inits = pd.date_range("2015-03-01", "2015-04-30", freq="3h")
    return evaluate(B.all_baselines(), ds, split, init_times=inits, lead_times=LEAD)


def test_evaluate_scores_every_model_on_common_samples(results):
    assert list(results.target.values) == ["dst", "kp"]
    assert list(results.model.values) == [m for m in MODELS if m != "tft"]
    # same sample count for every model of a target
    n = results["n"].sel(target="dst")
    assert (n == n.isel(model=0)).all() and float(n.min()) > 400
    assert np.isnan(results.rmse.sel(target="kp", model="burton")).all()
    rm = results.rmse.sel(target="dst")
    assert (rm.sel(model="persistence").diff("lead_time") > 0).all()
    np.testing.assert_allclose(results.skill_vs_persistence.sel(model="persistence"), 0, atol=1e-6)
    # St. Patrick's Day 2015 is in the window; the physics models get the 1-h peak within 40 nT
    assert "2015-03-17" in results.storm.values
    pe = results.storm_peak_error.sel(storm="2015-03-17", lead_time=LEAD[0])
    assert abs(float(pe.sel(model="obrien_mcpherron"))) < 40
    assert results["storm_common_name"].sel(storm="2015-03-17").item() == "St. Patrick's Day 2015"


def test_write_skill_report(results, tmp_path):
    nc, md = write_skill_report(results, tmp_path / "reports")
    skill = read_skill(nc)
    for k in ("rmse", "mae", "r", "skill_vs_persistence", "crps", "coverage_80", "hss"):
        assert skill[k].dims == ("target", "model", "lead_time")
    assert list(skill.model.values)[:6] == list(MODELS)
    assert np.isnan(skill.rmse.sel(model="tft")).all()  # not passed: NaN, not dropped
    np.testing.assert_allclose(
        skill.rmse.sel(target="dst", model="persistence"),
        results.rmse.sel(target="dst", model="persistence"),
    )
    skill.close()
    text = md.read_text()
    assert "## dst" in text and "St. Patrick's Day 2015" in text and "| persistence |" in text
    assert not list((tmp_path / "reports").glob(".*tmp"))


def test_evaluate_rejects_duplicates(data_dir):
    ds = load_recorded_omni(data_dir, years=[2015])
    with pytest.raises(ValueError, match="unique"):
        evaluate([B.Persistence(), B.Persistence()], ds, YearSplit())


def test_storm_time_probability_and_decision_scores(results):
    # storm time: hourly issue times around St Patrick's Day 2015, each model paired with the
    # reference (first model here: persistence) on the hours where both forecast
    assert int(results["n_storm_issue_times"]) > 40
    st = results["storm_time_rmse"].sel(target="dst")
    ref = results["storm_time_rmse_of_reference"].sel(target="dst")
    np.testing.assert_allclose(st.sel(model="persistence"), ref.sel(model="persistence"))
    assert (st.sel(model="persistence") > results.rmse.sel(target="dst", model="persistence")).all()
    assert np.isnan(results["storm_time_rmse"].sel(target="kp", model="burton")).all()
    # Brier skill against the training climatology; reliability counts add up to the pairs
    assert set(results.prob_event.values) == {"kp>=4.67", "dst<=-100"}
    bss = results["brier_skill"].sel(prob_event="dst<=-100", model="obrien_mcpherron")
    assert float(bss.isel(lead_time=0)) > 0.5
    counts = (
        results["reliability_count"].sum("prob_bin").sel(prob_event="kp>=4.67", model="persistence")
    )
    np.testing.assert_allclose(counts, results["n"].sel(target="kp", model="persistence"))
    # decisions: a threshold chosen on the validation year per model and event
    thr = results["decision_threshold"]
    assert thr.sel(event="dst<=-50").notnull().all()
    assert ((thr >= 0) & (thr <= 1)).where(thr.notnull(), True).all()
    assert results["decision_hss"].sel(event="dst<=-50", model="persistence").notnull().all()
    assert "chosen on the validation years" in results.attrs["decision_threshold_source"]
    assert (
        results.attrs["scored_part"] == "test" and "persistence=" in results.attrs["model_versions"]
    )


def test_skill_nc_is_cf_and_round_trips(results, tmp_path):
    import os
    import stat
    import subprocess
    import sys
    from pathlib import Path

    from forecasting.evaluation.evaluate import cf_skill

    nc, md = write_skill_report(results, tmp_path / "reports")
    assert stat.S_IMODE(os.stat(nc).st_mode) == 0o644 and stat.S_IMODE(os.stat(md).st_mode) == 0o644
    raw = xr.open_dataset(nc)
    assert raw.attrs["Conventions"] == "CF-1.8"
    assert raw["dst_rmse"].attrs["units"] == "nT" and raw["kp_rmse"].attrs["units"] == "1"
    assert all("same as" not in str(v.attrs.get("units", "")) for v in raw.variables.values())
    assert raw["model_name"].dims == ("model",) and "model" not in raw.variables
    raw.close()
    back = read_skill(nc)
    assert list(back.model.values)[:6] == list(MODELS)
    np.testing.assert_allclose(
        back["storm_time_rmse"].sel(target="dst", model="persistence"),
        results["storm_time_rmse"].sel(target="dst", model="persistence"),
    )
    assert list(back.event.values) == list(results.event.values)
    assert back["storm_common_name"].sel(storm="2015-03-17").item() == "St. Patrick's Day 2015"
    assert cf_skill(results)["lead_time"].attrs["standard_name"] == "forecast_period"
    text = md.read_text()
    for part in ("Storm time", "Brier skill", "Reliability", "Event decisions", "best baseline"):
        assert part in text
    # cfchecks (when installed) finds no error; its tables are offline copies
    cmd = Path(sys.executable).with_name("cfchecks")
    try:
        import compliance_checker
    except ImportError:
        compliance_checker = None
    if not cmd.exists() or compliance_checker is None:
        pytest.skip("cfchecks / compliance-checker not installed")
    table = Path(compliance_checker.__file__).parent / "data" / "cf-standard-name-table.xml"
    area, region = tmp_path / "area.xml", tmp_path / "region.xml"
    area.write_text(
        '<?xml version="1.0"?>\n<area_type_table><version_number>0</version_number>'
        "<date>none</date></area_type_table>\n"
    )
    region.write_text(
        '<?xml version="1.0"?>\n<standardized_region_list><version_number>0'
        "</version_number><date>none</date></standardized_region_list>\n"
    )
    out = subprocess.run(
        [str(cmd), "-s", str(table), "-a", str(area), "-r", str(region), str(nc)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    ).stdout
    assert "ERRORS detected: 0" in out, out[-2000:]


def test_skill_md_has_the_storm_time_criteria_for_every_baseline(results, tmp_path):
    """Issue 9's done-when figures: storm-time Dst RMSE against every baseline (paired), 6-h RMSE
    against persistence, coverage all hours and storm time, Kp HSS, Brier skill."""
    _, md = write_skill_report(results, tmp_path / "reports")
    text = md.read_text()
    section = text.split("## Storm-time criteria (issue 9)", 1)[1].split("\n## ", 1)[0]
    ref = results.attrs["reference_model"]
    st = results["storm_time_rmse"].sel(target="dst", lead_time=pd.Timedelta("1h"))
    of_ref = results["storm_time_rmse_of_reference"].sel(target="dst", lead_time=pd.Timedelta("1h"))
    for m in ("burton", "obrien_mcpherron", "climatology", "recurrence27"):
        row = next(line for line in section.splitlines() if line.startswith(f"| {m} |"))
        first = row.split("|")[2].strip()
        assert first.startswith(f"{float(of_ref.sel(model=m)):.2f} / {float(st.sel(model=m)):.2f}")
    assert f"| {ref}, all its storm pairs |" in section
    assert "All-hours 6-h RMSE" in section and "| dst, storm time |" in section
    assert "Kp HSS (Kp >= 5)" in section and "| persistence, median |" in section
    assert "| P(dst<=-100), " in section and "| P(kp>=4.67), " in section
