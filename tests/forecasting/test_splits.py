"""Year split from configuration, and the data of each part read from the store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.omni2 import parse_omni2
from data_sources.store import Store
from forecasting import splits
from forecasting.evaluation import backtest as bt
from forecasting.splits import YearSplit, configured_split, parse_years


@pytest.fixture(scope="module")
def store_2005_2007(tmp_path_factory, data_dir) -> Store:
    """A store holding the recorded OMNI2 years 2005-2007 (real data)."""
    store = Store(tmp_path_factory.mktemp("store"))
    for year in (2005, 2006, 2007):
        store.write("omni2", parse_omni2(data_dir / "omni2_low_res_dynaml" / f"omni2_{year}.csv"))
    return store


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1998-2012", (1998, 2012)),
        ("2015-", (2015, None)),
        ("2007", (2007, 2007)),
        (2007, (2007, 2007)),
    ],
)
def test_parse_years(text, expected):
    assert parse_years(text) == expected
    assert parse_years(splits.format_years(expected)) == expected


@pytest.mark.parametrize("text", ["98-2012", "2012-1998", "1998..2012", "", "2015--"])
def test_parse_years_rejects_with_the_forms(text):
    with pytest.raises(ValueError, match="FIRST-LAST|before first year"):
        parse_years(text, "--train-years")


def test_configured_split_preset_config_and_arguments(home):
    assert configured_split("full") == YearSplit((1998, 2010), (2011, 2014), (2015, None))
    assert configured_split("quick") == YearSplit((2004, 2005), (2006, 2006), (2007, 2007))
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[split]\ntrain = "1998-2010"\nvalidate = "2011-2012"\n'
        '[split.quick]\ntrain = "2005"\nvalidate = 2006\ntest = "2007-"\n'
    )
    assert configured_split("full").train == (1998, 2010)
    assert configured_split("full").test == (2015, None)  # not configured: the preset's
    assert configured_split("quick") == YearSplit((2005, 2005), (2006, 2006), (2007, None))
    # the command line wins over the file
    assert configured_split("full", train="1998-2009").train == (1998, 2009)
    with pytest.raises(ValueError, match="overlaps"):
        configured_split("full", validate="2010-2014")
    (home / "config.toml").write_text('[split]\ntrain = ["1998"]\n')
    with pytest.raises(ValueError, match=r"\[split\] train"):
        configured_split("full")


def test_default_test_years_taken_for_training_warn(caplog):
    configured_split("full", train="1998-2015", validate="2016", test="2017-")
    assert "default test years" in caplog.text


def test_training_data_from_store_blanks_test_years(store_2005_2007):
    split = YearSplit(train=(2005, 2005), validate=(2007, 2007), test=(2006, 2006))
    ds = splits.load_training_data(split, store=store_2005_2007)
    years = pd.DatetimeIndex(ds.indexes["time"]).year
    assert years.min() == 2005 and years.max() == 2007
    test = years == 2006
    assert np.isnan(ds["dst"].values[test]).all() and np.isnan(ds["v_sw"].values[test]).all()
    assert (ds["dst_qc"].values[test] == 2).all()
    assert np.isfinite(ds["dst"].values[~test]).mean() > 0.99
    assert ds.attrs["years_loaded"] == "2005,2007"
    assert ds.attrs["loaded_from"].startswith("store ")
    assert ds["v_sw"].attrs["source"] == "omni2"
    # evaluation keeps every year from training through test
    ev = splits.load_evaluation_data(split, store=store_2005_2007)
    assert np.isfinite(ev["dst"].sel(time="2006").values).all()


def test_open_ended_part_runs_to_the_last_stored_year(store_2005_2007):
    split = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2007, None))
    assert splits.part_range(split, "test", store_2005_2007) == (2007, 2007)
    split = YearSplit(train=(2005, 2005), validate=(2006, 2006), test=(2010, None))
    with pytest.raises(ValueError, match="no solar wind in the store .* for 2010-"):
        splits.part_range(split, "test", store_2005_2007)


def test_missing_years_name_the_ingest_command(tmp_path, store_2005_2007):
    with pytest.raises(ValueError) as err:
        splits.load_training_data(YearSplit(), store=Store(tmp_path / "empty"))
    msg = str(err.value)
    assert "no solar wind in the store" in msg and "1998-2014" in msg
    assert "superstorm ingest --source omni2 --start 1998-01-01 --end 2015-01-01" in msg
    # the store holds 2005-2007, not the training years 1998-2004
    split = YearSplit(train=(1998, 2004), validate=(2005, 2005), test=(2006, 2006))
    with pytest.raises(ValueError, match="for 1998-2004: run `superstorm ingest --source omni2"):
        splits.load_training_data(split, store=store_2005_2007)


def test_backtest_load_data_reads_the_store_without_fallback(home, store_2005_2007):
    # the environment's store is empty: a clear error, no silent read of a recorded folder
    with pytest.raises(ValueError, match="no solar wind in the store .*superstorm ingest"):
        bt.load_data("2006-03-01", "2006-04-01")
    ds = splits.load_period("2006-03-01", "2006-04-01", store=store_2005_2007)
    assert ds.sizes["time"] == 31 * 24 and float(ds["dst"].min()) < 0


def test_years_names_a_misspelt_part():
    with pytest.raises(ValueError, match="unknown split part 'valid'"):
        YearSplit().years("valid", [2013, 2014])
