"""Plotly figure builders. Each takes plain xarray / pandas / dict inputs and returns a figure.

Time axes: every value is drawn at the MIDDLE of its averaging interval, so an hourly value
labelled h (interval start, OMNI's convention) sits at h + 30 min and a forecast for lead L
from init t (target hour labelled t + L - 1 h, see :mod:`data_sources.timeconv`) sits at
t + L - 30 min. The issue-time marker then separates what was known (left) from the forecast
(right), and the "latest sample" marker at the END of the newest known interval shows data
latency as a visible gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import xarray as xr
from plotly.subplots import make_subplots

from dashboards import colors
from data_sources import rtqc, timeconv
from data_sources.timeconv import TimeLike
from forecasting.schema import (
    DST_THRESHOLDS,
    G_SCALE,
    KP_THRESHOLDS,
    exceedance_probability,
    kp_label,
)
from forecasting.verification import scores

HOUR = pd.Timedelta("1h")
UNITS = {"dst": "nT", "kp": ""}
LABELS = {"dst": "Dst [nT]", "kp": "Kp"}
X_TITLE = "UTC (values at mid-interval)"
#: observations that came after the issue time (verification, not known to the forecast)
VERIFY_COLOR = "#8a8a8a"


# ----------------------------------------------------------------------------- helpers
def _series(observed: xr.Dataset | xr.DataArray | pd.Series | None, name: str) -> pd.Series:
    """``observed[name]`` as a float Series on a DatetimeIndex (empty if absent)."""
    if observed is None:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([]))
    if isinstance(observed, pd.Series):
        return observed.astype(float)
    if isinstance(observed, xr.Dataset):
        if name not in observed:
            return pd.Series(dtype=float, index=pd.DatetimeIndex([]))
        observed = observed[name]
    return observed.to_series().astype(float)


def latest_known(
    observed: xr.Dataset | xr.DataArray | pd.Series | None, name: str, at: pd.Timestamp
) -> pd.Timestamp | None:
    """Return the end of the newest non-missing interval of ``name`` known at ``at``.

    Uses :func:`data_sources.timeconv.interval_end`, so 3-hourly Kp labelled 18:00 is known
    at 21:00 and not before.

    Parameters
    ----------
    observed : xarray.Dataset or xarray.DataArray or pandas.Series or None
        Hourly observations labelled by interval start (naive UTC): a dataset holding ``name``
        on ``time``, or the series itself; None knows nothing.
    name : str
        Variable name (``dst``, ``kp``, ``bz_gsm``, ...); decides the interval length.
    at : pandas.Timestamp
        Time of knowledge, usually the issue time (naive UTC).

    Returns
    -------
    pandas.Timestamp or None
        End of that interval (naive UTC); None if no finite value is known at ``at``.
    """
    return timeconv.latest_known(_series(observed, name), name, at)[1]


def _mid(name: str, labels: pd.DatetimeIndex) -> pd.DatetimeIndex:
    step = timeconv.INTERVAL.get(name, HOUR)
    return pd.DatetimeIndex(labels) + step / 2


def _nearest_q(quantiles: np.ndarray, q: float, tol: float = 1e-6) -> float | None:
    i = int(np.argmin(np.abs(quantiles - q)))
    return float(quantiles[i]) if abs(quantiles[i] - q) <= tol else None


def _pick_init(fc: xr.Dataset, init_time: TimeLike | None) -> pd.Timestamp:
    if init_time is None:
        return pd.Timestamp(fc["init_time"].values[-1])
    t = pd.Timestamp(init_time)
    if t not in pd.DatetimeIndex(fc["init_time"].values):
        raise ValueError(
            f"init_time {t} is not in the forecast (it has {fc.sizes['init_time']} issue times "
            f"from {pd.Timestamp(fc['init_time'].values[0])}); pass one of them"
        )
    return t


def forecast_frame(fc: xr.Dataset, name: str, init_time: TimeLike | None = None) -> pd.DataFrame:
    """Tabulate one issue of ``fc[name]``: rows = lead, columns = quantile levels, plus ``x``.

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    name : str
        Target: ``dst`` [nT] or ``kp``.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.

    Returns
    -------
    pandas.DataFrame
        Index ``lead_time`` (timedelta); one float column per quantile level (values in the
        target's unit, nT for Dst); ``x`` the middle of each target hour,
        ``init_time + lead - 30 min`` (naive UTC).

    Raises
    ------
    ValueError
        When ``init_time`` is not one of the forecast's issue times.
    """
    t = _pick_init(fc, init_time)
    da = fc[name].sel(init_time=t).transpose("lead_time", "quantile")
    lead = pd.TimedeltaIndex(fc["lead_time"].values)
    df = pd.DataFrame(da.values, index=lead, columns=[float(q) for q in fc["quantile"].values])
    df["x"] = t + lead - HOUR / 2
    return df


def _vline(
    fig: go.Figure, x: pd.Timestamp, name: str, color: str, text: str, dash: str, side: str = "left"
) -> None:
    """Draw a vertical marker line with its label written on ``side`` of it, above the plot area."""
    fig.add_shape(
        type="line",
        x0=x,
        x1=x,
        y0=0,
        y1=1,
        xref="x",
        yref="paper",
        name=name,
        line={"color": color, "width": 2, "dash": dash},
    )
    if text:
        fig.add_annotation(
            x=x,
            y=1.0,
            xref="x",
            yref="paper",
            text=text,
            showarrow=False,
            yanchor="bottom",
            xanchor=side,
            font={"color": color, "size": 11},
            name=name,
        )


def _hline(
    fig: go.Figure, y: float, name: str, text: str, color: str, *, outside: bool = False
) -> None:
    """Draw a dotted threshold line.

    ``outside`` writes its label in the right margin, where bars cannot hide it.
    """
    fig.add_shape(
        type="line",
        x0=0,
        x1=1,
        y0=y,
        y1=y,
        xref="paper",
        yref="y",
        name=name,
        line={"color": color, "width": 1, "dash": "dot"},
        layer="below",
    )
    fig.add_annotation(
        x=1.0,
        y=y,
        xref="paper",
        yref="y",
        text=text,
        showarrow=False,
        xanchor="left" if outside else "right",
        yanchor="middle" if outside else "bottom",
        xshift=4 if outside else 0,
        font={"size": 10, "color": "#555"},
        name=name,
    )


def _base_layout(fig: go.Figure, title: str, ytitle: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 16}},
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 45},
        hovermode="x unified",
        template="plotly_white",
        legend={
            "orientation": "v",
            "y": 1,
            "x": 1.01,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 11},
        },
        xaxis_title=X_TITLE,
        yaxis_title=ytitle,
    )
    return fig


def band_traces(df: pd.DataFrame, name: str, *, legendgroup: str = "fc") -> list[go.Scatter]:
    """Build quantile bands (widest first) as closed polygons, then the median line.

    The bands are those of :data:`dashboards.colors.BANDS` (90 %, 80 %, 50 %) whose both
    quantile levels are columns of ``df``; the median line only when 0.5 is.

    Parameters
    ----------
    df : pandas.DataFrame
        :func:`forecast_frame` output: float quantile-level columns and ``x``.
    name : str
        Target: ``dst`` [nT] or ``kp``.
    legendgroup : str, default "fc"
        Plotly legend group of the traces (toggled together).

    Returns
    -------
    list of plotly.graph_objects.Scatter
        Band polygons (``meta={"band": [lo, hi]}``) then the median trace.
    """
    qs = np.array([c for c in df.columns if isinstance(c, float)])
    traces = []
    unit = f" {UNITS[name]}" if UNITS.get(name) else ""
    for lo, hi, label, fill in colors.BANDS:
        qlo, qhi = _nearest_q(qs, lo), _nearest_q(qs, hi)
        if qlo is None or qhi is None:
            continue
        x = list(df["x"]) + list(df["x"][::-1])
        y = np.concatenate([df[qlo].to_numpy(), df[qhi].to_numpy()[::-1]])
        traces.append(
            go.Scatter(
                x=x,
                y=y,
                fill="toself",
                fillcolor=fill,
                line={"width": 0},
                mode="lines",
                name=f"forecast {label} ({qlo:g}-{qhi:g})",
                legendgroup=legendgroup,
                hoverinfo="skip",
                meta={"band": [qlo, qhi]},
            )
        )
    qm = _nearest_q(qs, 0.5)
    if qm is not None:
        traces.append(
            go.Scatter(
                x=df["x"],
                y=df[qm],
                mode="lines+markers",
                name="forecast median",
                line={"color": colors.MEDIAN_COLOR, "width": 2.5},
                marker={"size": 4},
                legendgroup=legendgroup,
                hovertemplate=f"median %{{y:.1f}}{unit}<extra></extra>",
            )
        )
    return traces


# ----------------------------------------------------------------------------- Now page
def fan_chart(
    fc: xr.Dataset,
    name: str,
    *,
    observed: xr.Dataset | xr.DataArray | pd.Series | None = None,
    init_time: TimeLike | None = None,
    history: pd.Timedelta | str = "3D",
    title: str | None = None,
) -> go.Figure:
    """Fan chart of one target: 90/80/50 % bands, median, observed values and markers.

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`: dims ``init_time``, ``lead_time``,
        ``quantile``); one issue time is drawn.
    name : str
        ``dst`` [nT] or ``kp``.
    observed : xarray.Dataset or xarray.DataArray or pandas.Series, optional
        Hourly observations (Dataset with ``name`` on ``time``, labels = interval start,
        naive UTC); drawn from ``init_time - history`` to the end of the forecast.
    init_time : TimeLike, optional
        Issue time to draw (naive UTC; default: the newest in ``fc``).
    history : pandas.Timedelta or str, default "3D"
        How much observed past to show before the issue time.
    title : str, optional
        Figure title; default names the target, issue time (UTC) and model.

    Returns
    -------
    plotly.graph_objects.Figure
        Bands, median, observations known at the issue time (Kp: G-coloured 3-hour bars, the
        forecast median per block hatched) and those after it (verification, outlined or
        dotted), issue-time and latest-sample markers, G-scale or Dst-class lines.

    Raises
    ------
    ValueError
        When ``fc`` has no ``name`` or ``init_time`` is not one of its issue times.
    """
    if name not in fc:
        raise ValueError(f"forecast has no {name!r}; it holds {list(fc.data_vars)}")
    t = _pick_init(fc, init_time)
    df = forecast_frame(fc, name, t)
    fig = go.Figure()
    for tr in band_traces(df, name):
        fig.add_trace(tr)
    start = t - pd.Timedelta(history)
    end = t + pd.TimedeltaIndex(fc["lead_time"].values).max()
    obs = _series(observed, name)
    obs = obs[(obs.index >= start) & (obs.index < end)]
    # what was known at the issue time vs what came after (shown as verification)
    known = np.asarray(timeconv.interval_end(name, obs.index) <= t)
    if name == "kp":
        _kp_bars(fig, obs[known], df, after=obs[~known])
    else:
        if not obs[known].empty:
            fig.add_trace(
                go.Scatter(
                    x=_mid(name, obs[known].index),
                    y=obs[known].to_numpy(),
                    mode="lines",
                    name=f"observed {name}",
                    line={"color": colors.OBSERVED_COLOR, "width": 1.8},
                    hovertemplate="observed %{y:.0f} nT<extra></extra>",
                )
            )
        if not obs[~known].dropna().empty:
            fig.add_trace(
                go.Scatter(
                    x=_mid(name, obs[~known].index),
                    y=obs[~known].to_numpy(),
                    mode="lines+markers",
                    name=f"observed {name} after issue (verification)",
                    line={"color": VERIFY_COLOR, "width": 1.5, "dash": "dot"},
                    marker={"size": 4, "symbol": "circle-open", "color": VERIFY_COLOR},
                    hovertemplate="observed later %{y:.0f} nT<extra></extra>",
                )
            )
    latest = latest_known(observed, name, t)
    lag = (t - latest) / HOUR if latest is not None else None
    _vline(
        fig,
        t,
        "issue time",
        colors.ISSUE_COLOR,
        f" issued {t:%m-%d %H:%M}" + (f" · newest {name} up to date" if lag == 0 else ""),
        "solid",
    )
    if latest is not None:
        _vline(
            fig,
            latest,
            "latest sample",
            colors.LATEST_COLOR,
            f"newest {name} sample ends {latest:%H:%M} ({lag:.0f} h before issue) " if lag else "",
            "dash",
            side="right",
        )
    if name == "kp":
        for g, (label, lowest, _) in colors.G_LEVELS.items():
            _hline(fig, lowest, f"G{g}", label, "#999", outside=True)
        _g_key(fig)
        fig.update_yaxes(range=[0, 9.3], dtick=1)
    else:
        lows = [np.nanmin(df.drop(columns="x").to_numpy())]
        if not obs.empty:
            lows.append(np.nanmin(obs.to_numpy()))
        low = float(np.nanmin(lows))
        for thr in DST_THRESHOLDS:
            if thr >= -100 or low <= thr + 100:
                _hline(fig, thr, f"dst {thr:g}", colors.DST_LEVELS[thr], "#999")
    title = title or (
        f"{'Dst' if name == 'dst' else 'Kp'} forecast issued {t:%Y-%m-%d %H:%M} UTC "
        f"({fc.attrs.get('model', '?')} {fc.attrs.get('model_version', '')})"
    )
    _base_layout(fig, title, LABELS[name], height=470)
    # legend under the plot, threshold labels in the right margin: neither hides data
    fig.update_layout(
        legend={
            "orientation": "h",
            "x": 0,
            "y": -0.27,
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": 11},
        },
        margin={"l": 60, "r": 95, "t": 70, "b": 40},
    )
    fig.update_xaxes(range=[start, end + HOUR])
    return fig


def _g_key(fig: go.Figure) -> None:
    """Legend entries that explain the bar colours: below G1 and G1..G5 (NOAA SWPC colours)."""
    key = [("below G1 (Kp < 5)", colors.QUIET)] + [
        (f"{label} (Kp ≥ {kp_label(lowest)})", c) for label, lowest, c in colors.G_LEVELS.values()
    ]
    for i, (label, c) in enumerate(key):
        fig.add_trace(
            go.Bar(
                x=[None],
                y=[None],
                marker={"color": c, "line": {"width": 0.5, "color": "#444"}},
                name=label,
                legendgroup="g-key",
                legendgrouptitle={"text": "colour key:"} if i == 0 else None,
                hoverinfo="skip",
                meta={"g_key": True},
            )
        )


def _kp_bars(
    fig: go.Figure, obs: pd.Series, df: pd.DataFrame, *, after: pd.Series | None = None
) -> None:
    """Observed 3-hourly Kp and the forecast median per 3-h block, as G-coloured bars.

    ``obs`` are the blocks known at the issue time (filled bars); ``after`` the blocks that
    ended later, drawn as outlined bars labelled as verification.
    """
    width_ms = 3 * 3600 * 1000
    later = after[after.index.hour % 3 == 0].dropna() if after is not None else pd.Series()
    if not later.empty:
        fig.add_trace(
            go.Bar(
                x=_mid("kp", later.index),
                y=later.to_numpy(),
                width=width_ms * 0.92,
                marker={
                    "color": "rgba(255,255,255,0)",
                    "line": {"width": 2.5, "color": [colors.g_color(v) for v in later]},
                },
                name="observed Kp after issue (verification, outlined)",
                hovertemplate="observed later Kp %{y:.2f}<extra></extra>",
            )
        )
    kp3 = obs[obs.index.hour % 3 == 0].dropna()
    if not kp3.empty:
        fig.add_trace(
            go.Bar(
                x=_mid("kp", kp3.index),
                y=kp3.to_numpy(),
                width=width_ms * 0.92,
                marker={
                    "color": [colors.g_color(v) for v in kp3],
                    "line": {"width": 0.5, "color": "#444"},
                },
                name="observed Kp (bar colour = G level)",
                hovertemplate="observed Kp %{y:.2f}<extra></extra>",
            )
        )
    qm = _nearest_q(np.array([c for c in df.columns if isinstance(c, float)]), 0.5)
    if qm is None:
        return
    target = df["x"] - HOUR / 2
    blocks = df.groupby(pd.DatetimeIndex(target).floor("3h"))[qm].mean()
    fig.add_trace(
        go.Bar(
            x=_mid("kp", blocks.index),
            y=blocks.to_numpy(),
            width=width_ms * 0.92,
            opacity=0.55,
            marker={
                "color": [colors.g_color(v) for v in blocks],
                "pattern": {"shape": "/"},
                "line": {"width": 0.5, "color": "#444"},
            },
            name="forecast median Kp per 3 h (hatched)",
            hovertemplate="forecast median Kp %{y:.2f}<extra></extra>",
        )
    )
    # bars first so bands and median are drawn above them
    fig.data = tuple(
        [d for d in fig.data if d.type == "bar"] + [d for d in fig.data if d.type != "bar"]
    )
    fig.update_layout(barmode="overlay")


def table_events(fc: xr.Dataset) -> list[tuple[str, float, str]]:
    """List the events of the probability tables, for the targets in ``fc``.

    G1..G5 from Kp (SWPC's thresholds in thirds, :data:`forecasting.schema.KP_THRESHOLDS`),
    then the Dst classes (Gonzalez et al. 1994: -50, -100, -250 nT).

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset; only which of ``kp`` and ``dst`` it holds matters.

    Returns
    -------
    list of (str, float, str)
        ``(target, threshold, row label)``, e.g. ``("kp", 4.667, "G1 (Kp ≥ 5-)")`` or
        ``("dst", -100.0, "Dst ≤ -100 nT")``; thresholds in Kp units or nT.
    """
    events = []
    if "kp" in fc:
        events += [
            ("kp", k, f"G{g} (Kp ≥ {kp_label(k)})") for g, k in enumerate(KP_THRESHOLDS, start=1)
        ]
    if "dst" in fc:
        events += [("dst", d, f"Dst ≤ {d:g} nT") for d in DST_THRESHOLDS]
    return events


def probability_table(
    fc: xr.Dataset, init_time: TimeLike | None = None, *, windows_h: Sequence[int] = (3, 12)
) -> pd.DataFrame:
    """Highest hourly event probability in the first 3 h, 12 h and the whole horizon.

    Rows are the NOAA G levels (``P(Kp >= k)``, k = 5..9) and the Dst classes
    (``P(Dst <= -50/-100/-250 nT)``, Gonzalez et al. 1994); values in [0, 1] straight from
    :func:`forecasting.schema.exceedance_probability` (the maximum over the window's leads).

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.
    windows_h : sequence of int, default (3, 12)
        Window lengths [h] from the issue time; those shorter than the horizon are kept and
        the whole horizon is always the last column.

    Returns
    -------
    pandas.DataFrame
        Rows: the :func:`table_events` labels; columns ``next N h``; probabilities in [0, 1].
    """
    t = _pick_init(fc, init_time)
    lead_h = pd.TimedeltaIndex(fc["lead_time"].values) / HOUR
    horizon = int(lead_h.max())
    wins = [w for w in windows_h if w < horizon] + [horizon]
    rows = {}
    for name, thr, label in table_events(fc):
        p = exceedance_probability(fc, name, thr).sel(init_time=t).to_numpy()
        rows[label] = [float(np.nanmax(p[lead_h <= w])) for w in wins]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"next {w} h" for w in wins])


def day_columns(
    fc: xr.Dataset, init_time: TimeLike | None = None
) -> list[tuple[str, pd.Timestamp, np.ndarray]]:
    """UTC days the lead grid reaches: ``(label, day start, mask over leads)``.

    A lead L verifies the hour labelled ``t + L - 1 h``; the first day is labelled with the
    hours it covers when the issue time is not midnight (``May 10 (20-24 UT)``).

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.

    Returns
    -------
    list of (str, pandas.Timestamp, numpy.ndarray)
        Per UTC day in time order: its label, its start (naive UTC midnight) and a boolean
        mask over ``lead_time`` of the leads whose target hour falls on that day.
    """
    t = _pick_init(fc, init_time)
    hours = t + pd.TimedeltaIndex(fc["lead_time"].values) - HOUR
    days = hours.floor("1D")
    out = []
    for day in days.unique():
        mask = np.asarray(days == day)
        first, last = hours[mask].min(), hours[mask].max()
        span = "" if (first.hour, last.hour) == (0, 23) else f" ({first:%H}-{last.hour + 1:02d} UT)"
        out.append((f"{day:%b %d}{span}", day, mask))
    return out


def daily_probability_table(fc: xr.Dataset, init_time: TimeLike | None = None) -> pd.DataFrame:
    """Highest hourly event probability on each UTC day of the lead grid (SWPC's windows).

    Rows as :func:`probability_table` (G1..G5 from Kp, Dst classes); columns the UTC days of
    :func:`day_columns`; values in [0, 1].

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.

    Returns
    -------
    pandas.DataFrame
        Rows: the :func:`table_events` labels; columns: the day labels (``May 10 (20-24 UT)``,
        ``May 11``, ...); the largest hourly probability of the day, in [0, 1].
    """
    t = _pick_init(fc, init_time)
    cols = day_columns(fc, t)
    rows = {}
    for name, thr, label in table_events(fc):
        p = exceedance_probability(fc, name, thr).sel(init_time=t).to_numpy()
        rows[label] = [float(np.nanmax(p[mask])) for _, _, mask in cols]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[c[0] for c in cols])


def decision_probabilities_note(fc: xr.Dataset) -> str:
    """Say at which probability each level is alerted, as the alert rules apply it.

    The forecast flow writes the primary model's validation-year decision probabilities on
    the primary forecast (:data:`forecasting.alerting.rules.DECISION_ATTR`); levels without one
    use the fixed :class:`forecasting.alerting.rules.AlertConfig` probabilities.

    Parameters
    ----------
    fc
        A forecast dataset.

    Returns
    -------
    str
        ``"WARNING/WATCH at P >= ...: G1 30 %, Dst <= -50 nT 20 %; other levels 50 %"``, or
        the fixed rule when the forecast carries no decision probabilities.
    """
    from forecasting.alerting.rules import (
        DECISION_ATTR,
        LEVELS,
        AlertConfig,
        config_for_forecast,
        level_event,
    )

    base = AlertConfig()
    try:
        cfg = config_for_forecast(base, fc)
    except ValueError:
        cfg = base
    table = dict(cfg.event_probabilities)
    if not table:
        return f"WARNING/WATCH at P >= {base.warning_probability:.0%} (fixed rule)"
    parts = []
    for family, levels in LEVELS.items():
        for lvl in levels:
            if level_event(lvl) in table:
                label = lvl.name if family == "kp" else f"Dst <= {lvl.threshold:g} nT"
                parts.append(f"{label} {cfg.issue_probability(lvl, 'WARNING'):.0%}")
    rest = f"; other levels {base.warning_probability:.0%}"
    return (
        f"WARNING/WATCH at P >= (model's validation-year decision probability, {DECISION_ATTR}; "
        "compared with the quantiles' own probability, before the per-lead recalibration "
        "plotted here): " + ", ".join(parts) + rest
    )


def probability_figure(fc: xr.Dataset, init_time: TimeLike | None = None) -> go.Figure:
    """Plot event probabilities by lead time (one line per G level and Dst class).

    Probabilities from :func:`forecasting.schema.exceedance_probability`: P(Kp >= G1..G5
    threshold) in the SWPC colours, P(Dst <= -50 / -100 / -250 nT) as dashed lines.

    Parameters
    ----------
    fc : xarray.Dataset
        Forecast dataset (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.

    Returns
    -------
    plotly.graph_objects.Figure
        Probability [%] against the middle of each target hour (UTC); the note below the
        plot says at which probability each level is alerted
        (:func:`decision_probabilities_note`).
    """
    t = _pick_init(fc, init_time)
    x = t + pd.TimedeltaIndex(fc["lead_time"].values) - HOUR / 2
    fig = go.Figure()
    if "kp" in fc:
        symbols = ("circle", "square", "diamond", "triangle-up", "x")
        for g, k in enumerate(KP_THRESHOLDS, start=1):
            p = exceedance_probability(fc, "kp", k).sel(init_time=t).to_numpy()
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=100 * p,
                    mode="lines+markers",
                    name=f"P(G{g}: Kp ≥ {kp_label(k)})",
                    line={"color": colors.G_LEVELS[g][2], "width": 2.5},
                    marker={
                        "symbol": symbols[g - 1],
                        "size": 7,
                        "line": {"width": 1, "color": "#333"},
                    },
                    hovertemplate=f"G{g} %{{y:.0f}}%<extra></extra>",
                )
            )
    if "dst" in fc:
        for d, dash in zip(DST_THRESHOLDS, ("dot", "dash", "longdash"), strict=True):
            p = exceedance_probability(fc, "dst", d).sel(init_time=t).to_numpy()
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=100 * p,
                    mode="lines",
                    name=f"P(Dst ≤ {d:g} nT)",
                    line={"color": "#333", "dash": dash, "width": 2},
                    hovertemplate=f"Dst≤{d:g} %{{y:.0f}}%<extra></extra>",
                )
            )
    _base_layout(
        fig,
        f"Event probability by hour ahead (issued {t:%Y-%m-%d %H:%M} UTC)",
        "probability [%]",
        height=330,
    )
    fig.update_yaxes(range=[0, 100])
    fig.add_annotation(
        text=decision_probabilities_note(fc),
        xref="paper",
        yref="paper",
        x=0,
        y=-0.28,
        showarrow=False,
        align="left",
        font={"size": 11},
    )
    return fig


# ----------------------------------------------------------------------------- Drivers page
def minmax_downsample(
    times: pd.DatetimeIndex | np.ndarray, values: np.ndarray, max_points: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Keep the minimum and the maximum of each of ``max_points // 2`` equal-count buckets.

    The extremes of a series (a storm's Dst minimum, a southward Bz spike) always survive,
    in time order; NaN gaps survive as one NaN per bucket that holds only NaN. Series with
    at most ``max_points`` samples are returned unchanged.

    Parameters
    ----------
    times : pandas.DatetimeIndex or numpy.ndarray
        Sample times (datetime64), in order.
    values : numpy.ndarray
        Samples, same length as ``times`` (any unit; NaN = missing).
    max_points : int
        Most points to keep; at least 2.

    Returns
    -------
    (pandas.DatetimeIndex, numpy.ndarray)
        The kept times and values, at most ``max_points`` of them.

    Raises
    ------
    ValueError
        When ``max_points`` is below 2.
    """
    times = pd.DatetimeIndex(times)
    values = np.asarray(values, dtype=float)
    n = len(values)
    if max_points < 2:
        raise ValueError(f"max_points={max_points}: need at least 2")
    if n <= max_points:
        return times, values
    edges = np.linspace(0, n, max_points // 2 + 1).astype(int)
    keep: list[int] = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        chunk = values[a:b]
        if np.isnan(chunk).all():
            keep.append(a)
            continue
        lo, hi = a + int(np.nanargmin(chunk)), a + int(np.nanargmax(chunk))
        keep.extend(sorted({lo, hi}))
    idx = np.array(keep)
    return times[idx], values[idx]


def newell_coupling(v: np.ndarray, by: np.ndarray, bz: np.ndarray) -> np.ndarray:
    """Newell et al. (2007) coupling function dPhi_MP/dt = v^(4/3) B_T^(2/3) sin^(8/3)(theta/2).

    ``v`` [km s-1], ``by``, ``bz`` (GSM) [nT]; B_T = sqrt(By^2 + Bz^2), theta = atan2(By, Bz)
    the IMF clock angle. Returned in units of 10^3 (km/s)^(4/3) nT^(2/3) (typical quiet
    values 1-5, strong storms 20+). Newell, P. T., et al. (2007), JGR 112, A01206,
    doi:10.1029/2006JA012015.

    Parameters
    ----------
    v : numpy.ndarray
        Solar-wind speed [km/s] (its magnitude is used).
    by, bz : numpy.ndarray
        IMF By and Bz in GSM [nT], same shape as ``v``.

    Returns
    -------
    numpy.ndarray
        dPhi_MP/dt [10^3 (km/s)^(4/3) nT^(2/3)], same shape; NaN where an input is NaN.
    """
    v = np.asarray(v, dtype=float)
    by = np.asarray(by, dtype=float)
    bz = np.asarray(bz, dtype=float)
    bt = np.hypot(by, bz)
    theta = np.arctan2(by, bz)
    return np.abs(v) ** (4 / 3) * bt ** (2 / 3) * np.abs(np.sin(theta / 2)) ** (8 / 3) / 1e3


DRIVERS: tuple[tuple[str, str, str], ...] = (
    ("bz_gsm", "Bz GSM [nT]", "#d62728"),
    ("by_gsm", "By GSM [nT]", "#1f77b4"),
    ("b_total", "|B| [nT]", "#333333"),
    ("v_sw", "speed [km/s]", "#ff7f0e"),
    ("n_p", "density [cm⁻³]", "#2ca02c"),
    ("p_dyn", "pressure [nPa]", "#9467bd"),
    ("newell", "Newell dΦ/dt [10³]", "#8c564b"),
)


def _qc_marks(
    fig: go.Figure, sel: xr.Dataset, name: str, label: str, step: pd.Timedelta, *, row: int
) -> None:
    """Red crosses on hours whose real-time samples the QC flagged (``<name>_rtqc``)."""
    flag = f"{name}_rtqc"
    if flag not in sel:
        return
    bits = sel[flag].fillna(0).to_numpy().astype(int)
    hit = np.flatnonzero(bits)
    if not len(hit):
        return
    t = pd.DatetimeIndex(sel["time"].values)[hit]
    y = np.nan_to_num(sel[name].to_numpy()[hit].astype(float), nan=0.0)
    tests = [rtqc.flag_names(b) for b in bits[hit]]
    fig.add_trace(
        go.Scatter(
            x=t + step / 2,
            y=y,
            mode="markers",
            name=f"{label} QC flag",
            marker={"symbol": "x", "color": "#d62728", "size": 8},
            text=tests,
            showlegend=False,
            hovertemplate=f"{label}: QC flagged (%{{text}}), flagged minutes removed<extra></extra>",
        ),
        row=row,
        col=1,
    )


def drivers_figure(
    observed: xr.Dataset,
    *,
    end: TimeLike | None = None,
    days: float = 7.0,
    max_points: int = 2000,
) -> go.Figure:
    """Solar-wind drivers for the ``days`` before ``end``: one panel per quantity.

    Panels: Bz, By, |B| [nT], speed [km s-1], density [cm-3], dynamic pressure [nPa] and the
    Newell et al. (2007) coupling function; each series min/max-downsampled to at most
    ``max_points`` points (:func:`minmax_downsample`). Missing variables are listed in the
    title instead of drawn. Hours the real-time QC flagged (``<name>_rtqc``) get red crosses.

    Parameters
    ----------
    observed : xarray.Dataset
        Observations on ``time`` (hourly or finer, labels = interval start, naive UTC):
        ``bz_gsm``, ``by_gsm``, ``b_total`` [nT], ``v_sw`` [km/s], ``n_p`` [cm^-3], ``p_dyn``
        [nPa], each optional, plus optional ``<name>_rtqc`` flag bits.
    end : TimeLike, optional
        End of the window (UTC, exclusive); default the end of the newest sample's hour.
    days : float, default 7.0
        Window length [days].
    max_points : int, default 2000
        Most points drawn per panel.

    Returns
    -------
    plotly.graph_objects.Figure
        One panel per available quantity, shared time axis (values at mid-interval).

    Raises
    ------
    ValueError
        When ``observed`` has no ``time`` dimension or none of the solar-wind variables.
    """
    if "time" not in observed.dims:
        raise ValueError("observed must have a 'time' dimension (hourly or finer)")
    times = pd.DatetimeIndex(observed["time"].values)
    end = pd.Timestamp(end) if end is not None else times.max() + HOUR
    start = end - pd.Timedelta(days=days)
    sel = observed.sel(time=slice(start, end - pd.Timedelta("1ns")))
    t = pd.DatetimeIndex(sel["time"].values)
    series: dict[str, np.ndarray] = {n: sel[n].to_numpy() for n, _, _ in DRIVERS if n in sel}
    if {"v_sw", "by_gsm", "bz_gsm"} <= series.keys():
        series["newell"] = newell_coupling(series["v_sw"], series["by_gsm"], series["bz_gsm"])
    rows = [d for d in DRIVERS if d[0] in series]
    missing = [d[1] for d in DRIVERS if d[0] not in series]
    if not rows:
        raise ValueError(
            f"no solar-wind variables in observed (have {list(observed.data_vars)}); "
            "need some of bz_gsm, by_gsm, b_total, v_sw, n_p, p_dyn"
        )
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.02)
    step = t.to_series().diff().median() if len(t) > 1 else HOUR
    for i, (name, label, color) in enumerate(rows, start=1):
        x, y = minmax_downsample(t, series[name], max_points)
        fig.add_trace(
            go.Scatter(
                x=x + step / 2,
                y=y,
                mode="lines",
                name=label,
                line={"color": color, "width": 1.3},
                showlegend=False,
                hovertemplate=f"{label} %{{y:.1f}}<extra></extra>",
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text=label, title_font={"size": 11}, row=i, col=1)
        _qc_marks(fig, sel, name, label, step, row=i)
        if name == "bz_gsm":
            fig.add_hline(y=0, line={"color": "#aaa", "width": 1}, row=i, col=1)
    title = f"Solar wind at Earth, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    if missing:
        title += f"<br><sup>not available: {', '.join(missing)}</sup>"
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=150 * len(rows) + 90,
        template="plotly_white",
        margin={"l": 80, "r": 20, "t": 70, "b": 40},
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=X_TITLE, row=len(rows), col=1)
    return fig


# ----------------------------------------------------------------------------- Archive page
def archive_payload(
    fc: xr.Dataset,
    observed: xr.Dataset | xr.DataArray | pd.Series | None = None,
    *,
    names: Sequence[str] = ("dst", "kp"),
    max_issues: int = 2000,
    history: pd.Timedelta | str = "1D",
) -> dict:
    """Compact JSON-able archive for the client-side issue-time picker.

    ``{"issues": [ISO...], "lead_h": [...], "quantiles": [...], "targets": {name: {"fc":
    [[[q values] per lead] per issue], "obs_t0": ISO, "obs": [...]}}}``; values rounded to
    0.1 nT (Dst) and 0.01 (Kp). The newest ``max_issues`` issue times are kept.

    Parameters
    ----------
    fc : xarray.Dataset
        Archived forecasts, many ``init_time`` (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    observed : xarray.Dataset or xarray.DataArray or pandas.Series, optional
        Hourly observations labelled by interval start (naive UTC), a dataset holding the
        targets on ``time``; reindexed to the hourly grid from the first kept issue minus
        ``history`` to the last plus the longest lead (missing hours ``null``).
    names : sequence of str, default ("dst", "kp")
        Targets to include (those absent from ``fc`` are skipped).
    max_issues : int, default 2000
        Keep at most this many newest issue times.
    history : pandas.Timedelta or str, default "1D"
        Observed past kept before the first issue time.

    Returns
    -------
    dict
        The payload above plus ``model`` and ``model_version`` (``fc``'s attrs); issue and
        observation times as ``YYYY-MM-DDTHH:MM`` (UTC), ``lead_h`` in hours, NaN as None.
    """
    fc = fc.isel(init_time=slice(-max_issues, None))
    inits = pd.DatetimeIndex(fc["init_time"].values)
    lead_h = (pd.TimedeltaIndex(fc["lead_time"].values) / HOUR).astype(int).tolist()
    out = {
        "issues": [f"{t:%Y-%m-%dT%H:%M}" for t in inits],
        "lead_h": lead_h,
        "quantiles": [float(q) for q in fc["quantile"].values],
        "model": fc.attrs.get("model", "?"),
        "model_version": fc.attrs.get("model_version", ""),
        "targets": {},
    }
    start = inits.min() - pd.Timedelta(history)
    stop = inits.max() + pd.Timedelta(hours=max(lead_h))
    for name in names:
        if name not in fc:
            continue
        digits = 1 if name == "dst" else 2
        arr = np.round(fc[name].transpose("init_time", "lead_time", "quantile").to_numpy(), digits)
        obs = _series(observed, name)
        obs = obs[(obs.index >= start) & (obs.index < stop)]
        grid = pd.date_range(start, stop, freq="1h", inclusive="left")
        obs = obs.reindex(grid)
        out["targets"][name] = {
            "fc": np.where(np.isnan(arr), None, arr).tolist(),  # type: ignore[call-overload]
            "obs_t0": f"{grid[0]:%Y-%m-%dT%H:%M}",
            "obs": [None if np.isnan(v) else round(float(v), digits) for v in obs.to_numpy()],
        }
    return out


def archive_figure(
    fc: xr.Dataset,
    name: str,
    observed: xr.Dataset | xr.DataArray | pd.Series | None = None,
    *,
    init_time: TimeLike | None = None,
    history: str = "1D",
    overlay: Sequence[str] = (),
) -> go.Figure:
    """Plot what was forecast at one past issue time against what happened (fan chart).

    The trace order (bands, median, observed, then one median line per ``overlay`` model,
    empty until the page's script fills it) is fixed so the script can swap the data for
    another issue time or model with ``Plotly.restyle``.

    Parameters
    ----------
    fc : xarray.Dataset
        Archived forecasts (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    name : str
        Target: ``dst`` [nT] or ``kp``.
    observed : xarray.Dataset or xarray.DataArray or pandas.Series or None
        Hourly observations labelled by interval start (naive UTC): a dataset holding ``name``
        on ``time``, or the series itself; None draws none.
    init_time : TimeLike, optional
        Issue time to use (naive UTC; must be one of ``fc``'s); default the newest.
    history : str, default "1D"
        Observed past shown before the issue time (pandas timedelta).
    overlay : sequence of str, optional
        Model names that get an (empty) dashed median line for the page's script to fill.

    Returns
    -------
    plotly.graph_objects.Figure
        Fan chart with issue-time marker and G-scale (Kp) or Dst-class lines.
    """
    t = _pick_init(fc, init_time)
    df = forecast_frame(fc, name, t)
    fig = go.Figure(band_traces(df, name))
    obs = _series(observed, name)
    end = df["x"].max() + HOUR / 2
    obs = obs[(obs.index >= t - pd.Timedelta(history)) & (obs.index < end)]
    fig.add_trace(
        go.Scatter(
            x=obs.index + HOUR / 2,
            y=obs.to_numpy(),
            mode="lines",
            name=f"observed {name}",
            line={"color": colors.OBSERVED_COLOR, "width": 1.8},
        )
    )
    for i, model in enumerate(overlay):
        fig.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="lines",
                name=f"median: {model}",
                line={"color": colors.model_color(model, i), "width": 1.6, "dash": "dash"},
                meta={"overlay": model},
            )
        )
    _vline(fig, t, "issue time", colors.ISSUE_COLOR, " issue time", "solid")
    if name == "kp":
        for g, (label, lowest, _) in colors.G_LEVELS.items():
            _hline(fig, lowest, f"G{g}", label, "#999")
        fig.update_yaxes(range=[0, 9.3], dtick=1)
    else:
        for thr in DST_THRESHOLDS[:2]:
            _hline(fig, thr, f"dst {thr:g}", colors.DST_LEVELS[thr], "#999")
    _base_layout(
        fig,
        f"{'Dst' if name == 'dst' else 'Kp'}: forecast issued {t:%Y-%m-%d %H:%M} UTC vs observed",
        LABELS[name],
        height=360,
    )
    return fig


# ----------------------------------------------------------------------------- Verification
METRICS: dict[str, tuple[str, str]] = {
    "rmse": ("RMSE (lower is better)", "nT / Kp units"),
    "mae": ("MAE (lower is better)", "nT / Kp units"),
    "skill_vs_persistence": (
        "Skill vs persistence 1 − MSE/MSE_pers (higher is better; 0 = persistence)",
        "skill",
    ),
    "crps": ("CRPS of the quantile forecast (lower is better)", "nT / Kp units"),
    "coverage_80": ("Coverage of the 80% interval (0.8 is ideal)", "fraction"),
    "r": ("Pearson correlation r", "r"),
    "hss": ("Heidke skill score of storm events", "HSS"),
}


def skill_figure(skill: xr.Dataset, metric: str) -> go.Figure:
    """Plot one skill metric by lead time: a column per target (Dst, Kp), a line per model.

    Parameters
    ----------
    skill : xarray.Dataset
        Skill report (``reports/skill.nc``): variables per metric on dims ``model``,
        ``lead_time`` (timedelta or hours) and optionally ``target``.
    metric : str
        Variable to plot, e.g. a :data:`METRICS` key (``rmse`` [nT / Kp units], ``crps``,
        ``skill_vs_persistence``, ``coverage_80``, ...); its title and axis come from
        :data:`METRICS`.

    Returns
    -------
    plotly.graph_objects.Figure
        Metric against lead time [h]; a reference line at 0.8 (``coverage_80``) or 0
        (``skill_vs_persistence``).

    Raises
    ------
    ValueError
        When ``skill`` has no ``metric``.
    """
    if metric not in skill:
        raise ValueError(f"skill has no {metric!r}; it holds {list(skill.data_vars)}")
    da = skill[metric]
    targets = [str(t) for t in skill["target"].values] if "target" in da.dims else ["all"]
    fig = make_subplots(
        rows=1,
        cols=len(targets),
        subplot_titles=[t.capitalize() if t != "kp" else "Kp" for t in targets],
    )
    lead = skill["lead_time"].values
    lead_h = (
        (pd.TimedeltaIndex(lead) / HOUR).to_numpy()
        if np.issubdtype(lead.dtype, np.timedelta64)
        else lead
    )
    models = [str(m) for m in skill["model"].values]
    for c, target in enumerate(targets, start=1):
        sub = da.sel(target=target) if "target" in da.dims else da
        for i, model in enumerate(models):
            y = sub.sel(model=model).transpose("lead_time").to_numpy().astype(float)
            if np.isnan(y).all():
                continue
            fig.add_trace(
                go.Scatter(
                    x=lead_h,
                    y=y,
                    mode="lines+markers",
                    name=model,
                    legendgroup=model,
                    showlegend=c == 1 or target == targets[0],
                    line={
                        "color": colors.model_color(model, i),
                        "width": 3 if model == "tft" else 1.8,
                    },
                    marker={"size": 5},
                    hovertemplate=f"{model} %{{y:.3g}}<extra>{target} lead %{{x}} h</extra>",
                ),
                row=1,
                col=c,
            )
        if metric == "coverage_80":
            fig.add_hline(y=0.8, line={"dash": "dot", "color": "#555"}, row=1, col=c)
        if metric == "skill_vs_persistence":
            fig.add_hline(y=0.0, line={"dash": "dot", "color": "#555"}, row=1, col=c)
    title, ytitle = METRICS.get(metric, (metric, metric))
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=340,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 70, "b": 45},
    )
    fig.update_xaxes(title_text="lead time [h]")
    fig.update_yaxes(title_text=ytitle, col=1)
    return fig


def reliability(fc: xr.Dataset, observed: xr.Dataset | xr.DataArray, name: str) -> pd.Series:
    """Observed frequency of ``obs <= forecast quantile`` per nominal quantile level.

    A calibrated forecast has frequency = level. Pairs with a missing observation are left
    out; the number of pairs used is in ``.attrs["n"]``.

    Parameters
    ----------
    fc : xarray.Dataset
        Archived forecasts (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    observed : xarray.Dataset or xarray.DataArray
        Hourly observations labelled by interval start (a dataset holding ``name`` on
        ``time``); matched to the target hours by :func:`data_sources.timeconv.observed_for`.
    name : str
        Target: ``dst`` [nT] or ``kp``.

    Returns
    -------
    pandas.Series
        Index: quantile levels; values: observed frequency in [0, 1] (NaN without pairs),
        over every verified (init_time, lead_time).
    """
    obs = timeconv.observed_for(fc, observed, name)
    da = fc[name].transpose("init_time", "lead_time", "quantile")
    ok = np.isfinite(obs.to_numpy())
    below = da.to_numpy() >= obs.to_numpy()[..., None]
    freq = below[ok].mean(axis=0) if ok.any() else np.full(fc.sizes["quantile"], np.nan)
    out = pd.Series(freq, index=[float(q) for q in fc["quantile"].values], name=name)
    out.attrs["n"] = int(ok.sum())
    return out


def reliability_figure(curves: Mapping[str, Mapping[str, pd.Series]]) -> go.Figure:
    """Plot a reliability diagram, one panel per target, a line per model.

    Parameters
    ----------
    curves : mapping of str to mapping of str to pandas.Series
        ``curves[model][target]``: :func:`reliability` output (its ``attrs["n"]`` is shown in
        the legend).

    Returns
    -------
    plotly.graph_objects.Figure
        Observed frequency against nominal quantile level, with the diagonal.
    """
    targets = sorted({t for per in curves.values() for t in per})
    fig = make_subplots(
        rows=1,
        cols=max(len(targets), 1),
        subplot_titles=[("Dst" if t == "dst" else "Kp") for t in targets],
    )
    for c, target in enumerate(targets, start=1):
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="perfect calibration",
                line={"dash": "dot", "color": "#777"},
                showlegend=c == 1,
                legendgroup="ideal",
            ),
            row=1,
            col=c,
        )
        for i, (model, per) in enumerate(curves.items()):
            if target not in per:
                continue
            s = per[target]
            fig.add_trace(
                go.Scatter(
                    x=list(s.index),
                    y=s.to_numpy(),
                    mode="lines+markers",
                    name=f"{model} (n={s.attrs.get('n', '?')})" if c == 1 else model,
                    legendgroup=model,
                    showlegend=c == 1,
                    line={"color": colors.model_color(model, i)},
                    hovertemplate="nominal %{x:.2f} observed %{y:.2f}<extra>" + model + "</extra>",
                ),
                row=1,
                col=c,
            )
    fig.update_layout(
        title={
            "text": "Reliability of the quantiles: how often the observation fell "
            "below each forecast quantile",
            "x": 0.01,
        },
        height=380,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 80, "b": 45},
    )
    fig.update_xaxes(title_text="nominal quantile level", range=[0, 1])
    fig.update_yaxes(title_text="observed frequency", range=[0, 1], col=1)
    return fig


def event_scores(
    fc: xr.Dataset, observed: xr.Dataset | xr.DataArray, *, lead_hours: Sequence[int] = (1, 6, 24)
) -> pd.DataFrame:
    """Contingency scores of storm events, the forecast median as the deterministic forecast.

    Events: Kp >= 5- (G1, as SWPC applies the scale) and Dst <= -50 / -100 nT; the scores (POD, FAR, HSS, TSS and the
    table) come from :func:`forecasting.verification.scores.event_scores`.

    Parameters
    ----------
    fc : xarray.Dataset
        Archived forecasts (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT] and/or ``kp`` quantiles.
    observed : xarray.Dataset or xarray.DataArray
        Hourly observations labelled by interval start (a dataset holding the targets on
        ``time``).
    lead_hours : sequence of int, default (1, 6, 24)
        Leads [h] to score; those not in ``fc`` are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per (event, lead): ``event``, ``lead [h]``, ``hits``, ``false alarms``,
        ``misses``, ``correct negatives``, ``POD``, ``FAR``, ``HSS``, ``TSS``; empty when
        nothing is scored.
    """
    g1 = G_SCALE["G1"]
    events = [("kp", g1, f"Kp ≥ {kp_label(g1)} (G1)")] if "kp" in fc else []
    if "dst" in fc:
        events += [("dst", -50.0, "Dst ≤ -50 nT"), ("dst", -100.0, "Dst ≤ -100 nT")]
    leads = pd.TimedeltaIndex(fc["lead_time"].values)
    picked = [pd.Timedelta(hours=h) for h in lead_hours if pd.Timedelta(hours=h) in leads]
    rows = []
    for name, thr, label in events:
        obs = timeconv.observed_for(fc, observed, name)
        med = fc[name].sel(quantile=0.5, method="nearest", drop=True)
        ev = scores.event_scores(med, obs, thr, below=(name == "dst"))
        for lt in picked:
            r = ev.sel(lead_time=lt)
            rows.append(
                {
                    "event": label,
                    "lead [h]": int(lt / pd.Timedelta("1h")),
                    "hits": int(r["hits"]),
                    "false alarms": int(r["false_alarms"]),
                    "misses": int(r["misses"]),
                    "correct negatives": int(r["correct_negatives"]),
                    "POD": float(r["pod"]),
                    "FAR": float(r["far"]),
                    "HSS": float(r["hss"]),
                    "TSS": float(r["tss"]),
                }
            )
    return pd.DataFrame(rows)


#: named storms for the gallery: name -> (start, end) of the window shown (UTC)
STORMS: dict[str, tuple[str, str]] = {
    "Gannon storm, May 2024 (Dst −406 nT)": ("2024-05-09", "2024-05-14"),
    "April 2023 (Dst −213 nT)": ("2023-04-22", "2023-04-26"),
    "September 2017 (Dst −142 nT)": ("2017-09-06", "2017-09-10"),
    "St Patrick's Day 2015 (Dst −223 nT)": ("2015-03-16", "2015-03-20"),
    "November 2004 (Dst −374 nT)": ("2004-11-06", "2004-11-12"),
    "Bastille Day 2000 (Dst −301 nT)": ("2000-07-14", "2000-07-18"),
    "April 2000 (Dst −288 nT)": ("2000-04-05", "2000-04-09"),
}


def storm_figure(
    archives: Mapping[str, xr.Dataset],
    observed: xr.Dataset | xr.DataArray | pd.Series | None,
    name: str,
    start: TimeLike,
    end: TimeLike,
    *,
    lead_hours: Sequence[int] = (1, 6, 24),
    title: str = "",
) -> go.Figure | None:
    """Forecast medians at fixed leads against the observed series over one storm.

    ``archives`` maps model -> forecast dataset (many init times). Each line is the forecast
    for lead L plotted at its target hour; returns None if no model has a forecast there.

    Parameters
    ----------
    archives : mapping of str to xarray.Dataset
        Model name -> archived forecasts (:mod:`forecasting.schema`).
    observed : xarray.Dataset or xarray.DataArray or pandas.Series or None
        Hourly observations labelled by interval start (naive UTC): a dataset holding ``name``
        on ``time``, or the series itself; None draws no observed line.
    name : str
        Target: ``dst`` [nT] or ``kp``.
    start, end : TimeLike
        UTC window of the storm, ``end`` exclusive (e.g. ``"2024-05-09"``, ``"2024-05-14"``).
    lead_hours : sequence of int, default (1, 6, 24)
        Leads [h] drawn, one line style each.
    title : str, optional
        Figure title; default the window's dates.

    Returns
    -------
    plotly.graph_objects.Figure or None
        Medians per model and lead against the observed series; None when no model has a
        forecast valid inside the window.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    fig = go.Figure()
    obs = _series(observed, name)
    obs = obs[(obs.index >= start) & (obs.index < end)]
    any_fc = False
    dashes = ("solid", "dash", "dot", "dashdot")
    for i, (model, fc) in enumerate(archives.items()):
        if name not in fc:
            continue
        inits = pd.DatetimeIndex(fc["init_time"].values)
        sub = fc.isel(
            init_time=np.flatnonzero((inits >= start - pd.Timedelta("3D")) & (inits < end))
        )
        if sub.sizes["init_time"] == 0:
            continue
        med = sub[name].sel(quantile=0.5, method="nearest")
        for j, h in enumerate(lead_hours):
            lt = pd.Timedelta(hours=h)
            if lt not in pd.TimedeltaIndex(sub["lead_time"].values):
                continue
            x = pd.DatetimeIndex(sub["init_time"].values) + lt - HOUR / 2
            inside = (x >= start) & (x < end)
            if not inside.any():
                continue
            any_fc = True
            fig.add_trace(
                go.Scatter(
                    x=x[inside],
                    y=med.sel(lead_time=lt).to_numpy()[inside],
                    mode="lines",
                    name=f"{model} +{h} h",
                    line={
                        "color": colors.model_color(model, i),
                        "dash": dashes[j % len(dashes)],
                        "width": 1.6,
                    },
                )
            )
    if not any_fc:
        return None
    fig.add_trace(
        go.Scatter(
            x=obs.index + HOUR / 2,
            y=obs.to_numpy(),
            mode="lines",
            name=f"observed {name}",
            line={"color": colors.OBSERVED_COLOR, "width": 2.5},
        )
    )
    _base_layout(fig, title or f"{start:%Y-%m-%d} – {end:%Y-%m-%d}", LABELS[name], height=330)
    return fig


# ----------------------------------------------------------------------------- Model page
def importance_figure(importance: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Horizontal bars of TFT variable importance, one panel per group (encoder, decoder, static).

    Values are shown as given (the TFT's variable-selection weights, Lim et al. 2021,
    doi:10.1016/j.ijforecast.2021.03.012), sorted, largest on top.

    Parameters
    ----------
    importance : mapping of str to mapping of str to float
        ``{group: {variable: weight}}``; empty groups are left out.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal bar panel per group.

    Raises
    ------
    ValueError
        When every group is empty.
    """
    groups = [(g, v) for g, v in importance.items() if v]
    if not groups:
        raise ValueError("variable importance is empty; expected {group: {variable: weight}}")
    fig = make_subplots(
        rows=1, cols=len(groups), subplot_titles=[g for g, _ in groups], horizontal_spacing=0.12
    )
    for c, (group, values) in enumerate(groups, start=1):
        items = sorted(values.items(), key=lambda kv: kv[1])
        fig.add_trace(
            go.Bar(
                x=[v for _, v in items],
                y=[k for k, _ in items],
                orientation="h",
                name=group,
                marker={"color": "#1f77b4"},
                showlegend=False,
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            ),
            row=1,
            col=c,
        )
    n = max(len(v) for _, v in groups)
    fig.update_layout(
        title={"text": "TFT variable importance (variable-selection weights)", "x": 0.01},
        height=max(300, 26 * n + 120),
        template="plotly_white",
        margin={"l": 110, "r": 20, "t": 80, "b": 40},
    )
    fig.update_xaxes(title_text="weight")
    return fig


def attention_figure(attention: Mapping) -> go.Figure:
    """Plot TFT attention over the past hours of the input window (Lim et al. 2021, sec. 7).

    Parameters
    ----------
    attention : mapping
        ``{"lag_hours": [...], "weights": [...]}``: hours relative to the issue time
        (:func:`dashboards.site.lag_hours`, -n .. -1) and the weights, either one list (mean
        over heads and leads) or ``{label: list}`` (e.g. per lead), each as long as
        ``lag_hours``.

    Returns
    -------
    plotly.graph_objects.Figure
        One line per weight series against hours relative to the issue time (0 marked).

    Raises
    ------
    ValueError
        When ``lag_hours`` or ``weights`` is missing or a series' length differs.
    """
    lags = np.asarray(attention.get("lag_hours", []), dtype=float)
    weights = attention.get("weights")
    if not len(lags) or weights is None:
        raise ValueError("attention needs 'lag_hours' and 'weights'")
    series = weights if isinstance(weights, Mapping) else {"mean attention": weights}
    fig = go.Figure()
    for label, w in series.items():
        w = np.asarray(w, dtype=float)
        if w.shape != lags.shape:
            raise ValueError(
                f"attention weights {label!r} have {w.size} values for {lags.size} lags"
            )
        fig.add_trace(go.Scatter(x=lags, y=w, mode="lines", name=str(label)))
    fig.add_vline(x=0, line={"color": colors.ISSUE_COLOR})
    fig.update_layout(
        title={"text": "TFT attention over the input window (0 = issue time)", "x": 0.01},
        height=330,
        template="plotly_white",
        xaxis_title="hours relative to issue time",
        yaxis_title="attention weight",
        margin={"l": 60, "r": 20, "t": 70, "b": 45},
    )
    return fig
