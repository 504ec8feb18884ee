r"""The stored blend of a registered TFT: fitted on its validation years, saved, loaded.

A blend (:class:`forecasting.models.ensemble.Blend`) belongs to one TFT version of the
registry and lives beside it, in ``<home>/models/tft/<version>/blend.json`` (written
atomically, :func:`data_sources.netcdf.write_bytes_atomic`; removed with the version). Its
members per target are :data:`MEMBERS`: the TFT with O'Brien-McPherron (2000) for Dst and
with persistence for Kp (issue 9). The file is plain JSON, never a pickle, and records

* ``tft_version``: the TFT it belongs to, and a fingerprint of that TFT's stored quantile
  calibration (``tft_calibration``): the TFT member's forecasts include it, so weights fitted
  before a recalibration no longer fit and the file is refused;
* ``members``: target -> member names; ``weights``: :meth:`BlendWeights.to_json`, per
  target and lead [h];
* ``fitted_on``: the VALIDATION years of the TFT's split (:func:`forecasting.models.train.
  split_of`) and the issue times the weights were fitted on (never the test years);
* ``baselines``: each baseline member's fit on the TFT's TRAINING years, as the JSON of
  :func:`forecasting.models.baseline_cache.to_json` (numbers only). A baseline fit is cheap
  and deterministic, but refitting it at every load would read the training years from the
  store each forecast hour and give another fit whenever the store changed; the stored fit is
  the one the weights were chosen for;
* ``created`` (UTC) and ``code_version``.

:func:`fit_blend` fits and writes it; :func:`load_blend` returns a ready :class:`Blend`
forecaster (``None`` when the TFT has no stored blend) named ``blend``, whose version
``<tft version>@<created>`` ties every forecast and every skill-report row to this fit. A file
that is not valid, or does not match its TFT, raises :class:`BlendFileError` naming the file
and the fix (``superstorm blend --version V``).

At forecast time each member is asked only for the targets it is a member for (persistence
gives no Dst to the blend), so the blend's missing-member rule
(:func:`forecasting.models.ensemble.combine`) works within each target's members: where
O'Brien-McPherron has no plasma the TFT carries the Dst blend alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from data_sources.netcdf import write_bytes_atomic
from data_sources.store import Store
from forecasting.models import baseline_cache, event_calibration, registry
from forecasting.models.base import BASELINES
from forecasting.models.baselines import ResidualQuantileForecaster
from forecasting.models.ensemble import (
    GRID_STEP,
    STORM_WEIGHT,
    Blend,
    BlendWeights,
    blend_forecasts,
    fit_weights,
)
from forecasting.models.tft import TFTModel
from forecasting.verification import scores

#: the blend's model name (archive folder, skill-report row, primary choice)
NAME = "blend"
#: file name inside the TFT's version folder
FILE = "blend.json"
#: format tag of the file (bump when its layout changes)
FORMAT = "superstorm-blend/1"
#: the TFT's member name
TFT = "tft"
#: members per target: the TFT with O'Brien-McPherron for Dst, with persistence for Kp
MEMBERS: dict[str, tuple[str, ...]] = {
    "dst": (TFT, "obrien_mcpherron"),
    "kp": (TFT, "persistence"),
}


#: how a split part is named in sentences
_PART = {"validate": "validation", "train": "training", "test": "test"}


class BlendFileError(ValueError):
    """A stored blend file is not valid or does not belong to its TFT (message: file + fix)."""


def _fix(version: str) -> str:
    return f"refit it with `superstorm blend --version {version}` (or delete the file)"


def blend_path(version: str, *, home: str | Path | None = None) -> Path:
    """Give the blend file of TFT ``version``: ``<home>/models/tft/<version>/blend.json``.

    Parameters
    ----------
    version : str
        A plain registry version name (not ``latest``/``current``: see
        :func:`forecasting.models.registry.resolve`).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME`` or ``~/.superstorm``.

    Returns
    -------
    pathlib.Path
        The file path (it need not exist).

    Raises
    ------
    forecasting.models.registry.UnsafeModelError
        If the name is not a plain version name or its folder lies outside the registry.
    """
    return registry.version_folder(version, home) / FILE


def calibration_fingerprint(model: TFTModel) -> str | None:
    """Give a short fingerprint of the TFT's stored quantile calibration.

    Parameters
    ----------
    model : TFTModel
        A loaded TFT; ``metadata["calibration"]`` is the mapping of
        :func:`forecasting.models.calibration.fit_calibration` (applied to its forecasts).

    Returns
    -------
    str or None
        The first 16 hex digits of the SHA-256 of the calibration as sorted JSON; ``None``
        when the model stores no calibration.
    """
    table = model.metadata.get("calibration")
    if not table:
        return None
    text = json.dumps(table, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class TargetMember:
    """A member forecaster restricted to the targets it is a blend member for.

    Parameters
    ----------
    member : ResidualQuantileForecaster
        The fitted baseline.
    targets : Sequence[str]
        Targets (``dst``, ``kp``) it contributes to the blend; it is asked for no other.
    """

    def __init__(self, member: ResidualQuantileForecaster, targets: Sequence[str]) -> None:
        self.member = member
        self.name = member.name
        self.supported = tuple(t for t in targets if t in member.supported)

    @property
    def version(self) -> str:
        """The member's own version."""
        return str(self.member.version)

    def forecast(
        self,
        ds: xr.Dataset,
        init_times: pd.DatetimeIndex | Sequence,
        lead_times: pd.TimedeltaIndex | Sequence,
        *,
        targets: Sequence[str] = ("dst", "kp"),
    ) -> xr.Dataset:
        """Forecast the wanted targets among :attr:`supported`.

        Parameters
        ----------
        ds : xr.Dataset
            Hourly inputs on ``time`` (UTC naive, label = start of hour).
        init_times : pandas.DatetimeIndex or Sequence
            Issue times (UTC naive, whole hours).
        lead_times : pandas.TimedeltaIndex or Sequence
            Lead times (whole hours >= 1 h).
        targets : Sequence[str], default ("dst", "kp")
            Targets wanted; those outside :attr:`supported` are left out.

        Returns
        -------
        xr.Dataset
            The member's forecast (Dst [nT], Kp quantiles) in the
            :func:`forecasting.schema.make_forecast` schema.
        """
        wanted = tuple(t for t in targets if t in self.supported)
        return self.member.forecast(ds, init_times, lead_times, targets=wanted)


