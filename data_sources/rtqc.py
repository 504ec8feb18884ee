"""Real-time quality control of the 1-minute L1 feeds, before they reach a model or an alert.

Real-time solar-wind products carry failure modes that the definitive OMNI record has had
removed: isolated spikes (telemetry hits), values frozen at the last good reading, runs of
exact zeros or of missing minutes (instrument modes, ground-station gaps), and jumps when
SWPC switches the active spacecraft (DSCOVR <-> ACE). :func:`check` flags each 1-minute
sample with bit flags (:data:`FLAGS`) and :func:`clean` sets every flagged value to NaN,
returning the flags so they can be shown (input-freshness table, Drivers page).

Tests, per variable (thresholds in :data:`RULES`):

* ``range``: outside the physical range (``data_sources.vocabulary.VARIABLES[name]
  .valid_range`` when the vocabulary has it, else :data:`FALLBACK_RANGES`, the same limits);
* ``spike``: departs from the centred 7-sample running median by more than
  ``max(6 robust sigma, floor)``, with the robust sigma ``1.4826 * MAD`` over the centred
  61 samples. A centred median follows a step (a shock) at once, so only departures of
  at most 3 samples that come back are spikes; the newest 3 minutes are judged on the
  samples there are. (Hampel filter; Pearson 2002, doi:10.1109/TCST.2002.1033788.)
  Temperature is tested on ``log10`` (floor: a factor 3.2). On the recorded May 2024 week
  0.5 % of the density minutes are flagged (DSCOVR density is noisy), 0.02 % of the speeds;
* ``stuck``: the same finite value ``stuck_run`` or more minutes in a row (30 by default;
  quiet |B| in a 0.1 nT list repeats for 11 minutes on 2009-01-01);
* ``zero_run``: exact zeros ``zero_run`` or more minutes in a row (3; 10 for the field
  components, which sit at 0.0 for minutes when they cross zero);
* ``nan_run``: missing ``nan_run`` or more minutes in a row (30): the value was NaN
  anyway; the flag makes the gap visible;
* ``spacecraft``: the sample where the active spacecraft differs from the previous one,
  when the dataset has a ``spacecraft`` coordinate (SWPC's RTSW JSON products carry
  ``active``/``source`` columns; the recorded ``plasma-7-day`` product and ACE lists do
  not, so this test only runs when the feed says which spacecraft it is).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from data_sources import vocabulary

#: bit flags of one sample (0 = passed every test)
FLAGS: dict[str, int] = {
    "range": 1,
    "spike": 2,
    "stuck": 4,
    "zero_run": 8,
    "nan_run": 16,
    "spacecraft": 32,
}
#: flags that mean the value itself is bad (set to NaN by :func:`clean`)
BAD = FLAGS["range"] | FLAGS["spike"] | FLAGS["stuck"] | FLAGS["zero_run"]

#: used when the vocabulary has no ``valid_range`` yet (same limits as the vocabulary's)
FALLBACK_RANGES: dict[str, tuple[float, float]] = {
    "bx_gsm": (-500.0, 500.0),
    "by_gsm": (-500.0, 500.0),
    "bz_gsm": (-500.0, 500.0),
    "b_total": (0.0, 500.0),
    "v_sw": (100.0, 3500.0),
    "n_p": (0.0, 500.0),
    "t_p": (0.0, 9.0e6),
}


@dataclass(frozen=True)
class Rule:
    """Spike floor (in the variable's units, or decades for ``log``) and run lengths [min]."""

    spike_floor: float
    log: bool = False
    stuck_run: int = 30
    zero_run: int = 3
    nan_run: int = 30


RULES: dict[str, Rule] = {
    "v_sw": Rule(spike_floor=60.0),
    "n_p": Rule(spike_floor=8.0),
    "t_p": Rule(spike_floor=0.5, log=True),
    # a component crosses zero and sits at 0.0 (0.1 nT lists) for minutes in quiet wind
    "bx_gsm": Rule(spike_floor=8.0, zero_run=10),
    "by_gsm": Rule(spike_floor=8.0, zero_run=10),
    "bz_gsm": Rule(spike_floor=8.0, zero_run=10),
    "b_total": Rule(spike_floor=8.0),
}
SPIKE_WINDOW = 7
SIGMA_WINDOW = 61
SPIKE_SIGMAS = 6.0


def valid_range(name: str) -> tuple[float, float]:
    """Physical range of ``name``: the vocabulary's ``valid_range``, else the fallback.

    Parameters
    ----------
    name : str
        Canonical variable name (``"v_sw"``, ``"bz_gsm"``, ...).

    Returns
    -------
    tuple of (float, float)
        ``(min, max)`` inclusive, in the variable's vocabulary unit (nT, km s-1, cm-3, K).

    Raises
    ------
    KeyError
        If neither the vocabulary nor :data:`FALLBACK_RANGES` has ``name``.
    """
    var = vocabulary.VARIABLES.get(name)
    rng = getattr(var, "valid_range", None)
    if rng is not None:
        return tuple(rng)
    if name not in FALLBACK_RANGES:
        raise KeyError(f"no physical range for {name!r}; add it to rtqc.FALLBACK_RANGES")
    return FALLBACK_RANGES[name]


def _runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """True on every sample of a run of True at least ``min_len`` long."""
    out = np.zeros(len(mask), bool)
    if min_len < 1 or not mask.any():
        return out
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for a, b in zip(starts, stops, strict=True):
        if b - a >= min_len:
            out[a:b] = True
    return out


def _same_runs(x: np.ndarray, min_len: int) -> np.ndarray:
    """True on runs of ``min_len`` or more identical finite values."""
    finite = np.isfinite(x)
    same = np.zeros(len(x), bool)
    same[1:] = finite[1:] & finite[:-1] & (x[1:] == x[:-1])
    # a run of k equal neighbours spans k + 1 samples
    run = _runs(same, max(min_len - 1, 1))
    run[:-1] |= run[1:] & same[1:]
    return run


def _spikes(x: np.ndarray, rule: Rule) -> np.ndarray:
    s = pd.Series(np.log10(np.where(x > 0, x, np.nan)) if rule.log else x)
    med = s.rolling(SPIKE_WINDOW, center=True, min_periods=3).median()
    dev = (s - med).abs()
    mad = dev.rolling(SIGMA_WINDOW, center=True, min_periods=10).median()
    limit = np.maximum(SPIKE_SIGMAS * 1.4826 * mad.to_numpy(), rule.spike_floor)
    return np.nan_to_num(dev.to_numpy(), nan=0.0) > np.nan_to_num(limit, nan=rule.spike_floor)


def flags_for(name: str, values: np.ndarray) -> np.ndarray:
    """int16 bit flags (:data:`FLAGS`) of one 1-minute series of variable ``name``.

    Runs the ``range``, ``spike``, ``stuck``, ``zero_run`` and ``nan_run`` tests with the
    thresholds of :data:`RULES` (a variable without a rule gets no spike test).

    Parameters
    ----------
    name : str
        Canonical variable name; picks the rule and the physical range.
    values : numpy.ndarray
        1-D series at a regular 1-minute cadence, in the vocabulary unit (nT, km s-1,
        cm-3, K); NaN marks a missing minute.

    Returns
    -------
    numpy.ndarray
        int16 bit flags, same length as ``values`` (0: passed every test).

    Raises
    ------
    KeyError
        If ``name`` has no physical range (see :func:`valid_range`).
    """
    x = np.asarray(values, dtype=float)
    rule = RULES.get(name, Rule(spike_floor=np.inf))
    lo, hi = valid_range(name)
    flags = np.zeros(len(x), np.int16)
    finite = np.isfinite(x)
    flags[finite & ((x < lo) | (x > hi))] |= FLAGS["range"]
    flags[_spikes(np.where(finite & (x >= lo) & (x <= hi), x, np.nan), rule)] |= FLAGS["spike"]
    flags[_same_runs(x, rule.stuck_run) & (x != 0)] |= FLAGS["stuck"]
    flags[_runs(finite & (x == 0), rule.zero_run)] |= FLAGS["zero_run"]
    flags[_runs(~finite, rule.nan_run)] |= FLAGS["nan_run"]
    return flags


def spacecraft_changes(spacecraft: ArrayLike) -> np.ndarray:
    """True where the active spacecraft differs from the previous known one.

    Parameters
    ----------
    spacecraft : array_like of str
        Active spacecraft per sample (e.g. ``"DSCOVR"``, ``"ACE"``); ``""`` or ``None``
        means unknown and never counts as a change.

    Returns
    -------
    numpy.ndarray
        Boolean, same length: True at the first sample after a switch.
    """
    sc = pd.Series(np.asarray(spacecraft, dtype=object)).replace({"": None})
    prev = sc.ffill().shift(1)
    return np.asarray(sc.notna() & prev.notna() & (sc != prev))


def check(ds: xr.Dataset) -> xr.Dataset:
    """Bit flags of every 1-minute sample: ``<name>_rtqc`` (int16) per QC'd variable.

    Parameters
    ----------
    ds
        1-minute L1 dataset (:func:`data_sources.swpc.parse_swpc_json` plasma or mag, or an
        ACE list); an optional ``spacecraft`` coordinate (str per sample) enables the
        spacecraft-change flag, set on every variable at the first sample after a change.

    Returns
    -------
    xr.Dataset
        Same ``time``; one ``<name>_rtqc`` per variable with a rule in :data:`RULES`.
    """
    names = [v for v in ds.data_vars if v in RULES and "time" in ds[v].dims]
    change = (
        spacecraft_changes(ds["spacecraft"].values)
        if "spacecraft" in ds.coords
        else np.zeros(ds.sizes.get("time", 0), bool)
    )
    out = xr.Dataset(coords={"time": ds["time"]})
    for name in names:
        f = flags_for(name, ds[name].values)
        f[change] |= FLAGS["spacecraft"]
        out[f"{name}_rtqc"] = (
            "time",
            f,
            {"flag_masks": list(FLAGS.values()), "flag_meanings": " ".join(FLAGS)},
        )
    return out


def clean(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """``(cleaned, flags)``: ``ds`` with every value flagged bad (:data:`BAD`) set to NaN.

    ``cleaned.attrs["rtqc"]`` summarises what was removed (:func:`summary`).

    Parameters
    ----------
    ds : xr.Dataset
        1-minute L1 dataset on ``time`` (naive UTC), as for :func:`check`.

    Returns
    -------
    tuple of (xr.Dataset, xr.Dataset)
        ``cleaned``: a copy of ``ds`` with values flagged ``range``, ``spike``, ``stuck`` or
        ``zero_run`` set to NaN; ``flags``: the :func:`check` result.
    """
    flags = check(ds)
    out = ds.copy()
    for name in map(str, flags.data_vars):
        var = name.removesuffix("_rtqc")
        bad = (flags[name].values & BAD) != 0
        if bad.any():
            out[var] = ds[var].where(~xr.DataArray(bad, dims="time"))
    out.attrs["rtqc"] = summary(flags)
    return out, flags


def summary(flags: xr.Dataset, *, max_times: int = 20) -> str:
    """One line per variable with flags: count per test and the first flagged times.

    Parameters
    ----------
    flags : xr.Dataset
        A :func:`check` result (``<name>_rtqc`` per variable).
    max_times : int, optional
        Most flagged times listed per variable (``MM-DD HH:MM``, UTC); default 20.

    Returns
    -------
    str
        ``"; "``-joined lines, e.g. ``"n_p: spike 12 (first at 05-10 17:02, ...)"``;
        ``""`` when nothing is flagged.
    """
    lines = []
    times = flags.indexes["time"]
    for name in map(str, flags.data_vars):
        f = flags[name].values
        if not f.any():
            continue
        counts = {k: int(((f & bit) != 0).sum()) for k, bit in FLAGS.items()}
        text = ", ".join(f"{k} {n}" for k, n in counts.items() if n)
        first = times[f != 0][:max_times].strftime("%m-%d %H:%M")
        lines.append(f"{name.removesuffix('_rtqc')}: {text} (first at {', '.join(first)})")
    return "; ".join(lines)


def counts(flags: xr.Dataset) -> dict[str, dict[str, int]]:
    """Flagged samples per variable and test (only non-zero counts).

    Parameters
    ----------
    flags : xr.Dataset
        A :func:`check` result (``<name>_rtqc`` per variable).

    Returns
    -------
    dict of str to dict of str to int
        Variable (without ``_rtqc``) -> test name -> number of flagged samples; variables
        with no flag are left out.
    """
    out: dict[str, dict[str, int]] = {}
    for name in map(str, flags.data_vars):
        f = flags[name].values
        c = {k: int(((f & bit) != 0).sum()) for k, bit in FLAGS.items()}
        c = {k: n for k, n in c.items() if n}
        if c:
            out[name.removesuffix("_rtqc")] = c
    return out


def hourly_flags(flags: xr.Dataset, arrival: pd.DatetimeIndex | None = None) -> xr.Dataset:
    """Bitwise OR of the sample flags per hour (hour-start labels).

    ``arrival`` (one time per flag sample) bins by bow-shock arrival instead of measurement
    time, so the flags land on the same hours as the propagated means.

    Parameters
    ----------
    flags : xr.Dataset
        A :func:`check` result on 1-minute ``time`` (naive UTC).
    arrival : pandas.DatetimeIndex, optional
        Bow-shock arrival time (naive UTC) of each sample
        (:func:`data_sources.propagation.arrival_times`), same length as ``flags.time``;
        NaT samples are dropped. Default: bin by measurement time.

    Returns
    -------
    xr.Dataset
        int16 ``<name>_rtqc`` on hourly ``time`` (naive UTC, start of the hour); only hours
        that hold at least one sample.

    Raises
    ------
    ValueError
        If ``arrival`` does not have one time per flag sample.
    """
    times = flags.indexes["time"] if arrival is None else pd.DatetimeIndex(arrival)
    if len(times) != flags.sizes["time"]:
        raise ValueError(f"arrival has {len(times)} times for {flags.sizes['time']} samples")
    frame = pd.DataFrame({n: flags[n].values for n in flags.data_vars}, index=times)
    frame = frame[~frame.index.isna()]
    ored = frame.groupby(frame.index.floor("1h")).agg(np.bitwise_or.reduce)
    ored.index.name = "time"
    return xr.Dataset(
        {n: ("time", ored[n].to_numpy(dtype=np.int16)) for n in ored.columns},
        coords={"time": ored.index},
    )


def flag_names(bits: int) -> str:
    """Comma-separated test names of a flag value (``""`` for 0).

    Parameters
    ----------
    bits : int
        A bit-OR of :data:`FLAGS` values.

    Returns
    -------
    str
        E.g. ``"range, spike"``, in :data:`FLAGS` order.
    """
    return ", ".join(k for k, b in FLAGS.items() if int(bits) & b)


def flagged_hours(ds: xr.Dataset) -> list[tuple[pd.Timestamp, str, str]]:
    """``(hour, variable, tests)`` of every hour with a QC flag in an hourly inputs dataset.

    Parameters
    ----------
    ds : xr.Dataset
        Hourly inputs (e.g. the :func:`data_sources.live.refresh_inputs` file) holding
        ``<name>_rtqc`` variables; other variables are ignored.

    Returns
    -------
    list of tuple of (pandas.Timestamp, str, str)
        Hour label (naive UTC, start of the hour), variable name and its test names
        (:func:`flag_names`), sorted by hour.
    """
    out = []
    for name in map(str, ds.data_vars):
        if not name.endswith("_rtqc"):
            continue
        s = ds[name].to_series().fillna(0).astype(int)
        for hour, bits in s[s != 0].items():
            out.append((pd.Timestamp(hour), name.removesuffix("_rtqc"), flag_names(bits)))
    return sorted(out)
