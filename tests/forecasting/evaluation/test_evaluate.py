"""Year split, recorded-OMNI loader, evaluate() and the skill report on a small real window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.evaluation.evaluate import MODELS, evaluate, read_skill, write_skill_report
from forecasting.models import baselines as B
from forecasting.splits import YearSplit, load_recorded_omni, recorded_omni_files

LEAD = pd.to_timedelta(np.arange(1, 7), unit="h")


def test_year_split_validation():
    s = YearSplit()
    assert s.train == (1998, 2012) and s.test == (2015, None)
    assert s.bounds("validate") == (pd.Timestamp("2013-01-01"), pd.Timestamp("2015-01-01"))
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
    ds = load_recorded_omni(data_dir, years=[2014, 2015])
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