@dataclass(frozen=True)
class BlendRecord:
    """A stored blend as read from (or written to) its file.

    Attributes
    ----------
    path
        The ``blend.json`` file.
    tft_version
        The TFT version it belongs to.
    members
        Target -> member names (the TFT first).
    weights
        Member weights per target and lead [h].
    baselines
        Baseline name -> fitted baseline (fitted on the TFT's training years).
    tft_calibration
        :func:`calibration_fingerprint` of the TFT it was fitted with.
    fitted_on
        ``part``, ``years``, ``issue_times``, ``init_every``, ``first``, ``last`` (UTC).
    created
        When it was fitted (``YYYY-mm-ddTHH:MM:SSZ``, UTC).
    event_calibration
        The blend's event recalibration fitted on its validation-year forecasts
        (:func:`forecasting.models.event_calibration.fit_event_calibration`), or None (files
        written before it).
    decision_thresholds
        The decision probability per event chosen on the recalibrated validation-year
        probabilities (:func:`forecasting.verification.scores.choose_decision_thresholds`),
        read by the alerts when the blend is primary; empty for files written before it.
    """

    path: Path
    tft_version: str
    members: dict[str, tuple[str, ...]]
    weights: BlendWeights
    baselines: dict[str, ResidualQuantileForecaster]
    tft_calibration: str | None
    fitted_on: dict[str, Any]
    created: str
    event_calibration: dict | None = None
    decision_thresholds: dict[str, dict] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The blend's version: ``<tft version>@<created, YYYYmmddTHHMMSSZ>``."""
        stamp = self.created.replace("-", "").replace(":", "")
        return f"{self.tft_version}@{stamp}"

    def summary(self, leads_h: Iterable[int] = (1, 3, 6, 12, 24)) -> str:
        """Describe the fit and the weights per target at a few leads (for the CLI and logs).

        Parameters
        ----------
        leads_h : Iterable[int], default (1, 3, 6, 12, 24)
            Leads [h] shown (those without weights are skipped).

        Returns
        -------
        str
            Several lines: the file, what it was fitted on, then per target and lead the
            member weights and the fitting loss of the blend and of each member alone.
        """
        f = self.fitted_on
        lines = [
            f"blend of tft {self.tft_version} (version {self.version}), {self.path}",
            f"fitted {self.created} on the {_PART.get(f.get('part', ''), '?')} years "
            f"{', '.join(map(str, f.get('years', [])))}: {f.get('issue_times', '?')} issue "
            f"times every {f.get('init_every', '?')}, {f.get('storm_issue_times', '?')} in "
            "storm time; baselines fitted on the training years "
            + ", ".join(map(str, f.get("training_years", []))),
        ]
        info = self.weights.info.get("per_target", {})
        for target, names in self.members.items():
            loss = info.get(target, {}).get("member_loss", {})
            leads = info.get(target, {}).get("leads_h", [])
            lines.append(f"{target}: members {', '.join(names)}")
            for h in leads_h:
                if h not in self.weights.table.get(target, {}):
                    continue
                w = self.weights.weights(target, h)
                cells = "  ".join(f"{n} {w[self.weights.members.index(n)]:.2f}" for n in names)
                text = f"  lead {h:>2} h: {cells}"
                if h in leads:
                    j = leads.index(h)
                    parts = [f"blend {loss['blend'][j]:.3g}"] if "blend" in loss else []
                    parts += [f"{n} {loss[n][j]:.3g}" for n in names if n in loss]
                    text += "   (mean pinball loss: " + ", ".join(parts) + ")"
                lines.append(text)
        return "\n".join(lines)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _data_years(ds: xr.Dataset) -> list[int]:
    from forecasting.models.train import available_years

    return available_years(ds)


