"""Build the static dashboard site: Now, Drivers, Archive, Verification and Model pages.

:func:`build_site` takes plain inputs (xarray datasets, dicts) and writes the pages plus one
``plotly.min.js`` beside them (offline, no CDN). :func:`build_site_from_home` gathers those
inputs from ``$SUPERSTORM_HOME`` and tolerates missing pieces: a page then says what is
missing and how to produce it instead of breaking.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.offline
import xarray as xr

from dashboards import colors, figures
from dashboards import pages as P
from data_sources import rtqc, staleness
from data_sources.dataset import build_dataset
from data_sources.ingest import stored_span
from data_sources.netcdf import NETCDF_LOCK, write_bytes_atomic
from data_sources.store import Store
from data_sources.timeconv import TimeLike, to_utc
from forecasting.models.promotion import parse_primary_attr

log = logging.getLogger(__name__)
HOUR = pd.Timedelta("1h")

#: variables whose freshness the Now page lists
FRESHNESS_VARS = ("dst", "kp", "bz_gsm", "by_gsm", "b_total", "v_sw", "n_p", "p_dyn")


# ----------------------------------------------------------------------------- writing
def write_atomic(path: Path, text: str | bytes) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    A reader (the dashboard server, a browser) never sees a half-written page; on any error
    the temporary file is removed and ``path`` is left as it was. The file is made
    world-readable (0644).

    Parameters
    ----------
    path : pathlib.Path
        Target file; missing parent folders are created.
    text : str or bytes
        Content; a str is written as UTF-8.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_bytes_atomic(text, path)


def write_plotlyjs(out_dir: Path) -> Path:
    """Write ``plotly.min.js`` (the plotly.js bundled with plotly.py) beside the pages, once.

    The file is rewritten only when its content differs (another plotly.py version).

    Parameters
    ----------
    out_dir : pathlib.Path
        The site folder.

    Returns
    -------
    pathlib.Path
        ``out_dir / "plotly.min.js"``.
    """
    path = Path(out_dir) / P.PLOTLY_JS
    js = plotly.offline.get_plotlyjs().encode("utf-8")
    if not path.exists() or path.stat().st_size != len(js) or path.read_bytes() != js:
        write_atomic(path, js)
    return path


# ----------------------------------------------------------------------------- inputs
def _archives(archive: xr.Dataset | Mapping[str, xr.Dataset] | None) -> dict[str, xr.Dataset]:
    if archive is None:
        return {}
    if isinstance(archive, xr.Dataset):
        return {archive.attrs.get("model", "model"): archive}
    return {str(k): v for k, v in archive.items() if v is not None}


def _primary(archives: Mapping[str, xr.Dataset]) -> str | None:
    if not archives:
        return None
    return "tft" if "tft" in archives else next(iter(archives))


def _alert_list(alerts: list | Mapping | None) -> tuple[list[dict], dict]:
    """Normalise the alert feed: a list of alerts or ``{"alerts": [...], ...}``."""
    if alerts is None:
        return [], {}
    if isinstance(alerts, Mapping):
        meta = {k: v for k, v in alerts.items() if k not in ("alerts", "active")}
        items = alerts.get("alerts", alerts.get("active", []))
    else:
        meta, items = {}, alerts
    if not isinstance(items, list) or not all(isinstance(a, Mapping) for a in items):
        raise ValueError("alert feed must be a list of objects or {'alerts': [objects]}")
    return [dict(a) for a in items], meta


def freshness_table(
    observed: xr.Dataset | None, issue: pd.Timestamp, freshness: Mapping | None = None
) -> pd.DataFrame:
    """Per input: end of its newest sample known at ``issue`` and its age there [h].

    ``freshness`` (name -> time the newest sample's interval ended) overrides what is
    computed from ``observed``. Status: ``ok`` up to 1 h old (3 h for Kp and ap, known when
    their 3-hour block ends), ``late`` up to 6 h, else ``stale``; ``missing`` without a sample.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
        Only the :data:`FRESHNESS_VARS` it holds are listed.
    issue : pandas.Timestamp
        Issue time (naive UTC).
    freshness : mapping, optional
        Variable name -> end of its newest sample's interval (UTC); when given, exactly these
        variables are listed and ``observed`` is not read.

    Returns
    -------
    pandas.DataFrame
        One row per variable; columns ``newest sample ends`` (``YYYY-MM-DD HH:MM`` or
        ``none``), ``age at issue [h]`` (float, NaN if none) and ``status``.
    """
    rows = {}
    names = (
        list(freshness)
        if freshness
        else [n for n in FRESHNESS_VARS if observed is not None and n in observed]
    )
    for name in names:
        end = (
            pd.Timestamp(freshness[name])
            if freshness
            else figures.latest_known(observed, name, issue)
        )
        if end is None:
            rows[name] = {
                "newest sample ends": "none",
                "age at issue [h]": np.nan,
                "status": "missing",
            }
            continue
        age = issue - end
        rows[name] = {
            "newest sample ends": f"{end:%Y-%m-%d %H:%M}",
            "age at issue [h]": float(age / HOUR),
            "status": staleness.age_status(staleness.group_of(name), age),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


# ----------------------------------------------------------------------------- pages
def _stamp(value: TimeLike | None) -> str:
    try:
        return f"{to_utc(value):%Y-%m-%d %H:%M}"
    except (TypeError, ValueError):
        return "?"


def _prob_style(_row: object, _col: object, v: object) -> str:
    if not isinstance(v, float) or not np.isfinite(v):
        return ""
    alpha = 0.12 + 0.75 * v
    return f"background:rgba(214,39,40,{alpha:.2f});font-weight:{700 if v >= 0.5 else 400}"


#: order of alert cards: what is happening first, then what is expected
_KIND_ORDER = {"ALERT": 0, "WARNING": 1, "WATCH": 2, "STALE_INPUT": 3}


def _g_text(kp: float | None) -> tuple[str, str]:
    """``(level text, SWPC colour)`` of a Kp value: ``("G4 severe", "#FF0000")``."""
    if kp is None or not np.isfinite(kp):
        return "unknown", "#e5e7eb"
    g = colors.g_level(kp)
    return (colors.G_LEVELS[g][0], colors.G_LEVELS[g][2]) if g else ("below G1", colors.QUIET)


def day_outlook(
    forecast: xr.Dataset, observed: xr.Dataset | None, issue: pd.Timestamp
) -> list[dict]:
    """Per UTC day of the lead grid: observed and forecast Kp level and storm probabilities.

    Parameters
    ----------
    forecast : xarray.Dataset
        A forecast (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``, ``quantile``;
        ``dst`` [nT] and/or ``kp`` quantiles; the newest ``init_time`` is shown.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    issue : pandas.Timestamp
        Issue time (naive UTC); observed Kp blocks count only when known at it.

    Returns
    -------
    list of dict
        ``label``, ``observed_kp`` (largest Kp block of that day known at ``issue``, NaN if
        none), ``forecast_kp`` (largest forecast-median block, :mod:`forecasting.products.blocks`),
        ``p_g1`` / ``p_g3`` (largest hourly P(Kp >= G1 / G3) of the day).
    """
    from forecasting.products import blocks

    obs = blocks.observed_kp_blocks(observed, issue)
    fc = blocks.forecast_kp_blocks(forecast)
    p_g1 = blocks.kp_exceedance_hourly(forecast, blocks.G_SCALE["G1"])
    p_g3 = blocks.kp_exceedance_hourly(forecast, blocks.G_SCALE["G3"])
    out = []
    for label, day, _ in figures.day_columns(forecast, issue):
        nxt = day + pd.Timedelta("1D")

        def within(series: pd.Series, lo: pd.Timestamp = day, hi: pd.Timestamp = nxt) -> pd.Series:
            return series[(series.index >= lo) & (series.index < hi)].dropna()

        o, f = within(obs), within(fc)
        g1, g3 = within(p_g1), within(p_g3)
        out.append(
            {
                "label": label,
                "observed_kp": float(o.max()) if len(o) else float("nan"),
                "forecast_kp": float(f.max()) if len(f) else float("nan"),
                "p_g1": float(g1.max()) if len(g1) else float("nan"),
                "p_g3": float(g3.max()) if len(g3) else float("nan"),
            }
        )
    return out


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%" if np.isfinite(p) else "—"


def _level_card(title: str, kp: float | None, lines: list[str]) -> str:
    text, color = _g_text(kp)
    body = "".join(f'<div class="s">{P.esc(x)}</div>' for x in lines)
    return (
        f'<div class="lvl" style="border-top:8px solid {color}">'
        f'<div class="k">{P.esc(title)}</div><div class="v">{P.esc(text)}</div>{body}</div>'
    )


def level_strip(
    forecast: xr.Dataset, observed: xr.Dataset | None, issue: pd.Timestamp, alert_items: list[dict]
) -> str:
    """Render the first screen: the observed level now and the forecast G level per UTC day.

    One card for "observed now" (newest Kp block, the past 24 h maximum, newest Dst, an
    ALERT in force) and one per UTC day of :func:`day_outlook`, each bordered in the SWPC
    colour of its G level (the larger of observed-so-far and forecast-median Kp).

    Parameters
    ----------
    forecast : xarray.Dataset
        A forecast (:mod:`forecasting.schema`): dims ``init_time``, ``lead_time``, ``quantile``;
        ``dst`` [nT] and/or ``kp`` quantiles; the newest ``init_time`` is shown.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    issue : pandas.Timestamp
        Issue time (naive UTC).
    alert_items : list of dict
        Alert-feed records in force (``kind``, ``family``, ``level``, ``serial``, ...); a Kp
        ``ALERT`` is named on the "observed now" card.

    Returns
    -------
    str
        HTML ``<div class="lvls">`` of level cards.
    """
    from forecasting.products import blocks
    from forecasting.schema import kp_label

    obs = blocks.observed_kp_blocks(observed, issue)
    now_lines, now_kp = [], None
    if len(obs):
        last = obs.index.max()
        now_kp = float(obs.iloc[-1])
        day = obs[obs.index + blocks.BLOCK > issue - pd.Timedelta("24h")]
        now_lines.append(f"Kp {kp_label(now_kp)} in {last:%H}-{last + blocks.BLOCK:%H} UT (newest)")
        now_lines.append(f"past 24 h: max Kp {kp_label(float(day.max()))}")
    dst = blocks.observed_hourly(observed, "dst", issue)
    if len(dst):
        now_lines.append(
            f"Dst {dst.iloc[-1]:.0f} nT at {dst.index[-1]:%H}-{dst.index[-1] + HOUR:%H} UT"
        )
    alerted = [a for a in alert_items if a.get("kind") == "ALERT" and a.get("family") == "kp"]
    if alerted:
        top = max(alerted, key=lambda a: str(a.get("level")))
        now_lines.append(f"ALERT in force: {top.get('level')} (serial {top.get('serial')})")
    cards = [_level_card(f"observed now ({issue:%b %d %H:%M} UTC)", now_kp, now_lines)]
    for d in day_outlook(forecast, observed, issue):
        kp = np.nanmax([d["forecast_kp"], d["observed_kp"]])
        lines = []
        if np.isfinite(d["observed_kp"]):
            lines.append(f"observed so far: {_g_text(d['observed_kp'])[0]}")
        if np.isfinite(d["forecast_kp"]):
            lines.append(f"forecast median: max Kp {kp_label(d['forecast_kp'])}")
        lines.append(f"P(≥ G1) {_pct(d['p_g1'])} · P(≥ G3) {_pct(d['p_g3'])}")
        cards.append(_level_card(d["label"], kp if np.isfinite(kp) else None, lines))
    return '<div class="lvls">' + "".join(cards) + "</div>"


def _as_log_row(a: Mapping) -> dict:
    """Convert an alert-feed record to an alert-log row (what the SWPC text formatter reads)."""
    row = dict(a)
    row.setdefault("issue_time", a.get("issued"))
    row.setdefault("text", a.get("message", ""))
    row["valid_end"] = a.get("valid_end") or ""
    return row


def alert_cards(items: list[dict]) -> str:
    """Render alerts in force as SWPC-style message cards: ALERTs first, then WARNINGs, WATCHes.

    Within a kind the highest G level comes first; each card shows the SWPC-formatted text
    (:func:`forecasting.products.alerts_json.swpc_message`, or the record's ``message`` when
    it cannot be formatted), serial, issue and validity times, status and delivery.

    Parameters
    ----------
    items : list of dict
        Alert-feed records (``alerts/active.json`` entries: ``serial``, ``kind``, ``level``,
        ``issued``, ``valid_start``, ``valid_end``, ``status``, ``delivered``, ...).

    Returns
    -------
    str
        HTML ``<div class="msgs">`` of message cards.
    """
    from forecasting.products.alerts_json import swpc_message

    by_serial = {a.get("serial"): _as_log_row(a) for a in items}
    rank = {name: i for i, name in enumerate(("G1", "G2", "G3", "G4", "G5"))}
    ordered = sorted(
        items,
        key=lambda a: (_KIND_ORDER.get(a.get("kind"), 9), -rank.get(a.get("level"), -1)),  # type: ignore[arg-type]
    )
    cards = []
    for a in ordered:
        level = str(a.get("level", ""))
        color = colors.G_LEVELS[int(level[1])][2] if level in rank else "#6b7280"
        try:
            text = swpc_message(_as_log_row(a), by_serial)
        except (KeyError, TypeError, ValueError):
            text = str(a.get("message", a))
        valid_end = a.get("valid_end") or "open"
        meta = (
            f"serial {a.get('serial', '?')} · issued {a.get('issued', '?')} · valid "
            f"{a.get('valid_start', '?')} → {valid_end} · {a.get('status', '')}"
            + (" · delivered" if a.get("delivered") else " · not yet delivered")
        )
        cards.append(
            f'<div class="msg" style="border-left:8px solid {color}">'
            f'<div class="h"><b>{P.esc(a.get("kind", "?"))}</b> {P.esc(level)}</div>'
            f'<div class="m">{P.esc(meta)}</div>'
            f"<pre>{P.esc(text.replace(chr(13), ''))}</pre></div>"
        )
    return '<div class="msgs">' + "".join(cards) + "</div>"


def now_page(
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    alerts: list | Mapping | None,
    freshness: Mapping[str, object] | None,
    model_info: dict | None,
) -> str:
    """Render the Now page's body: observed level, G level per UTC day, alerts, charts.

    Sections: the level strip, the alerts in force, Kp and Dst fan charts against
    observations, storm probabilities per UTC day and per hour ahead, input freshness. A
    forecast from a baseline (no TFT in the archive) carries a warning.

    Parameters
    ----------
    forecast : xarray.Dataset or None
        The latest forecast (:mod:`forecasting.schema`: dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT], ``kp``); None gives a "no forecast yet" note only.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    alerts : list or mapping or None
        Alert feed (``alerts/active.json``): a list of records or ``{"alerts": [...], ...}``
        (other scalar keys are shown as a note); None: no feed found.
    freshness : mapping or None
        Variable -> end of its newest sample (UTC), see :func:`freshness_table`; None
        computes it from ``observed``.
    model_info : dict or None
        Registry metadata of the TFT (unused here; the Model page shows it).

    Returns
    -------
    str
        HTML of the page's content (for :func:`dashboards.pages.page`).

    Raises
    ------
    ValueError
        When ``alerts`` is neither a list of objects nor ``{"alerts": [objects]}``.
    """
    parts = []
    if forecast is None:
        parts.append(
            P.note(
                "No forecast available yet: nothing in the forecast archive "
                "($SUPERSTORM_HOME/archive). Run `superstorm forecast` first.",
                "missing",
            )
        )
        return "\n".join(parts)
    issue = pd.Timestamp(forecast["init_time"].values[-1])
    horizon = int(pd.TimedeltaIndex(forecast["lead_time"].values).max() / HOUR)
    model = forecast.attrs.get("model", "?")
    version = forecast.attrs.get("model_version", "?")
    alert_items, meta = _alert_list(alerts)
    parts.append(
        P.section(
            "Geomagnetic storm level: now and by UTC day",
            level_strip(forecast, observed, issue, alert_items),
            P.note(
                f"Issued {issue:%Y-%m-%d %H:%M} UTC by {model} {version} from inputs up to "
                f"{_stamp(forecast.attrs.get('data_cutoff'))} UTC; lead times 1-{horizon} h. "
                "Day level: the larger of the observed Kp so far and the forecast median Kp "
                "per 3-h block; P: the largest hourly probability of the day. "
                "NOAA G-scale as SWPC applies it: G1 Kp ≥ 5- … G4 Kp ≥ 8- (9- included), G5 Kp = 9o.",
                "info",
            ),
            sid="outlook",
        )
    )
    primary = parse_primary_attr(forecast.attrs.get("primary"))
    if primary:
        parts.append(
            P.note(
                "Primary model per target: "
                + ", ".join(f"{target}: {name}" for target, name in primary.items())
                + (
                    f" ({forecast.attrs['primary_basis']})"
                    if forecast.attrs.get("primary_basis")
                    else ""
                ),
                "info",
            )
        )
    elif model != "tft":
        parts.append(
            P.note(
                f"This forecast comes from the '{model}' model, not the TFT "
                "(no TFT forecast in the archive).",
                "warn",
            )
        )
    if alerts is None:
        alert_html = P.note(
            "No alert feed found ($SUPERSTORM_HOME/alerts/active.json): "
            "a `superstorm forecast` run writes it.",
            "missing",
        )
    elif not alert_items:
        alert_html = P.note("No active alerts.", "info")
    else:
        alert_html = alert_cards(alert_items)
    if meta:
        alert_html += P.note(
            ", ".join(f"{k}: {v}" for k, v in meta.items() if not isinstance(v, list | dict)),
            "info",
        )
    parts.append(P.section(f"Alerts in force ({len(alert_items)})", alert_html, sid="alerts"))
    for name in ("kp", "dst"):
        if name in forecast:
            parts.append(
                P.section(
                    f"{'Dst' if name == 'dst' else 'Kp'}: forecast and observations",
                    P.figure(
                        figures.fan_chart(forecast, name, observed=observed, init_time=issue),
                        f"fig-{name}",
                    ),
                    P.note(
                        "Solid: observed and known at the issue time. Outlined / dotted: "
                        "observed after the issue time (verification, not used by the forecast).",
                        "info",
                    ),
                    sid=f"{name}-section",
                )
            )
    probs = figures.daily_probability_table(forecast, issue)
    parts.append(
        P.section(
            "Storm probabilities by UTC day (highest hourly probability of the day)",
            P.table(
                probs,
                cell_style=_prob_style,
                fmt=lambda v: f"{100 * v:.0f}%" if isinstance(v, float) and np.isfinite(v) else "—",
                cls="probs",
            ),
            P.note(
                "G levels from Kp (NOAA, as SWPC applies them): G1 Kp ≥ 5- … G4 Kp ≥ 8-, G5 Kp = 9o. Dst classes (Gonzalez et al. 1994): "
                "≤ −50 nT moderate, ≤ −100 nT intense, ≤ −250 nT superstorm.",
                "info",
            ),
            sid="probabilities",
        )
    )
    parts.append(
        P.section(
            "Event probability by hour ahead",
            P.figure(figures.probability_figure(forecast, issue), "fig-prob"),
        )
    )
    fresh = freshness_table(observed, issue, freshness)
    if fresh.empty:
        parts.append(P.section("Input freshness", P.note("No observations available.", "missing")))
    else:
        parts.append(
            P.section(
                "Input freshness (newest sample known at issue time)",
                P.table(
                    fresh,
                    cell_style=lambda r, c, v: (
                        {
                            "ok": "background:#e6f4ea",
                            "late": "background:#fff7e6",
                            "stale": "background:#fde8e8",
                            "missing": "background:#f3f4f6",
                        }.get(v, "")
                        if c == "status"
                        else ""
                    ),
                ),
                P.note(
                    "Hourly values become known when their hour ends, Kp when its 3-hour block ends.",
                    "info",
                ),
                sid="freshness",
            )
        )
    return "\n".join(parts)


def _qc_note(observed: xr.Dataset, end: TimeLike | None, days: float) -> str:
    """Return a note on the hours whose real-time samples the QC flagged (data_sources.rtqc), or ""."""
    end = pd.Timestamp(end) if end is not None else None
    hours = [
        h
        for h in rtqc.flagged_hours(observed)
        if end is None or end - pd.Timedelta(days=days) <= h[0] < end
    ]
    if not hours:
        return ""
    items = "; ".join(f"{t:%Y-%m-%d %H:%M} {name} ({tests})" for t, name, tests in hours[:200])
    more = f" and {len(hours) - 200} more" if len(hours) > 200 else ""
    return P.note(
        "Real-time QC flagged samples in these hours (red crosses; the flagged minutes "
        f"were removed before averaging): {items}{more}.",
        "warn",
    )


def drivers_page(observed: xr.Dataset | None, end: TimeLike | None, days: float) -> str:
    """Render the Drivers page's body: the solar-wind panels of the last ``days`` days.

    :func:`dashboards.figures.drivers_figure` (IMF Bz, By and |B| [nT], speed [km/s],
    density [cm^-3], dynamic pressure [nPa], Newell et al. 2007 coupling), plus a note on the hours
    the real-time QC flagged (:mod:`data_sources.rtqc`). Missing data gives a note instead.

    Parameters
    ----------
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    end : TimeLike or None
        End of the shown window (UTC, exclusive; the issue time); None: the end of the newest
        observed hour.
    days : float
        Length of the window [days].

    Returns
    -------
    str
        HTML of the page's content.
    """
    if observed is None:
        return P.note(
            "No observations found ($SUPERSTORM_HOME/store): run `superstorm ingest`.", "missing"
        )
    try:
        fig = figures.drivers_figure(observed, end=end, days=days)
    except ValueError as exc:
        return P.note(str(exc), "missing")
    return P.section(
        f"Solar wind, last {days:g} days",
        P.figure(fig, "fig-drivers"),
        _qc_note(observed, end, days),
        P.note(
            "Long series are reduced to the minimum and maximum of each time bucket, "
            "so peaks and storm extremes are always drawn. Newell et al. (2007) "
            "coupling dΦ/dt = v^4/3 B_T^2/3 sin^8/3(θ/2).",
            "info",
        ),
    )


ARCHIVE_SCRIPT = """
(function(){
  var A=JSON.parse(document.getElementById('archive-data').textContent);
  var selM=document.getElementById('arch-model'), sel=document.getElementById('arch-issue'),
      rng=document.getElementById('arch-range'), lab=document.getElementById('arch-label');
  Object.keys(A.models).forEach(function(m){var o=document.createElement('option');o.value=m;o.textContent=m;selM.appendChild(o);});
  function iso(ms){return new Date(ms).toISOString().slice(0,16).replace('T',' ');}
  function fill(m){
    var P=A.models[m]; sel.innerHTML='';
    P.issues.forEach(function(t,i){var o=document.createElement('option');o.value=i;o.textContent=t.replace('T',' ');sel.appendChild(o);});
    rng.max=P.issues.length-1;
  }
  function draw(){
    var m=selM.value, P=A.models[m], i=+sel.value, t0=Date.parse(P.issues[i]+':00Z');
    rng.value=i; lab.textContent=P.issues[i].replace('T',' ')+' UTC ('+m+' '+P.model_version+')';
    history.replaceState(null,'','#'+m+'/'+P.issues[i]);
    A.targets.forEach(function(name){
      var T=P.targets[name], gd=document.getElementById('arch-'+name); if(!T||!gd) return;
      var rows=T.fc[i], xs=P.lead_h.map(function(h){return iso(t0+(h-0.5)*3600e3);});
      var xsR=xs.slice().reverse(), X=[], Y=[];
      P.bands.forEach(function(b){
        X.push(xs.concat(xsR));
        Y.push(rows.map(function(r){return r[b[0]];}).concat(rows.map(function(r){return r[b[1]];}).reverse()));
      });
      X.push(xs); Y.push(rows.map(function(r){return r[P.median];}));
      var o0=Date.parse(T.obs_t0+':00Z'), lo=t0-A.history_h*3600e3, hi=t0+Math.max.apply(null,P.lead_h)*3600e3, ox=[], oy=[];
      T.obs.forEach(function(v,k){var t=o0+k*3600e3; if(t>=lo&&t<hi){ox.push(iso(t+1800e3)); oy.push(v);}});
      X.push(ox); Y.push(oy);
      A.overlay.forEach(function(m2){
        var Q=A.models[m2], j=Q.issues.indexOf(P.issues[i]), T2=Q.targets[name];
        if(m2===m||j<0||!T2){X.push([]);Y.push([]);return;}
        X.push(Q.lead_h.map(function(h){return iso(t0+(h-0.5)*3600e3);}));
        Y.push(T2.fc[j].map(function(r){return r[Q.median];}));
      });
      var idx=X.map(function(_,k){return k;});
      Plotly.restyle(gd,{x:X,y:Y},idx);
      var s=iso(t0); Plotly.relayout(gd,{'shapes[0].x0':s,'shapes[0].x1':s,'annotations[0].x':s,
        'title.text':(name==='dst'?'Dst':'Kp')+': forecast issued '+s+' UTC vs observed','xaxis.autorange':true});
    });
  }
  selM.addEventListener('change',function(){fill(selM.value); sel.value=A.models[selM.value].issues.length-1; draw();});
  sel.addEventListener('change',draw);
  rng.addEventListener('input',function(){sel.value=rng.value; draw();});
  document.getElementById('arch-prev').addEventListener('click',function(){if(+sel.value>0){sel.value=+sel.value-1;draw();}});
  document.getElementById('arch-next').addEventListener('click',function(){if(+sel.value<+rng.max){sel.value=+sel.value+1;draw();}});
  var h=decodeURIComponent(location.hash.slice(1)).split('/'), m0=A.models[h[0]]?h[0]:A.primary;
  selM.value=m0; fill(m0);
  var i0=A.models[m0].issues.indexOf(h[1]); sel.value=i0>=0?i0:A.models[m0].issues.length-1;
  window.__ss.waits.push(Promise.all(window.__ss.promises.slice()).then(draw));
})();
"""


def archive_page(
    archives: Mapping[str, xr.Dataset], observed: xr.Dataset | None, *, max_issues: int = 2000
) -> str:
    """Render the Archive page's body: pick a past issue time, see its forecast vs what happened.

    The forecasts and observations are embedded once as JSON
    (:func:`dashboards.figures.archive_payload`) and :data:`ARCHIVE_SCRIPT` redraws the Dst
    and Kp figures in the browser for the chosen model and issue time (a select, a slider,
    earlier/later buttons; the choice is kept in the URL fragment ``#<model>/<issue>``).

    Parameters
    ----------
    archives : mapping of str to xarray.Dataset
        Model name -> archived forecasts (:mod:`forecasting.schema`, many ``init_time``);
        empty gives a note. The TFT (else the first model) is shown first.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    max_issues : int, default 2000
        At most this many newest issue times per model are embedded (page size).

    Returns
    -------
    str
        HTML of the page's content.
    """
    if not archives:
        return P.note(
            "The forecast archive is empty ($SUPERSTORM_HOME/archive/<model>/<YYYY>/): "
            "run `superstorm forecast` or `superstorm backtest` to fill it.",
            "missing",
        )
    primary = _primary(archives)
    assert primary is not None  # archives is not empty
    payload: dict[str, Any] = {
        "models": {},
        "primary": primary,
        "targets": [],
        "history_h": 24,
        "overlay": list(archives),
    }
    for model, fc in archives.items():
        pl = figures.archive_payload(fc, observed, max_issues=max_issues, history="1D")
        qs = np.array(pl["quantiles"])
        pl["bands"] = [
            [int(np.argmin(abs(qs - lo))), int(np.argmin(abs(qs - hi)))]
            for lo, hi, _, _ in colors.BANDS
            if figures._nearest_q(qs, lo) is not None and figures._nearest_q(qs, hi) is not None
        ]
        pl["median"] = int(np.argmin(abs(qs - 0.5)))
        payload["models"][model] = pl
        payload["targets"] = sorted(set(payload["targets"]) | set(pl["targets"]))
    fc = archives[primary]
    n = fc.sizes["init_time"]
    controls = (
        '<div class="picker"><label>model <select id="arch-model"></select></label>'
        '<label>issue time <select id="arch-issue"></select></label>'
        '<button id="arch-prev" type="button">◀ earlier</button>'
        '<button id="arch-next" type="button">later ▶</button>'
        '<input id="arch-range" type="range" min="0" step="1">'
        '<b id="arch-label"></b></div>'
    )
    figs = [
        P.figure(figures.archive_figure(fc, name, observed, overlay=list(archives)), f"arch-{name}")
        for name in ("dst", "kp")
        if name in fc
    ]
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    shown = min(n, max_issues)
    notes = P.note(
        f"{shown} archived issue times of '{primary}'"
        + (f" (the newest {max_issues} of {n})" if n > max_issues else "")
        + ". Pick one to see what was forecast then (bands and median) against what "
        "happened (black). Dashed lines: the median of every other archived model issued at "
        "the same time (TFT and baselines; click a legend entry to hide it). The address bar "
        "keeps the choice, so a link opens the same issue.",
        "info",
    )
    return P.section(
        "Pick a past issue time",
        controls,
        notes,
        *figs,
        f'<script type="application/json" id="archive-data">{data}</script>',
        f"<script>{ARCHIVE_SCRIPT}</script>",
        sid="archive",
    )


def _verified_pairs(archives: Mapping[str, xr.Dataset], observed: xr.Dataset) -> int:
    """How many (issue time, lead time, target) forecasts have an observation to verify."""
    from data_sources.timeconv import observed_for

    return sum(
        int(np.isfinite(observed_for(fc, observed, n).values).sum())
        for fc in archives.values()
        for n in ("dst", "kp")
        if n in fc and n in observed
    )


def skill_scope(skill: xr.Dataset) -> str:
    """Describe period and sample size of the skill report (``skill.nc`` attrs and its ``n``).

    Parameters
    ----------
    skill : xarray.Dataset
        The skill report (:func:`forecasting.evaluation.evaluate.read_skill`): dims
        ``target``, ``model``, ``lead_time``; attrs ``first_init``, ``last_init``,
        ``test_years``, ``n_init``, ``init_every`` when recorded; optional ``n`` (pairs
        scored per cell).

    Returns
    -------
    str
        One sentence: backtest period (UTC), number of issue times and the range of ``n``.
    """
    a = skill.attrs
    period = (
        f"{_stamp(a['first_init'])} to {_stamp(a['last_init'])} UTC"
        if a.get("first_init") and a.get("last_init")
        else "period and issue times not recorded in skill.nc (re-run `superstorm evaluate`)"
    )
    years = f" on the test years {a['test_years']}" if a.get("test_years") else ""
    parts = [f"Skill report (backtest{years}, not the forecast archive): {period}"]
    if a.get("n_init"):
        parts.append(f"{int(a['n_init']):,} issue times ({a.get('init_every', '?')} apart)")
    if "n" in skill:
        n = skill["n"].values.astype(float)
        if np.isfinite(n).any():
            parts.append(
                f"n = {int(np.nanmin(n)):,} to {int(np.nanmax(n)):,} (issue time, lead) pairs "
                "per target, model and lead"
            )
    return "; ".join(parts) + "."


def archive_scope(archives: Mapping[str, xr.Dataset], observed: xr.Dataset | None) -> str:
    """Describe period and sample size of the panels built from the forecast archive, per model.

    Parameters
    ----------
    archives : mapping of str to xarray.Dataset
        Model name -> archived forecasts (:mod:`forecasting.schema`).
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.

    Returns
    -------
    str
        One sentence: per model the number and span (UTC) of archived issue times and how
        many (issue, lead, target) values have an observation
        (:func:`data_sources.timeconv.observed_for`).
    """
    from data_sources.timeconv import observed_for

    rows = []
    for model, fc in archives.items():
        inits = pd.DatetimeIndex(fc["init_time"].values)
        pairs = sum(
            int(np.isfinite(observed_for(fc, observed, n).values).sum())
            for n in ("dst", "kp")
            if n in fc and observed is not None and n in observed
        )
        rows.append(
            f"{model}: {len(inits):,} archived issue times {inits.min():%Y-%m-%d %H:%M} to "
            f"{inits.max():%Y-%m-%d %H:%M} UTC, {pairs:,} verified (issue, lead, target) values"
        )
    return "Forecast archive (operational runs, not the backtest): " + "; ".join(rows) + "."


def _storm_count(archives: Mapping[str, xr.Dataset], start: TimeLike, end: TimeLike) -> str:
    n = {
        m: int(
            (
                (pd.DatetimeIndex(fc["init_time"].values) >= pd.Timestamp(start))
                & (pd.DatetimeIndex(fc["init_time"].values) <= pd.Timestamp(end))
            ).sum()
        )
        for m, fc in archives.items()
    }
    return (
        f"{start} to {end}: "
        + ", ".join(f"{m} {k} archived issue times" for m, k in n.items())
        + "."
    )


def verification_page(
    skill: xr.Dataset | None,
    archives: Mapping[str, xr.Dataset],
    observed: xr.Dataset | None,
    storms: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """Render the Verification page's body: skill by lead, reliability, event scores, storms.

    Skill curves come from the backtest's skill report; reliability
    (:func:`dashboards.figures.reliability`), event scores
    (:func:`dashboards.figures.event_scores`) and the storm gallery
    (:func:`dashboards.figures.storm_figure`) from the forecast archive verified against
    ``observed``. Each missing input gives a note saying how to produce it.

    Parameters
    ----------
    skill : xarray.Dataset or None
        The skill report ``reports/skill.nc`` (dims ``target``, ``model``, ``lead_time``; one
        variable per metric of :data:`dashboards.figures.METRICS`); None: not yet evaluated.
    archives : mapping of str to xarray.Dataset
        Model name -> archived forecasts (:mod:`forecasting.schema`).
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (naive UTC, label = start of the hour): ``dst`` [nT],
        ``kp``, solar wind; None when the store is empty.
    storms : mapping of str to (str, str), optional
        Gallery title -> UTC window ``(start, end)`` of a storm; default
        :data:`dashboards.figures.STORMS`.

    Returns
    -------
    str
        HTML of the page's content.
    """
    parts = []
    if skill is None:
        parts.append(
            P.note(
                "No skill report (reports/skill.nc): run `superstorm evaluate` to score "
                "the model and the baselines.",
                "missing",
            )
        )
    else:
        figs = [
            P.figure(figures.skill_figure(skill, m), f"fig-skill-{m}")
            for m in figures.METRICS
            if m in skill
        ]
        models = ", ".join(str(m) for m in skill["model"].values)
        parts.append(
            P.section(
                f"Skill by lead time (models: {models})",
                P.note(skill_scope(skill), "info"),
                *figs,
                sid="skill",
            )
        )
    if not archives or observed is None:
        parts.append(
            P.note(
                "Reliability, event scores and the storm gallery need archived "
                "forecasts and observations; "
                + ("the archive is empty." if not archives else "no observations found."),
                "missing",
            )
        )
        return "\n".join(parts)
    if _verified_pairs(archives, observed) == 0:
        newest = pd.Timestamp(observed["time"].values[-1]) if observed.sizes.get("time") else None
        parts.append(
            P.note(
                "No archived forecast can be verified yet: every valid time is later than the "
                f"newest observation ({newest:%Y-%m-%d %H:%M} UTC). Reliability, event scores "
                "and the storm gallery fill in as forecasts come due (daily verify flow, or a "
                "replay / backtest over past data)."
                if newest is not None
                else "No observations to verify the archived forecasts against.",
                "missing",
            )
        )
        return "\n".join(parts)
    curves = {
        m: {n: figures.reliability(fc, observed, n) for n in ("dst", "kp") if n in fc}
        for m, fc in archives.items()
    }
    scope = P.note(archive_scope(archives, observed), "info")
    parts.append(
        P.section(
            "Reliability of the quantiles",
            scope,
            P.figure(figures.reliability_figure(curves), "fig-reliability"),
            P.note(
                "Points on the diagonal: the observation fell below the q-quantile "
                "a fraction q of the time. Above the diagonal: forecasts too high; "
                "below: too low.",
                "info",
            ),
            sid="reliability",
        )
    )
    tables = []
    for model, fc in archives.items():
        ev = figures.event_scores(fc, observed)
        if not ev.empty:
            tables.append(f"<h3>{P.esc(model)}</h3>" + P.table(ev, index=False))
    parts.append(
        P.section(
            "Event scores (forecast median vs observed, per lead time)",
            scope,
            *(tables or [P.note("No verifiable events.", "missing")]),
            P.note(
                "POD probability of detection, FAR false-alarm ratio, HSS Heidke "
                "skill score, TSS true skill statistic (1 perfect, 0 no skill).",
                "info",
            ),
            sid="events",
        )
    )
    gallery, absent = [], []
    for i, (title, (start, end)) in enumerate((storms or figures.STORMS).items()):
        fig = figures.storm_figure(archives, observed, "dst", start, end, title=title)
        if fig is None:
            absent.append(title)
        else:
            gallery.append(P.note(f"{title}: " + _storm_count(archives, start, end), "info"))
            gallery.append(P.figure(fig, f"fig-storm-{i}"))
    if absent:
        gallery.append(P.note("No archived forecasts for: " + "; ".join(absent), "missing"))
    parts.append(
        P.section(
            "Storm gallery: Dst forecasts at +1, +6, +24 h against observed", *gallery, sid="storms"
        )
    )
    return "\n".join(parts)


def model_page(model_info: dict | None, forecast: xr.Dataset | None) -> str:
    """Render the Model page's body: registry metadata, variable importance and attention.

    Parameters
    ----------
    model_info : dict or None
        Registry metadata of the TFT (:func:`load_model_info`): scalar entries are listed;
        optional ``variable_importance`` (``{group: {variable: %}}``) and ``attention``
        (``{"lag_hours", "weights"}``, averaged over the training windows). None: no TFT
        registered (a note).
    forecast : xarray.Dataset or None
        The latest forecast; a TFT forecast's own attention and importance (in its attrs,
        :func:`forecast_interpretation`) are drawn too.

    Returns
    -------
    str
        HTML of the page's content.
    """
    used = forecast.attrs.get("model", "?") if forecast is not None else "none"
    if not model_info:
        return P.note(
            "No TFT model registered ($SUPERSTORM_HOME/models/tft/): train one with "
            f"`superstorm train`. Forecasts on these pages come from: {used}.",
            "missing",
        )
    meta = {
        k: v
        for k, v in model_info.items()
        if k not in ("variable_importance", "attention") and not isinstance(v, dict | list)
    }
    parts = [P.section("Registered model", P.kv_table(meta))]
    imp = model_info.get("variable_importance")
    if imp:
        parts.append(
            P.section(
                "Variable importance", P.figure(figures.importance_figure(imp), "fig-importance")
            )
        )
    else:
        parts.append(P.note("The model's metadata holds no variable importance.", "missing"))
    own = forecast_interpretation(forecast)
    if own is not None:
        assert forecast is not None
        issue = pd.Timestamp(forecast["init_time"].values[-1])
        parts.append(
            P.section(
                f"Attention of the latest forecast (issued {issue:%Y-%m-%d %H:%M} UTC)",
                P.figure(figures.attention_figure(own["attention"]), "fig-attention"),
                P.note(
                    "The TFT's interpretable attention for this forecast's own input window "
                    "(mean over heads and lead times; Lim et al. 2021, sec. 7): which past hours "
                    "it weighted. −1 is the hour that ended at the issue time.",
                    "info",
                ),
                sid="attention",
            )
        )
        if own.get("variable_importance"):
            parts.append(
                P.section(
                    "Variable importance of the latest forecast",
                    P.figure(
                        figures.importance_figure(own["variable_importance"]),
                        "fig-importance-latest",
                    ),
                )
            )
    else:
        parts.append(
            P.note(
                f"The latest forecast ({used}) carries no attention weights of its own: "
                "only a TFT forecast does.",
                "missing",
            )
        )
    att = model_info.get("attention")
    if att:
        parts.append(
            P.section(
                "Attention averaged over the training windows (registry)",
                P.figure(figures.attention_figure(att), "fig-attention-training"),
            )
        )
    return "\n".join(parts)


# ----------------------------------------------------------------------------- site
def build_site(
    out_dir: str | Path,
    *,
    forecast: xr.Dataset | None,
    observed: xr.Dataset | None,
    archive: xr.Dataset | Mapping[str, xr.Dataset] | None = None,
    alerts: list | dict | None = None,
    skill: xr.Dataset | None = None,
    model_info: dict | None = None,
    freshness: Mapping[str, object] | None = None,
    storms: Mapping[str, tuple[str, str]] | None = None,
    drivers_days: float = 7.0,
    max_archive_issues: int = 2000,
) -> list[Path]:
    """Write the five pages and ``plotly.min.js`` into ``out_dir``; return the paths written.

    Pages: ``index.html`` (Now), ``drivers.html``, ``archive.html``, ``verification.html``
    and ``model.html``, each written atomically (:func:`write_atomic`); a missing input gives
    a note on its page, never a failed build.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Site folder, created if missing.
    forecast : xarray.Dataset or None
        Latest forecast (:mod:`forecasting.schema`: dims ``init_time``, ``lead_time``,
        ``quantile``; ``dst`` [nT], ``kp``); its newest ``init_time`` is shown and ends the
        Drivers window.
    observed : xarray.Dataset or None
        Hourly observations on ``time`` (``dst`` [nT], ``kp``, solar wind), naive UTC labels =
        interval start.
    archive : xarray.Dataset or mapping of str to xarray.Dataset, optional
        Past forecasts with many ``init_time``: one dataset (keyed by its ``model`` attr) or
        ``{model: dataset}``.
    alerts : list or dict, optional
        Active alert feed (``alerts/active.json`` content): a list or ``{"alerts": [...]}``.
    skill : xarray.Dataset, optional
        ``reports/skill.nc`` (dims ``target``, ``model``, ``lead_time``).
    model_info : dict, optional
        Registry metadata of the TFT with optional ``variable_importance``
        (``{group: {variable: weight}}``) and ``attention`` (``{"lag_hours", "weights"}``).
    freshness : mapping, optional
        Variable -> end of its newest sample (UTC); default: computed from ``observed``.
    storms : mapping of str to (str, str), optional
        Storm gallery: title -> UTC window ``(start, end)``; default
        :data:`dashboards.figures.STORMS`.
    drivers_days : float, default 7.0
        Length of the Drivers page's window [days], ending at the issue time.
    max_archive_issues : int, default 2000
        At most this many newest issue times per model embedded in the Archive page.

    Returns
    -------
    list of pathlib.Path
        ``plotly.min.js`` first, then the five pages.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archives = _archives(archive)
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    if forecast is not None:
        issue = pd.Timestamp(forecast["init_time"].values[-1])
        subtitle = (
            f"issued {issue:%Y-%m-%d %H:%M} UTC · {forecast.attrs.get('model', '?')} "
            f"{forecast.attrs.get('model_version', '')}"
        )
        end = issue
    else:
        subtitle, end = "no forecast", None
    bodies = {
        "index.html": now_page(forecast, observed, alerts, freshness, model_info),
        "drivers.html": drivers_page(observed, end, drivers_days),
        "archive.html": archive_page(archives, observed, max_issues=max_archive_issues),
        "verification.html": verification_page(skill, archives, observed, storms),
        "model.html": model_page(model_info, forecast),
    }
    written = [write_plotlyjs(out)]
    for file, body in bodies.items():
        written.append(write_atomic(out / file, P.page(file, body, subtitle=subtitle, built=built)))
    log.info("dashboard: wrote %d files to %s", len(written), out)
    return written


# ----------------------------------------------------------------------------- from home
def _open_all(paths: list[Path]) -> xr.Dataset | None:
    parts = []
    for p in paths:
        try:
            with NETCDF_LOCK, xr.open_dataset(p) as ds:
                parts.append(ds.load())
        except (OSError, ValueError) as exc:
            log.warning("dashboard: skipping unreadable %s: %s", p, exc)
    if not parts:
        return None
    return xr.concat(parts, dim="init_time", combine_attrs="override").sortby("init_time")


def load_archive(home: Path, *, days: float | None = 60.0) -> dict[str, xr.Dataset]:
    """Read archived forecasts per model from ``home/archive/<model>/<YYYY>/<model>_<stamp>.nc``.

    Only the last ``days`` before each model's newest issue are read (None: all); the issue
    time is the file name's ``YYYYmmddTHHMM`` stamp (a file without one is always read).
    Unreadable files are skipped with a warning.

    Parameters
    ----------
    home : pathlib.Path
        ``$SUPERSTORM_HOME``.
    days : float or None, default 60.0
        Window before each model's newest issue time [days]; None reads every file.

    Returns
    -------
    dict of str to xarray.Dataset
        Model name -> its forecasts concatenated on ``init_time`` (sorted); empty when there
        is no archive.
    """
    out: dict[str, xr.Dataset] = {}
    root = Path(home) / "archive"
    if not root.is_dir():
        return out
    for mdir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(mdir.glob(f"*/{mdir.name}_*.nc"))
        if days is not None and files:
            stamps = []
            for f in files:
                try:
                    stamps.append(
                        pd.Timestamp(datetime.strptime(f.stem.rsplit("_", 1)[1], "%Y%m%dT%H%M"))
                    )
                except ValueError:
                    stamps.append(pd.NaT)
            newest = (
                max(s for s in stamps if s is not pd.NaT)
                if any(s is not pd.NaT for s in stamps)
                else None
            )
            if newest is not None:
                files = [
                    f
                    for f, s in zip(files, stamps, strict=True)
                    if s is pd.NaT or s >= newest - pd.Timedelta(days=days)
                ]
        ds = _open_all(files)
        if ds is not None:
            out[mdir.name] = ds
    return out


def load_observed(
    home: Path, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> xr.Dataset | None:
    """Hourly observations from the store, merged by :func:`data_sources.dataset.build_dataset`.

    Parameters
    ----------
    home : pathlib.Path
        ``$SUPERSTORM_HOME`` (the store is ``home / "store"``).
    start, end : pandas.Timestamp or None
        Naive UTC span ``[start, end)``; ``None`` in either takes the whole stored span.

    Returns
    -------
    xarray.Dataset or None
        The same source-priority merge the models see; ``None`` if the store is empty or
        cannot be merged (logged; the page still builds).
    """
    store = Store(Path(home) / "store")
    if start is None or end is None:
        spans = [s for s in (stored_span(store, name) for name in store.sources()) if s]
        if not spans:
            return None
        start = min(a for a, _ in spans).floor("h")
        end = max(b for _, b in spans).floor("h") + pd.Timedelta("1h")
    try:
        return build_dataset(start, end, store=store)
    except Exception as exc:  # noqa: BLE001 - the page must still build
        log.warning("dashboard: no observations from the store (%s)", exc)
        return None


def load_skill(home: Path) -> xr.Dataset | None:
    """Read the skill report ``skill.nc`` from ``home/reports/`` (never the current folder).

    Parameters
    ----------
    home : pathlib.Path
        ``$SUPERSTORM_HOME``.

    Returns
    -------
    xarray.Dataset or None
        The report (:func:`forecasting.evaluation.evaluate.read_skill`: dims ``target``,
        ``model``, ``lead_time``); None if it does not exist.
    """
    from forecasting.evaluation.evaluate import read_skill

    path = Path(home) / "reports" / "skill.nc"
    return read_skill(path) if path.exists() else None


def _model_dir(root: Path) -> Path | None:
    """Return the promoted (``current``) TFT version folder, else the newest one."""
    pointer = root / "current"
    if pointer.is_file():
        vdir = root / pointer.read_text().strip()
        if (vdir / "metadata.json").exists():
            return vdir
    versions = sorted(
        (p for p in root.iterdir() if (p / "metadata.json").exists()),
        key=lambda p: p.stat().st_mtime,
    )
    return versions[-1] if versions else None


def interpretation_to_page(interp: dict) -> dict:
    """Convert the registry's ``interpretation`` to the Model page's keys.

    Parameters
    ----------
    interp : dict
        ``encoder_variables`` / ``decoder_variables`` (``{name: %}``) and ``attention`` (mean
        weight per encoder position, oldest first; Lim et al. 2021, sec. 7), each optional.

    Returns
    -------
    dict
        ``variable_importance`` (``{"encoder": {...}, "decoder": {...}}``) and ``attention``
        (``{"lag_hours": [-n..-1], "weights": [...]}``), each only when present in ``interp``.
    """
    out: dict = {}
    groups = {
        g: interp[k]
        for g, k in (("encoder", "encoder_variables"), ("decoder", "decoder_variables"))
        if interp.get(k)
    }
    if groups:
        out["variable_importance"] = groups
    weights = interp.get("attention")
    if weights:
        out["attention"] = {"lag_hours": lag_hours(len(weights)), "weights": list(weights)}
    return out


def lag_hours(n: int) -> list[int]:
    """Return encoder positions (oldest first) as hours relative to the issue time: -n .. -1.

    Position k covers the hour labelled ``t - n + k``, which starts ``n - k`` hours before
    the issue time ``t``; the newest (-1) is the hour that ended at ``t``.

    Parameters
    ----------
    n : int
        Number of encoder positions (the TFT's input window [h]).

    Returns
    -------
    list of int
        ``[-n, ..., -1]`` [h].
    """
    return list(range(-n, 0))


def forecast_interpretation(forecast: xr.Dataset | None) -> dict | None:
    """Read the TFT's own interpretation of one forecast from its attrs (``predict_many``).

    Parameters
    ----------
    forecast : xarray.Dataset or None
        A forecast (:mod:`forecasting.schema`) whose attrs may hold JSON ``attention`` (a
        list of weights per encoder position, oldest first) and ``variable_importance``
        (``encoder_variables`` / ``decoder_variables``).

    Returns
    -------
    dict or None
        ``{"attention": {"lag_hours", "weights"}, "variable_importance": {...}}`` for the
        forecast's issue time (Lim et al. 2021, sec. 7; ``variable_importance`` only when
        present), or None when the forecast carries none (a baseline, a TFT run without
        ``interpret``, unreadable JSON).
    """
    if forecast is None or "attention" not in forecast.attrs:
        return None
    try:
        weights = json.loads(forecast.attrs["attention"])
        imp = json.loads(forecast.attrs.get("variable_importance", "{}"))
    except (TypeError, ValueError):
        return None
    if not isinstance(weights, list) or not weights:
        return None
    out = {"attention": {"lag_hours": lag_hours(len(weights)), "weights": weights}}
    groups = {
        g: imp[k]
        for g, k in (("encoder", "encoder_variables"), ("decoder", "decoder_variables"))
        if isinstance(imp, dict) and imp.get(k)
    }
    if groups:
        out["variable_importance"] = groups
    return out


def load_model_info(home: Path) -> dict | None:
    """Read the metadata of the promoted (else newest) TFT for the Model page.

    ``models/tft/<version>/metadata.json``, its ``interpretation`` converted by
    :func:`interpretation_to_page`, updated with any ``interpretation.json`` beside it.

    Parameters
    ----------
    home : pathlib.Path
        ``$SUPERSTORM_HOME`` (the registry is ``home/models/tft``).

    Returns
    -------
    dict or None
        The metadata (``version`` set to the folder name if absent); None if no TFT is
        registered.
    """
    root = Path(home) / "models" / "tft"
    vdir = _model_dir(root) if root.is_dir() else None
    if vdir is None:
        return None
    info = json.loads((vdir / "metadata.json").read_text())
    info.setdefault("version", vdir.name)
    if isinstance(info.get("interpretation"), dict):
        info.update(interpretation_to_page(info.pop("interpretation")))
    extra = vdir / "interpretation.json"
    if extra.exists():
        info.update(json.loads(extra.read_text()))
    return info


def build_site_from_home(out_dir: str | Path, home: str | Path | None = None) -> list[Path]:
    """Build the site from ``$SUPERSTORM_HOME`` (archive, store, alert feed, skill, registry).

    Each missing piece is reported on its page (and in the log); nothing missing breaks the build.
    The forecast shown is the newest issue of the primary model (the TFT, else the first
    archived model); observations are read from the store over the archive's span, from a day
    before its first issue (at least 9 days before the newest) to 4 days after the newest.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Site folder, created if missing.
    home : str or pathlib.Path, optional
        Superstorm home to read (default :func:`data_sources.config.home`, i.e.
        ``$SUPERSTORM_HOME``).

    Returns
    -------
    list of pathlib.Path
        The files written (:func:`build_site`).
    """
    from data_sources import config  # noqa: PLC0415

    home = Path(home) if home is not None else config.home()
    archives = load_archive(home)
    primary = _primary(archives)
    forecast = None
    if primary is not None:
        fc = archives[primary]
        forecast = fc.isel(init_time=[-1])
    if forecast is not None:
        issue = pd.Timestamp(forecast["init_time"].values[-1])
        start = min(
            [pd.Timestamp(a["init_time"].values[0]) for a in archives.values()]
            + [issue - pd.Timedelta("8D")]
        ) - pd.Timedelta("1D")
        end = issue + pd.Timedelta("4D")
    else:
        start = end = None
    observed = load_observed(home, start, end)
    alerts = None
    feed = home / "alerts" / "active.json"
    if feed.exists():
        alerts = json.loads(feed.read_text())
    skill = load_skill(home)
    model_info = load_model_info(home)
    for label, value in (
        ("forecast archive", archives),
        ("observations", observed),
        ("alert feed", alerts),
        ("skill report", skill),
        ("TFT model", model_info),
    ):
        if value is None or (isinstance(value, dict) and not value and label != "alert feed"):
            log.warning("dashboard: no %s under %s; its page says so", label, home)
    return build_site(
        out_dir,
        forecast=forecast,
        observed=observed,
        archive=archives,
        alerts=alerts,
        skill=skill,
        model_info=model_info,
    )
