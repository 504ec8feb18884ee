"""Alert rules, the SWPC way: pure functions from forecasts and observations to actions.

Products (SWPC semantics, DESIGN.md):

* **WATCH** — a G level (Kp only) is forecast for a UTC day at long lead (leads beyond the warning
  horizon): ``max P(Kp >= level)`` over that day's hours ``>= watch_probability``.
* **WARNING** — a level is imminent: ``max P(Kp >= k)`` (or ``P(Dst <= d)``) over leads
  ``<= warning_lead`` reaches ``warning_probability``.
* **ALERT** — the threshold has been observed (Kp >= 5- = 14/3 for G1 ..., Dst <= -50 /
  -100 / -250 nT), in an observation that became known since the previous run.
* **ALL CLEAR** — ends an episode: an ALERT once no observation reached the family's lowest
  level for ``quiet_after`` and no WARNING of the family is in force (never on missing data);
  a STALE_INPUT or FORECAST_UNAVAILABLE notice once the condition is gone. A WARNING or WATCH
  is not cleared: it is cancelled (probability below ``cancel_probability``), superseded by
  an escalation, or expires at the end of its window.
* **STALE_INPUT** — the newest solar-wind sample ended more than ``stale_after`` before now.
* **FORECAST_UNAVAILABLE** — the run has no usable primary forecast (failed, missing or no
  finite value): an explicit notice; WARNINGs in force stay in force (a missing forecast never
  cancels them), and an ALL CLEAR of the notice follows once a forecast is back.

Operator rules (issue 12): WATCHes are per UTC day, day 1 (the issue day) .. day 3; no WATCH for
the current day once the storm began (an ALERT of the family is in force); no WARNING for a level
an ALERT already covers. Catch-up (issue 11): every observation that became known since the last
logged run is examined, so a threshold crossed while the service was down is still ALERTed, marked
LATE.

Levels: the NOAA G-scale from Kp (G1 Kp=5, G2 Kp=6, G3 Kp=7, G4 Kp=8, G5 Kp=9; NOAA Space
Weather Scales), in Kp thirds as :data:`forecasting.schema.G_SCALE` applies it: G1 from 5-
(14/3), G2 from 6- (17/3), G3 from 7- (20/3), G4 from 8- (23/3, 9- still G4), G5 at 9o; and the Dst storm classes of Gonzalez et al. (1994), *J. Geophys. Res.* 99(A4),
5771-5792: moderate <= -50 nT, intense <= -100 nT, and the superstorm class <= -250 nT.

:func:`evaluate_rules` returns :class:`AlertAction` objects (issue, extend, escalate, cancel,
expire, all_clear); it has no side effects: the alert log (``forecasting.alerting.log``) applies them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import staleness
from data_sources.timeconv import TimeLike, interval_end, known_at, latest_known, to_utc
from forecasting.schema import G_SCALE as SCHEMA_G
from forecasting.schema import exceedance_probability, exceeds, kp_label
from forecasting.verification.scores import Event, decision_threshold

#: Kinds of product.
WATCH, WARNING, ALERT, STALE_INPUT = "WATCH", "WARNING", "ALERT", "STALE_INPUT"
FORECAST_UNAVAILABLE = "FORECAST_UNAVAILABLE"
#: Actions.
ISSUE, EXTEND, ESCALATE, CANCEL, EXPIRE, ALL_CLEAR = (
    "issue",
    "extend",
    "escalate",
    "cancel",
    "expire",
    "all_clear",
)


@dataclass(frozen=True)
class Level:
    """One storm level of a family.

    Attributes
    ----------
    name
        ``G1`` .. ``G5`` for Kp, ``DST50`` / ``DST100`` / ``DST250`` for Dst.
    family
        ``kp`` or ``dst`` (the forecast/observed variable).
    threshold
        Kp >= threshold (Kp units) or Dst <= threshold (nT).
    rank
        Order within the family (1 = weakest); escalation means a higher rank.
    """

    name: str
    family: str
    threshold: float
    rank: int

    def reached(self, value: float) -> bool:
        """Whether an observed ``value`` reaches this level (NaN never does).

        Parameters
        ----------
        value : float
            Kp in thirds (reached when ``>= threshold``, float32 thirds tolerated) or Dst [nT]
            (reached when ``<= threshold``), per :attr:`family`.

        Returns
        -------
        bool
            ``True`` when the value is finite and at or beyond the threshold.
        """
        if not np.isfinite(value):
            return False
        return bool(exceeds(self.family, value, self.threshold))


#: NOAA G-scale (DESIGN.md), from the one definition in :data:`forecasting.schema.G_SCALE`:
#: G1 Kp=5, G2 Kp=6, G3 Kp=7, G4 Kp=8 (8-, 8, 8+, 9-), G5 Kp=9; G4 starts at 8- = 23/3.
G_SCALE: tuple[Level, ...] = tuple(
    Level(name, "kp", float(kp), rank) for rank, (name, kp) in enumerate(SCHEMA_G.items(), 1)
)
#: Dst storm classes, Gonzalez et al. (1994); the -250 nT class as in DESIGN.md.
DST_CLASSES: tuple[Level, ...] = (
    Level("DST50", "dst", -50.0, 1),
    Level("DST100", "dst", -100.0, 2),
    Level("DST250", "dst", -250.0, 3),
)
LEVELS: dict[str, tuple[Level, ...]] = {"kp": G_SCALE, "dst": DST_CLASSES}


def level_by_name(name: str) -> Level:
    """Look up the :class:`Level` called ``name``.

    Parameters
    ----------
    name : str
        ``G1`` .. ``G5`` or ``DST50`` / ``DST100`` / ``DST250``.

    Returns
    -------
    Level
        The level, with its family, threshold and rank.

    Raises
    ------
    KeyError
        If ``name`` is not a storm level; the message lists them.
    """
    for levels in LEVELS.values():
        for lvl in levels:
            if lvl.name == name:
                return lvl
    raise KeyError(f"unknown storm level {name!r}; known: G1..G5, DST50, DST100, DST250")


#: forecast attribute holding the primary model's decision probabilities (JSON ``{event: p}``)
DECISION_ATTR = "decision_probabilities"


def level_event(level: Level) -> str:
    """Name the event of ``level`` (:attr:`forecasting.verification.scores.Event.name`).

    Parameters
    ----------
    level
        A storm level (G1 is Kp >= 5- = 14/3, DST100 is Dst <= -100 nT).

    Returns
    -------
    str
        ``kp>=4.67`` (G1), ``dst<=-100`` ...
    """
    return Event(level.family, float(level.threshold)).name


def model_event_probabilities(
    model_meta: dict, families: Iterable[str] = ("kp", "dst")
) -> tuple[dict[str, float], list[str]]:
    """Read the decision probability of every alert level stored with a model.

    The probabilities were chosen on the validation years at training (max HSS,
    :func:`forecasting.verification.scores.choose_decision_thresholds`) and are read with
    :func:`forecasting.verification.scores.decision_threshold` (a level unseen in validation
    inherits its less severe neighbour's). A level whose choice had no skill (no probability
    scored above 0), or that inherits from such a level, keeps the fixed probability.

    Parameters
    ----------
    model_meta
        The model's metadata (``metadata.json``; ``decision_thresholds`` inside).
    families
        Families (``kp``, ``dst``) whose levels are looked up.

    Returns
    -------
    (dict, list of str)
        Event name -> probability [1], and one note per level left at the fixed probability.
    """
    table = model_meta.get("decision_thresholds") or {}
    out: dict[str, float] = {}
    notes: list[str] = []
    for family in families:
        for lvl in LEVELS.get(family, ()):
            name = level_event(lvl)
            chain, seen = name, set()
            while chain in table and chain not in seen and not table[chain].get("no_skill"):
                seen.add(chain)
                chain = table[chain].get("inherited_from") or ""
            if chain in table and table[chain].get("no_skill"):
                notes.append(
                    f"{name}: no skill on the validation years"
                    + _floor_note(table[chain])
                    + (f" (inherits {chain})" if chain != name else "")
                    + "; fixed probability"
                )
                continue
            try:
                out[name] = decision_threshold(model_meta, name)
            except ValueError as exc:
                notes.append(f"{name}: {exc}; fixed probability")
    return out, notes


def _floor_note(choice: dict) -> str:
    """Say when a level lost its skill to the floor of its less severe neighbour."""
    floor, free = choice.get("floor"), choice.get("unconstrained")
    if not floor or not free:
        return ""
    return (
        f" at or above {floor['event']}'s {floor['threshold']:.2f}"
        f" (alone: {free['threshold']:.2f}, HSS {free['score']:.3f})"
    )


def config_for_forecast(cfg: AlertConfig, forecast: xr.Dataset | None) -> AlertConfig:
    """``cfg`` with the forecast's decision probabilities (:data:`DECISION_ATTR`) applied.

    Only when ``cfg.use_model_thresholds`` and ``cfg`` sets no ``event_probabilities`` of its
    own; the forecast flow writes the attribute for the targets whose primary model stores
    validation-year thresholds.

    Parameters
    ----------
    cfg
        The configured rules.
    forecast
        The primary forecast (None: ``cfg`` unchanged).

    Returns
    -------
    AlertConfig
        ``cfg``, or a copy with ``event_probabilities`` from the forecast.

    Raises
    ------
    ValueError
        When the attribute is not a JSON object of event name -> probability in (0, 1].
    """
    if forecast is None or not cfg.use_model_thresholds or cfg.event_probabilities:
        return cfg
    text = forecast.attrs.get(DECISION_ATTR)
    if not text:
        return cfg
    try:
        table = json.loads(str(text))
    except ValueError as exc:
        raise ValueError(
            f"forecast attribute {DECISION_ATTR}={text!r} is not JSON ({exc}); expected "
            'e.g. {"kp>=5": 0.3}'
        ) from None
    if not isinstance(table, dict):
        raise ValueError(f'forecast attribute {DECISION_ATTR}={text!r}: expected {{"kp>=5": 0.3}}')
    pairs = tuple(sorted((str(k), float(v)) for k, v in table.items()))
    return replace(cfg, event_probabilities=pairs)


def g_level(kp: float) -> str | None:
    """Name the NOAA G level of an observed Kp; Kp 8- is G4, 9- is G4, 9o G5.

    Parameters
    ----------
    kp : float
        Observed Kp in thirds (0..9).

    Returns
    -------
    str or None
        ``"G1"`` (Kp >= 14/3) .. ``"G5"`` (Kp = 9); ``None`` below 5- or for NaN.
    """
    for lvl in reversed(G_SCALE):
        if lvl.reached(kp):
            return lvl.name
    return None


def dst_class(dst: float) -> str | None:
    """Name the Dst storm class (Gonzalez et al. 1994) of an observed Dst.

    Parameters
    ----------
    dst : float
        Observed hourly Dst [nT].

    Returns
    -------
    str or None
        ``"DST50"`` (<= -50 nT, moderate), ``"DST100"`` (<= -100 nT, intense) or
        ``"DST250"`` (<= -250 nT); ``None`` above -50 nT or for NaN.
    """
    for lvl in reversed(DST_CLASSES):
        if lvl.reached(dst):
            return lvl.name
    return None


@dataclass(frozen=True)
class AlertConfig:
    """Thresholds of the alert rules (all configurable; defaults follow SWPC practice).

    Attributes
    ----------
    warning_lead
        Horizon of a WARNING (SWPC K-index warnings: a few hours). Leads ``<=`` this count.
    extend_within
        An active WARNING still supported is EXTENDED (to ``now + warning_lead``) once its
        window ends within this time, not every hour.
    warning_probability
        Issue/extend/escalate a WARNING when ``P >= this``.
    cancel_probability
        Cancel an active WARNING early when its level's probability falls below this.
    watch_probability
        Issue a WATCH for a UTC day when ``max P(Kp >= G level) >= this`` on that day
        at leads beyond ``warning_lead``.
    watch_families
        Families that get WATCHes (SWPC watches are G-scale, i.e. ``kp``).
    warning_families, alert_families
        Families that get WARNINGs / ALERTs.
    quiet_after
        An ALERT episode ends with an ALL-CLEAR when no observation reached the family's
        lowest level for this long, and no WARNING of the family is active.
    stale_after
        STALE_INPUT when the newest solar-wind sample ended longer ago than this (default
        :data:`data_sources.staleness.STALE_AFTER` ``["solar_wind"]``, the project's one policy).
    solar_wind_vars
        Variables whose newest finite sample defines input freshness.
    watch_days
        WATCHes cover UTC days 1 (the issue day) .. ``watch_days`` of the lead grid.
    catch_up
        Longest span of newly known observations an ALERT run examines after downtime.
    event_probabilities
        ``(event, probability)`` pairs (event names as
        :attr:`forecasting.verification.scores.Event.name`: ``kp>=5``, ``dst<=-100``): the
        probability [1] at which that level's WARNING and WATCH are issued, in place of
        ``warning_probability`` / ``watch_probability``; its WARNING is cancelled below the
        same fraction of it as ``cancel_probability`` is of ``warning_probability``. Empty:
        the fixed probabilities for every level.
    use_model_thresholds
        Take ``event_probabilities`` from the forecast's ``decision_probabilities``
        attribute (the primary model's validation-year decision thresholds, written by the
        forecast flow) when this config sets none (:func:`config_for_forecast`).
    """

    warning_lead: timedelta = timedelta(hours=6)
    extend_within: timedelta = timedelta(hours=2)
    warning_probability: float = 0.5
    cancel_probability: float = 0.2
    watch_probability: float = 0.5
    watch_families: tuple[str, ...] = ("kp",)
    warning_families: tuple[str, ...] = ("kp", "dst")
    alert_families: tuple[str, ...] = ("kp", "dst")
    quiet_after: timedelta = timedelta(hours=6)
    stale_after: timedelta = staleness.STALE_AFTER["solar_wind"].to_pytimedelta()
    solar_wind_vars: tuple[str, ...] = ("v_sw", "bz_gsm")
    watch_days: int = 3
    catch_up: timedelta = timedelta(hours=48)
    event_probabilities: tuple[tuple[str, float], ...] = ()
    use_model_thresholds: bool = True

    def __post_init__(self) -> None:
        """Refuse inconsistent thresholds with a ``ValueError`` naming the field and its range."""
        for name, p in self.event_probabilities:
            if not (isinstance(p, int | float) and 0.0 < p <= 1.0):
                raise ValueError(
                    f"AlertConfig.event_probabilities: {name} = {p!r} must be in (0, 1]"
                )
        for name in ("warning_probability", "cancel_probability", "watch_probability"):
            p = getattr(self, name)
            if not 0.0 < p <= 1.0:
                raise ValueError(f"AlertConfig.{name}={p!r} must be in (0, 1]")
        if self.cancel_probability > self.warning_probability:
            raise ValueError(
                f"AlertConfig.cancel_probability={self.cancel_probability} must not exceed "
                f"warning_probability={self.warning_probability}"
            )
        if not timedelta(0) <= self.extend_within < self.warning_lead:
            raise ValueError("AlertConfig.extend_within must be in [0, warning_lead)")
        for name in ("warning_lead", "quiet_after", "stale_after", "catch_up"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"AlertConfig.{name} must be a positive timedelta")
        if self.watch_days < 1:
            raise ValueError(f"AlertConfig.watch_days={self.watch_days!r} must be >= 1")

    def issue_probability(self, level: Level, kind: str) -> float:
        """Give the probability at which ``level``'s WARNING or WATCH is issued.

        Parameters
        ----------
        level
            The storm level.
        kind
            :data:`WARNING` or :data:`WATCH`.

        Returns
        -------
        float
            Probability [1]: the level's entry of ``event_probabilities``, else
            ``warning_probability`` (WARNING) or ``watch_probability`` (WATCH).
        """
        table = dict(self.event_probabilities)
        name = level_event(level)
        if name in table:
            return float(table[name])
        return self.watch_probability if kind == WATCH else self.warning_probability

    def cancel_probability_for(self, level: Level) -> float:
        """Give the probability below which an active WARNING of ``level`` is cancelled.

        Parameters
        ----------
        level
            The storm level.

        Returns
        -------
        float
            Probability [1]: ``cancel_probability`` scaled by the level's issue
            probability over ``warning_probability`` (the same hysteresis at every level;
            ``cancel_probability`` itself when the level uses the fixed probability).
        """
        p = self.issue_probability(level, WARNING)
        return self.cancel_probability * p / self.warning_probability


@dataclass(frozen=True)
class ActiveAlert:
    """An alert in force (from the alert log): what :func:`evaluate_rules` compares against."""

    serial: int
    kind: str
    family: str
    level: str
    probability: float
    valid_start: pd.Timestamp
    valid_end: pd.Timestamp | None
    issue_time: pd.Timestamp


@dataclass(frozen=True)
class AlertAction:
    """One action to apply to the alert log.

    ``refers_to`` is the serial of the alert an extend / escalate / cancel / expire /
    all_clear acts on. ``valid_end`` is ``None`` for open-ended products (ALERT, STALE_INPUT).
    """

    action: str
    kind: str
    family: str
    level: str
    probability: float
    valid_start: pd.Timestamp
    valid_end: pd.Timestamp | None
    issue_time: pd.Timestamp
    refers_to: int | None = None
    detail: str = ""

    @property
    def key(self) -> tuple:
        """Identity of the condition and window (what the log de-duplicates on)."""
        return (self.action, self.kind, self.family, self.level, self.valid_start, self.valid_end)

    def message(self) -> str:
        """Render the human-readable text in the style of an SWPC product.

        Returns
        -------
        str
            The one-line message of :func:`format_message`.
        """
        return format_message(self)


@dataclass
class RuleState:
    """Active alerts and context; built by the alert log for each run."""

    active: list[ActiveAlert] = field(default_factory=list)

    def find(self, kind: str, family: str) -> list[ActiveAlert]:
        """Select the alerts in force of one kind and family.

        Parameters
        ----------
        kind : str
            ``WATCH``, ``WARNING``, ``ALERT``, ``STALE_INPUT`` or ``FORECAST_UNAVAILABLE``.
        family : str
            ``kp``, ``dst``, ``solar_wind`` (STALE_INPUT) or ``forecast``
            (FORECAST_UNAVAILABLE).

        Returns
        -------
        list of ActiveAlert
            Matching alerts, in log (serial) order.
        """
        return [a for a in self.active if a.kind == kind and a.family == family]


def _fmt(t: pd.Timestamp | None) -> str:
    return "open" if t is None else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M UTC")


def format_message(a: AlertAction) -> str:
    """Write an SWPC-like message line for an action.

    Parameters
    ----------
    a : AlertAction
        The action (kind WATCH / WARNING / ALERT / STALE_INPUT / FORECAST_UNAVAILABLE; action
        issue / extend / escalate / cancel / expire / all_clear).

    Returns
    -------
    str
        E.g. ``"WARNING: Geomagnetic K-index of 5- (G1) expected; valid 2024-05-10 17:00 UTC
        to 2024-05-10 23:00 UTC; probability 0.62; issued 2024-05-10 17:00 UTC"``: prefix
        ``EXTENDED`` / ``ESCALATED`` / ``CANCEL`` / ``EXPIRED`` / ``ALL CLEAR`` by action, the
        referred serial, the window (``open`` when open-ended), the probability when finite,
        and the rule's detail after ``". "``.
    """
    what = {
        WATCH: f"WATCH: Geomagnetic storm {a.level} predicted",
        WARNING: f"WARNING: {_describe(a.level)} expected",
        ALERT: f"ALERT: {_describe(a.level)} observed",
        STALE_INPUT: "STALE-INPUT: solar-wind input is stale",
        FORECAST_UNAVAILABLE: "NOTICE: forecast unavailable; warnings in force remain in force",
    }[a.kind]
    head = {
        ISSUE: "",
        EXTEND: "EXTENDED ",
        ESCALATE: "ESCALATED ",
        CANCEL: "CANCEL ",
        EXPIRE: "EXPIRED ",
        ALL_CLEAR: "ALL CLEAR ",
    }[a.action]
    ref = f" (serial {a.refers_to})" if a.refers_to is not None else ""
    prob = f"; probability {a.probability:.2f}" if np.isfinite(a.probability) else ""
    text = (
        f"{head}{what}{ref}; valid {_fmt(a.valid_start)} to {_fmt(a.valid_end)}{prob}; "
        f"issued {_fmt(a.issue_time)}"
    )
    return text + (f". {a.detail}" if a.detail else "")


def _describe(level: str) -> str:
    lvl = level_by_name(level) if level not in ("solar_wind", "forecast") else None
    if lvl is None:
        return level
    if lvl.family == "kp":
        kp = kp_label(lvl.threshold)
        return f"Geomagnetic K-index of {kp} ({lvl.name})"
    return f"Dst <= {lvl.threshold:g} nT ({lvl.name})"


# --------------------------------------------------------------------------- probabilities


#: prefix of the :func:`_probabilities` columns holding the probabilities alerts report
SHOWN = "shown:"


def _probabilities(forecast: xr.Dataset, family: str, init: pd.Timestamp) -> pd.DataFrame:
    """P(level reached) per lead (rows: valid-hour start) and level (columns) for one init.

    Columns named by level hold the decision score (the quantiles' own probability, which
    the decision probabilities were chosen on, :data:`~forecasting.verification.scores.
    DECISION_SCORE`); :data:`SHOWN` + level holds the recalibrated probability that alerts
    report (the same where the model has no event recalibration).
    """
    fc = forecast.sel(init_time=init) if "init_time" in forecast.dims else forecast
    fc = fc.expand_dims("init_time") if "init_time" not in fc.dims else fc
    leads = pd.TimedeltaIndex(fc["lead_time"].values)
    cols = {}
    for lvl in LEVELS[family]:
        p = exceedance_probability(fc, family, lvl.threshold, recalibrate=False)
        cols[lvl.name] = p.isel(init_time=0).values
    for lvl in LEVELS[family]:
        p = exceedance_probability(fc, family, lvl.threshold)
        cols[SHOWN + lvl.name] = p.isel(init_time=0).values
    # the hour each lead verifies: [init + L - 1h, init + L)
    return pd.DataFrame(cols, index=pd.DatetimeIndex(init + leads - pd.Timedelta("1h"))).assign(
        lead=leads
    )


def _window_max(rows: pd.DataFrame, family: str) -> tuple[pd.Series, pd.Series]:
    """Per level, the largest decision score and the largest reported probability of ``rows``."""
    names = [lv.name for lv in LEVELS[family]]
    if not len(rows):
        return pd.Series(dtype=float), pd.Series(dtype=float)
    decision = rows[names].max()
    shown = rows[[SHOWN + n for n in names]].max()
    shown.index = pd.Index(names)
    return decision, shown


def _basis(decision: pd.Series, shown: pd.Series, lvl: Level, cfg: AlertConfig, kind: str) -> str:
    """Say what decided, when the reported (recalibrated) probability differs from it."""
    d, p = float(decision.get(lvl.name, np.nan)), float(shown.get(lvl.name, np.nan))
    if not (np.isfinite(d) and np.isfinite(p)) or abs(d - p) < 5e-3:
        return ""
    return (
        f"decided on the quantile probability {d:.2f} >= {cfg.issue_probability(lvl, kind):.2f}; "
        f"{p:.2f} is the recalibrated probability"
    )


def _highest(
    probs: pd.Series, levels: tuple[Level, ...], cfg: AlertConfig, kind: str
) -> tuple[Level | None, float]:
    """Highest level whose probability reaches its issue probability (and that probability)."""
    best, best_p = None, float("nan")
    for lvl in levels:
        p = float(probs.get(lvl.name, np.nan))
        if np.isfinite(p) and p >= cfg.issue_probability(lvl, kind):
            best, best_p = lvl, p
    return best, best_p


# --------------------------------------------------------------------------------- rules


def _warning_rules(
    probs: pd.DataFrame,
    family: str,
    now: pd.Timestamp,
    state: RuleState,
    cfg: AlertConfig,
    alerted_rank: int = 0,
) -> list[AlertAction]:
    """WARNING actions; levels at or below ``alerted_rank`` (an ALERT covers them) are not warned.

    A warning whose probability is not finite (no usable forecast for its hours) is never
    cancelled: it stays in force until it expires or a finite forecast says otherwise.
    """
    near = probs[probs["lead"] <= pd.Timedelta(cfg.warning_lead)]
    maxp, shown = _window_max(near, family)
    above = tuple(lv for lv in LEVELS[family] if lv.rank > alerted_rank)
    lvl, _ = _highest(maxp, above, cfg, WARNING)
    p = float(shown.get(lvl.name, np.nan)) if lvl is not None else float("nan")
    basis = _basis(maxp, shown, lvl, cfg, WARNING) if lvl is not None else ""
    end = now + pd.Timedelta(cfg.warning_lead)
    actions: list[AlertAction] = []
    for act in state.find(WARNING, family):
        act_lvl = level_by_name(act.level)
        act_p = float(maxp.get(act.level, np.nan))  # the decision score, for cancelling
        act_shown = float(shown.get(act.level, np.nan))
        expired = act.valid_end is not None and act.valid_end <= now
        if lvl is not None and lvl.rank > act_lvl.rank:
            continue  # escalation below replaces it
        if lvl is not None and lvl.rank == act_lvl.rank:
            if act.valid_end is not None and act.valid_end - now <= pd.Timedelta(cfg.extend_within):
                actions.append(
                    AlertAction(
                        EXTEND,
                        WARNING,
                        family,
                        act.level,
                        p,
                        act.valid_start,
                        end,
                        now,
                        refers_to=act.serial,
                        detail=basis,
                    )
                )
            continue
        if expired:
            actions.append(
                AlertAction(
                    EXPIRE,
                    WARNING,
                    family,
                    act.level,
                    act_shown,
                    act.valid_start,
                    act.valid_end,
                    now,
                    refers_to=act.serial,
                )
            )
        elif lvl is None and np.isfinite(act_p) and act_p < cfg.cancel_probability_for(act_lvl):
            actions.append(
                AlertAction(
                    CANCEL,
                    WARNING,
                    family,
                    act.level,
                    act_shown,
                    act.valid_start,
                    act.valid_end,
                    now,
                    refers_to=act.serial,
                    detail="probability fell below the cancel threshold",
                )
            )
    if lvl is None:
        return actions
    extended = {a.refers_to for a in actions if a.action == EXTEND}
    current = [
        a
        for a in state.find(WARNING, family)
        if a.serial in extended or not (a.valid_end is not None and a.valid_end <= now)
    ]
    top = max(current, key=lambda a: level_by_name(a.level).rank, default=None)
    if top is None:
        actions.append(
            AlertAction(ISSUE, WARNING, family, lvl.name, p, now, end, now, detail=basis)
        )
    elif lvl.rank > level_by_name(top.level).rank:
        actions.append(
            AlertAction(
                ESCALATE,
                WARNING,
                family,
                lvl.name,
                p,
                now,
                end,
                now,
                refers_to=top.serial,
                detail=basis,
            )
        )
        for other in current:
            if other is not top:
                actions.append(
                    AlertAction(
                        EXPIRE,
                        WARNING,
                        family,
                        other.level,
                        p,
                        other.valid_start,
                        other.valid_end,
                        now,
                        refers_to=other.serial,
                        detail="superseded",
                    )
                )
    return actions


def _watch_rules(
    probs: pd.DataFrame,
    family: str,
    now: pd.Timestamp,
    state: RuleState,
    cfg: AlertConfig,
    storm_began: bool = False,
) -> list[AlertAction]:
    """WATCH actions per UTC day: day 1 is the issue day, up to ``cfg.watch_days``.

    Only leads beyond the warning horizon count. Once the storm began (``storm_began``: an
    ALERT of the family is in force) the current day gets no new or escalated WATCH: the ALERT
    and WARNINGs speak for it.
    """
    far = probs[probs["lead"] > pd.Timedelta(cfg.warning_lead)]
    actions: list[AlertAction] = []
    active = state.find(WATCH, family)
    for a in active:
        if a.valid_end is not None and a.valid_end <= now:
            actions.append(
                AlertAction(
                    EXPIRE,
                    WATCH,
                    family,
                    a.level,
                    a.probability,
                    a.valid_start,
                    a.valid_end,
                    now,
                    refers_to=a.serial,
                )
            )
    if not len(far):
        return actions
    days = far.index.floor("1D")
    today = now.floor("1D")
    for day in sorted(set(days)):
        day_number = (day - today).days + 1
        if day_number > cfg.watch_days or (storm_began and day == today):
            continue
        maxp, shown = _window_max(far[days == day], family)
        lvl, _ = _highest(maxp, LEVELS[family], cfg, WATCH)
        if lvl is None:
            continue
        p = float(shown.get(lvl.name, np.nan))
        same_day = [a for a in active if a.valid_start == day]
        top = max(same_day, key=lambda a: level_by_name(a.level).rank, default=None)
        window_end = day + pd.Timedelta("1D")
        basis = _basis(maxp, shown, lvl, cfg, WATCH)
        detail = f"day {day_number} ({day:%Y-%m-%d} UTC)" + (f"; {basis}" if basis else "")
        if top is None:
            actions.append(
                AlertAction(ISSUE, WATCH, family, lvl.name, p, day, window_end, now, detail=detail)
            )
        elif lvl.rank > level_by_name(top.level).rank:
            actions.append(
                AlertAction(
                    ESCALATE,
                    WATCH,
                    family,
                    lvl.name,
                    p,
                    day,
                    window_end,
                    now,
                    refers_to=top.serial,
                    detail=detail,
                )
            )
    return actions


def latest_observed(
    observed: xr.Dataset | None, name: str, now: pd.Timestamp
) -> tuple[float, pd.Timestamp | None]:
    """Find the newest value of ``name`` known at ``now`` and the end of its interval.

    See :func:`data_sources.timeconv.latest_known`.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (interval start, UTC naive; ``kp`` in thirds, ``dst``
        [nT], solar wind ``v_sw`` [km/s], ``bz_gsm`` [nT] ...). ``None``: nothing known.
    name : str
        Variable (``kp``, ``dst``, ``v_sw`` ...; decides the interval: 3 h for Kp, 1 h else).
    now : pandas.Timestamp
        Issue time (UTC naive); a value is known once its interval ended.

    Returns
    -------
    (float, pandas.Timestamp or None)
        The value in its unit and its interval end; ``(nan, None)`` when nothing finite is
        known (or ``name`` is absent).
    """
    if observed is None or name not in observed:
        return float("nan"), None
    return latest_known(observed[name].to_series(), name, now)


def _last_reached(
    observed: xr.Dataset | None, family: str, now: pd.Timestamp
) -> pd.Timestamp | None:
    """End of the newest interval (known at ``now``) in which the family's lowest level was reached."""
    if observed is None or family not in observed:
        return None
    s = known_at(observed[[family]], now)[family].to_series().dropna()
    low = LEVELS[family][0]
    hit = s[exceeds(family, s, low.threshold)]
    if hit.empty:
        return None
    return pd.Timestamp(interval_end(family, pd.DatetimeIndex([hit.index[-1]]))[0])


def _observed_text(family: str, value: float) -> str:
    return f"observed Kp {kp_label(value)}" if family == "kp" else f"observed Dst {value:g} nT"


def newly_known(
    observed: xr.Dataset | None,
    name: str,
    now: pd.Timestamp,
    since: pd.Timestamp | None,
    catch_up: timedelta,
) -> pd.Series:
    """Select the finite values of ``name`` that became known in ``(since, now]``.

    Without ``since`` (no earlier run) only the newest known value. ``since`` is clipped to
    ``now - catch_up``.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (interval start, UTC naive; ``kp`` in thirds, ``dst``
        [nT], solar wind ``v_sw`` [km/s], ``bz_gsm`` [nT] ...). ``None``: nothing known.
    name : str
        Variable (``kp``, ``dst``).
    now : pandas.Timestamp
        Issue time of this run (UTC naive).
    since : pandas.Timestamp or None
        Issue time of the previous logged run; ``None`` (or ``>= now``): only the newest value.
    catch_up : datetime.timedelta
        Longest span examined after downtime (``AlertConfig.catch_up``, default 48 h).

    Returns
    -------
    pandas.Series
        Values in the variable's unit indexed by interval end (UTC naive; one entry per 3-h
        Kp block), oldest first; empty when nothing is known.
    """
    if observed is None or name not in observed:
        return pd.Series(dtype=float)
    s = known_at(observed[[name]], now)[name].to_series().dropna()
    if s.empty:
        return s
    s.index = interval_end(name, s.index)
    s = s[~s.index.duplicated(keep="last")]
    if since is None or since >= now:
        return s.iloc[-1:]
    return s[s.index > max(since, now - pd.Timedelta(catch_up))]


def _alert_rules(
    observed: xr.Dataset | None,
    family: str,
    now: pd.Timestamp,
    state: RuleState,
    cfg: AlertConfig,
    since: pd.Timestamp | None = None,
) -> list[AlertAction]:
    """ALERT actions from the observations newly known since the last run (``since``).

    The strongest newly known value decides: a level above the ALERT in force is issued or
    escalated; one known before ``now`` (the run that should have seen it did not run) is
    marked LATE. ALL CLEAR needs ``quiet_after`` without the lowest level, no WARNING of the
    family in force, and a recent observation (missing data never clears an alert).
    """
    fresh = newly_known(observed, family, now, since, cfg.catch_up)
    levels = [g_level(v) if family == "kp" else dst_class(v) for v in fresh.values]
    ranks = [level_by_name(n).rank if n else 0 for n in levels]
    active = state.find(ALERT, family)
    top = max(active, key=lambda a: level_by_name(a.level).rank, default=None)
    actions: list[AlertAction] = []
    step = pd.Timedelta("3h") if family == "kp" else pd.Timedelta("1h")
    if ranks and max(ranks) > 0:
        k = int(np.argmax(ranks))  # first interval at the strongest level
        name, value, known_end = levels[k], float(fresh.iloc[k]), pd.Timestamp(fresh.index[k])
        assert name is not None  # rank > 0
        lvl = level_by_name(name)
        start = known_end - step
        detail = _observed_text(family, value)
        if known_end < now:
            detail = f"LATE: {detail} for {_fmt(start)} to {_fmt(known_end)}, not alerted then"
        if top is None:
            actions.append(
                AlertAction(ISSUE, ALERT, family, name, 1.0, start, None, now, detail=detail)
            )
        elif lvl.rank > level_by_name(top.level).rank:
            actions.append(
                AlertAction(
                    ESCALATE,
                    ALERT,
                    family,
                    name,
                    1.0,
                    start,
                    None,
                    now,
                    refers_to=top.serial,
                    detail=detail,
                )
            )
        if ranks[-1] > 0 or actions:
            return actions
    if top is None:
        return actions
    _, newest_end = latest_observed(observed, family, now)
    if newest_end is None or now - newest_end > step + pd.Timedelta(cfg.stale_after):
        return actions  # no recent observation: an ALERT is never cleared on missing data
    last = _last_reached(observed, family, now)
    warned = any(a.valid_end is None or a.valid_end > now for a in state.find(WARNING, family))
    if (last is None or now - last >= pd.Timedelta(cfg.quiet_after)) and not warned:
        for a in active:
            actions.append(
                AlertAction(
                    ALL_CLEAR,
                    ALERT,
                    family,
                    a.level,
                    float("nan"),
                    a.valid_start,
                    now,
                    now,
                    refers_to=a.serial,
                    detail=f"no {family} storm level observed since {_fmt(last)}",
                )
            )
    return actions


def input_freshness(
    observed: xr.Dataset | None, now: TimeLike, names: Iterable[str]
) -> pd.Timestamp | None:
    """Find the end of the newest interval with a finite value of any of ``names``.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (interval start, UTC naive; ``kp`` in thirds, ``dst``
        [nT], solar wind ``v_sw`` [km/s], ``bz_gsm`` [nT] ...). ``None``: nothing known.
    now : TimeLike
        Issue time (UTC); only values known then count.
    names : iterable of str
        Variables that define freshness (``AlertConfig.solar_wind_vars``: ``v_sw``,
        ``bz_gsm``).

    Returns
    -------
    pandas.Timestamp or None
        Naive UTC interval end; ``None`` when none of ``names`` has a known finite value.
        STALE_INPUT is issued when ``now`` minus this exceeds ``stale_after``.
    """
    now = to_utc(now)
    newest = None
    for name in names:
        _, end = latest_observed(observed, name, now)
        if end is not None and (newest is None or end > newest):
            newest = end
    return newest


def _stale_rules(
    observed: xr.Dataset | None, now: pd.Timestamp, state: RuleState, cfg: AlertConfig
) -> list[AlertAction]:
    newest = input_freshness(observed, now, cfg.solar_wind_vars)
    stale = newest is None or now - newest > pd.Timedelta(cfg.stale_after)
    active = state.find(STALE_INPUT, "solar_wind")
    detail = f"newest solar-wind sample ends {_fmt(newest)}"
    if stale and not active:
        return [
            AlertAction(
                ISSUE,
                STALE_INPUT,
                "solar_wind",
                "solar_wind",
                float("nan"),
                newest if newest is not None else now,
                None,
                now,
                detail=detail,
            )
        ]
    if not stale and active:
        return [
            AlertAction(
                ALL_CLEAR,
                STALE_INPUT,
                "solar_wind",
                "solar_wind",
                float("nan"),
                a.valid_start,
                now,
                now,
                refers_to=a.serial,
                detail=detail,
            )
            for a in active
        ]
    return []


def forecast_usable(forecast: xr.Dataset | None, families: tuple[str, ...]) -> str:
    """Say why ``forecast`` cannot drive WARNINGs ('' when it can).

    Missing, holding none of ``families``, or a family it holds has no finite value (e.g.
    inputs missing for the hour): that family's warnings can be neither issued nor cancelled.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        The primary forecast (:mod:`forecasting.schema` layout), or ``None``.
    families : tuple of str
        Families that get WARNINGs (``AlertConfig.warning_families``: ``kp``, ``dst``).

    Returns
    -------
    str
        The reason (``"no primary forecast"``, ``"the forecast holds none of ..."``, ``"the
        forecast has no finite value of ..."``), or ``""`` when usable.
    """
    if forecast is None:
        return "no primary forecast"
    present = [f for f in families if f in forecast]
    if not present:
        return f"the forecast holds none of {', '.join(families)}"
    empty = [f for f in present if not bool(np.isfinite(forecast[f].values).any())]
    if empty:
        return f"the forecast has no finite value of {', '.join(empty)}"
    return ""


def _unavailable_rules(why: str, now: pd.Timestamp, state: RuleState) -> list[AlertAction]:
    active = state.find(FORECAST_UNAVAILABLE, "forecast")
    if why and not active:
        return [
            AlertAction(
                ISSUE,
                FORECAST_UNAVAILABLE,
                "forecast",
                "forecast",
                float("nan"),
                now,
                None,
                now,
                detail=why,
            )
        ]
    if not why and active:
        return [
            AlertAction(
                ALL_CLEAR,
                FORECAST_UNAVAILABLE,
                "forecast",
                "forecast",
                float("nan"),
                a.valid_start,
                now,
                now,
                refers_to=a.serial,
                detail="forecasts are available again",
            )
            for a in active
        ]
    return []


def _alerted_rank(family: str, state: RuleState, actions: list[AlertAction]) -> int:
    """Rank of the ALERT of ``family`` in force after ``actions`` (0: none)."""
    cleared = {a.refers_to for a in actions if a.action == ALL_CLEAR and a.kind == ALERT}
    ranks = [
        level_by_name(a.level).rank for a in state.find(ALERT, family) if a.serial not in cleared
    ]
    ranks += [
        level_by_name(a.level).rank
        for a in actions
        if a.kind == ALERT and a.family == family and a.action in (ISSUE, ESCALATE)
    ]
    return max(ranks, default=0)


def evaluate_rules(
    forecast: xr.Dataset | None,
    observed_recent: xr.Dataset | None,
    now: TimeLike,
    state: RuleState | list[ActiveAlert] | None = None,
    config: AlertConfig | None = None,
    *,
    since: TimeLike | None = None,
    notice_unavailable: bool = False,
) -> list[AlertAction]:
    """Actions implied by a forecast and recent observations, given the alerts in force.

    Parameters
    ----------
    forecast
        Forecast dataset (``forecasting.schema``) holding the init time ``now`` (or a single
        init time); ``kp`` and/or ``dst`` quantiles. ``None``: only ALERT / STALE rules run.
    observed_recent
        Hourly observations (``time``; ``kp``, ``dst``, solar wind). Values are used only as
        known at ``now`` (:func:`data_sources.timeconv.known_at`).
    now
        Issue time of this run (UTC, naive or aware).
    state
        Alerts in force (from the alert log).
    config
        Rule thresholds; :class:`AlertConfig` defaults.
    since
        Issue time of the previous logged run: observations that became known after it are
        examined for ALERTs (catch-up after downtime). ``None``: only the newest value.
    notice_unavailable
        Issue a FORECAST_UNAVAILABLE notice when ``forecast`` is missing or has no finite
        value (operations); ``False`` keeps ``forecast=None`` meaning "ALERT rules only".

    Returns
    -------
    list of AlertAction
        Ordered: STALE_INPUT, FORECAST_UNAVAILABLE, ALERT, WARNING, WATCH actions.
    """
    cfg = config_for_forecast(config or AlertConfig(), forecast)
    now = to_utc(now)
    if state is None:
        state = RuleState()
    elif isinstance(state, list):
        state = RuleState(active=list(state))
    since = to_utc(since) if since is not None else None
    actions = _stale_rules(observed_recent, now, state, cfg)
    if notice_unavailable:
        why = forecast_usable(forecast, cfg.warning_families)
        actions += _unavailable_rules(why, now, state)
    for family in cfg.alert_families:
        actions += _alert_rules(observed_recent, family, now, state, cfg, since)
    if forecast is not None:
        inits = pd.DatetimeIndex(np.atleast_1d(forecast["init_time"].values))
        init = now if now in inits else inits.max()
        probs = {
            f: _probabilities(forecast, f, init)
            for f in {*cfg.warning_families, *cfg.watch_families}
            if f in forecast
        }
        for family in cfg.warning_families:
            if family in forecast:
                actions += _warning_rules(
                    probs[family],
                    family,
                    now,
                    state,
                    cfg,
                    _alerted_rank(family, state, actions),
                )
        for family in cfg.watch_families:
            if family in forecast:
                actions += _watch_rules(
                    probs[family],
                    family,
                    now,
                    state,
                    cfg,
                    _alerted_rank(family, state, actions) > 0,
                )
    return [replace(a, probability=float(a.probability)) for a in actions]