def fit_blend(
    version: str = "current",
    *,
    home: str | Path | None = None,
    store: Store | None = None,
    data: xr.Dataset | None = None,
    members: Mapping[str, Sequence[str]] = MEMBERS,
    init_every: str | None = None,
    storm_weight: float = STORM_WEIGHT,
    step: float = GRID_STEP,
    save: bool = True,
) -> BlendRecord:
    """Fit the blend of TFT ``version`` on its validation years and store it beside the TFT.

    The baselines of ``members`` are fitted on the TFT's training years; the TFT (with its
    stored calibration) and the baselines forecast every ``init_every`` through the validation
    years (issue times where the last hour's Dst is known,
    :func:`forecasting.evaluation.evaluate.issue_times_in`), and per target the weights are
    :func:`forecasting.models.ensemble.fit_weights` over that target's members (storm-time
    issue times counted ``storm_weight`` times). The test years are never read.

    Parameters
    ----------
    version : str, default "current"
        Registry version of the TFT (``latest``, ``current`` or a name).
    home : str or pathlib.Path, optional
        The superstorm home folder of the registry and the store; ``None``:
        ``$SUPERSTORM_HOME``.
    store : Store, optional
        Store to read (default ``<home>/store``); not read when ``data`` is given.
    data : xr.Dataset, optional
        Hourly dataset on ``time`` (UTC naive) covering the training and validation years
        (Dst [nT], Kp, the solar wind); default the split's training and validation years
        from the store (:func:`forecasting.splits.load_training_data`, test years blanked).
    members : Mapping[str, Sequence[str]], default :data:`MEMBERS`
        Target -> member names: ``tft`` and baselines of
        :data:`forecasting.models.base.BASELINES`.
    init_every : str, optional
        Spacing of the fitting issue times (pandas offset); default the TFT's
        ``config.calibration_every`` (full preset 1 h, quick 6 h).
    storm_weight : float, default :data:`forecasting.models.ensemble.STORM_WEIGHT`
        Factor on storm-time issue times in the fitting loss.
    step : float, default :data:`forecasting.models.ensemble.GRID_STEP`
        Weight-grid spacing.
    save : bool, default True
        Write ``blend.json`` (atomically, replacing an earlier fit); ``False``: only fit.

    Returns
    -------
    BlendRecord
        The fit (``path`` the file, written when ``save``).

    Raises
    ------
    ValueError
        If the TFT cannot be resolved, a member name is unknown, or the validation years hold
        no issue time where the members and the observation are finite.
    """
    from forecasting import splits
    from forecasting.evaluation.evaluate import issue_times_in
    from forecasting.models.predict import TFTForecaster
    from forecasting.models.train import split_of, store_of

    chosen = {str(t): tuple(str(m) for m in ms) for t, ms in members.items()}
    _check_members(chosen, "members")
    model = registry.load(version, home=home)
    version = str(model.version)
    split = split_of(model)
    if data is None:
        data = splits.load_training_data(split, store=store_of(store, home))
    available = _data_years(data)
    val_years = split.years("validate", available)
    train_years = split.years("train", available)
    if not val_years or not train_years:
        raise ValueError(
            f"the data hold Dst for {available}, the TFT {version} was trained on "
            f"{split.train} and validated on {split.validate}: the blend needs both"
        )
    leads = pd.to_timedelta(np.arange(1, int(model.config.horizon) + 1), unit="h")
    fitted = _fit_baselines(chosen, split.select(data, "train"), leads)
    init_every = init_every or str(model.config.calibration_every)
    init = issue_times_in(data, split, "validate", init_every)
    init = init[init < split.select(data, "validate").indexes["time"].max() + pd.Timedelta("1h")]
    if len(init) == 0:
        raise ValueError(f"no issue time with Dst in the validation years {val_years}")
    targets = tuple(chosen)
    fcs = {TFT: TFTForecaster(model).forecast(data, init, leads, targets=targets)}
    for name, b in fitted.items():
        fcs[name] = _member(b, chosen).forecast(data, init, leads, targets=targets)
    weights = _fit_per_target(fcs, data, chosen, storm_weight=storm_weight, step=step)
    storms = weights.info["per_target"].get("dst", {}).get("n_storm_issue_times", 0)
    blended = blend_forecasts({m: fcs[m] for m in weights.members}, weights, targets=targets)
    events = event_calibration.fit_event_calibration(
        blended, data, fitted_on="years " + ", ".join(map(str, val_years))
    )
    blended = event_calibration.attach_event_calibration(blended, events)
    thresholds = scores.choose_decision_thresholds(blended, data)
    record = BlendRecord(
        path=blend_path(version, home=home),
        tft_version=version,
        members=chosen,
        weights=weights,
        baselines=fitted,
        tft_calibration=calibration_fingerprint(model),
        fitted_on={
            "part": "validate",
            "years": val_years,
            "training_years": train_years,
            "issue_times": len(init),
            "storm_issue_times": int(storms),
            "init_every": init_every,
            "first": str(init.min()),
            "last": str(init.max()),
        },
        created=_now(),
        event_calibration=events,
        decision_thresholds=thresholds,
    )
    if save:
        write_bytes_atomic(json.dumps(to_json(record), indent=1), record.path)
    return record


