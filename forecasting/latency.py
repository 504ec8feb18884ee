"""Realistic data availability: when each value was *published*, not only when it was measured.

:func:`data_sources.timeconv.known_at` says a value labelled ``h`` is known when its interval
ends (``interval_end``). Real products appear later: SWPC real-time solar wind minutes after
the measurement, Kyoto's real-time (quick-look) Dst within about an hour, provisional Dst
months later, final Dst years later, definitive Kp about a month after the month ends. A
backtest that replays the archive (OMNI final values) with ``known_at`` alone lets the model
use the latest hour of Dst the instant it ends, which no operational forecaster could.

Here a :class:`Latencies` gives each variable a publication delay after its interval end;
:func:`as_of` returns the dataset as it existed at issue time ``t``: values with
``interval_end + delay > t`` are NaN (``*_qc`` flags set to 2, missing), on top of
:func:`~data_sources.timeconv.known_at`.

Delays are engineering estimates of each product's typical publication lag, not
guarantees; change them with :meth:`Latencies.with_delays`.

The lead an L1 monitor gives (:data:`L1`): OMNI's solar wind is labelled at the bow-shock
nose, so the hour labelled ``h`` was measured at L1 ``(X_L1 - X_bsn) / V_h`` (~1 h at
400 km/s) before it arrived: it is known at
``h + 1 h - (X_L1 - X_bsn) / V_h + 5 min`` (:func:`data_sources.propagation.l1_available_from`,
from each hour's own speed), often *before* its interval ends. :func:`l1_view` applies the
rule to a dataset once (row ``h`` of each solar-wind variable holds the newest hour known
by ``h + 1 h``, :func:`data_sources.propagation.lead_view`), after which every forecaster's
own ``known_at`` cut yields exactly the solar wind known at the issue time. The live path
(:mod:`data_sources.live`) builds the same view from the measured SWPC times, so a model is
trained, backtested and run on one definition. :func:`as_of` and
:func:`mask_latency_windows` apply the view themselves when a profile has ``l1_lead`` and
the dataset is not a view yet; pass ``l1_view(ds)`` to a backtest to apply it before the
per-block cut (otherwise the last issue time of each block loses its lead hour).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import xarray as xr

from data_sources import propagation, timeconv

#: typical publication delay after the interval ends, per product (engineering estimates)
PRODUCT_DELAY: Mapping[str, pd.Timedelta] = MappingProxyType(
    {
        # NOAA SWPC real-time solar wind (DSCOVR/ACE, 1-min products, hourly averages)
        "swpc_rtsw": propagation.PUBLICATION_DELAY,
        # Kyoto real-time (quick-look) Dst, as relayed by SWPC products/kyoto-dst.json
        "kyoto_dst_realtime": pd.Timedelta("1h"),
        # Kyoto provisional Dst: released some months after the month ends
        "kyoto_dst_provisional": pd.Timedelta("180D"),
        # Kyoto final Dst: years after the fact
        "kyoto_dst_final": pd.Timedelta("1095D"),
        # GFZ Kp nowcast: about an hour after the 3-hour interval ends
        "gfz_kp_nowcast": pd.Timedelta("1h"),
        # GFZ definitive Kp: early in the following month (about a month)
        "gfz_kp_definitive": pd.Timedelta("30D"),
        # NASA OMNI2 hourly (final solar wind merge): a few months
        "omni2_final": pd.Timedelta("90D"),
        # Kyoto real-time AE (quick-look)
        "kyoto_ae_realtime": pd.Timedelta("1h"),
        # Penticton F10.7 daily: same day, counted from the end of the day
        "f107_daily": pd.Timedelta("0h"),
        # SILSO daily sunspot number (provisional): next day
        "silso_daily": pd.Timedelta("1D"),
    }
)

SOLAR_WIND = ("bx_gsm", "by_gsm", "bz_gsm", "b_total", "v_sw", "n_p", "t_p", "p_dyn", "e_y")


def _product_table(products: Mapping[str, str]) -> dict[str, pd.Timedelta]:
    out = {}
    for var, product in products.items():
        if product not in PRODUCT_DELAY:
            raise KeyError(
                f"unknown product {product!r} for {var!r}; known: {', '.join(PRODUCT_DELAY)}"
            )
        out[var] = PRODUCT_DELAY[product]
    return out


@dataclass(frozen=True)
class Latencies:
    """Publication delay after the end of each variable's interval.

    Parameters
    ----------
    name
        Profile name, recorded in backtest attributes (``as_of``).
    delays
        Variable name -> delay (anything :class:`pandas.Timedelta` accepts). Variables not
        listed get ``default``. ``*_qc`` flags follow their variable.
    default
        Delay of unlisted variables.
    l1_lead
        Solar wind is known by the L1 rule (:func:`l1_view`) instead of a fixed delay; its
        listed delays should then be zero (the view holds them).
    """

    name: str
    delays: Mapping[str, pd.Timedelta] = field(default_factory=dict)
    default: pd.Timedelta = pd.Timedelta(0)
    l1_lead: bool = False

    def __post_init__(self) -> None:
        """Check delays are >= 0 and store them as read-only Timedeltas."""
        clean = {}
        for var, d in self.delays.items():
            td = pd.Timedelta(d)
            if td < pd.Timedelta(0):
                raise ValueError(f"latency of {var!r} is negative ({td}); delays must be >= 0")
            clean[var] = td
        default = pd.Timedelta(self.default)
        if default < pd.Timedelta(0):
            raise ValueError(f"default latency is negative ({default}); delays must be >= 0")
        object.__setattr__(self, "delays", MappingProxyType(clean))
        object.__setattr__(self, "default", default)

    @classmethod
    def from_products(
        cls,
        name: str,
        products: Mapping[str, str],
        *,
        default: str | pd.Timedelta = "0h",
        l1_lead: bool = False,
    ) -> Latencies:
        """Build a profile from variable -> product names (keys of :data:`PRODUCT_DELAY`).

        Parameters
        ----------
        name : str
            Profile name (``realtime``, ``archive`` ...), recorded in backtest attributes.
        products : Mapping[str, str]
            Canonical variable name (``dst``, ``v_sw`` ...) -> product key of
            :data:`PRODUCT_DELAY` (``kyoto_dst_realtime``, ``swpc_rtsw`` ...).
        default : str or pd.Timedelta
            Delay of variables not in ``products`` (``"0h"``: known when the interval ends).
        l1_lead : bool
            Solar wind known by the L1 rule (:func:`l1_view`) instead of a fixed delay.

        Returns
        -------
        Latencies
            The profile, delays looked up in :data:`PRODUCT_DELAY`.

        Raises
        ------
        KeyError
            If a product is not a key of :data:`PRODUCT_DELAY`; the message lists them.
        """
        return cls(name, _product_table(products), pd.Timedelta(default), l1_lead)

    def delay(self, var: str) -> pd.Timedelta:
        """The publication delay of ``var`` (``*_qc`` flags follow their variable).

        Parameters
        ----------
        var : str
            Variable name (``dst``, ``bz_gsm``, ``dst_qc`` ...).

        Returns
        -------
        pd.Timedelta
            Delay after the interval end; the profile's ``default`` if ``var`` is not listed.
        """
        base = var[:-3] if var.endswith("_qc") else var
        return self.delays.get(base, self.default)

    def with_delays(self, name: str | None = None, **delays: str | pd.Timedelta) -> Latencies:
        """A copy with some delays changed, e.g. ``REALTIME.with_delays(dst="2h")``.

        Parameters
        ----------
        name : str or None
            Name of the new profile; ``None`` gives ``"<this name>+custom"``.
        **delays : str or pd.Timedelta
            Variable name -> new delay after the interval end (anything
            :class:`pandas.Timedelta` accepts, e.g. ``"2h"``, ``"30D"``).

        Returns
        -------
        Latencies
            The new profile (same ``default`` and ``l1_lead``); this one is unchanged.
        """
        merged = {**self.delays, **{k: pd.Timedelta(v) for k, v in delays.items()}}
        return Latencies(name or f"{self.name}+custom", merged, self.default, self.l1_lead)

    def max_delay(self, names: Iterable[str]) -> pd.Timedelta:
        """The largest delay among ``names`` (zero if none).

        Parameters
        ----------
        names : Iterable[str]
            Variable names (``*_qc`` flags follow their variable).

        Returns
        -------
        pd.Timedelta
            Largest publication delay; ``Timedelta(0)`` for an empty ``names``.
        """
        return max((self.delay(n) for n in names), default=pd.Timedelta(0))

    def is_zero(self, names: Iterable[str] | None = None) -> bool:
        """True when every delay (of ``names``, or all) is zero: ``as_of`` equals ``known_at``.

        Parameters
        ----------
        names : Iterable[str] or None
            Variables to check; ``None`` checks ``default`` and every listed delay.

        Returns
        -------
        bool
            Whether no variable waits past its interval end; always False for an
            ``l1_lead`` profile (the L1 rule shifts solar wind in time).
        """
        if self.l1_lead:
            return False
        if names is None:
            return self.default == pd.Timedelta(0) and all(
                d == pd.Timedelta(0) for d in self.delays.values()
            )
        return all(self.delay(n) == pd.Timedelta(0) for n in names)

    def available_from(self, var: str, labels: pd.DatetimeIndex | np.ndarray) -> pd.DatetimeIndex:
        """When the value of ``var`` labelled ``labels`` was published: interval end + delay.

        Parameters
        ----------
        var : str
            Variable name (``dst``, ``kp``, ``dst_qc`` ...); its interval length comes from
            :func:`data_sources.timeconv.interval_end` (Kp 3 h, F10.7 daily, else 1 h).
        labels : pd.DatetimeIndex or np.ndarray
            Value labels (naive UTC, interval starts).

        Returns
        -------
        pd.DatetimeIndex
            Publication times (naive UTC), one per label.
        """
        base = var[:-3] if var.endswith("_qc") else var
        return timeconv.interval_end(base, labels) + self.delay(var)


#: only timeconv.known_at (values known the instant their interval ends)
IDEAL = Latencies("ideal")

#: an operational forecaster's view: SWPC real-time solar wind, Kyoto real-time Dst and AE,
#: GFZ Kp nowcast, daily F10.7 and sunspot number
REALTIME = Latencies.from_products(
    "realtime",
    {
        **{v: "swpc_rtsw" for v in SOLAR_WIND},
        "dst": "kyoto_dst_realtime",
        "kp": "gfz_kp_nowcast",
        "ap": "gfz_kp_nowcast",
        "ae": "kyoto_ae_realtime",
        "f107": "f107_daily",
        "f107_adj": "f107_daily",
        "sunspot_number": "silso_daily",
    },
)

#: a forecaster restricted to definitive archives (OMNI2 final, provisional Dst, definitive Kp)
ARCHIVE = Latencies.from_products(
    "archive",
    {
        **{v: "omni2_final" for v in SOLAR_WIND},
        "dst": "kyoto_dst_provisional",
        "kp": "gfz_kp_definitive",
        "ap": "gfz_kp_definitive",
        "ae": "omni2_final",
        "f107": "f107_daily",
        "f107_adj": "f107_daily",
        "sunspot_number": "silso_daily",
    },
)

#: :data:`REALTIME` with the lead of an L1 monitor: solar wind known by the L1 rule
#: (:func:`l1_view`; bow-shock hour h known at h + 1 h - travel time + 5 min)
L1 = Latencies(
    "l1",
    {**REALTIME.delays, **dict.fromkeys(SOLAR_WIND, pd.Timedelta(0))},
    REALTIME.default,
    l1_lead=True,
)

PROFILES: dict[str, Latencies] = {p.name: p for p in (IDEAL, REALTIME, ARCHIVE, L1)}


def l1_view(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its solar wind known by the L1 rule (see the module docstring).

    Parameters
    ----------
    ds
        Hourly dataset labelled at the bow-shock nose (OMNI, the store) with ``v_sw``.

    Returns
    -------
    xr.Dataset
        :func:`data_sources.propagation.lead_view` of ``ds`` with
        :func:`data_sources.propagation.l1_available_from` of its hourly speed; a dataset
        that is already a view is returned as it is.
    """
    if ds.attrs.get("l1_lead_view") == "applied":
        return ds
    if "v_sw" not in ds:
        raise ValueError(
            f"the L1 rule needs the hourly speed v_sw to time the solar wind; the dataset "
            f"has {sorted(map(str, ds.data_vars))}"
        )
    labels = ds.indexes["time"]
    avail = propagation.l1_available_from(
        labels, ds["v_sw"].values, delay=PRODUCT_DELAY["swpc_rtsw"]
    )
    return propagation.lead_view(ds, avail)


