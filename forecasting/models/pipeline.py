"""Fast input pipeline for the Temporal Fusion Transformer: pre-windowed tensors.

The stock ``pytorch_forecasting.TimeSeriesDataSet`` builds every sample in Python
(``__getitem__`` slices, clones, re-scales and pads one window at a time, then ``_collate_fn``
stacks them), which dominates the cost of training on CPU (pytorch-forecasting issues
#1849 and #1860). Here the whole record is scaled once into one contiguous
``(time, variable)`` float32 matrix and a batch is a single fancy-index gather
``matrix[issue_index[:, None] + arange(-E, D)]``. The resulting dict has exactly the keys,
shapes, dtypes and values that ``TimeSeriesDataSet._collate_fn`` produces for the same windows
(proved in ``tests/forecasting/models/test_tft.py``), so ``TemporalFusionTransformer.forward`` cannot tell them
apart.

A small ``TimeSeriesDataSet`` (the *template*) is still built once, from a gap-free stretch of
the training years, so the network is constructed by ``TemporalFusionTransformer.from_dataset``
with the library's own ``dataset_parameters``. Its scalers and target normalisers are fitted
beforehand on ALL training rows and handed to it, so the template's size does not matter.

Layout of one window for issue time ``t`` (row index ``i`` of hour ``t`` on the grid):
encoder rows ``i - E .. i - 1`` (hour labels ``t - E h .. t - 1 h``: features known at ``t``,
see :mod:`forecasting.features`), decoder rows ``i .. i + D - 1`` (labels ``t .. t + D - 1 h``,
i.e. lead times 1..D h per :mod:`data_sources.timeconv`). Only calendar phases (known future)
enter the decoder side of the network; the target columns are never network inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from numpy.typing import ArrayLike

from forecasting.features import build_features, calendar_phases

warnings.filterwarnings("ignore", message="X does not have valid feature names")

#: forecast targets (canonical names) and the frame columns holding their raw hourly values
TARGETS: tuple[str, ...] = ("dst", "kp")
TARGET_COLUMNS: tuple[str, ...] = tuple(f"target_{t}" for t in TARGETS)
#: known-future covariates: calendar phases of the row label (never future solar wind)
CALENDAR: tuple[str, ...] = ("doy_sin", "doy_cos", "ut_sin", "ut_cos")
#: decoder real holding a ring-current Dst trajectory (see :func:`physics_trajectory`), by model
PHYSICS_COLUMNS: dict[str, str] = {
    "obrien_mcpherron": "dst_obrien_mcpherron",
    "burton": "dst_burton",
}
#: solar-wind plasma inputs (and columns derived from them) masked by driver dropout in training
PLASMA_COLUMNS: tuple[str, ...] = ("v_sw", "n_p", "p_dyn", "newell", "e_y", "vbs")
#: gap indicators given to the network when training with driver dropout
PLASMA_FLAGS: tuple[str, ...] = ("v_sw_isnan", "n_p_isnan")
GROUP = "series"
TIME_IDX = "time_idx"
EPOCH = pd.Timestamp("1970-01-01")


def calendar(labels: pd.DatetimeIndex) -> pd.DataFrame:
    """Day-of-year and UT phases of hourly ``labels`` (same definitions as ``features``).

    ``doy = day_of_year - 1 + hour / 24``; phases ``2 pi doy / 365.25`` and ``2 pi UT / 24``
    (stand-ins for the Russell & McPherron 1973 semiannual and diurnal modulation).

    Parameters
    ----------
    labels : pandas.DatetimeIndex
        Hour labels (UTC naive, start of hour).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CALENDAR` (``doy_sin, doy_cos, ut_sin, ut_cos``, unitless), indexed by
        ``labels`` (:func:`forecasting.features.calendar_phases`).
    """
    return calendar_phases(labels)


def hour_index(labels: ArrayLike) -> np.ndarray:
    """Integer hours since 1970-01-01 (the ``time_idx`` of the TimeSeriesDataSet).

    Parameters
    ----------
    labels : ArrayLike
        Hour labels (UTC naive).

    Returns
    -------
    numpy.ndarray
        int64 hours since 1970-01-01T00 [h] (floored), one per label.
    """
    labels = pd.DatetimeIndex(labels)
    return ((labels - EPOCH) // pd.Timedelta("1h")).to_numpy(dtype=np.int64)


def physics_column(physics: str) -> str | None:
    """Frame column of the ring-current decoder input for ``physics`` (None for ``"none"``).

    Parameters
    ----------
    physics : str
        ``"none"``, ``"obrien_mcpherron"`` or ``"burton"`` (:data:`PHYSICS_COLUMNS`).

    Returns
    -------
    str or None
        ``"dst_obrien_mcpherron"`` / ``"dst_burton"``, or ``None`` for ``"none"``.

    Raises
    ------
    ValueError
        For any other name.
    """
    if physics == "none":
        return None
    if physics not in PHYSICS_COLUMNS:
        raise ValueError(
            f"physics must be 'none' or one of {sorted(PHYSICS_COLUMNS)}, not {physics!r}"
        )
    return PHYSICS_COLUMNS[physics]


def physics_trajectory(frame: pd.DataFrame, column: str, horizon: int) -> np.ndarray:
    """Ring-current Dst [nT] for leads 1..``horizon`` h of an issue time at every grid row.

    Row ``i`` (issue time ``t`` = label of row ``i``) starts from the Dst labelled ``t - 1 h``
    and holds the solar wind of that hour (``v_sw``, ``bz_gsm``, ``p_dyn`` of feature row
    ``i - 1``, all known at ``t``: :mod:`forecasting.features`) constant over the horizon,
    exactly as the :class:`forecasting.models.baselines.OBrienMcPherron` / ``Burton``
    baselines do: ``Dst*(L) = Q tau + (Dst*_0 - Q tau) exp(-L / tau)``,
    ``Dst = Dst* + b sqrt(P) - c`` (:mod:`forecasting.models.physics`). So it is causal.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output with ``dst`` [nT], ``v_sw`` [km s-1], ``bz_gsm`` [nT]
        and ``p_dyn`` [nPa] columns.
    column : str
        A physics column of :data:`PHYSICS_COLUMNS` (``"dst_obrien_mcpherron"`` for
        O'Brien & McPherron 2000, ``"dst_burton"`` for Burton et al. 1975).
    horizon : int
        Number of hourly leads [h].

    Returns
    -------
    numpy.ndarray
        ``(len(frame), horizon)`` float32; NaN where a driver at ``t - 1 h`` is missing
        (and in row 0).
    """
    from forecasting.models import physics

    model = {
        "dst_obrien_mcpherron": physics.OBRIEN_MCPHERRON,
        "dst_burton": physics.BURTON,
    }.get(column)
    if model is None:
        raise ValueError(f"{column!r} is not a physics column; use one of {PHYSICS_COLUMNS}")
    need = ["dst", "v_sw", "bz_gsm", "p_dyn"]
    lacking = [c for c in need if c not in frame]
    if lacking:
        raise ValueError(f"the {column} decoder input needs {lacking} in the feature frame")
    prev = frame[need].shift(1).to_numpy(dtype=float)
    dst0, v, bz, p = prev.T
    with np.errstate(invalid="ignore"):
        q, tau = physics.drivers(model, v, bz)
        star0 = physics.dst_star(dst0, p, model)
        leads = np.arange(1, horizon + 1, dtype=float)
        star = physics.step_dst_star(star0[:, None], q[:, None], tau[:, None], leads[None, :])
        dst = physics.dst_from_star(star, p[:, None], model)
    return dst.astype(np.float32)


def storm_weights(
    frame: pd.DataFrame,
    rows: np.ndarray,
    weight: float,
    *,
    threshold: float = -100.0,
    margin_h: int = 24,
) -> np.ndarray:
    """Give the sampling weight per issue row: ``weight`` near storms, 1 elsewhere.

    A row is "near a storm" when its issue time lies within ``margin_h`` hours of a storm of
    :func:`forecasting.storms.find_storms` (``Dst <= threshold``, default -100 nT), i.e. from
    ``start - margin_h`` to ``end + margin_h``, which covers the main phase and the recovery
    that the forecast of the issue time targets.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
        Storms are found in its ``target_dst`` column [nT].
    rows : numpy.ndarray
        Grid rows of the issue times (training windows).
    weight : float
        Weight of a row near a storm (>= 1; 1 gives uniform weights).
    threshold : float, default -100.0
        Storm level [nT]: hours with ``Dst <= threshold``.
    margin_h : int, default 24
        Hours [h] before a storm's start and after its end that count as near it.

    Returns
    -------
    numpy.ndarray
        float weights, shape ``(len(rows),)``: ``weight`` near a storm, else 1.
    """
    from forecasting.storms import find_storms

    labels = pd.DatetimeIndex(frame.index)[np.asarray(rows)]
    w = np.ones(len(labels))
    if weight == 1.0 or len(labels) == 0:
        return w
    storms = find_storms(frame[TARGET_COLUMNS[0]].dropna(), threshold)
    pad = pd.Timedelta(hours=margin_h)
    near = np.zeros(len(labels), dtype=bool)
    for start, end in zip(storms["start"], storms["end"], strict=True):
        near |= (labels >= start - pad) & (labels <= end + pad)
    w[near] = weight
    return w


def feature_frame(ds: xr.Dataset, *, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per hour on a gap-free grid: features, calendar, raw targets, time index.

    Parameters
    ----------
    ds
        Hourly dataset (``build_dataset`` or ``parse_omni2`` output; years may be missing).
    until
        Extend the grid to this (exclusive) hour label, e.g. ``issue_time + 24 h`` so the
        decoder rows of the newest forecast exist; the extension holds NaN except calendar.

    Returns
    -------
    pandas.DataFrame
        Index: hourly labels. Columns: :func:`forecasting.features.build_features` output
        (row ``h`` known at ``h + 1 h``; its calendar columns replaced by :func:`calendar`
        of the full grid), ``target_dst`` / ``target_kp`` (raw values labelled ``h``: what a
        forecast for lead ``L`` issued at ``h - L + 1 h`` verifies against), ``time_idx`` and
        the constant group column ``series``.
    """
    feats = build_features(ds)
    labels = pd.DatetimeIndex(feats.index)
    if len(labels) == 0:
        raise ValueError("dataset has no time steps; pass a dataset covering the forecast period")
    last = labels.max() + pd.Timedelta("1h")
    if until is not None:
        last = max(last, pd.Timestamp(until))
    grid = pd.date_range(labels.min(), last - pd.Timedelta("1h"), freq="1h")
    frame = feats.drop(columns=[c for c in CALENDAR if c in feats]).reindex(grid)
    frame[list(CALENDAR)] = calendar(grid).to_numpy()
    for name, col in zip(TARGETS, TARGET_COLUMNS, strict=True):
        if name not in ds:
            raise ValueError(
                f"dataset lacks target {name!r}; it has {sorted(map(str, ds.data_vars))}"
            )
        s = ds[name].to_series().astype(float)
        frame[col] = s[~s.index.duplicated()].reindex(grid).to_numpy()
    frame[TIME_IDX] = hour_index(grid)
    frame[GROUP] = "omni"
    frame.index.name = "time"
    return frame


def unknown_reals(
    frame: pd.DataFrame, *, missing_flags: bool = False, flags: Sequence[str] = ()
) -> list[str]:
    """Observed (past-only) inputs: every feature column that is not calendar or target.

    ``<name>_isnan`` gap indicators are left out unless ``missing_flags`` (each variable
    costs the TFT a variable-selection network; windows with unfilled gaps are skipped anyway)
    or they are named in ``flags`` (e.g. :data:`PLASMA_FLAGS` for driver dropout).

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
    missing_flags : bool, default False
        Keep every ``<name>_isnan`` gap indicator.
    flags : Sequence[str], default ()
        Gap indicators kept even without ``missing_flags``.

    Returns
    -------
    list of str
        Column names in frame order (physics columns, :data:`CALENDAR`, targets,
        ``time_idx`` and ``series`` left out).
    """
    skip = set(CALENDAR) | set(TARGET_COLUMNS) | {TIME_IDX, GROUP} | set(PHYSICS_COLUMNS.values())
    return [
        c
        for c in frame.columns
        if c not in skip and (missing_flags or not c.endswith("_isnan") or c in flags)
    ]


def valid_issue_rows(
    frame: pd.DataFrame,
    reals: Sequence[str],
    *,
    encoder_length: int,
    horizon: int,
    need_targets: bool = True,
) -> np.ndarray:
    """Grid rows ``i`` usable as issue times: complete inputs and targets.

    Inputs must be finite in ``[i - E, i)`` and, with ``need_targets``, both targets in
    ``[i, i + D)``. Vectorised with cumulative sums of "bad" flags, so it costs O(rows).

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
    reals : Sequence[str]
        Network reals to check: calendar and observed columns (physics columns and
        ``relative_time_idx`` are skipped: they are computed per window).
    encoder_length : int
        ``E``, hours [h] of history before the issue time.
    horizon : int
        ``D``, hourly leads [h].
    need_targets : bool, default True
        Also require observed targets (training, validation); False for operational forecasts.

    Returns
    -------
    numpy.ndarray
        Ascending int row positions ``i`` (issue time = ``frame.index[i]``).
    """
    n = len(frame)
    known = [c for c in reals if c in CALENDAR]
    physics = set(PHYSICS_COLUMNS.values())
    past = [c for c in reals if c not in CALENDAR and c not in physics and c != "relative_time_idx"]
    bad_in = ~np.isfinite(frame[past].to_numpy(dtype=float)).all(axis=1)
    bad_in |= ~np.isfinite(frame[known].to_numpy(dtype=float)).all(axis=1)
    bad_out = ~np.isfinite(frame[list(TARGET_COLUMNS)].to_numpy(dtype=float)).all(axis=1)
    c_in = np.concatenate([[0], np.cumsum(bad_in)])
    c_out = np.concatenate([[0], np.cumsum(bad_out)])
    rows = np.arange(encoder_length, n - horizon + 1)
    ok = c_in[rows] - c_in[rows - encoder_length] == 0
    if need_targets:
        ok &= c_out[rows + horizon] - c_out[rows] == 0
    return rows[ok]


def rows_in_years(
    frame: pd.DataFrame, rows: np.ndarray, years: Iterable[int], horizon: int
) -> np.ndarray:
    """Keep issue rows whose first and last target hour both fall in ``years``.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
    rows : numpy.ndarray
        Issue rows (:func:`valid_issue_rows`).
    years : Iterable[int]
        Calendar years (UTC), e.g. the training years.
    horizon : int
        Hourly leads [h]; the last target hour of row ``i`` is ``frame.index[i + horizon - 1]``.

    Returns
    -------
    numpy.ndarray
        The subset of ``rows``, order kept.
    """
    years = np.asarray(sorted(set(int(y) for y in years)))
    labels = pd.DatetimeIndex(frame.index)
    first = labels[rows].year.to_numpy()
    last = labels[rows + horizon - 1].year.to_numpy()
    return rows[np.isin(first, years) & np.isin(last, years)]


@dataclass
class Normalisation:
    """Scalers fitted on the training rows, in the form ``TimeSeriesDataSet`` accepts."""

    scalers: dict
    target_normalizer: object


#: Dst is scaled per window by its own encoder history. ``dst_center="mean"`` (models saved
#: before the option existed): pytorch-forecasting's ``EncoderNormalizer``, centre = mean of the
#: last :data:`DST_CENTER_HOURS` h, scale = std over the encoder. ``dst_center="last"``:
#: :class:`LastValueNormalizer`, centre = the last known (finite) encoder value, i.e. the Dst
#: labelled ``t - 1 h`` (its hour has ended at the issue time ``t``), scale = max(encoder std,
#: :data:`DST_MIN_SCALE`). With "last", a network output of 0 is persistence and the network
#: learns the change from the current level, so storm-time levels (-100 .. -400 nT) are not
#: several window-sigmas away from the centre. Kp keeps one global scaling: the raw Kp of the
#: encoder's last hours may belong to a 3-h interval still in progress at the issue time.
DST_CENTER_HOURS = 6
#: floor of the per-window Dst scale [nT] for ``dst_center="last"``: quiet windows have an
#: encoder std of 1-3 nT, which would blow ordinary hour-to-hour changes up to many units.
DST_MIN_SCALE = 5.0
DST_CENTERS = ("last", "mean")


def _make_last_value_normalizer() -> type:
    """Build :class:`LastValueNormalizer` on first use (pytorch-forecasting is a heavy import)."""
    from pytorch_forecasting.data import EncoderNormalizer

    class LastValueNormalizer(EncoderNormalizer):
        """``EncoderNormalizer`` centred on the LAST finite encoder value, scale floored.

        Fitted per window by ``TimeSeriesDataSet`` (it is an ``EncoderNormalizer``) on the
        encoder target ``y`` (oldest first): ``center = y[last finite]``, ``scale =
        max(std(y) + eps, min_scale)`` (unbiased std over the last ``max_length`` values, all by
        default; eps = float32 machine epsilon as in pytorch-forecasting). Only
        ``method="standard"`` without transformation is supported.

        Parameters
        ----------
        min_scale
            Lower bound of the scale, in target units (nT for Dst).
        lag
            Centre on the last finite value at or before position ``-lag`` (1: the newest
            value). For the hourly Kp series ``lag=3`` is the label ``t - 3 h``, which always
            lies in the last COMPLETE 3-h Kp block at issue time ``t`` (whatever ``t mod 3 h``),
            so the block still in progress cannot leak (:mod:`data_sources.timeconv`).
        """

        def __init__(
            self,
            method: str = "standard",
            center: bool = True,
            max_length: int | None = None,
            transformation: str | None = None,
            method_kwargs: dict | None = None,
            min_scale: float = DST_MIN_SCALE,
            lag: int = 1,
        ) -> None:
            super().__init__(
                method=method,
                center=center,
                max_length=max_length,
                transformation=transformation,
                method_kwargs=method_kwargs,
            )
            self.min_scale = min_scale
            if int(lag) < 1:
                raise ValueError(f"lag must be >= 1 (1 = the newest value), not {lag}")
            self.lag = int(lag)

        def fit(self, y: Any) -> LastValueNormalizer:
            """Centre = last finite value of ``y[:len(y) - lag + 1]``; scale = max(std, ``min_scale``)."""
            if self.method != "standard" or self.transformation not in (None, "identity"):
                raise ValueError("LastValueNormalizer supports method='standard' only")
            super().fit(y)
            values = self.preprocess(y)
            if isinstance(values, pd.Series | pd.DataFrame):
                values = values.to_numpy()
            lag = int(getattr(self, "lag", 1))
            if isinstance(values, torch.Tensor):
                values = values[: max(len(values) - lag + 1, 0)]
                finite = values[torch.isfinite(values)]
                last = finite[-1] if len(finite) else torch.tensor(float("nan"), dtype=values.dtype)
                self.center_ = last.to(values.dtype)
                self.scale_ = torch.clamp(torch.as_tensor(self.scale_), min=self.min_scale)  # type: ignore[has-type]
            else:
                values = np.asarray(values, dtype=float).reshape(-1)
                values = values[: max(len(values) - lag + 1, 0)]
                finite = values[np.isfinite(values)]
                self.center_ = float(finite[-1]) if len(finite) else float("nan")  # type: ignore[assignment]
                self.scale_ = max(float(self.scale_), float(self.min_scale))  # type: ignore[assignment]
            return self

    LastValueNormalizer.__module__ = __name__
    LastValueNormalizer.__qualname__ = "LastValueNormalizer"
    return LastValueNormalizer


def __getattr__(name: str) -> Any:
    """Create the module attribute ``LastValueNormalizer`` lazily (so pickle finds it)."""
    if name == "LastValueNormalizer":
        if name not in globals():
            globals()[name] = _make_last_value_normalizer()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Kp normalisation: ``"global"`` = one standard scaling of the training years (models saved
#: before the option existed); ``"last_block"`` = per window, centred on the Kp of the last
#: complete 3-h block (label ``t - 3 h``), scale max(encoder std, :data:`KP_MIN_SCALE`).
KP_CENTERS = ("global", "last_block")
KP_MIN_SCALE = 1.0


def kp_normalizer(kp_center: str = "global") -> Any:
    """Make the Kp target normaliser for ``kp_center``.

    Parameters
    ----------
    kp_center : str, default "global"
        ``"global"``: one standard scaling fitted on the training years (``TorchNormalizer``);
        ``"last_block"``: per window, centred on the Kp labelled ``t - 3 h`` (last complete
        3-h block), scale max(encoder std, :data:`KP_MIN_SCALE`) (``LastValueNormalizer``).

    Returns
    -------
    Any
        An unfitted pytorch-forecasting normaliser.

    Raises
    ------
    ValueError
        If ``kp_center`` is not in :data:`KP_CENTERS`.
    """
    from pytorch_forecasting.data import TorchNormalizer

    if kp_center == "global":
        return TorchNormalizer(method="standard")
    if kp_center == "last_block":
        return __getattr__("LastValueNormalizer")(method="standard", min_scale=KP_MIN_SCALE, lag=3)
    raise ValueError(f"kp_center must be one of {KP_CENTERS}, not {kp_center!r}")


def dst_normalizer(dst_center: str = "mean") -> Any:
    """Make the per-window Dst target normaliser for ``dst_center``.

    Parameters
    ----------
    dst_center : str, default "mean"
        ``"last"``: centred on the last known Dst (label ``t - 1 h``), scale max(encoder std,
        :data:`DST_MIN_SCALE` = 5 nT); ``"mean"``: ``EncoderNormalizer``, centre = mean of the
        last :data:`DST_CENTER_HOURS` h, scale = encoder std.

    Returns
    -------
    Any
        An unfitted pytorch-forecasting ``EncoderNormalizer`` (or subclass).

    Raises
    ------
    ValueError
        If ``dst_center`` is not in :data:`DST_CENTERS`.
    """
    from pytorch_forecasting.data import EncoderNormalizer

    if dst_center == "last":
        return __getattr__("LastValueNormalizer")(method="standard", min_scale=DST_MIN_SCALE)
    if dst_center == "mean":
        return EncoderNormalizer(method="standard", max_length=(DST_CENTER_HOURS, 10_000))
    raise ValueError(f"dst_center must be one of {DST_CENTERS}, not {dst_center!r}")


def fit_normalisation(
    frame: pd.DataFrame,
    rows: np.ndarray,
    reals: Sequence[str],
    *,
    dst_center: str = "mean",
    kp_center: str = "global",
) -> Normalisation:
    """Fit one ``StandardScaler`` per real and the target normalisers.

    ``rows`` are the grid rows of the training period; NaN rows are ignored. Targets: a
    per-window normaliser for Dst (:func:`dst_normalizer`, see :data:`DST_CENTER_HOURS`)
    and :func:`kp_normalizer` for Kp. A physics column (:data:`PHYSICS_COLUMNS`) gets no
    scaler: :class:`WindowSource` scales it per window like the Dst target.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
    rows : numpy.ndarray
        Grid rows of the training period (duplicates allowed).
    reals : Sequence[str]
        Network reals to scale (calendar, observed inputs, physics column).
    dst_center : str, default "mean"
        See :func:`dst_normalizer`.
    kp_center : str, default "global"
        See :func:`kp_normalizer`.

    Returns
    -------
    Normalisation
        ``scalers`` (real -> fitted ``StandardScaler``, ``None`` for a physics column) and a
        ``MultiNormalizer`` of the Dst and Kp target normalisers.

    Raises
    ------
    ValueError
        If a real is missing in every training row.
    """
    from pytorch_forecasting.data import MultiNormalizer
    from sklearn.preprocessing import StandardScaler

    part = frame.iloc[np.unique(rows)]
    scalers: dict[str, Any] = {}
    for name in reals:
        if name in PHYSICS_COLUMNS.values():
            scalers[name] = None
            continue
        col = part[[name]].dropna()
        if col.empty:
            raise ValueError(f"feature {name!r} is missing in every training row")
        scalers[name] = StandardScaler().fit(col)
    normalizers = []
    for target, col in zip(TARGETS, TARGET_COLUMNS, strict=True):
        y = part[col].dropna()
        norm = dst_normalizer(dst_center) if target == "dst" else kp_normalizer(kp_center)
        normalizers.append(norm.fit(y))
    return Normalisation(scalers=scalers, target_normalizer=MultiNormalizer(normalizers))


def _encoder_scale(normalizer: Any, enc: torch.Tensor) -> torch.Tensor:
    """Vectorised ``EncoderNormalizer.fit(encoder_target).get_parameters()`` per window.

    ``enc``: (batch, encoder_length) raw target. Standard method: centre = mean of the last
    ``max_length[0]`` values (or all), scale = unbiased std of the last ``max_length[1]`` (or
    all) + float32 eps. :class:`LastValueNormalizer`: centre = last finite value, scale
    floored at ``min_scale``. NaN values are ignored (the stock path never sees them).
    """
    if normalizer.method != "standard" or normalizer.transformation not in (None, "identity"):
        raise ValueError("only EncoderNormalizer(method='standard') without transformation")
    ml = normalizer.max_length
    n = enc.shape[1]
    if ml is None:
        c_len = s_len = n
    elif isinstance(ml, int):
        c_len = s_len = min(ml, n)
    else:
        c_len, s_len = min(ml[0], n), min(ml[1], n)
    yc, ys = enc[:, n - c_len :], enc[:, n - s_len :]
    ok = torch.isfinite(ys)
    cnt = ok.sum(dim=-1)
    mean = torch.where(ok, ys, 0.0).sum(dim=-1) / cnt
    var = torch.where(ok, (ys - mean[:, None]) ** 2, 0.0).sum(dim=-1) / (cnt - 1)
    scale = var.sqrt() + torch.finfo(enc.dtype).eps
    if isinstance(normalizer, __getattr__("LastValueNormalizer")):
        lag = int(getattr(normalizer, "lag", 1))
        pos = torch.arange(n).expand_as(enc)
        fin = torch.isfinite(enc) & (pos <= n - lag)
        last = torch.where(fin, pos, -1).max(dim=-1).values
        center = enc.gather(1, last.clamp(min=0)[:, None])[:, 0]
        center = torch.where(last >= 0, center, torch.nan)
        scale = torch.clamp(scale, min=float(normalizer.min_scale))
    else:
        center = torch.nanmean(yc, dim=-1)
    return torch.stack([center, scale], dim=-1)


def template_dataset(
    frame: pd.DataFrame,
    rows: np.ndarray,
    reals_unknown: Sequence[str],
    norm: Normalisation,
    *,
    encoder_length: int,
    horizon: int,
    n_windows: int = 8,
    reals_known: Sequence[str] = CALENDAR,
) -> Any:
    """Build a small stock ``TimeSeriesDataSet`` over the first gap-free stretch of ``rows``.

    Used only for ``TemporalFusionTransformer.from_dataset`` (network layout, normalisers)
    and for the equivalence test; training reads :class:`WindowSource` batches.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`feature_frame` output (one row per hour on a gap-free grid).
    rows : numpy.ndarray
        Valid training issue rows (:func:`valid_issue_rows`), ascending.
    reals_unknown : Sequence[str]
        Observed (encoder-only) reals (:func:`unknown_reals`).
    norm : Normalisation
        Scalers and target normalisers fitted on all training rows (:func:`fit_normalisation`).
    encoder_length : int
        Hours [h] of encoder history.
    horizon : int
        Hourly leads [h].
    n_windows : int, default 8
        Consecutive complete windows the template holds.
    reals_known : Sequence[str], default :data:`CALENDAR`
        Known-future reals (calendar, and the physics column if any).

    Returns
    -------
    pytorch_forecasting.TimeSeriesDataSet
        The template dataset (:func:`stock_dataset`).

    Raises
    ------
    ValueError
        If ``rows`` is empty or holds no ``n_windows`` consecutive rows.
    """
    rows = np.asarray(rows)
    if len(rows) == 0:
        raise ValueError("no complete training window; check the split years and data gaps")
    # first run of n_windows consecutive valid issue rows
    run = np.flatnonzero(np.diff(rows) != 1)
    starts = np.concatenate([[0], run + 1])
    ends = np.concatenate([run + 1, [len(rows)]])
    pick = next((s for s, e in zip(starts, ends, strict=True) if e - s >= n_windows), None)
    if pick is None:
        raise ValueError(f"no {n_windows} consecutive complete windows to build the template")
    i0 = rows[pick]
    part = frame.iloc[i0 - encoder_length : i0 + n_windows - 1 + horizon]
    return stock_dataset(
        part,
        reals_unknown,
        norm,
        encoder_length=encoder_length,
        horizon=horizon,
        reals_known=reals_known,
    )


def stock_dataset(
    part: pd.DataFrame,
    reals_unknown: Sequence[str],
    norm: Normalisation,
    *,
    encoder_length: int,
    horizon: int,
    reals_known: Sequence[str] = CALENDAR,
) -> Any:
    """Build the stock ``TimeSeriesDataSet`` over a gap-free ``part`` of the frame (all windows).

    ``reals_known`` are the known-future reals (calendar, and a physics column whose decoder
    values :class:`WindowSource` computes per window; the stock path sees the frame column).

    Parameters
    ----------
    part : pandas.DataFrame
        Consecutive rows of :func:`feature_frame` output, no gaps in the columns used.
    reals_unknown : Sequence[str]
        Observed (encoder-only) reals.
    norm : Normalisation
        Fitted scalers and target normalisers.
    encoder_length : int
        Hours [h] of encoder history (fixed length).
    horizon : int
        Hourly leads [h] (fixed length).
    reals_known : Sequence[str], default :data:`CALENDAR`
        Known-future reals.

    Returns
    -------
    pytorch_forecasting.TimeSeriesDataSet
        Targets ``target_dst``, ``target_kp``; one group ``series``; relative time index on.
    """
    from pytorch_forecasting import TimeSeriesDataSet

    cols = [TIME_IDX, GROUP, *reals_known, *reals_unknown, *TARGET_COLUMNS]
    data = part[cols].reset_index(drop=True)
    return TimeSeriesDataSet(
        data,
        time_idx=TIME_IDX,
        target=list(TARGET_COLUMNS),
        group_ids=[GROUP],
        max_encoder_length=encoder_length,
        min_encoder_length=encoder_length,
        max_prediction_length=horizon,
        min_prediction_length=horizon,
        time_varying_known_reals=list(reals_known),
        time_varying_unknown_reals=list(reals_unknown),
        add_relative_time_idx=True,
        add_target_scales=False,
        add_encoder_length=False,
        target_normalizer=norm.target_normalizer,
        scalers=dict(norm.scalers),
        predict_mode=False,
    )


class WindowSource:
    """All windows of one contiguous hourly frame as pre-scaled tensors.

    Parameters
    ----------
    frame
        :func:`feature_frame` output.
    dataset_parameters
        ``TimeSeriesDataSet.get_parameters()`` of the template (or the network's
        ``hparams.dataset_parameters``): the order of reals, scalers and target normalisers.
    physics_residual
        The Dst target is the residual from the physics trajectory (:meth:`physics_offset`).
    """

    def __init__(
        self, frame: pd.DataFrame, dataset_parameters: dict, *, physics_residual: bool = False
    ) -> None:
        p = dataset_parameters
        self.physics_residual = bool(physics_residual)
        self.encoder_length = int(p["max_encoder_length"])
        self.horizon = int(p["max_prediction_length"])
        self.reals = (
            list(p.get("static_reals") or [])
            + list(p.get("time_varying_known_reals") or [])
            + list(p.get("time_varying_unknown_reals") or [])
        )
        if "relative_time_idx" not in self.reals:
            at = len(p.get("static_reals") or []) + len(p.get("time_varying_known_reals") or [])
            self.reals.insert(at, "relative_time_idx")
        known = set(p.get("time_varying_known_reals") or [])
        self.physics = next((c for c in PHYSICS_COLUMNS.values() if c in self.reals), None)
        if self.physics is not None and self.physics not in frame and "dst" in frame:
            frame = frame.assign(**{self.physics: frame["dst"]})
        self.frame = frame
        self.labels = pd.DatetimeIndex(frame.index)
        missing = [c for c in self.reals if c != "relative_time_idx" and c not in frame]
        if missing:
            raise ValueError(
                f"feature frame lacks {missing} that the model was trained with; "
                "build the dataset with the same variables"
            )
        scalers = p["scalers"]
        cols = []
        for name in self.reals:
            if name == "relative_time_idx":
                cols.append(np.zeros(len(frame)))
                continue
            scaler = scalers.get(name)
            values = frame[[name]]
            if scaler is None:
                cols.append(values.to_numpy(dtype=float).reshape(-1))
            else:
                cols.append(np.asarray(scaler.transform(values)).reshape(-1))
        self.x = torch.tensor(np.stack(cols, axis=1), dtype=torch.float)
        self.rel_pos = self.reals.index("relative_time_idx")
        self.y = torch.tensor(frame[list(TARGET_COLUMNS)].to_numpy(np.float64), dtype=torch.float)
        self.time_idx = torch.as_tensor(frame[TIME_IDX].to_numpy(np.int64, copy=True))
        self.past = torch.tensor(
            [n not in CALENDAR and n not in known and n != "relative_time_idx" for n in self.reals]
        )
        self.phys_pos = self.reals.index(self.physics) if self.physics else None
        self.trajectory = (
            torch.from_numpy(physics_trajectory(frame, self.physics, self.horizon))
            if self.physics
            else None
        )
        self.plasma_pos = [self.reals.index(c) for c in PLASMA_COLUMNS if c in self.reals]
        self.flag_pos = [self.reals.index(c) for c in PLASMA_FLAGS if c in self.reals]
        self.flag_on = torch.tensor(
            [
                float(np.asarray(scalers[c].transform(pd.DataFrame({c: [1.0]}))).reshape(-1)[0])
                if scalers.get(c) is not None
                else 1.0
                for c in PLASMA_FLAGS
                if c in self.reals
            ]
        )
        from pytorch_forecasting.data import EncoderNormalizer

        self.normalizers = list(p["target_normalizer"].normalizers)
        self.per_window = [isinstance(n, EncoderNormalizer) for n in self.normalizers]
        self.target_scale = [
            None if pw else torch.as_tensor(n.get_parameters())
            for n, pw in zip(self.normalizers, self.per_window, strict=True)
        ]
        span = torch.arange(-self.encoder_length, self.horizon)
        self.offsets = span
        self.relative = (span / self.encoder_length).to(torch.float)

    def __len__(self) -> int:
        """Count the hourly grid rows of the frame."""
        return len(self.frame)

    def valid_rows(self, *, need_targets: bool = True) -> np.ndarray:
        """Issue rows with complete inputs (and targets, when ``need_targets``).

        Parameters
        ----------
        need_targets : bool, default True
            Also require both observed targets over the horizon (:func:`valid_issue_rows`).

        Returns
        -------
        numpy.ndarray
            Ascending int grid rows.
        """
        reals = [r for r in self.reals if r != "relative_time_idx"]
        return valid_issue_rows(
            self.frame,
            reals,
            encoder_length=self.encoder_length,
            horizon=self.horizon,
            need_targets=need_targets,
        )

    def rows_for(self, issue_times: ArrayLike) -> np.ndarray:
        """Grid rows of ``issue_times``; raise if one is off the grid or lacks history.

        Parameters
        ----------
        issue_times : ArrayLike
            Whole-hour UTC naive issue times on the frame's grid.

        Returns
        -------
        numpy.ndarray
            int grid rows, one per issue time, in the given order.

        Raises
        ------
        ValueError
            If an issue time is off the grid, has fewer than ``encoder_length`` h of grid
            before it or fewer than ``horizon`` h after it.
        """
        times = pd.DatetimeIndex(np.atleast_1d(issue_times))
        rows = self.labels.get_indexer(times)
        bad = (rows < self.encoder_length) | (rows < 0) | (rows + self.horizon > len(self))
        if bad.any():
            t = times[np.flatnonzero(bad)[0]]
            raise ValueError(
                f"issue time {t} needs {self.encoder_length} h of data before it and "
                f"{self.horizon} h of grid after it (grid {self.labels[0]} .. {self.labels[-1]}); "
                "pass a dataset that covers the encoder window"
            )
        return rows

    def batch(
        self, rows: np.ndarray | torch.Tensor, *, zero_future_inputs: bool = False
    ) -> tuple[dict, tuple[list[torch.Tensor], None]]:
        """Gather the ``(x, (y, None))`` batch of the windows issued at grid ``rows``.

        Same keys, shapes, dtypes and values as ``TimeSeriesDataSet._collate_fn``.
        ``zero_future_inputs`` replaces the observed-input columns of decoder rows (the
        network never reads them) and any NaN input by 0, for operational forecasts.

        Parameters
        ----------
        rows : numpy.ndarray or torch.Tensor
            Grid rows of the issue times, ``b`` of them.
        zero_future_inputs : bool, default False
            Zero the observed inputs of decoder rows and every NaN input (forecasting).

        Returns
        -------
        tuple
            ``x``: the network input dict (``encoder_cont`` ``(b, E, n_reals)``,
            ``decoder_cont`` ``(b, D, n_reals)``, ``encoder_target`` / ``decoder_target``
            lists of ``(b, E)`` / ``(b, D)`` raw targets (Dst [nT] or its physics residual,
            Kp), ``target_scale`` list of ``(b, 2)`` centre and scale, lengths, time index,
            groups); and ``(decoder_target, None)``.
        """
        rows = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        b = len(rows)
        e, d = self.encoder_length, self.horizon
        win = rows[:, None] + self.offsets[None, :]
        cont = self.x[win]
        cont[:, :, self.rel_pos] = self.relative
        if zero_future_inputs:
            cont[:, e:, self.past] = 0.0
            cont = torch.nan_to_num(cont, nan=0.0)
        tgt = self.y[win]
        empty = torch.zeros((b, e + d, 0), dtype=torch.int64)
        enc_len = torch.full((b,), e, dtype=torch.long)
        dec_len = torch.full((b,), d, dtype=torch.long)
        decoder_target = [tgt[:, e:, k] for k in range(tgt.shape[-1])]
        target_scale = [
            _encoder_scale(n, tgt[:, :e, k]) if pw else s.unsqueeze(0).expand(b, -1).clone()  # type: ignore[union-attr]
            for k, (n, pw, s) in enumerate(
                zip(self.normalizers, self.per_window, self.target_scale, strict=True)
            )
        ]
        if self.physics is not None:
            cont[:, :, self.phys_pos] = self._physics_input(rows, win, target_scale[0])
        if self.physics_residual:
            decoder_target[0] = decoder_target[0] - self.physics_offset(rows, target_scale[0])
        x = dict(
            encoder_cat=empty[:, :e],
            encoder_cont=cont[:, :e],
            encoder_target=[tgt[:, :e, k] for k in range(tgt.shape[-1])],
            encoder_lengths=enc_len,
            decoder_cat=empty[:, e:],
            decoder_cont=cont[:, e:],
            decoder_target=decoder_target,
            decoder_lengths=dec_len,
            decoder_time_idx=self.time_idx[win[:, e:]],
            groups=torch.zeros((b, 1), dtype=torch.int64),
            target_scale=target_scale,
        )
        return x, (decoder_target, None)

    def _physics_input(
        self, rows: torch.Tensor, win: torch.Tensor, dst_scale: torch.Tensor
    ) -> torch.Tensor:
        """Compute the physics column of each window in the window's own Dst units.

        Encoder rows: the observed Dst known at each hour; decoder rows: the ring-current
        trajectory of the issue time (:func:`physics_trajectory`); both as
        ``(Dst - centre) / scale`` with the window's Dst target centre and scale, so 0 is
        persistence of the last Dst. Where the trajectory is missing (plasma or IMF absent
        at ``t - 1 h``, or masked by driver dropout) the decoder holds 0: persistence.
        """
        e = self.encoder_length
        center, scale = dst_scale[:, :1], dst_scale[:, 1:]
        assert self.trajectory is not None  # set with physics
        values = self.x[win, self.phys_pos]  # raw Dst known at each hour (no scaler)
        values[:, e:] = self.trajectory[rows]
        return torch.nan_to_num((values - center) / scale, nan=0.0)

    def physics_offset(
        self, rows: np.ndarray | torch.Tensor, dst_scale: torch.Tensor
    ) -> torch.Tensor:
        """Physics trajectory minus the window's Dst centre [nT], ``(batch, horizon)``.

        With ``physics_residual`` the network's Dst target is the observed Dst minus this
        offset, so a network output of 0 (in window units) is the ring-current forecast and
        the network learns its correction; forecasts add it back
        (:func:`forecasting.models.predict.predict_many`). 0 where the trajectory is missing.

        Parameters
        ----------
        rows : numpy.ndarray or torch.Tensor
            Grid rows of the issue times, ``b`` of them.
        dst_scale : torch.Tensor
            The windows' Dst ``target_scale``, shape ``(b, 2)``: centre [nT] and scale [nT].

        Returns
        -------
        torch.Tensor
            float32 offset [nT], shape ``(b, horizon)``.
        """
        rows = torch.as_tensor(np.asarray(rows), dtype=torch.long)
        assert self.trajectory is not None  # set with physics
        return torch.nan_to_num(self.trajectory[rows] - dst_scale[:, :1], nan=0.0)

    def mask_plasma(self, x: dict, hours: torch.Tensor, rows: np.ndarray | None = None) -> dict:
        """Driver dropout: plasma inputs missing in the last ``hours`` encoder hours per window.

        The :data:`PLASMA_COLUMNS` take the value an operational forecast gives a missing
        input (0 = the training mean, :func:`forecasting.models.predict.predict_many`), the
        :data:`PLASMA_FLAGS` say "missing", and the physics decoder input falls back to
        persistence (its drivers at ``t - 1 h`` are gone). Windows with ``hours == 0`` are
        left alone.

        Parameters
        ----------
        x : dict
            A network input dict from :meth:`batch`; changed in place.
        hours : torch.Tensor
            int per window, shape ``(b,)``: how many of the newest encoder hours [h] lose
            their plasma inputs (0 = none).
        rows : numpy.ndarray, optional
            The batch's grid rows; needed with ``physics_residual`` to restore the plain Dst
            target of masked windows.

        Returns
        -------
        dict
            ``x``, masked.

        Raises
        ------
        ValueError
            If ``physics_residual`` is set and ``rows`` is None.
        """
        e = self.encoder_length
        cont = x["encoder_cont"]
        pos = torch.arange(e)[None, :]
        hit = pos >= (e - hours[:, None])  # (batch, encoder)
        for p in self.plasma_pos:
            cont[:, :, p] = torch.where(hit, 0.0, cont[:, :, p])
        for p, on in zip(self.flag_pos, self.flag_on, strict=True):
            cont[:, :, p] = torch.where(hit, on, cont[:, :, p])
        if self.physics is not None:
            dec = x["decoder_cont"]
            dec[:, :, self.phys_pos] = torch.where(
                (hours > 0)[:, None], 0.0, dec[:, :, self.phys_pos]
            )
        if self.physics_residual:
            if rows is None:
                raise ValueError("mask_plasma needs the rows of a physics-residual batch")
            # masked windows have no trajectory: their target is the plain Dst again
            back = self.physics_offset(rows, x["target_scale"][0]) * (hours > 0)[:, None]
            x["decoder_target"][0] = x["decoder_target"][0] + back
        return x

    def loader(
        self,
        rows: np.ndarray,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        weights: np.ndarray | None = None,
        plasma_dropout: float = 0.0,
        shard: bool = False,
    ) -> torch.utils.data.DataLoader:
        """Make a ``DataLoader`` whose items are whole batches (no per-sample Python work).

        Parameters
        ----------
        rows
            Grid rows of the issue times to serve (:meth:`valid_rows`).
        batch_size
            Windows per batch (the last batch may be smaller).
        shuffle
            Draw the rows in a random order each epoch (training); False: in order.
        seed
            Seed of the shuffling / weighted sampling and of driver dropout (reproducible).
        weights
            Sampling weight per row (training only): rows are drawn with replacement in
            proportion to it, ``len(rows)`` per epoch (storm oversampling, :func:`storm_weights`).
        plasma_dropout
            Fraction of windows whose plasma inputs are masked over the last 1..E hours
            (uniform), see :meth:`mask_plasma`.
        shard
            Under ``torch.distributed`` (e.g. Lightning DDP), each rank iterates over its own
            share of every epoch's batches (:class:`ShardedBatchSampler`), like
            ``torch.utils.data.DistributedSampler``. Outside a process group it is a no-op.

        Returns
        -------
        torch.utils.data.DataLoader
            Yields ``(x, (decoder_target, None))`` batches as :meth:`batch` makes them.
        """
        gen = torch.Generator().manual_seed(seed)
        if weights is not None:
            base: torch.utils.data.Sampler = torch.utils.data.WeightedRandomSampler(
                torch.as_tensor(np.asarray(weights, dtype=float)),  # type: ignore[arg-type]
                num_samples=len(rows),
                replacement=True,
                generator=gen,
            )
        elif shuffle:
            base = torch.utils.data.RandomSampler(range(len(rows)), generator=gen)
        else:
            base = torch.utils.data.SequentialSampler(range(len(rows)))
        return torch.utils.data.DataLoader(
            _Batches(self, np.asarray(rows), plasma_dropout=plasma_dropout, seed=seed),
            batch_size=None,
            sampler=ShardedBatchSampler(base, batch_size, enabled=shard),
            num_workers=0,
        )


class ShardedBatchSampler(torch.utils.data.Sampler):
    """Batches of a sampler, split between the ranks of a ``torch.distributed`` group.

    Every rank draws the same batches (the base sampler is seeded alike on every rank), pads
    the epoch's list of batches by repeating its first ones to a multiple of the world size,
    and keeps batches ``rank, rank + world, ...``: the ranks see disjoint windows (but for the
    padding), the same number of batches (so DDP's gradient all-reduce never waits on a rank
    that has finished), and together one epoch of the base sampler. This is
    ``torch.utils.data.DistributedSampler``'s contract at the level of whole batches, so it
    also holds for the storm-weighted draw (:func:`storm_weights`). With one process, no
    process group or ``enabled=False`` it yields every batch.

    Parameters
    ----------
    sampler
        Base sampler of positions (random, weighted or sequential).
    batch_size
        Positions per batch.
    enabled
        Shard when a process group of more than one rank is initialised.
    num_replicas, rank
        World size and this process's rank, as for ``DistributedSampler`` (default: those of
        the initialised process group, read when iterating).
    """

    def __init__(
        self,
        sampler: torch.utils.data.Sampler,
        batch_size: int,
        *,
        enabled: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.batches = torch.utils.data.BatchSampler(
            sampler, batch_size=batch_size, drop_last=False
        )
        self.enabled = bool(enabled)
        if (num_replicas is None) != (rank is None) or (
            num_replicas is not None and not 0 <= int(rank) < int(num_replicas)  # type: ignore[arg-type]
        ):
            raise ValueError(
                f"num_replicas={num_replicas}, rank={rank}: give both (0 <= rank < num_replicas) "
                "or neither (read them from torch.distributed)"
            )
        self.fixed = None if num_replicas is None else (int(rank), int(num_replicas))  # type: ignore[arg-type]

    def _rank_world(self) -> tuple[int, int]:
        if not self.enabled:
            return 0, 1
        if self.fixed is not None:
            return self.fixed
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return int(dist.get_rank()), int(dist.get_world_size())
        return 0, 1

    def __iter__(self) -> Any:
        """Yield this rank's batches (lists of positions) of one epoch.

        Returns
        -------
        Iterator[list[int]]
            The batches.
        """
        rank, world = self._rank_world()
        if world == 1:
            yield from self.batches
            return
        batches = list(self.batches)
        pad = (-len(batches)) % world
        batches += (batches * (pad // max(len(batches), 1) + 1))[:pad]
        yield from batches[rank::world]

    def __len__(self) -> int:
        """Batches per epoch on this rank.

        Returns
        -------
        int
            ``ceil(batches / world size)``.
        """
        _, world = self._rank_world()
        return -(-len(self.batches) // world)


class _Batches(torch.utils.data.Dataset):
    """Map a list of positions in ``rows`` to one batch (with optional driver dropout)."""

    def __init__(
        self, source: WindowSource, rows: np.ndarray, *, plasma_dropout: float = 0.0, seed: int = 0
    ) -> None:
        self.source, self.rows = source, rows
        self.plasma_dropout = float(plasma_dropout)
        self.gen = torch.Generator().manual_seed(seed + 1)

    def __len__(self) -> int:
        """Count the rows served."""
        return len(self.rows)

    def __getitem__(self, positions: np.ndarray) -> tuple[dict, tuple[list[torch.Tensor], None]]:
        """One batch for ``positions`` in ``rows``, with driver dropout when configured."""
        rows = self.rows[np.asarray(positions)]
        x, _ = self.source.batch(rows)
        if self.plasma_dropout > 0:
            b, e = len(positions), self.source.encoder_length
            drop = torch.rand(b, generator=self.gen) < self.plasma_dropout
            hours = torch.randint(1, e + 1, (b,), generator=self.gen) * drop
            x = self.source.mask_plasma(x, hours, rows)
        return x, (x["decoder_target"], None)
