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