def _view(ds: xr.Dataset, lat: Latencies) -> xr.Dataset:
    return l1_view(ds) if lat.l1_lead and "v_sw" in ds else ds


def resolve(latencies: Latencies | str | bool | None) -> Latencies:
    """``True`` -> :data:`REALTIME`, ``False``/``None`` -> :data:`IDEAL`, a name -> its profile.

    Parameters
    ----------
    latencies : Latencies, str, bool or None
        A profile (returned as it is), a name in :data:`PROFILES` (``ideal``, ``realtime``,
        ``archive``, ``l1``), or a bool / None as above.

    Returns
    -------
    Latencies
        The profile.

    Raises
    ------
    ValueError
        If a name is not in :data:`PROFILES`.
    TypeError
        If ``latencies`` is of any other type.
    """
    if latencies is True:
        return REALTIME
    if latencies is False or latencies is None:
        return IDEAL
    if isinstance(latencies, Latencies):
        return latencies
    if isinstance(latencies, str):
        try:
            return PROFILES[latencies]
        except KeyError:
            raise ValueError(
                f"unknown latency profile {latencies!r}; use one of {', '.join(PROFILES)} "
                "or a forecasting.latency.Latencies"
            ) from None
    raise TypeError(f"latencies must be a Latencies, a profile name or a bool, not {latencies!r}")


