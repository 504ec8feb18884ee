"""HTML for the static site: page frame, navigation, tables, notes and figure blocks.

Pages load ``plotly.min.js`` from beside themselves (written once by :mod:`dashboards.site`),
never from a CDN, so the site works offline. A small script at the top of every page records
JavaScript errors in a visible banner and in ``<html data-js-errors>``, and sets
``<body data-rendered=N data-render-ms=T>`` once all N plots have rendered (used by the
browser test and the benchmark).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PLOTLY_JS = "plotly.min.js"

#: (file, nav label, page title)
PAGES: tuple[tuple[str, str, str], ...] = (
    ("index.html", "Now", "Current forecast"),
    ("drivers.html", "Drivers", "Solar-wind drivers"),
    ("archive.html", "Archive", "Forecast archive"),
    ("verification.html", "Verification", "Verification"),
    ("model.html", "Model", "Model"),
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}
header{background:#0b2545;color:#fff;padding:10px 20px;display:flex;align-items:baseline;gap:24px;flex-wrap:wrap}
header h1{font-size:20px;margin:0}
nav a{color:#cfe0ff;text-decoration:none;margin-right:16px;font-size:15px}
nav a.active{color:#fff;font-weight:700;border-bottom:2px solid #fff}
main{padding:12px 20px;max-width:1400px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px;margin:12px 0}
h2{font-size:17px;margin:4px 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 14px;min-width:170px}
.card .k{font-size:12px;color:#555}.card .v{font-size:18px;font-weight:600}
table{border-collapse:collapse;font-size:14px}
th,td{border:1px solid #dde1e6;padding:4px 10px;text-align:right}
th{background:#eef1f5}td.l,th.l{text-align:left}
.note{padding:8px 12px;border-radius:4px;margin:8px 0;border-left:4px solid}
.note.info{background:#eef5ff;border-color:#3b82f6}
.note.warn{background:#fff7e6;border-color:#f59e0b}
.note.missing{background:#f3f4f6;border-color:#9ca3af}
#js-errors{background:#fde8e8;border:2px solid #c81e1e;color:#7a0b0b;padding:8px 12px;margin:8px 20px}
footer{font-size:12px;color:#555;padding:10px 20px 30px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:12px}
@media(max-width:1000px){.grid2{grid-template-columns:1fr}}
.picker{display:flex;gap:10px;align-items:center;flex-wrap:wrap;margin-bottom:6px}
.picker input[type=range]{width:420px}
.lvls{display:flex;gap:12px;flex-wrap:wrap}
.lvl{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 14px;min-width:210px;flex:1}
.lvl .k{font-size:13px;color:#555}.lvl .v{font-size:26px;font-weight:700;margin:2px 0 4px}
.lvl .s{font-size:13px;color:#333}
.msgs{display:flex;flex-direction:column;gap:10px}
.msg{background:#fcfcfd;border:1px solid #dde1e6;border-radius:6px;padding:8px 14px}
.msg .h{font-size:16px}.msg .m{font-size:12px;color:#555;margin:2px 0 6px}
.msg pre{font-size:13px;margin:0;white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
"""

#: runs before plotly.min.js so a failing library load is reported too
HEAD_SCRIPT = """
window.__ss={promises:[],waits:[],errors:[]};
function __ssError(msg){
  window.__ss.errors.push(String(msg));
  document.documentElement.setAttribute('data-js-errors', String(window.__ss.errors.length));
  var box=document.getElementById('js-errors');
  if(box){box.hidden=false;var li=document.createElement('div');li.textContent='JavaScript error: '+msg;box.appendChild(li);}
}
window.addEventListener('error',function(e){__ssError(e.message||('failed to load '+(e.target&&e.target.src)));},true);
window.addEventListener('unhandledrejection',function(e){__ssError(e.reason);});
window.__ss.plot=function(id,fig){
  try{
    var cfg=Object.assign({responsive:true,displaylogo:false},fig.config||{});
    window.__ss.promises.push(Plotly.newPlot(id,fig.data,fig.layout,cfg));
  }catch(err){__ssError('plot '+id+': '+err);}
};
window.addEventListener('load',function(){
  Promise.all(window.__ss.promises.concat(window.__ss.waits)).then(function(){
    document.body.setAttribute('data-rendered',String(window.__ss.promises.length));
    document.body.setAttribute('data-render-ms',String(Math.round(performance.now())));
  },function(err){__ssError(err);});
});
"""


def esc(text: object) -> str:
    """HTML-escape any value.

    Parameters
    ----------
    text : object
        Any value; converted with ``str`` first.

    Returns
    -------
    str
        ``str(text)`` with ``&``, ``<``, ``>`` and quotes escaped.
    """
    return html.escape(str(text))


