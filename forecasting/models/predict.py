"""Forecasts from a trained TFT: one issue time, many issue times (batched), Forecaster wrapper.

Only data known at each issue time enters (:mod:`data_sources.timeconv`): :func:`predict` cuts
the dataset with ``timeconv.known_at(ds, t)``; :func:`predict_many` uses the vectorised
equivalent: row ``h`` of :func:`forecasting.features.build_features` holds only values known
at ``h + 1 h``, the encoder of issue time ``t`` reads rows ``h <= t - 1 h``, and the decoder
reads only calendar phases. ``tests/forecasting/evaluation/test_lookahead.py`` proves both (perturbing every value
not yet known at ``t`` leaves the forecast unchanged; perturbing a known one changes it).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from numpy.typing import ArrayLike

from data_sources import timeconv
from data_sources.timeconv import TimeLike, to_utc_index
from forecasting import schema
from forecasting.models import calibration, event_calibration, pipeline
from forecasting.models.tft import TFTModel, interpretation_json

KP_RANGE = (0.0, 9.0)


def _as_model(model: TFTModel | str) -> TFTModel:
    if isinstance(model, TFTModel):
        return model
    if isinstance(model, str):
        from forecasting.models import registry

        return registry.load(model)
    raise TypeError(f"model must be a TFTModel or a registry version string, not {type(model)}")


def _issue_times(issue_times: ArrayLike | TimeLike) -> pd.DatetimeIndex:
    times = to_utc_index(np.atleast_1d(issue_times))  # type: ignore[arg-type]
    if len(times) == 0:
        raise ValueError("no issue times given")
    off = times != times.floor("1h")
    if off.any():
        raise ValueError(
            f"issue time {times[off][0]} is not on the hour; the TFT issues hourly forecasts"
        )
    return times


def _lead_index(model: TFTModel, lead_times: ArrayLike | None) -> np.ndarray:
    """Positions (0-based) of ``lead_times`` on the model's 1..horizon h grid."""
    horizon = model.config.horizon
    if lead_times is None:
        return np.arange(horizon)
    hours = pd.TimedeltaIndex(lead_times) / pd.Timedelta("1h")
    bad = (hours != np.round(hours)) | (hours < 1) | (hours > horizon)
    if np.any(bad):
        raise ValueError(
            f"lead times must be whole hours in 1..{horizon} h for this TFT; got "
            f"{list(pd.TimedeltaIndex(lead_times)[np.asarray(bad)])}"
        )
    return np.asarray(hours, dtype=int) - 1