def _time_vars(ds: xr.Dataset) -> list[str]:
    return [v for v in map(str, ds.data_vars) if "time" in ds[v].dims]


def late_mask(ds: xr.Dataset, var: str, t: timeconv.TimeLike, latencies: Latencies) -> np.ndarray:
    """Boolean over ``ds.time``: True where ``var`` was not yet published at ``t``.

    Parameters
    ----------
    ds : xr.Dataset
        Dataset with a ``time`` index (naive UTC interval-start labels).
    var : str
        Variable name whose delay applies (``*_qc`` flags follow their variable).
    t : TimeLike
        Issue time, UTC.
    latencies : Latencies
        Publication-delay profile.

    Returns
    -------
    np.ndarray
        bool, shape ``(len(ds.time),)``: ``interval_end + delay > t``.
    """
    labels = ds.indexes["time"]
    return np.asarray(latencies.available_from(var, labels) > pd.Timestamp(t))


def as_of(
    ds: xr.Dataset, t: timeconv.TimeLike, latencies: Latencies | str | bool = True
) -> xr.Dataset:
    """``ds`` as it existed at issue time ``t`` given publication ``latencies``.

    Applies :func:`data_sources.timeconv.known_at` (time axis cut at ``t``, values whose
    interval has not ended masked), then masks values published after ``t``
    (``interval_end + delay > t``): NaN for data, 2 (missing) for ``*_qc`` flags.

    Parameters
    ----------
    ds
        Hourly dataset along ``time`` (interval-start labels, UTC).
    t
        Issue time.
    latencies
        A :class:`Latencies`, a profile name (``ideal``, ``realtime``, ``archive``, ``l1``)
        or ``True`` (realtime). With ``l1`` the solar wind is first put in the
        :func:`l1_view` (unless ``ds`` is one).

    Returns
    -------
    xr.Dataset
        Same variables, time axis ending at the hour labelled ``t - 1 h``.
    """
    lat = resolve(latencies)
    out = timeconv.known_at(_view(ds, lat), t)
    for name in _time_vars(out):
        if lat.delay(name) == pd.Timedelta(0):
            continue
        late = late_mask(out, name, t, lat)
        if late.any():
            fill = 2 if name.endswith("_qc") else np.nan
            out[name] = out[name].where(~xr.DataArray(late, dims="time"), fill)
    return out