def page(file: str, body: str, *, subtitle: str = "", built: str = "") -> str:
    """Wrap ``body`` in a full HTML page with the navigation bar; ``file`` selects the active tab.

    The page loads :data:`PLOTLY_JS` from its own folder and runs :data:`HEAD_SCRIPT` first
    (error banner, ``data-rendered`` once every plot has rendered); the footer credits the
    data sources.

    Parameters
    ----------
    file : str
        The page's file name, one of :data:`PAGES` (``index.html``, ``drivers.html``, ...);
        gives the title and the highlighted tab. Another name is used as the title itself.
    body : str
        HTML of the page's content (not escaped), placed inside ``<main>``.
    subtitle : str, optional
        Text beside the navigation (escaped), e.g. the issue time shown.
    built : str, optional
        Build time shown in the footer (UTC, escaped), e.g. ``2024-05-10 20:05``.

    Returns
    -------
    str
        The complete HTML document.
    """
    title = dict((f, t) for f, _, t in PAGES).get(file, file)
    nav = "".join(
        f'<a href="{f}"{" class=active" if f == file else ""}>{esc(label)}</a>'
        for f, label, _ in PAGES
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>superstorm — {esc(title)}</title>
<style>{CSS}</style>
<script>{HEAD_SCRIPT}</script>
<script src="{PLOTLY_JS}"></script>
</head><body>
<header><h1>superstorm · {esc(title)}</h1><nav>{nav}</nav><span>{esc(subtitle)}</span></header>
<div id="js-errors" hidden></div>
<main>
{body}
</main>
<footer>Built {esc(built)} UTC. Times are UTC. Data: NASA/GSFC SPDF OMNI (King &amp; Papitashvili 2005),
Dst from WDC for Geomagnetism Kyoto, Kp from GFZ Potsdam (CC BY 4.0, Matzka et al. 2021),
NOAA SWPC real-time solar wind. NOAA G-scale colours as on the SWPC space-weather-scales page.</footer>
</body></html>
"""


def figure(fig: go.Figure, div_id: str, *, cls: str = "plot") -> str:
    """Return a ``<div>`` plus the script that plots ``fig`` into it (data embedded as JSON).

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        The figure; its data, layout and config are embedded (``</`` escaped so the JSON cannot
        close the script).
    div_id : str
        HTML id of the plot's ``<div>``, unique on the page.
    cls : str, default "plot"
        CSS class of the ``<div>``.

    Returns
    -------
    str
        HTML: the empty ``<div>`` and a ``<script>`` calling ``window.__ss.plot``.
    """
    payload = fig.to_json().replace("</", "<\\/")
    return (
        f'<div id="{esc(div_id)}" class="{esc(cls)}"></div>\n'
        f"<script>window.__ss.plot({json.dumps(div_id)},{payload});</script>"
    )


def note(text: str, kind: str = "info", *, raw: bool = False) -> str:
    """Return a coloured note box (``info``, ``warn`` or ``missing``).

    Parameters
    ----------
    text : str
        The note's text, escaped unless ``raw``.
    kind : str, default "info"
        CSS class of the box: ``info`` (blue), ``warn`` (amber) or ``missing`` (grey, for a
        piece of the site whose input is absent).
    raw : bool, default False
        Insert ``text`` as HTML (the caller escaped it).

    Returns
    -------
    str
        HTML ``<div class="note KIND">``.
    """
    return f'<div class="note {esc(kind)}">{text if raw else esc(text)}</div>'


def section(title: str, *parts: str, sid: str = "") -> str:
    """Return a ``<section>`` box with a heading around HTML parts.

    Parameters
    ----------
    title : str
        Heading text (escaped).
    *parts : str
        HTML fragments placed in order, one per line (not escaped).
    sid : str, optional
        HTML id of the section (an anchor, e.g. ``"storms"``); none when empty.

    Returns
    -------
    str
        HTML ``<section><h2>TITLE</h2>...</section>``.
    """
    ident = f' id="{esc(sid)}"' if sid else ""
    return f"<section{ident}><h2>{esc(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def cards(items: Iterable[tuple[str, str]]) -> str:
    """Return a row of small key/value cards (e.g. "issue time" / "2024-05-10 20:00 UTC").

    Parameters
    ----------
    items : iterable of (str, str)
        ``(label, value)`` pairs, one card each, in order (both escaped).

    Returns
    -------
    str
        HTML ``<div class="cards">``.
    """
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _fmt(v: object) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if isinstance(v, float | np.floating):
        return f"{v:.3g}"
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d %H:%M}"
    return str(v)


def table(
    df: pd.DataFrame,
    *,
    index: bool = True,
    cell_style: Callable[[Any, Any, Any], str] | None = None,
    fmt: Callable[[Any], str] = _fmt,
    cls: str = "",
) -> str:
    """Render a DataFrame as an HTML table; ``cell_style(row_label, col, value)`` colours cells.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows and columns as shown; column labels become the header.
    index : bool, default True
        Show the row labels as a first, left-aligned column.
    cell_style : callable, optional
        ``cell_style(row_label, column, value)`` returns inline CSS for a cell (e.g. a G-scale
        background), or ``""`` for none.
    fmt : callable, optional
        Formats a cell value; the default gives 3 significant digits for floats, ``—`` for
        None and NaN, ``YYYY-MM-DD HH:MM`` for timestamps.
    cls : str, optional
        CSS class of the ``<table>``.

    Returns
    -------
    str
        HTML ``<table>`` (values escaped; text cells and the first column without index are
        left-aligned).
    """
    head = ('<th class="l"></th>' if index else "") + "".join(
        f"<th>{esc(c)}</th>" for c in df.columns
    )
    rows = []
    for label, row in df.iterrows():
        cells = f'<td class="l">{esc(label)}</td>' if index else ""
        for i, (col, v) in enumerate(row.items()):
            style = cell_style(label, col, v) if cell_style else ""
            td_cls = ' class="l"' if (not index and i == 0) or isinstance(v, str) else ""
            cells += f"<td{td_cls}{f' style={chr(34)}{style}{chr(34)}' if style else ''}>{esc(fmt(v))}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def kv_table(items: Mapping[str, object]) -> str:
    """Return a two-column key/value table.

    Parameters
    ----------
    items : mapping of str to object
        Row label -> value, in order; values are formatted as in :func:`table` (floats to 3
        significant digits, missing as ``—``).

    Returns
    -------
    str
        HTML ``<table>``.
    """
    rows = "".join(
        f'<tr><th class="l">{esc(k)}</th><td class="l">{esc(_fmt(v))}</td></tr>'
        for k, v in items.items()
    )
    return f"<table>{rows}</table>"