def _member(b: ResidualQuantileForecaster, members: Mapping[str, Sequence[str]]) -> TargetMember:
    """Baseline ``b`` asked only for the targets it is a member for."""
    return TargetMember(b, [t for t, ms in members.items() if b.name in ms])


def _check_members(members: Mapping[str, Sequence[str]], where: str) -> None:
    if not members:
        raise ValueError(f"{where}: no targets")
    for target, names in members.items():
        if target not in ("dst", "kp"):
            raise ValueError(f"{where}: target {target!r}; use 'dst' and/or 'kp'")
        bad = [n for n in names if n != TFT and n not in BASELINES]
        if bad or not names or len(set(names)) != len(names):
            raise ValueError(
                f"{where}: {target} members {list(names)}; use distinct names of "
                f"{[TFT, *BASELINES]}"
            )


def _fit_baselines(
    members: Mapping[str, Sequence[str]], train_ds: xr.Dataset, leads: pd.TimedeltaIndex
) -> dict[str, ResidualQuantileForecaster]:
    """Each baseline member fitted on ``train_ds`` for the targets it is a member for."""
    out: dict[str, ResidualQuantileForecaster] = {}
    names = dict.fromkeys(n for ms in members.values() for n in ms if n != TFT)
    for name in names:
        b = BASELINES[name]()
        targets = [t for t, ms in members.items() if name in ms and t in b.supported]
        out[name] = b.fit(train_ds, lead_times=leads, targets=[t for t in targets if t in train_ds])
    return out