def predict_many(
    model: TFTModel | str,
    dataset: xr.Dataset,
    issue_times: ArrayLike,
    *,
    batch_size: int = 512,
    lead_times: ArrayLike | None = None,
    targets: Sequence[str] = pipeline.TARGETS,
    interpret: bool = True,
    max_missing: float = 0.5,
    calibrate: bool = True,
) -> xr.Dataset:
    """Forecasts for many issue times, ``batch_size`` windows per forward pass.

    Parameters
    ----------
    model
        :class:`forecasting.models.tft.TFTModel` or a registry version (``"latest"``).
    dataset
        Hourly dataset (``build_dataset`` / ``parse_omni2`` / ``load_recorded_omni``)
        covering at least ``encoder_length`` hours before the first issue time.
    issue_times
        Whole-hour UTC times.
    batch_size
        Issue times (encoder/decoder windows) per forward pass (default 512); larger is
        faster and uses more memory.
    lead_times
        Subset of 1..horizon h (default: all).
    targets
        ``dst`` and/or ``kp``.
    max_missing
        Issue times whose encoder window lacks more than this fraction of its observed
        inputs (after the causal 3-h fill), e.g. just after a missing year, get NaN.
    interpret
        Store the TFT variable importances and attention of these windows in the attrs
        ``variable_importance`` and ``attention`` (JSON).
    calibrate
        Apply the conformal calibration stored with the model (``metadata["calibration"]``,
        :func:`forecasting.models.calibration.apply_calibration`; its regime reads only data
        known at each issue time), and copy its event recalibration
        (``metadata["event_calibration"]``,
        :func:`forecasting.models.event_calibration.attach_event_calibration`) into the
        variables, so :func:`forecasting.schema.exceedance_probability` recalibrates the
        event probabilities. Models saved without them are unchanged either way.

    Returns
    -------
    xr.Dataset
        :func:`forecasting.schema.make_forecast` schema, model ``tft``; quantiles in nT for
        ``dst``, Kp units (clipped to 0..9) for ``kp``. Inputs missing after the causal
        3-h fill are set to the training mean; ``input_missing_max`` gives the largest
        fraction of such values in one encoder window that was forecast. A calibrated
        model's forecast carries the attrs ``calibration`` and ``calibration_regime_counts``.
    """
    model = _as_model(model)
    times = _issue_times(issue_times)
    unknown_targets = set(targets) - set(pipeline.TARGETS)
    if unknown_targets:
        raise ValueError(f"unknown targets {sorted(unknown_targets)}; the TFT forecasts dst, kp")
    leads = _lead_index(model, lead_times)
    e, d = model.config.encoder_length, model.config.horizon
    margin = pd.Timedelta(hours=e + 48)
    # nothing labelled at or after the newest issue time can enter (known_at semantics)
    ds = timeconv.known_at(dataset.sel(time=slice(times.min() - margin, None)), times.max())
    frame = pipeline.feature_frame(ds, until=times.max() + pd.Timedelta(hours=d))
    source = model.source(frame)
    rows = source.rows_for(times)
    past_pos = [i for i, is_past in enumerate(source.past.tolist()) if is_past]
    past = [source.reals[i] for i in past_pos]
    # which inputs are missing (after the causal fill) in the newest hour of each encoder
    newest = frame[past].to_numpy(dtype=float)[rows - 1]
    lacking = ~np.isfinite(newest)
    net = model.network
    net.eval()
    members = _members(model)
    outputs: dict[str, list] = {name: [] for name in pipeline.TARGETS}
    sums: dict | None = None
    missing_max = 0.0
    skipped: Any = []
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            x, _ = source.batch(chunk, zero_future_inputs=False)
            enc = x["encoder_cont"][:, :, past_pos]
            frac = torch.isnan(enc).float().mean(dim=(1, 2))
            skipped.append((frac > max_missing).numpy())
            kept = frac[frac <= max_missing]
            if len(kept):
                missing_max = max(missing_max, float(kept.max()))
            x, _ = source.batch(chunk, zero_future_inputs=True)
            out = net(x)
            # snapshot ensemble: quantiles averaged level by level (Vincentization)
            preds = [o.numpy() for o in out["prediction"]]
            for member in members:
                extra_out = member(x)["prediction"]
                preds = [p + o.numpy() for p, o in zip(preds, extra_out, strict=True)]
            preds = [p / (1 + len(members)) for p in preds]
            for k, name in enumerate(pipeline.TARGETS):
                pred = preds[k]
                if name == "dst" and source.physics_residual:
                    pred = (
                        pred + source.physics_offset(chunk, x["target_scale"][0]).numpy()[..., None]
                    )
                outputs[name].append(pred)
            if interpret:
                part = net.interpret_output(out, reduction="sum")
                keys = ("encoder_variables", "decoder_variables", "attention")
                part = {k: part[k].detach().numpy().astype(float) for k in keys}
                sums = part if sums is None else {k: sums[k] + part[k] for k in keys}
    skipped = np.concatenate(skipped)
    values = {}
    for name in targets:
        arr = np.concatenate(outputs[name], axis=0)[:, leads, :]
        arr[skipped] = np.nan
        if name == "kp":
            arr = np.clip(arr, *KP_RANGE)
        values[name] = arr
    forecast_ok = ~skipped
    missing_counts = {
        name: int(lacking[forecast_ok, k].sum())
        for k, name in enumerate(past)
        if lacking[forecast_ok, k].any()
    }
    extra = {
        "input_missing_max": round(missing_max, 4),
        "inputs_missing": json.dumps(missing_counts, separators=(",", ":")),
        "inputs_missing_note": (
            "inputs_missing: input -> number of forecast issue times whose newest encoder hour "
            "(t - 1 h) lacked it after the causal 3-h fill (set to the training mean"
            + (
                "; the physics decoder input falls back to persistence there"
                if source.physics
                else ""
            )
            + ")"
        ),
        "n_init_skipped_missing_inputs": int(skipped.sum()),
        "encoder_length_h": e,
    }
    if interpret and sums is not None:
        extra.update(_interp_attrs(net, sums, e))
    fc = schema.make_forecast(
        values,
        init_time=times,
        lead_time=pd.to_timedelta(leads + 1, unit="h"),
        quantiles=model.config.quantiles,
        model="tft",
        model_version=model.version or "unsaved",
        data_cutoff=times.max(),
        extra_attrs=extra,
    )
    table = model.metadata.get("calibration")
    if calibrate and table:
        fc = calibration.apply_calibration(fc, ds, table)
    events = model.metadata.get("event_calibration")
    if calibrate and events:
        fc = event_calibration.attach_event_calibration(fc, events)
    return fc


