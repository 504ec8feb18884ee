"""The benchmark scripts' own arithmetic still runs against the current code.

The benchmarks time real training and are run by hand (``benchmarks/``); their pure parts are
checked here so that a move in the library does not break them unseen.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from forecasting.models.tft import get_config


def _bench(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("preset", ["quick", "full"])
def test_bench_train_projects_a_training_run(preset):
    config = get_config(preset)
    line = _bench("bench_train").projection(config, 400.0, cores=2)
    train = config.max_epochs * config.limit_train_batches * config.batch_size
    assert line.startswith(f"{preset} preset: {train} training windows")
    minutes = float(line.split(" min on 2 quiet cores")[0].rsplit(" ", 1)[1])
    assert minutes > 0
