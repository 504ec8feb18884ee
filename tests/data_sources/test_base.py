"""Every registered data source satisfies the DataSource protocol and downloads by its name."""

import pytest

from data_sources.base import DataSource, Source
from data_sources.ingest import SOURCES, STORE_NAME, getter


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_source_is_a_data_source(name):
    src = getter(name)
    assert isinstance(src, DataSource)
    assert src.name == name and STORE_NAME[name] == src.store_name


def test_source_downloads_through_the_mirror(mirrored_home):
    ds = getter("omni2")("2024-05-10", "2024-05-12")
    assert ds.sizes["time"] == 48 and float(ds["dst"].min()) == -406.0


def test_protocol_rejects_a_bare_function():
    def get_x(start, end):
        return None

    assert not isinstance(get_x, DataSource)
    assert isinstance(Source("x", get_x), DataSource)
    with pytest.raises(KeyError, match="unknown source 'nope'"):
        getter("nope")
