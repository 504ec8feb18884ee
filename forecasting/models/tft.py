"""Temporal Fusion Transformer (Lim et al. 2021, doi:10.1016/j.ijforecast.2021.03.012) for Dst and Kp.

One ``pytorch_forecasting.TemporalFusionTransformer`` with two targets (``dst`` [nT] and
``kp``) and a ``MultiLoss`` of two ``QuantileLoss`` heads at :data:`forecasting.schema.QUANTILES`.
Issue times are hourly; the encoder sees ``encoder_length`` hours of features known at the
issue time (:mod:`forecasting.features`), the decoder sees only calendar phases for lead times
1..``horizon`` h, and the targets are the hourly values labelled ``t + L - 1 h``
(:mod:`data_sources.timeconv`). Training runs on CPU with Lightning, seeded and deterministic,
with early stopping on the validation years; batches come from :mod:`forecasting.models.pipeline`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from data_sources import timeconv
from forecasting.models import losses, pipeline
from forecasting.schema import QUANTILES

warnings.filterwarnings("ignore", message="X does not have valid feature names")
log = logging.getLogger(__name__)

#: shortest encoder [h]: two 3-h Kp blocks, so the per-window Kp normaliser has its last
#: complete block (lag 3 h) and both normalisers a spread
MIN_ENCODER_H = 6


@dataclass(frozen=True)
class TFTConfig:
    """Model size, windows and training schedule of one preset.

    Attributes
    ----------
    encoder_length, horizon
        Hours of history fed to the encoder, and lead times 1..horizon h forecast.
    hidden_size, attention_head_size, hidden_continuous_size, dropout, lstm_layers
        TFT architecture (Lim et al. 2021).
    learning_rate, batch_size, max_epochs, patience, gradient_clip_val
        Adam learning rate, windows per batch, epochs, early-stopping patience (epochs
        without a lower validation quantile loss), gradient-norm clip.
    limit_train_batches, limit_val_batches
        Batches per epoch (None: all).
    train_stride, val_stride
        Keep every n-th hourly issue time for training / validation windows.
    seed, threads
        Random seed (``lightning.seed_everything``) and torch CPU threads.
    dst_center
        Centre of the per-window Dst target normalisation
        (:func:`forecasting.models.pipeline.dst_normalizer`): ``"last"`` = the last known Dst (hour
        ``t - 1 h``), scale max(encoder std, 5 nT); ``"mean"`` = mean of the last 6 h, scale =
        encoder std (pytorch-forecasting ``EncoderNormalizer``; configs saved before this
        option existed load as ``"mean"``).
    kp_center
        Kp target normalisation (:func:`forecasting.models.pipeline.kp_normalizer`):
        ``"global"`` (one scaling of the training years; configs saved before the option load
        as this) or ``"last_block"`` (per window, centred on the last COMPLETE 3-h Kp block).
    physics
        Ring-current decoder input (:func:`forecasting.models.pipeline.physics_trajectory`):
        ``"none"`` (old configs), ``"obrien_mcpherron"`` or ``"burton"``: the model's Dst
        trajectory from the solar wind known at the issue time, held over the horizon.
    storm_weight
        Training windows issued within 24 h of a storm (Dst <= -100 nT,
        :func:`forecasting.models.pipeline.storm_weights`) are drawn this many times more
        often (1: uniform shuffling).
    plasma_dropout
        Fraction of training windows whose plasma inputs (speed, density and what derives
        from them) are masked over their last 1..E hours, with the ``v_sw_isnan`` /
        ``n_p_isnan`` flags given to the network (0: off, no flags).
    physics_residual
        The network forecasts the Dst residual from the ``physics`` trajectory (a network
        output of 0 is the ring-current forecast); False: it forecasts Dst itself.
    snapshots
        Snapshot ensemble size (Huang et al. 2017, arXiv:1704.00109): the weights of the
        ``snapshots`` epochs with the lowest validation loss are kept and the forecast
        quantiles of these members are averaged level by level (Vincentization, Ratcliff
        1979, doi:10.1037/0033-2909.86.3.446); 1: the single best-epoch network.
    lr_patience
        The learning rate is halved once more than this many epochs in a row bring no lower
        validation loss (pytorch-forecasting's ``ReduceLROnPlateau``, floor 1e-5); the
        default 1000 keeps it constant, as models saved before the option were trained.
    ema_decay
        Exponential moving average of the weights (Polyak & Juditsky 1992,
        doi:10.1137/0330046), updated after every optimiser step with this decay
        (``w_avg <- d w_avg + (1 - d) w``; Lightning's ``EMAWeightAveraging``): validation,
        early stopping, the kept best epoch and the saved network all use the averaged
        weights. 0 (default, and configs saved before the option): off, the raw weights. Off
        in both presets: in the validation-year A/B (three runs with it, three without) it
        lowered the validation loss and helped at 12-24 h but lost storm-time Dst skill at
        1-3 h.
    loss_scale
        Training and validation loss (:mod:`forecasting.models.losses`): ``"persistence"``
        (default) divides each target's loss at each lead by persistence's mean absolute
        error there on the training years, so every lead and both targets count alike (early
        stopping and the kept snapshots follow the same loss); ``"none"`` (configs saved
        before the option) sums the quantile losses in target units, so long-lead Dst
        dominates. Chosen on the validation years: with it, storm-time Dst skill at 1-3 h,
        all-hours Dst at 1-6 h and every Kp event score at 1-6 h improved in two seeds.
    calibration_every
        Spacing of the validation-year issue times the calibrations, the decision
        probabilities and the stored blend are fitted on (pandas offset): ``"1h"`` for the
        full preset (rare events need every hour), ``"6h"`` for the quick one.
    """

    preset: str = "quick"
    encoder_length: int = 48
    horizon: int = 24
    hidden_size: int = 16
    attention_head_size: int = 2
    hidden_continuous_size: int = 8
    lstm_layers: int = 1
    dropout: float = 0.1
    learning_rate: float = 3e-3
    batch_size: int = 128
    max_epochs: int = 3
    patience: int = 2
    gradient_clip_val: float = 0.1
    limit_train_batches: int | None = 40
    limit_val_batches: int | None = 20
    train_stride: int = 1
    val_stride: int = 3
    missing_flags: bool = False
    seed: int = 42
    threads: int = 1
    quantiles: tuple[float, ...] = field(default=QUANTILES)
    dst_center: str = "last"
    kp_center: str = "last_block"
    physics: str = "obrien_mcpherron"
    storm_weight: float = 5.0
    plasma_dropout: float = 0.15
    physics_residual: bool = True
    snapshots: int = 1
    lr_patience: int = 1000
    ema_decay: float = 0.0
    loss_scale: str = "persistence"
    calibration_every: str = "6h"

    def __post_init__(self) -> None:
        """Check the option values.

        Raises
        ------
        ValueError
            If ``encoder_length`` is not a whole number of hours >= :data:`MIN_ENCODER_H` or
            ``horizon`` not one >= 1, ``dst_center``, ``kp_center`` or ``physics`` is
            unknown, ``physics_residual``
            is set without a physics model, ``storm_weight < 1``, ``plasma_dropout`` or
            ``ema_decay`` is outside [0, 1), ``loss_scale`` is unknown, or
            ``calibration_every`` is not a positive whole number of hours.
        """
        if not (isinstance(self.encoder_length, int) and self.encoder_length >= MIN_ENCODER_H):
            raise ValueError(
                f"encoder_length must be a whole number of hours >= {MIN_ENCODER_H} (the "
                "target normalisers need the last complete 3-h Kp block and a spread), not "
                f"{self.encoder_length!r}; e.g. 48 (both presets) or 72"
            )
        if not (isinstance(self.horizon, int) and self.horizon >= 1):
            raise ValueError(
                f"horizon must be a whole number of hours >= 1, not {self.horizon!r}; e.g. 24 or 72"
            )
        if self.dst_center not in pipeline.DST_CENTERS:
            raise ValueError(
                f"dst_center must be one of {pipeline.DST_CENTERS}, not {self.dst_center!r}"
            )
        if self.kp_center not in pipeline.KP_CENTERS:
            raise ValueError(
                f"kp_center must be one of {pipeline.KP_CENTERS}, not {self.kp_center!r}"
            )
        pipeline.physics_column(self.physics)  # raises on an unknown name
        if self.physics_residual and self.physics == "none":
            raise ValueError("physics_residual needs a physics model (physics='obrien_mcpherron')")
        if not self.storm_weight >= 1.0:
            raise ValueError(f"storm_weight must be >= 1 (1 = off), not {self.storm_weight}")
        if not (isinstance(self.snapshots, int) and self.snapshots >= 1):
            raise ValueError(f"snapshots must be a whole number >= 1, not {self.snapshots!r}")
        if not 0.0 <= self.plasma_dropout < 1.0:
            raise ValueError(f"plasma_dropout must be in [0, 1), not {self.plasma_dropout}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be in [0, 1) (0 = off; e.g. 0.998), not {self.ema_decay}"
            )
        if self.loss_scale not in losses.LOSS_SCALES:
            raise ValueError(
                f"loss_scale must be one of {losses.LOSS_SCALES}, not {self.loss_scale!r}"
            )
        timeconv.hour_spacing(self.calibration_every, "calibration_every")

    @property
    def flags(self) -> tuple[str, ...]:
        """Gap indicators given to the network (:data:`pipeline.PLASMA_FLAGS` with dropout)."""
        return pipeline.PLASMA_FLAGS if self.plasma_dropout > 0 else ()

    @property
    def known_reals(self) -> list[str]:
        """Known-future decoder reals: calendar phases and the physics column if any."""
        col = pipeline.physics_column(self.physics)
        return list(pipeline.CALENDAR) + ([col] if col else [])

    def to_dict(self) -> dict:
        """Convert to a JSON-ready dict (``config.json`` of a registry version).

        Returns
        -------
        dict
            Every field by name; ``quantiles`` as a list.
        """
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TFTConfig:
        """Inverse of :meth:`to_dict` (unknown keys raise ``TypeError``).

        Options missing from configs saved by older releases take the behaviour of that
        time: ``dst_center="mean"``, ``kp_center="global"``, ``physics="none"``,
        ``storm_weight=1``, ``plasma_dropout=0``, ``physics_residual=False``,
        ``loss_scale="none"``.

        Parameters
        ----------
        d : dict
            A :meth:`to_dict` mapping (e.g. read from ``config.json``).

        Returns
        -------
        TFTConfig
            The config (validated by ``__post_init__``).
        """
        d = dict(d)
        d["quantiles"] = tuple(d.get("quantiles", QUANTILES))
        d.setdefault("dst_center", "mean")  # saved before the option: window-mean centre
        # saved before these options: the behaviour of that time
        d.setdefault("kp_center", "global")
        d.setdefault("physics", "none")
        d.setdefault("storm_weight", 1.0)
        d.setdefault("plasma_dropout", 0.0)
        d.setdefault("physics_residual", False)
        d.setdefault("snapshots", 1)
        d.setdefault("loss_scale", "none")
        # saved before the option: the preset's spacing (full: hourly), else the default
        d.setdefault(
            "calibration_every",
            PRESETS["full"].calibration_every
            if d.get("preset") == "full"
            else cls.calibration_every,
        )
        return cls(**d)


#: ``quick``: seconds-to-a-minute model for tests and the demo (train 2004-2005, val 2006).
#: ``full``: the real model (default split train 1998-2010, validate 2011-2014, test 2015+).
PRESETS: dict[str, TFTConfig] = {
    "quick": TFTConfig(),
    "full": TFTConfig(
        preset="full",
        # 48 h of history, not 72: in the validation-year A/B (stop 20, seeds 42-44) storm-time
        # Dst skill was better on average at every lead (10 of 12 seed-lead pairs at 1-12 h),
        # all-hours Dst RMSE at 6-24 h worse (6 h: 8.86 -> 9.08 nT); steps 1.4x faster
        encoder_length=48,
        hidden_size=24,
        attention_head_size=4,
        hidden_continuous_size=12,
        dropout=0.1,
        learning_rate=3e-3,
        batch_size=128,
        max_epochs=20,
        patience=3,
        limit_train_batches=300,
        limit_val_batches=None,
        train_stride=1,
        val_stride=6,
        threads=2,
        # the 3 lowest-validation-loss epochs, averaged: storm-time Dst skill better at every
        # lead 1-24 h than the best epoch alone in the validation-year A/B (stop 17)
        snapshots=3,
        calibration_every="1h",
    ),
}


#: windows per validation batch (at least ``batch_size``): validation is forward-only, and
#: large batches spread the per-operation cost of the network's many small layers
VAL_BATCH_SIZE = 1024


def get_config(preset: str, **overrides: Any) -> TFTConfig:
    """Give the named preset with ``overrides`` applied (e.g. ``max_epochs=1``).

    Parameters
    ----------
    preset : str
        A name of :data:`PRESETS` (``"quick"`` or ``"full"``).
    **overrides : Any
        :class:`TFTConfig` fields to change.

    Returns
    -------
    TFTConfig
        A new config (the preset itself is not changed).

    Raises
    ------
    ValueError
        If ``preset`` is unknown or an override value is invalid (``TypeError`` for an
        unknown field).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


def make_loss(
    quantiles: Sequence[float] = QUANTILES, lead_scales: Sequence[Sequence[float]] | None = None
) -> Any:
    """Two quantile heads (dst, kp): ``MultiLoss([QuantileLoss(q), QuantileLoss(q)])``.

    Parameters
    ----------
    quantiles : Sequence[float], default :data:`forecasting.schema.QUANTILES`
        Quantile levels in (0, 1) of both heads.
    lead_scales : sequence of sequences of float, optional
        Per target, one scale per lead (:func:`forecasting.models.losses.persistence_scales`)
        that divides the loss there; None: the plain loss in target units.

    Returns
    -------
    pytorch_forecasting.metrics.MultiLoss
        The pinball (quantile) loss of each target, summed.
    """
    return losses.make_loss(quantiles, len(pipeline.TARGETS), lead_scales)


def build_network(
    template: Any, config: TFTConfig, lead_scales: Sequence[Sequence[float]] | None = None
) -> Any:
    """Build the network with ``TemporalFusionTransformer.from_dataset`` on the template.

    Parameters
    ----------
    template : pytorch_forecasting.TimeSeriesDataSet
        :func:`forecasting.models.pipeline.template_dataset` output (inputs, scalers and
        target normalisers).
    config : TFTConfig
        Architecture (sizes, dropout, LSTM layers), learning rate and quantiles.
    lead_scales : sequence of sequences of float, optional
        The loss's per-target, per-lead scales (:func:`make_loss`).

    Returns
    -------
    pytorch_forecasting.TemporalFusionTransformer
        The untrained network with one quantile head per target, set up to train fast
        (:func:`train_fast`).
    """
    from pytorch_forecasting import TemporalFusionTransformer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        return train_fast(_from_dataset(TemporalFusionTransformer, template, config, lead_scales))


def train_fast(network: Any) -> Any:
    """Make each training step cheaper without changing what is learnt.

    * Adam runs as one fused kernel over all ~400 parameter tensors (``fused=True``, the
      same update as the per-tensor loop; ~10 % of a CPU step went to the loop);
    * pytorch-forecasting's per-batch validation metrics (SMAPE, MAE, RMSE, MAPE per target,
      ``logging_metrics``) are not computed: nothing reads them, early stopping and the kept
      weights use ``val_loss`` (the quantile loss), which is unchanged.

    Parameters
    ----------
    network
        A ``TemporalFusionTransformer``.

    Returns
    -------
    TemporalFusionTransformer
        The same network, changed in place.
    """
    network.hparams.optimizer_params = {**(network.hparams.optimizer_params or {}), "fused": True}
    network.logging_metrics = torch.nn.ModuleList()
    return network


def _from_dataset(
    cls: Any, template: Any, config: TFTConfig, lead_scales: Sequence[Sequence[float]] | None
) -> Any:
    return cls.from_dataset(
        template,
        hidden_size=config.hidden_size,
        attention_head_size=config.attention_head_size,
        hidden_continuous_size=config.hidden_continuous_size,
        lstm_layers=config.lstm_layers,
        dropout=config.dropout,
        learning_rate=config.learning_rate,
        loss=make_loss(config.quantiles, lead_scales),
        output_size=[len(config.quantiles)] * len(pipeline.TARGETS),
        log_interval=-1,
        reduce_on_plateau_patience=config.lr_patience,
    )


def network_from_hparams(hparams: dict, quantiles: Sequence[float] = QUANTILES) -> Any:
    """Rebuild a network from its saved ``hparams`` (loss is not part of them).

    Parameters
    ----------
    hparams : dict
        The network's hyper-parameters (a registry version's ``hparams.json``), including
        ``dataset_parameters``.
    quantiles : Sequence[float], default :data:`forecasting.schema.QUANTILES`
        Quantile levels of the loss heads (the config's ``quantiles``).

    Returns
    -------
    pytorch_forecasting.TemporalFusionTransformer
        The network with fresh weights; load its ``state_dict`` next.
    """
    from pytorch_forecasting import TemporalFusionTransformer

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        return TemporalFusionTransformer(**hparams, loss=make_loss(quantiles))


@dataclass
class TFTModel:
    """A trained TFT with everything needed to forecast.

    Attributes
    ----------
    network
        The ``TemporalFusionTransformer``.
    config
        :class:`TFTConfig` it was trained with.
    version
        Registry version (``""`` until saved).
    metadata
        Training span, split, features, metrics, interpretation ...
    snapshots
        ``state_dict`` of each further snapshot-ensemble member (``config.snapshots`` - 1 of
        them; empty for a single network), best validation loss first.
    """

    network: Any
    config: TFTConfig
    version: str = ""
    metadata: dict = field(default_factory=dict)
    snapshots: list = field(default_factory=list)

    @property
    def dataset_parameters(self) -> dict:
        """``TimeSeriesDataSet`` parameters of the network: reals, scalers, normalisers."""
        return self.network.hparams.dataset_parameters

    @property
    def features(self) -> list[str]:
        """Observed (encoder-only) inputs, in network order."""
        return list(self.dataset_parameters["time_varying_unknown_reals"])

    def source(self, frame: pd.DataFrame) -> pipeline.WindowSource:
        """Pre-windowed tensors of ``frame`` scaled with this model's scalers.

        Parameters
        ----------
        frame : pandas.DataFrame
            :func:`forecasting.models.pipeline.feature_frame` output holding every input
            the model was trained with.

        Returns
        -------
        forecasting.models.pipeline.WindowSource
            Batches of the windows of ``frame``.
        """
        return pipeline.WindowSource(
            frame, self.dataset_parameters, physics_residual=self.config.physics_residual
        )


def set_determinism(config: TFTConfig) -> None:
    """Seed everything and pin CPU threads.

    Parameters
    ----------
    config : TFTConfig
        Supplies ``seed`` (``lightning.seed_everything``, workers too) and ``threads``
        (``torch.set_num_threads``, at least 1).
    """
    import lightning.pytorch as pl

    torch.set_num_threads(max(1, int(config.threads)))
    pl.seed_everything(config.seed, workers=True, verbose=False)


def fit(
    frame: pd.DataFrame,
    *,
    train_years: Iterable[int],
    val_years: Iterable[int],
    config: TFTConfig,
    progress: bool | Callable[[str], None] = True,
    devices: int = 1,
) -> TFTModel:
    """Train a TFT on ``frame`` (:func:`pipeline.feature_frame`) with the given years.

    Windows whose target hours all fall in ``train_years`` train the model; those in
    ``val_years`` drive early stopping (lowest mean quantile loss kept).

    ``progress``: after every epoch print one line (epoch, train and validation loss,
    samples/s, elapsed and estimated time left) to stderr (``True``), hand it to a callable
    (e.g. ``log.info``), or stay silent (``False``).

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`forecasting.models.pipeline.feature_frame` output covering the training and
        validation years (and the encoder history before them).
    train_years, val_years : Iterable[int]
        Calendar years (UTC) of the training and validation windows; scalers and
        normalisers are fitted on the training years only.
    config : TFTConfig
        Model size, windows and training schedule.
    progress : bool or Callable[[str], None], default True
        Where the per-epoch line goes (see above).
    devices : int, default 1
        CPU processes. ``> 1``: Lightning DDP (forked workers, ``gloo`` backend); each
        process trains on its share of every epoch's batches
        (:class:`pipeline.ShardedBatchSampler`; ``limit_train_batches`` is split between
        them, so an epoch holds the same windows), gradients are averaged, every process
        validates all validation windows. An optimiser step then sees ``devices *
        config.batch_size`` windows and an epoch has ``1 / devices`` as many steps. Forked
        workers: call it from the main thread (not inside a threaded server). A callable
        ``progress`` is called in the rank-0 worker. A snapshot ensemble's members come back
        from the rank-0 worker through a temporary file.

    Returns
    -------
    TFTModel
        The network with the best validation weights, in eval mode, unsaved (``version``
        ``""``); ``metadata`` holds the split, training span, features, loss history,
        ``best_val_loss``, timings and :func:`interpretation`.

    Raises
    ------
    ValueError
        If the train or validation years hold no complete window.
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping

    from forecasting.models.callbacks import KeepBest, Progress

    if int(devices) < 1:
        raise ValueError(f"devices={devices}: give 1 (one process) or more (DDP on CPU)")

    set_determinism(config)
    started = time.time()
    physics_col = pipeline.physics_column(config.physics)
    if physics_col is not None:
        frame = frame.assign(**{physics_col: frame["dst"]})
    unknown = pipeline.unknown_reals(frame, missing_flags=config.missing_flags, flags=config.flags)
    reals = config.known_reals + unknown
    e, d = config.encoder_length, config.horizon
    valid = pipeline.valid_issue_rows(frame, reals, encoder_length=e, horizon=d)
    train_rows = pipeline.rows_in_years(frame, valid, train_years, d)
    val_rows = pipeline.rows_in_years(frame, valid, val_years, d)
    if len(train_rows) == 0 or len(val_rows) == 0:
        raise ValueError(
            f"no complete windows: {len(train_rows)} in train years {list(train_years)}, "
            f"{len(val_rows)} in validation years {list(val_years)}; pass data covering them"
        )
    years = pd.DatetimeIndex(frame.index).year
    fit_rows = np.flatnonzero(np.isin(years, list(train_years)))
    norm = pipeline.fit_normalisation(
        frame, fit_rows, reals, dst_center=config.dst_center, kp_center=config.kp_center
    )
    template = pipeline.template_dataset(
        frame,
        train_rows,
        unknown,
        norm,
        encoder_length=e,
        horizon=d,
        reals_known=config.known_reals,
    )
    source = pipeline.WindowSource(
        frame, template.get_parameters(), physics_residual=config.physics_residual
    )
    train_rows_used = train_rows[:: max(1, config.train_stride)]
    lead_scales = (
        losses.persistence_scales(source, train_rows_used, seed=config.seed)
        if config.loss_scale == "persistence"
        else None
    )
    network = build_network(template, config, lead_scales)
    val_rows_used = val_rows[:: max(1, config.val_stride)]
    # the windows ``limit_val_batches`` batches of ``batch_size`` would hold, in fewer, larger
    # batches (same validation loss: Lightning weights each batch's mean by its size)
    val_loss_rows = val_rows_used[
        : (config.limit_val_batches or len(val_rows_used)) * config.batch_size
    ]
    weights = (
        pipeline.storm_weights(frame, train_rows_used, config.storm_weight)
        if config.storm_weight != 1.0
        else None
    )
    # DDP workers hand the snapshot members back through a file (KeepBest's ``handoff``); the
    # folder goes with ``handoff`` (cleanup() below, or when fit() is left by an exception)
    handoff = (
        tempfile.TemporaryDirectory(prefix="superstorm_fit_")
        if config.snapshots > 1 and devices > 1
        else None
    )
    keep = KeepBest(
        keep=config.snapshots, handoff=Path(handoff.name) / "snapshots.pt" if handoff else None
    )
    callbacks: list[pl.Callback] = [
        EarlyStopping("val_loss", patience=config.patience, mode="min"),
        keep,
    ]
    if config.ema_decay > 0:
        # after ``keep``: its epoch-end hook copies the averaged weights before this one
        # swaps the raw weights back
        callbacks.append(weight_average(config.ema_decay))
    if progress:
        callbacks.append(Progress(config.max_epochs, progress))
    trainer = pl.Trainer(
        max_epochs=config.max_epochs,
        accelerator="cpu",
        devices=int(devices),
        strategy=_strategy(int(devices)),
        use_distributed_sampler=False,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        gradient_clip_val=config.gradient_clip_val,
        # per rank: an epoch holds the same windows with any number of processes
        limit_train_batches=-(-config.limit_train_batches // int(devices))
        if config.limit_train_batches
        else 1.0,
        limit_val_batches=1.0,
        callbacks=callbacks,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        # under DDP every rank validates all windows: the epoch metrics agree without syncing
        warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
        trainer.fit(
            network,
            train_dataloaders=source.loader(
                train_rows_used,
                batch_size=config.batch_size,
                shuffle=True,
                seed=config.seed,
                weights=weights,
                plasma_dropout=config.plasma_dropout,
                shard=True,
            ),
            val_dataloaders=source.loader(
                val_loss_rows, batch_size=max(config.batch_size, VAL_BATCH_SIZE), shuffle=False
            ),
        )
    keep.recover(trainer)  # the record of a DDP worker; the weights are already the best
    if handoff is not None:
        handoff.cleanup()
    network.eval()
    labels = pd.DatetimeIndex(frame.index)
    meta = {
        "preset": config.preset,
        "config": config.to_dict(),
        "split": {
            "train": sorted(int(y) for y in train_years),
            "validate": sorted(int(y) for y in val_years),
        },
        "training_span": [str(labels[train_rows.min() - e]), str(labels[train_rows.max() + d - 1])],
        "n_train_windows": int(len(train_rows_used)),
        "n_val_windows": int(len(val_rows_used)),
        "features": unknown,
        "known_future": config.known_reals,
        "n_train_windows_near_storms": int((weights > 1).sum()) if weights is not None else None,
        "targets": list(pipeline.TARGETS),
        "quantiles": list(config.quantiles),
        "epochs_run": len(keep.history),
        "devices": int(devices),
        "history": keep.history,
        "best_val_loss": keep.best if np.isfinite(keep.best) else None,
        "loss_lead_scales": lead_scales,
        "train_seconds": round(time.time() - started, 1),
    }
    snapshots = [state for _, state in keep.ranked[1:]]
    meta["snapshot_val_loss"] = [round(v, 5) for v, _ in keep.ranked] if keep.ranked else None
    model = TFTModel(network=network, config=config, metadata=meta, snapshots=snapshots)
    model.metadata["interpretation"] = interpretation(model, source, val_rows_used)
    return model


def weight_average(decay: float) -> Any:
    """Lightning callback keeping an exponential moving average of the weights.

    Parameters
    ----------
    decay : float
        Per-step decay in (0, 1) (:attr:`TFTConfig.ema_decay`).

    Returns
    -------
    lightning.pytorch.callbacks.EMAWeightAveraging
        Updated after every optimiser step; its weights replace the raw ones during
        validation and when training ends. Buffers are not averaged (the TFT has no batch
        norm statistics).
    """
    from lightning.pytorch.callbacks.weight_averaging import EMAWeightAveraging

    return EMAWeightAveraging(decay=float(decay), use_buffers=False)


def _strategy(devices: int) -> Any:
    """Lightning strategy: ``"auto"`` for one process, DDP on ``gloo`` for several.

    The workers are forked (Lightning's ``ddp_fork``): nothing is pickled, they start in
    about a second, and it works from scripts, notebooks and tests alike (CPU only).
    """
    if devices == 1:
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(process_group_backend="gloo", start_method="fork")


def interpretation(
    model: TFTModel, source: pipeline.WindowSource, rows: np.ndarray, *, max_windows: int = 512
) -> dict:
    """Variable importances (%) and mean encoder attention over ``rows`` (Lim et al. 2021 §7).

    Parameters
    ----------
    model : TFTModel
        The trained model.
    source : forecasting.models.pipeline.WindowSource
        Windows of the frame ``rows`` index.
    rows : numpy.ndarray
        Grid rows of the issue times to interpret (e.g. the validation windows).
    max_windows : int, default 512
        At most this many rows, evenly spaced, go through one forward pass.

    Returns
    -------
    dict
        ``encoder_variables`` / ``decoder_variables`` (name -> % importance),
        ``attention`` (mean attention weight per encoder position, oldest first, summing
        to ~1), ``n_windows``.
    """
    rows = np.asarray(rows)
    if len(rows) > max_windows:
        rows = rows[np.linspace(0, len(rows) - 1, max_windows).astype(int)]
    net = model.network
    net.eval()
    with torch.no_grad():
        x, _ = source.batch(rows, zero_future_inputs=True)
        out = net(x)
        interp = net.interpret_output(out, reduction="sum")

    def pct(values: torch.Tensor, names: Sequence[str]) -> dict[str, float]:
        v = values.detach().cpu().numpy().astype(float)
        v = 100.0 * v / max(v.sum(), 1e-12)
        return {n: round(float(p), 3) for n, p in zip(names, v, strict=False)}

    attention = interp["attention"].detach().cpu().numpy().astype(float)
    attention = attention[: model.config.encoder_length]
    attention = attention / max(attention.sum(), 1e-12)
    return {
        "encoder_variables": pct(interp["encoder_variables"], net.encoder_variables),
        "decoder_variables": pct(interp["decoder_variables"], net.decoder_variables),
        "attention": [round(float(a), 5) for a in attention],
        "n_windows": int(len(rows)),
    }


def interpretation_json(interp: dict | list) -> str:
    """Compact JSON string for netCDF attrs.

    Parameters
    ----------
    interp : dict or list
        :func:`interpretation` output, or a list such as the attention weights.

    Returns
    -------
    str
        JSON without spaces.
    """
    return json.dumps(interp, separators=(",", ":"))


def default_threads() -> int:
    """Two threads at most: the development machine has 2 shared cores.

    Returns
    -------
    int
        ``min(2, os.cpu_count())``, at least 1.
    """
    return max(1, min(2, os.cpu_count() or 1))
