"""Writers of the registry refuse version names that leave it, as the readers do."""

import json

import pytest

from forecasting.models import registry
from forecasting.models.registry import UnsafeModelError


@pytest.mark.parametrize("bad", ["../escaped", "a/../../b", "/abs"])
def test_save_refuses_a_name_outside_the_registry(tmp_path, bad):
    with pytest.raises((UnsafeModelError, ValueError)):
        registry.save(object(), home=tmp_path, version=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "escaped").exists()


def test_update_metadata_refuses_a_name_outside_the_registry(tmp_path):
    outside = tmp_path / "models" / "elsewhere"
    outside.mkdir(parents=True)
    (outside / "metadata.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(UnsafeModelError, match="plain version name"):
        registry.update_metadata("../elsewhere", {"x": 2}, home=tmp_path)
    assert json.loads((outside / "metadata.json").read_text()) == {"x": 1}