def _fit_per_target(
    fcs: Mapping[str, xr.Dataset],
    observed: xr.Dataset,
    members: Mapping[str, Sequence[str]],
    *,
    storm_weight: float,
    step: float,
) -> BlendWeights:
    """:func:`fit_weights` per target over its own members, joined into one weight table."""
    names = list(dict.fromkeys(n for ms in members.values() for n in ms))
    table: dict[str, dict[int, list[float]]] = {}
    per_target: dict[str, dict] = {}
    for target, ms in members.items():
        have = {m: fcs[m][[target]] for m in ms if target in fcs[m]}
        if TFT not in have:
            raise ValueError(f"the TFT gives no {target} forecast: cannot fit its blend")
        w = fit_weights(have, observed, targets=(target,), storm_weight=storm_weight, step=step)
        order = list(have)
        table[target] = {
            h: [float(w.weights(target, h)[order.index(n)]) if n in order else 0.0 for n in names]
            for h in w.table[target]
        }
        info = dict(w.info)
        per_target[target] = {
            "leads_h": info.get("leads_h", []),
            "n_pairs": info.get("n_pairs", {}).get(target, []),
            "member_loss": info.get("member_loss", {}).get(target, {}),
            "n_storm_issue_times": info.get("n_storm_issue_times", 0),
            "storm_time": info.get("storm_time", ""),
        }
    info = {
        "method": "forecasting.models.ensemble.fit_weights per target over its members",
        "storm_weight": storm_weight,
        "grid_step": step,
        "per_target": per_target,
    }
    return BlendWeights(names, table, info)


def to_json(record: BlendRecord) -> dict:
    """Give a record as the plain JSON object of ``blend.json``.

    Parameters
    ----------
    record : BlendRecord
        The fit.

    Returns
    -------
    dict
        ``format``, ``name``, ``tft_version``, ``tft_calibration``, ``members``,
        ``weights``, ``baselines`` (name -> ``{"state": ...}``, the baseline cache JSON),
        ``fitted_on``, ``created``, ``code_version``.
    """
    return {
        "format": FORMAT,
        "name": NAME,
        "tft_version": record.tft_version,
        "tft_calibration": record.tft_calibration,
        "members": {t: list(ms) for t, ms in record.members.items()},
        "weights": record.weights.to_json(),
        "baselines": {
            n: {"state": json.loads(baseline_cache.to_json(b))} for n, b in record.baselines.items()
        },
        "fitted_on": record.fitted_on,
        "created": record.created,
        "event_calibration": record.event_calibration,
        "decision_thresholds": record.decision_thresholds,
        "code_version": registry.code_version(),
    }


def read_record(version: str = "current", *, home: str | Path | None = None) -> BlendRecord | None:
    """Read the stored blend of TFT ``version`` and check it (``None`` when none is stored).

    Parameters
    ----------
    version : str, default "current"
        Registry version of the TFT (``latest``, ``current`` or a name).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME``.

    Returns
    -------
    BlendRecord or None
        The stored fit; ``None`` when the TFT has no ``blend.json``.

    Raises
    ------
    BlendFileError
        If the file is not valid JSON of :data:`FORMAT`, names another TFT, an unknown member
        or weights that do not fit its members (the message names the file and the fix).
    ValueError
        If ``version`` cannot be resolved (:func:`forecasting.models.registry.resolve`).
    """
    version = registry.resolve(version, home=home)
    path = blend_path(version, home=home)
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BlendFileError(
            f"{path} is not a readable blend file ({exc}); {_fix(version)}"
        ) from None
    try:
        return _from_json(obj, path, version)
    except BlendFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BlendFileError(
            f"{path} is not a valid {FORMAT} blend file ({type(exc).__name__}: {exc}); "
            f"{_fix(version)}"
        ) from None


