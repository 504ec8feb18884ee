"""The project's one input-staleness policy.

Which group a variable belongs to, and when its newest value is on time, late or stale at an
issue time.

The live refresh (:mod:`data_sources.live`), the STALE_INPUT alert rule
(:class:`forecasting.alerting.rules.AlertConfig`) and the dashboards' input table all read it.
It imports only pandas, so the alert rules and the dashboards do not pull in every source.
"""

from __future__ import annotations

import pandas as pd

SOLAR_WIND = ("bx_gsm", "by_gsm", "bz_gsm", "b_total", "v_sw", "n_p", "t_p", "p_dyn")
#: variables each group provides; the first listed defines the group's freshness
GROUPS: dict[str, tuple[str, ...]] = {
    "solar_wind": ("v_sw", "bz_gsm", *[v for v in SOLAR_WIND if v not in ("v_sw", "bz_gsm")]),
    "dst": ("dst",),
    "kp": ("kp", "ap"),
}
#: how old the newest value of a group normally is at an issue time: its averaging interval
#: plus the usual publication delay (hourly solar wind and Dst: 1 h; Kp's 3-h block: 3 h)
EXPECTED_AGE: dict[str, pd.Timedelta] = {
    "solar_wind": pd.Timedelta("1h"),
    "dst": pd.Timedelta("1h"),
    "kp": pd.Timedelta("3h"),
}
#: how old the newest value of a group may be before it counts as stale. The one staleness
#: policy of the project: the live refresh, the STALE_INPUT alert rule
#: (:class:`forecasting.alerting.rules.AlertConfig`) and the dashboards' input table use it.
STALE_AFTER: dict[str, pd.Timedelta] = {
    "solar_wind": pd.Timedelta("2h"),
    "dst": pd.Timedelta("3h"),
    "kp": pd.Timedelta("6h"),
}


def group_of(variable: str) -> str:
    """The input group (a key of :data:`GROUPS`) that provides ``variable``.

    Parameters
    ----------
    variable : str
        Variable name of :mod:`data_sources.vocabulary` (``"v_sw"``, ``"dst"``, ``"ap"``...)
        or a group name itself (``"solar_wind"``).

    Returns
    -------
    str
        ``"solar_wind"``, ``"dst"`` or ``"kp"``.

    Raises
    ------
    KeyError
        If no group provides ``variable``.
    """
    if variable in GROUPS:
        return variable
    for group, names in GROUPS.items():
        if variable in names:
            return group
    raise KeyError(f"no input group provides {variable!r}; known: {sorted(GROUPS)} {GROUPS}")


def age_status(group: str, age: pd.Timedelta) -> str:
    """Whether a group's newest value is on time, late or stale at an issue time.

    Parameters
    ----------
    group : str
        Input group, a key of :data:`GROUPS`.
    age : pd.Timedelta
        Issue time minus the end of the newest value's interval.

    Returns
    -------
    str
        ``"ok"`` (age <= :data:`EXPECTED_AGE`), ``"late"`` (<= :data:`STALE_AFTER`) or
        ``"stale"``.
    """
    if age <= EXPECTED_AGE[group]:
        return "ok"
    return "late" if age <= STALE_AFTER[group] else "stale"
