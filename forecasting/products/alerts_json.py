r"""``alerts.json``: the alert log's messages in the layout of SWPC's ``products/alerts.json``.

SWPC serves a JSON array of ``{"product_id", "issue_datetime", "message"}`` objects, newest
first, covering the last few days; ``message`` is the full text product with ``\r\n`` line
ends::

    Space Weather Message Code: WARK05
    Serial Number: 4521
    Issue Time: 2024 May 10 1706 UTC

    WARNING: Geomagnetic K-index of 5 expected
    Valid From: 2024 May 10 1705 UTC
    Valid To: 2024 May 11 0300 UTC
    Warning Condition: Onset
    NOAA Scale: G1 - Minor

Codes follow SWPC's for the G-scale products: K-index warnings ``WARK05``/``WARK06``/
``WARK07`` (K7 or greater; product ids ``K05W``...), K-index alerts ``ALTK05``..``ALTK09``
(``K05A``...), storm watches ``WATA20`` (G1), ``WATA30`` (G2), ``WATA50`` (G3 or greater;
product ids ``A20F``...). Extensions carry ``Extension to Serial Number`` and ``Now Valid
Until``; cancellations ``Cancel Serial Number`` and ``Original Issue Time``. SWPC issues no
Dst, input-staleness or forecast-unavailable products: those use this project's codes
(``WARD50``/``ALTD50``..., ``ALTSTL``, ``ALTFUN``) and say so; an episode's all-clear is a ``SUMMARY`` (``SUMK05``...). Messages the
log does not notify (a warning running out: ``expire``) are left out, as SWPC sends none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from data_sources.timeconv import TimeLike, to_utc
from forecasting.alerting.rules import FORECAST_UNAVAILABLE
from forecasting.products.blocks import G_NAMES, swpc_time

WINDOW = pd.Timedelta("3D")
FILENAME = "alerts.json"
CRLF = "\r\n"
FOOTER = "Issued by superstorm from its own forecasts; not an official NOAA SWPC product."
#: G level -> (K index printed, WARNING code suffix, WATCH code suffix)
_KP_CODES: dict[str, tuple[str, str, str]] = {
    "G1": ("5", "05", "20"),
    "G2": ("6", "06", "30"),
    "G3": ("7", "07", "50"),
    "G4": ("8", "07", "50"),
    "G5": ("9", "07", "50"),
}
_DST_CODES: dict[str, str] = {"DST50": "50", "DST100": "100", "DST250": "250"}


def _t(value: TimeLike | None) -> pd.Timestamp | None:
    if value is None or value == "" or (not isinstance(value, str) and pd.isna(value)):
        return None
    return to_utc(str(value).rstrip("Z"))


def _scale(level: str, *, or_greater: bool = False) -> str:
    if or_greater and level in ("G3", "G4", "G5"):
        return "NOAA Scale: G3 or Greater - Strong to Extreme"
    return f"NOAA Scale: {level} - {G_NAMES.get(level, level)}"


def _detail(text: str) -> str:
    """Return the rule's own comment at the end of the log's one-line text (after 'UTC. ')."""
    head, sep, tail = (text or "").partition(" UTC. ")
    return tail.strip() if sep else ""


def codes(message: Mapping) -> tuple[str, str]:
    """Give the ``(product_id, message code)`` of a log message.

    SWPC's codes where SWPC has the product (G-scale K-index WATCH / WARNING / ALERT), this
    project's for Dst, stale input and an unavailable forecast (see the module docstring).

    Parameters
    ----------
    message : mapping
        A log message with ``kind``, ``family``, ``level`` and ``action``.

    Returns
    -------
    (str, str)
        E.g. ``("K05W", "WARK05")`` for a G1 WARNING, ``("K07A", "ALTK07")`` for a G3 ALERT,
        ``("A20F", "WATA20")`` for a G1 WATCH, ``("D100W", "WARD100")`` for a Dst <= -100 nT
        WARNING; an all-clear gives the ``SUM...`` code of its level.
    """
    kind, family, level, action = (
        message["kind"],
        message["family"],
        message["level"],
        message["action"],
    )
    if family == "kp" and level in _KP_CODES:
        k, warn, watch = _KP_CODES[level]
        if action == "all_clear":
            return f"K0{k}S", f"SUMK0{k}"
        if kind == "WATCH":
            return f"A{watch}F", f"WATA{watch}"
        if kind == "WARNING":
            return f"K{warn}W", f"WARK{warn}"
        return f"K0{k}A", f"ALTK0{k}"
    if family == "dst" and level in _DST_CODES:
        d = _DST_CODES[level]
        if action == "all_clear":
            return f"D{d}S", f"SUMD{d}"
        return (f"D{d}W", f"WARD{d}") if kind == "WARNING" else (f"D{d}A", f"ALTD{d}")
    if kind == FORECAST_UNAVAILABLE or family == "forecast":
        return ("FUNS", "SUMFUN") if action == "all_clear" else ("FUNA", "ALTFUN")
    if action == "all_clear":
        return "STLS", "SUMSTL"
    return "STLA", "ALTSTL"


def _subject(message: Mapping) -> str:
    kind, family, level = message["kind"], message["family"], message["level"]
    if family == "kp" and level in _KP_CODES:
        k = _KP_CODES[level][0]
        if kind == "WATCH":
            return f"Geomagnetic Storm Category {level} Predicted"
        if kind == "WARNING":
            k = "7 or greater" if level in ("G3", "G4", "G5") else k
            return f"Geomagnetic K-index of {k} expected"
        return f"Geomagnetic K-index of {k}"
    if family == "dst" and level in _DST_CODES:
        suffix = " expected" if kind == "WARNING" else ""
        return f"Dst of -{_DST_CODES[level]} nT or below{suffix}"
    if kind == FORECAST_UNAVAILABLE or family == "forecast":
        return "Forecast unavailable"
    return "Solar wind input stale"


def _active_warning(message: Mapping, others: Iterable[Mapping]) -> bool:
    """Whether a WARNING of the alert's family was in force when the alert was issued."""
    t = _t(message["issue_time"])
    for m in others:
        if m["kind"] != "WARNING" or m["family"] != message["family"]:
            continue
        start, end = _t(m["valid_start"]), _t(m["valid_end"])
        if start is not None and start <= t and (end is None or t < end):
            return True
    return False


