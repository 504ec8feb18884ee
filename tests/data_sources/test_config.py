"""Base-URL configuration: upstream defaults, mirror mapping, per-source and file overrides."""

import pytest

from data_sources import config


def test_defaults_are_the_real_upstream_servers(monkeypatch):
    for var in ("SUPERSTORM_MIRROR", "SUPERSTORM_URL_OMNI2"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUPERSTORM_HOME", "/nonexistent-superstorm-home")
    assert config.base_url("omni2") == "https://spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni"
    assert config.base_url("swpc") == "https://services.swpc.noaa.gov"


def test_mirror_keeps_host_and_path(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path))
    monkeypatch.setenv("SUPERSTORM_MIRROR", "http://127.0.0.1:9999/")
    assert (
        config.base_url("omni2")
        == "http://127.0.0.1:9999/spdf.gsfc.nasa.gov/pub/data/omni/low_res_omni"
    )


def test_per_source_env_beats_config_file_beats_mirror(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path))
    monkeypatch.setenv("SUPERSTORM_MIRROR", "http://127.0.0.1:1")
    (tmp_path / "config.toml").write_text('[base_urls]\nswpc = "http://example.test/swpc/"\n')
    assert config.base_url("swpc") == "http://example.test/swpc"
    monkeypatch.setenv("SUPERSTORM_URL_SWPC", "http://other.test")
    assert config.base_url("swpc") == "http://other.test"


def test_unknown_source_names_the_known_ones():
    with pytest.raises(KeyError, match="omni2"):
        config.base_url("noaa-goes")


def test_dataset_priority_and_split_tables(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path))
    assert config.dataset_priority() == {} and config.split_years() == {}
    (tmp_path / "config.toml").write_text(
        '[dataset.priority]\nsolar_wind = ["local_omni2_stormai_csv", "omni2"]\n'
        '[split]\ntrain = "1998-2010"\ntest = 2015\n[split.quick]\nvalidate = "2006"\n'
    )
    assert config.dataset_priority() == {"solar_wind": ["local_omni2_stormai_csv", "omni2"]}
    assert config.split_years() == {"train": "1998-2010", "test": "2015"}
    assert config.split_years("quick") == {"validate": "2006"}
    (tmp_path / "config.toml").write_text('[dataset]\npriority = "omni2"\n')
    with pytest.raises(ValueError, match=r"\[dataset\] priority must be a table"):
        config.dataset_priority()
    (tmp_path / "config.toml").write_text('[dataset.priority]\ndst = "omni2"\n')
    with pytest.raises(ValueError, match="give a list of store sources"):
        config.dataset_priority()
    (tmp_path / "config.toml").write_text('[split]\ntrian = "1998-2010"\n')
    with pytest.raises(ValueError, match="trian is unknown"):
        config.split_years()
    (tmp_path / "config.toml").write_text("[split\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        config.split_years()


def test_the_full_preset_also_reads_its_own_table(monkeypatch, tmp_path):
    """``[tft.full]`` / ``[split.full]`` were silently ignored; now they win over the top level."""
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(
        "[tft]\nmax_epochs = 5\nseed = 1\n[tft.full]\nseed = 43\n[tft.quick]\nmax_epochs = 1\n"
        '[split]\ntrain = "1998-2010"\n[split.full]\nvalidate = "2011"\n'
    )
    presets = ("quick", "full")
    assert config.tft_overrides("full", presets) == {"max_epochs": 5, "seed": 43}
    assert config.tft_overrides("quick", presets) == {"max_epochs": 1}
    assert config.split_years("full", presets) == {"train": "1998-2010", "validate": "2011"}
    assert config.split_years("quick", presets) == {}


def test_a_table_named_after_no_preset_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERSTORM_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text("[tft.ful]\nseed = 43\n")
    with pytest.raises(
        ValueError, match=r"\[tft.ful\] is not a preset; name one of \['full', 'quick'\]"
    ):
        config.tft_overrides("full", ("quick", "full"))
    (tmp_path / "config.toml").write_text('[split.qiuck]\ntrain = "2004"\n')
    with pytest.raises(ValueError, match=r"\[split.qiuck\] is not a preset"):
        config.split_years("quick", ("quick", "full"))