def mask_latency_windows(
    ds: xr.Dataset, times: pd.DatetimeIndex, latencies: Latencies
) -> xr.Dataset:
    """Mask, for each issue time in ``times``, the values ended but not yet published.

    A copy of ``ds`` where values with ``interval_end <= t < interval_end + delay`` for some
    ``t`` in ``times`` are NaN (2, missing, for ``*_qc`` flags).
    Unlike :func:`as_of`, the time axis is kept whole and nothing after ``t`` is touched, so
    a forecaster that applies :func:`~data_sources.timeconv.known_at` itself sees, at each
    ``t``, exactly :func:`as_of` ``(ds, t)`` -- provided its inputs for ``t`` do not reach
    back into the window of an earlier ``t`` (the batched backtest spaces issue times by the
    forecaster's look-back to guarantee that).

    Parameters
    ----------
    ds : xr.Dataset
        Hourly dataset along ``time`` (naive UTC interval-start labels). With an ``l1_lead``
        profile it is first put in the :func:`l1_view` (unless it is one).
    times : pd.DatetimeIndex
        Issue times (naive UTC), sorted ascending.
    latencies : Latencies
        Publication-delay profile (use :func:`resolve` for names).

    Returns
    -------
    xr.Dataset
        Same variables and whole time axis, the publication windows masked.
    """
    times = pd.DatetimeIndex(np.atleast_1d(times))
    ds = _view(ds, latencies)
    labels = ds.indexes["time"]
    out = ds.copy()
    for name in _time_vars(ds):
        delay = latencies.delay(name)
        if delay == pd.Timedelta(0):
            continue
        base = name[:-3] if name.endswith("_qc") else name
        end = np.asarray(timeconv.interval_end(base, labels))
        # label i is masked if some t has end_i <= t < end_i + delay
        pos = np.searchsorted(np.asarray(times.values), end, side="left")  # first t >= end
        has = pos < len(times)
        first_t = np.where(has, np.asarray(times.values)[np.minimum(pos, len(times) - 1)], end)
        window = has & (first_t < end + np.timedelta64(delay.value, "ns"))
        if window.any():
            fill = 2 if name.endswith("_qc") else np.nan
            out[name] = out[name].where(~xr.DataArray(window, dims="time"), fill)
    return out