def swpc_message(message: Mapping, log: Mapping[int | None, Mapping] | None = None) -> str:
    r"""Render one log message (``AlertLog.messages()`` row) as SWPC's text product.

    Parameters
    ----------
    message : mapping
        A row with ``serial, action, kind, family, level, probability, valid_start,
        valid_end, issue_time, refers_to, text`` (times ISO UTC, ``Z`` allowed).
    log : mapping of int to mapping, optional
        Every message by serial, to find what an extension or cancellation refers to and
        whether a warning was active when an alert was issued (default: none known).

    Returns
    -------
    str
        The product text, ``\r\n`` line ends, ending with :data:`FOOTER`.
    """
    log = log or {}
    _, code = codes(message)
    action, kind, level = message["action"], message["kind"], message["level"]
    issued = _t(message["issue_time"])
    start, end = _t(message["valid_start"]), _t(message["valid_end"])
    ref = message.get("refers_to")
    subject = _subject(message)
    lines = [
        f"Space Weather Message Code: {code}",
        f"Serial Number: {message['serial']}",
        f"Issue Time: {swpc_time(issued)}",
        "",
    ]
    if action == "all_clear":
        lines += [f"SUMMARY: {subject} episode ended", f"End of Serial Number: {ref}"]
        if start is not None:
            lines.append(f"Observed From: {swpc_time(start)}")
        lines.append(f"Ended: {swpc_time(end or issued)}")
    elif action == "cancel":
        original = log.get(ref, {})
        lines += [f"CANCEL {kind}: {subject}", f"Cancel Serial Number: {ref}"]
        if original.get("issue_time"):
            lines.append(f"Original Issue Time: {swpc_time(_t(original['issue_time']))}")
    elif action == "extend":
        lines += [
            f"EXTENDED {kind}: {subject}",
            f"Extension to Serial Number: {ref}",
            f"Valid From: {swpc_time(start)}",
            f"Now Valid Until: {swpc_time(end)}",
            "Warning Condition: Persistence",
        ]
    elif kind == "WATCH":
        lines += [
            f"WATCH: {subject}",
            "",
            "Highest Storm Level Predicted by Day:",
            f"{start:%b %d}:  {level} ({G_NAMES.get(level, level)})",
            "",
            "THIS SUPERSEDES ANY/ALL PRIOR WATCHES IN EFFECT" if ref else "",
        ]
    elif kind == "WARNING":
        lines += [
            f"WARNING: {subject}",
            f"Valid From: {swpc_time(start)}",
            f"Valid To: {swpc_time(end)}" if end is not None else "Valid To: open",
            "Warning Condition: Onset",
        ]
        if ref:
            lines.append(f"Supersedes Serial Number: {ref}")
    elif kind == "ALERT":
        lines.append(f"ALERT: {subject}")
        if message["family"] == "kp" and start is not None:
            lines += [
                f"Threshold Reached: {swpc_time(start + pd.Timedelta('3h'))}",
                f"Synoptic Period: {start:%H%M}-{start + pd.Timedelta('3h'):%H%M} UTC",
            ]
        elif start is not None:
            lines.append(f"Threshold Reached: {swpc_time(start + pd.Timedelta('1h'))}")
        lines += [
            "",
            f"Active Warning: {'Yes' if _active_warning(message, log.values()) else 'No'}",
        ]
        if ref:
            lines.append(f"Escalation of Serial Number: {ref}")
    elif kind == FORECAST_UNAVAILABLE or message["family"] == "forecast":
        lines += [f"ALERT: {subject}"]
        if start is not None:
            lines.append(f"Since: {swpc_time(start)}")
    else:  # STALE_INPUT
        lines += [f"ALERT: {subject}"]
        if start is not None:
            lines.append(f"Newest Sample Ends: {swpc_time(start)}")
    if message["family"] == "kp" and level in G_NAMES and action != "all_clear":
        lines.append(_scale(level, or_greater=kind in ("WARNING", "WATCH")))
    p = message.get("probability")
    if kind in ("WATCH", "WARNING") and p is not None and np.isfinite(float(p)):
        lines.append(f"Forecast Probability: {float(p) * 100:.0f}%")
    comment = _detail(message.get("text", ""))
    lines += ["", f"Comment: {comment}" if comment else "", FOOTER]
    return CRLF.join(x for i, x in enumerate(lines) if x or (lines[i - 1] if i else False))


