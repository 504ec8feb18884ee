"""Multi-process training: Lightning DDP with 2 CPU processes on gloo, and batch sharding.

The DDP test spawns two worker processes (select it with ``-m ddp``; it is part of the
default run and takes ~30 s on 2 shared cores). The sampler tests check the
``DistributedSampler`` contract of :class:`forecasting.models.pipeline.ShardedBatchSampler`
for the uniform, storm-weighted and sequential draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from forecasting.models import pipeline, registry
from forecasting.models.predict import predict
from forecasting.models.tft import fit, get_config

warnings.filterwarnings("ignore")


def _shards(make_base, world: int, batch_size: int = 4) -> list[list[list[int]]]:
    return [
        list(
            pipeline.ShardedBatchSampler(
                make_base(), batch_size, num_replicas=world, rank=rank, enabled=True
            )
        )
        for rank in range(world)
    ]


@pytest.mark.parametrize("kind", ["random", "weighted", "sequential"])
@pytest.mark.parametrize("world", [2, 3])
def test_shards_are_disjoint_equal_and_cover_the_epoch(kind, world):
    n = 37  # 10 batches of 4 (the last one short): not a multiple of the world size

    def make_base():
        gen = torch.Generator().manual_seed(7)  # every rank seeds alike, as fit() does
        if kind == "random":
            return torch.utils.data.RandomSampler(range(n), generator=gen)
        if kind == "weighted":
            w = torch.ones(n, dtype=torch.double)
            w[:5] = 5.0  # storm windows drawn 5 times as often
            return torch.utils.data.WeightedRandomSampler(w, n, replacement=True, generator=gen)
        return torch.utils.data.SequentialSampler(range(n))

    whole = list(torch.utils.data.BatchSampler(make_base(), 4, drop_last=False))
    shards = _shards(make_base, world)
    lengths = {len(s) for s in shards}
    assert lengths == {-(-len(whole) // world)}, "every rank must take the same number of steps"
    assert len(pipeline.ShardedBatchSampler(make_base(), 4, num_replicas=world, rank=0)) == len(
        shards[0]
    )
    flat = [b for s in shards for b in s]
    # every batch of the epoch is some rank's; only the padding repeats batches
    assert all(b in flat for b in whole)
    assert len(flat) - len(whole) == (-len(whole)) % world
    if kind != "weighted":  # (a draw with replacement may repeat a position legitimately)
        first = [set(p for b in s[: len(whole) // world] for p in b) for s in shards]
        for i in range(world):
            for j in range(i + 1, world):
                assert not first[i] & first[j], "ranks must see disjoint windows"


def test_one_process_or_disabled_yields_every_batch():
    base = torch.utils.data.SequentialSampler(range(10))
    whole = list(torch.utils.data.BatchSampler(base, 3, drop_last=False))
    assert list(pipeline.ShardedBatchSampler(base, 3)) == whole  # no process group
    off = pipeline.ShardedBatchSampler(base, 3, enabled=False, num_replicas=2, rank=1)
    assert list(off) == whole and len(off) == len(whole)
    with pytest.raises(ValueError, match="rank"):
        pipeline.ShardedBatchSampler(base, 3, num_replicas=2, rank=2)


@pytest.mark.ddp
@pytest.mark.timeout(120)
def test_ddp_two_cpu_processes_on_gloo_train_a_model(tiny_tft, omni_2005_2006, tmp_path):
    ds = omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))
    frame = pipeline.feature_frame(ds)
    config = get_config("quick", **{**tiny_tft, "limit_train_batches": 4, "max_epochs": 2})
    model = fit(
        frame, train_years=(2005,), val_years=(2006,), config=config, devices=2, progress=False
    )
    meta = model.metadata
    assert meta["devices"] == 2
    assert meta["epochs_run"] == 2 and len(meta["history"]) == 2
    assert meta["best_val_loss"] == min(h["val_loss"] for h in meta["history"])
    # the weights that came back from the workers are the best epoch's: their loss on the
    # validation windows (one batch here) is the best validation loss the workers logged
    source = model.source(frame)
    rows = pipeline.rows_in_years(frame, source.valid_rows(), (2006,), config.horizon)
    x, y = source.batch(rows[:: config.val_stride][: config.batch_size])
    with torch.no_grad():
        loss = float(model.network.loss(model.network(x)["prediction"], y))
    assert loss == pytest.approx(meta["best_val_loss"], rel=1e-4)
    # the same kind of artefact as one process: it saves, loads and forecasts
    version = registry.save(model, home=tmp_path)
    loaded = registry.load(version, home=tmp_path)
    for (name, a), b in zip(
        model.network.state_dict().items(), loaded.network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    fc = predict(loaded, ds, ds.indexes["time"][-200])
    assert np.isfinite(fc["dst"].values).all()


@pytest.mark.ddp
@pytest.mark.timeout(120)
def test_ddp_returns_the_snapshot_members(tiny_tft, omni_2005_2006):
    ds = omni_2005_2006.sel(time=slice("2005-11-01", "2006-01-31T23:00"))
    frame = pipeline.feature_frame(ds)
    config = get_config(
        "quick",
        **{**tiny_tft, "limit_train_batches": 4, "max_epochs": 3, "patience": 5, "snapshots": 2},
    )
    model = fit(
        frame, train_years=(2005,), val_years=(2006,), config=config, devices=2, progress=False
    )
    meta = model.metadata
    losses = sorted(h["val_loss"] for h in meta["history"])
    assert meta["snapshot_val_loss"] == [round(v, 5) for v in losses[:2]]
    assert len(model.snapshots) == 1
    # the member is the second-best epoch's network: its loss on the validation windows (one
    # batch here) is that epoch's, not the best one's
    source = model.source(frame)
    rows = pipeline.rows_in_years(frame, source.valid_rows(), (2006,), config.horizon)
    x, y = source.batch(rows[:: config.val_stride][: config.batch_size])
    net = model.network
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(model.snapshots[0])
    with torch.no_grad():
        loss = float(net.loss(net(x)["prediction"], y))
    net.load_state_dict(best_state)
    assert loss == pytest.approx(losses[1], rel=1e-4)
    assert not all(torch.equal(best_state[k], v) for k, v in model.snapshots[0].items())