def _members(model: TFTModel) -> list:
    """Networks of the further snapshot-ensemble members (``model.snapshots``), in eval mode."""
    members = []
    for state in model.snapshots:
        member = copy.deepcopy(model.network)
        member.load_state_dict(state)
        member.eval()
        members.append(member)
    return members


def _interp_attrs(net: Any, sums: dict, encoder_length: int) -> dict:
    def pct(v: np.ndarray, names: Sequence[str]) -> dict[str, float]:
        v = 100.0 * v / max(float(v.sum()), 1e-12)
        return {n: round(float(p), 3) for n, p in zip(names, v, strict=False)}

    att = sums["attention"][:encoder_length]
    att = att / max(float(att.sum()), 1e-12)
    importance = {
        "encoder_variables": pct(sums["encoder_variables"], net.encoder_variables),
        "decoder_variables": pct(sums["decoder_variables"], net.decoder_variables),
    }
    return {
        "variable_importance": json.dumps(importance, separators=(",", ":")),
        "attention": interpretation_json([round(float(a), 5) for a in att]),
    }


def predict(
    model: TFTModel | str, dataset: xr.Dataset, issue_time: TimeLike, **kwargs: Any
) -> xr.Dataset:
    """Forecast from one ``issue_time`` using ``timeconv.known_at(dataset, issue_time)``.

    See :func:`predict_many` for the arguments and the returned schema.

    Parameters
    ----------
    model : TFTModel or str
        A trained TFT or a registry version (``"latest"``, ``"current"``, a name).
    dataset : xr.Dataset
        Hourly dataset (UTC naive, label = start of hour) covering at least
        ``encoder_length`` hours before ``issue_time``; values not yet known at
        ``issue_time`` are cut off first.
    issue_time : TimeLike
        One whole-hour UTC issue time.
    **kwargs : Any
        Passed to :func:`predict_many` (``lead_times``, ``targets``, ``interpret``,
        ``batch_size``, ``max_missing``).

    Returns
    -------
    xr.Dataset
        The forecast with one ``init_time`` (:func:`predict_many`): Dst [nT] and Kp quantiles
        on ``(init_time, lead_time, quantile)``.

    Raises
    ------
    ValueError
        If ``issue_time`` is not one whole hour.
    """
    t = _issue_times(issue_time)
    if len(t) != 1:
        raise ValueError(f"predict takes one issue time; use predict_many for {len(t)}")
    return predict_many(model, timeconv.known_at(dataset, t[0]), t, **kwargs)


class TFTForecaster:
    """The Forecaster protocol (CONTRACTS.md) around a trained TFT.

    Parameters
    ----------
    model
        :class:`TFTModel` or a registry version (default ``"latest"``).
    batch_size
        Issue times per forward pass.
    """

    name = "tft"

    def __init__(self, model: TFTModel | str = "latest", *, batch_size: int = 512) -> None:
        self.model = _as_model(model)
        self.batch_size = batch_size

    @property
    def version(self) -> str:
        """Registry version of the model, ``"unsaved"`` for one not saved yet."""
        return self.model.version or "unsaved"

    def forecast(
        self,
        ds: xr.Dataset,
        init_times: ArrayLike,
        lead_times: ArrayLike | None,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Quantile forecasts ``(init_time, lead_time, quantile)`` for ``targets``.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly dataset (UTC naive, label = start of hour) covering at least
            ``encoder_length`` hours before the first issue time.
        init_times : ArrayLike
            Whole-hour UTC issue times.
        lead_times : ArrayLike or None
            Whole hours in 1..horizon h; ``None``: every lead of the model.
        targets : Sequence[str], default ("dst", "kp")
            ``dst`` and/or ``kp``.

        Returns
        -------
        xr.Dataset
            :func:`predict_many` output (model ``tft``, with the interpretation attrs):
            Dst [nT] and Kp (0..9) quantiles on ``(init_time, lead_time, quantile)``.
        """
        return predict_many(
            self.model,
            ds,
            init_times,
            lead_times=lead_times,
            targets=targets,
            batch_size=self.batch_size,
        )