def alerts_records(
    messages: Iterable[Mapping], issue_time: TimeLike, *, window: pd.Timedelta = WINDOW
) -> list[dict]:
    """Build the ``alerts.json`` records, newest first.

    Parameters
    ----------
    messages : iterable of mapping
        The alert log's messages (``AlertLog.messages()`` rows); silent ones (``notify`` 0:
        expiries) are left out.
    issue_time : TimeLike
        The run's issue time (UTC); messages issued after it are left out.
    window : pandas.Timedelta
        How far back messages are listed (default 3 days, as SWPC's feed).

    Returns
    -------
    list of dict
        ``{"product_id", "issue_datetime" ("YYYY-MM-DD HH:MM:SS.000" UTC), "message"}``
        per message issued in ``[issue_time - window, issue_time]``, newest first.
    """
    t = to_utc(issue_time)
    every = list(messages)
    by_serial = {m["serial"]: m for m in every}
    chosen = [m for m in every if m.get("notify", 1) and (t - window) <= _t(m["issue_time"]) <= t]
    chosen.sort(key=lambda m: (_t(m["issue_time"]), m["serial"]), reverse=True)
    return [
        {
            "product_id": codes(m)[0],
            "issue_datetime": f"{_t(m['issue_time']):%Y-%m-%d %H:%M:%S}.000",
            "message": swpc_message(m, by_serial),
        }
        for m in chosen
    ]


def alerts_json(messages: Iterable[Mapping], issue_time: TimeLike) -> str:
    """Render the text of ``alerts.json`` (see :func:`alerts_records`).

    Parameters
    ----------
    messages : iterable of mapping
        The alert log's messages (``AlertLog.messages()`` rows).
    issue_time : TimeLike
        The run's issue time (UTC); a 3-day window up to it is listed.

    Returns
    -------
    str
        JSON array, indented by one space.
    """
    return json.dumps(alerts_records(messages, issue_time), indent=1)