def _from_json(obj: Any, path: Path, version: str) -> BlendRecord:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise BlendFileError(f"{path}: format {got!r}, expected {FORMAT!r}; {_fix(version)}")
    if obj.get("tft_version") != version:
        raise BlendFileError(
            f"{path} belongs to tft {obj.get('tft_version')!r}, not to the version {version!r} "
            f"whose folder holds it; {_fix(version)}"
        )
    members = {str(t): tuple(str(n) for n in ms) for t, ms in obj["members"].items()}
    try:
        _check_members(members, str(path))
    except ValueError as exc:
        raise BlendFileError(f"{exc}; {_fix(version)}") from None
    weights = BlendWeights.from_json(obj["weights"])
    wanted = list(dict.fromkeys(n for ms in members.values() for n in ms))
    if list(weights.members) != wanted or set(weights.table) != set(members):
        raise BlendFileError(
            f"{path}: weights for members {list(weights.members)} and targets "
            f"{sorted(weights.table)}, the blend has {wanted} for {sorted(members)}; "
            f"{_fix(version)}"
        )
    fitted: dict[str, ResidualQuantileForecaster] = {}
    for name in wanted:
        if name == TFT:
            continue
        state = obj["baselines"].get(name)
        if state is None:
            raise BlendFileError(f"{path}: no fit of member {name!r}; {_fix(version)}")
        try:
            b = baseline_cache.from_json(json.dumps(state["state"]), name=f"{path} ({name})")
        except baseline_cache.BaselineCacheError as exc:
            raise BlendFileError(f"{exc}; {_fix(version)}") from None
        if b.name != name or not b.is_fitted:
            raise BlendFileError(
                f"{path}: member {name!r} holds a fit of {b.name!r}; {_fix(version)}"
            )
        fitted[name] = b
    return BlendRecord(
        path=path,
        tft_version=version,
        members=members,
        weights=weights,
        baselines=fitted,
        tft_calibration=obj.get("tft_calibration"),
        fitted_on=dict(obj.get("fitted_on") or {}),
        created=str(obj["created"]),
        event_calibration=obj.get("event_calibration") or None,
        decision_thresholds=dict(obj.get("decision_thresholds") or {}),
    )


def load_blend(
    version: str = "current",
    *,
    home: str | Path | None = None,
    model: TFTModel | None = None,
) -> Blend | None:
    """Load the stored blend of TFT ``version`` as a ready forecaster (``None``: none stored).

    Parameters
    ----------
    version : str, default "current"
        Registry version of the TFT (``latest``, ``current`` or a name).
    home : str or pathlib.Path, optional
        The superstorm home folder; ``None``: ``$SUPERSTORM_HOME``.
    model : TFTModel, optional
        That TFT, already loaded (saves loading it again); it must be ``version``.

    Returns
    -------
    Blend or None
        The blend (name :data:`NAME`, version :attr:`BlendRecord.version`), forecasting Dst
        [nT] and Kp on the leads 1..horizon h of its TFT; ``None`` when the TFT has no
        stored blend.

    Raises
    ------
    BlendFileError
        If the file is not valid (:func:`read_record`), or was fitted with another
        calibration of the TFT or on fewer leads than the TFT forecasts (refit it).
    ValueError
        If ``version`` cannot be resolved, or ``model`` is another version.
    """
    from forecasting.models.predict import TFTForecaster

    record = read_record(version, home=home)
    if record is None:
        return None
    if model is None:
        model = registry.load(record.tft_version, home=home)
    elif model.version != record.tft_version:
        raise ValueError(f"model {model.version!r} given for the blend of {record.tft_version!r}")
    fix = _fix(record.tft_version)
    now = calibration_fingerprint(model)
    if now != record.tft_calibration:
        raise BlendFileError(
            f"{record.path} was fitted on tft {record.tft_version} with calibration "
            f"{record.tft_calibration}, the model now holds {now} (recalibrated since); {fix}"
        )
    horizon = int(model.config.horizon)
    for target, leads in record.weights.table.items():
        missing = sorted(set(range(1, horizon + 1)) - set(leads))
        if missing:
            raise BlendFileError(
                f"{record.path}: {target} weights lack leads {missing[0]}..{missing[-1]} h of "
                f"the TFT's 1..{horizon} h; {fix}"
            )
    members: dict[str, Any] = {TFT: TFTForecaster(model)}
    for name, b in record.baselines.items():
        members[name] = _member(b, record.members)
    ordered = {n: members[n] for n in record.weights.members}
    return Blend(
        ordered,
        record.weights,
        name=NAME,
        version=record.version,
        event_calibration=record.event_calibration,
    )
