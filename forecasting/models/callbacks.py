"""Lightning callbacks of TFT training: keep the best weights, print one line per epoch.

Module-level classes (not closures) so that a ``Trainer`` holding them can be pickled into the
worker processes of Lightning's DDP ``spawn`` launcher (:func:`forecasting.models.tft.fit`
with ``devices > 1``). This module imports Lightning; :mod:`forecasting.models.tft` imports it
only when it trains.
"""

from __future__ import annotations

import copy
import io
import logging
import sys
import time
from collections.abc import Callable
from math import isnan, nan
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from data_sources.netcdf import write_bytes_atomic

log = logging.getLogger("forecasting.models.tft")

#: ``trainer.callback_metrics`` keys that carry :class:`KeepBest`'s record from a DDP worker
#: back to the main process (Lightning's spawn launcher returns only the metrics and weights)
HISTORY_KEY, BEST_KEY = "keep_best_history", "keep_best_val_loss"


class KeepBest(pl.Callback):
    """Keep the weights of the lowest ``val_loss``; put them in the module when fitting ends.

    ``history`` lists ``{"epoch", "val_loss", "train_loss"}`` per validated epoch and ``best``
    is the lowest validation loss. Under DDP every rank validates the same windows, so all
    ranks agree; the record travels back to the main process through
    ``trainer.callback_metrics`` (:meth:`recover`).

    Parameters
    ----------
    keep : int, default 1
        With ``keep`` > 1 also keep the ``keep`` lowest-loss epochs' weights (``ranked``, best
        first) for a snapshot ensemble.
    handoff : path, optional
        Under DDP: the file through which the rank-0 worker hands ``ranked`` to the main
        process (:meth:`recover` reads it). A file, not the workers' result queue: Lightning
        reads that queue only after every worker has exited, and a worker blocks on a pipe
        holding more than its buffer (64 KiB), so snapshot weights there would deadlock.
    """

    def __init__(self, keep: int = 1, handoff: str | Path | None = None) -> None:
        self.keep = int(keep)
        self.handoff = Path(handoff) if handoff is not None else None
        self.best = float("inf")
        self.state: dict | None = None
        self.history: list[dict] = []
        self.ranked: list[tuple[float, dict]] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """Record the epoch's losses; copy the weights when the validation loss is the lowest.

        Parameters
        ----------
        trainer
            The running trainer.
        module
            The network being trained.
        """
        if trainer.sanity_checking:
            return
        metric = trainer.callback_metrics.get("val_loss")
        if metric is None:
            return
        val = float(metric)
        train = trainer.callback_metrics.get("train_loss_epoch")
        self.history.append(
            {
                "epoch": int(trainer.current_epoch),
                "val_loss": val,
                "train_loss": float(train) if train is not None else None,
            }
        )
        log.info("epoch %d val_loss %.4f", trainer.current_epoch, val)
        if val < self.best:
            self.best = val
            self.state = copy.deepcopy(module.state_dict())
        if self.keep > 1:
            self.ranked.append((val, copy.deepcopy(module.state_dict())))
            self.ranked = sorted(self.ranked, key=lambda item: item[0])[: self.keep]

    def on_fit_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """Load the best weights into the module and publish the record in the metrics.

        Parameters
        ----------
        trainer
            The trainer that has finished fitting.
        module
            The trained network (its weights become the best epoch's).
        """
        if self.state is not None:
            module.load_state_dict(self.state)
        rows = [
            [h["epoch"], h["val_loss"], h["train_loss"] if h["train_loss"] is not None else nan]
            for h in self.history
        ]
        trainer.callback_metrics[HISTORY_KEY] = torch.tensor(rows, dtype=torch.float64).reshape(
            -1, 3
        )
        trainer.callback_metrics[BEST_KEY] = torch.tensor(self.best, dtype=torch.float64)
        if self.handoff is not None and self.keep > 1 and trainer.is_global_zero:
            buffer = io.BytesIO()
            torch.save([[val, state] for val, state in self.ranked], buffer)
            write_bytes_atomic(buffer.getvalue(), self.handoff)

    def recover(self, trainer: pl.Trainer) -> None:
        """Read ``history`` and ``best`` back from ``trainer.callback_metrics`` (after DDP).

        The snapshot members (``ranked``) come back from the ``handoff`` file.

        Parameters
        ----------
        trainer
            The main process's trainer after ``fit`` returned from the workers.
        """
        if not self.ranked and self.handoff is not None and self.handoff.exists():
            members = torch.load(self.handoff, weights_only=True)
            self.ranked = [(float(val), state) for val, state in members]
        rows = trainer.callback_metrics.get(HISTORY_KEY)
        if self.history or rows is None:
            return
        self.history = [
            {"epoch": int(e), "val_loss": float(v), "train_loss": None if isnan(t) else float(t)}
            for e, v, t in rows.tolist()
        ]
        self.best = float(trainer.callback_metrics.get(BEST_KEY, float("inf")))


class Progress(pl.Callback):
    """Print one line per epoch: epoch, train and validation loss, samples/s, time left.

    Only the global rank 0 prints (one line per epoch under DDP too); samples/s counts the
    windows of all ranks.

    Parameters
    ----------
    max_epochs
        Epochs planned (the time left assumes all of them run; early stopping may end sooner).
    sink
        ``True``: print to stderr; a callable: hand it the line (under DDP it is called in the
        rank-0 worker process).
    """

    def __init__(self, max_epochs: int, sink: bool | Callable[[str], None] = True) -> None:
        self.max_epochs = int(max_epochs)
        self.sink = sink
        self.t0: float | None = None
        self.samples = 0

    def emit(self, line: str) -> None:
        """Hand ``line`` to the sink.

        Parameters
        ----------
        line
            One progress line.
        """
        if callable(self.sink):
            self.sink(line)
        else:
            print(line, file=sys.stderr, flush=True)

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """Start the clock.

        Parameters
        ----------
        trainer
            The running trainer.
        module
            The network being trained.
        """
        self.t0 = time.perf_counter()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Count the batch's windows (times the number of ranks).

        Parameters
        ----------
        trainer
            The running trainer.
        module
            The network being trained.
        outputs
            The training step's output (unused).
        batch
            The ``(x, y)`` batch.
        batch_idx
            Its index in the epoch (unused).
        """
        self.samples += int(batch[0]["encoder_cont"].shape[0]) * int(trainer.world_size)

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        """Print the epoch's line (rank 0 only).

        Parameters
        ----------
        trainer
            The running trainer.
        module
            The network being trained.
        """
        if trainer.sanity_checking or self.t0 is None or not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        done = int(trainer.current_epoch) + 1
        elapsed = time.perf_counter() - self.t0
        left = elapsed / done * max(self.max_epochs - done, 0)
        train = m.get("train_loss_epoch", m.get("train_loss_step"))
        val = m.get("val_loss")
        self.emit(
            f"epoch {done}/{self.max_epochs}  train_loss "
            f"{float(train) if train is not None else float('nan'):.4f}  val_loss "
            f"{float(val) if val is not None else float('nan'):.4f}  "
            f"{self.samples / max(elapsed, 1e-9):.0f} samples/s  elapsed {elapsed:.0f} s  "
            f"left <= {left:.0f} s"
        )
