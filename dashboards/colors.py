"""Colours and levels shared by every dashboard page.

NOAA G-scale from Kp in thirds, the one definition in :data:`forecasting.schema.G_SCALE`
(as SWPC's products apply it): G1 from 5-, G2 from 6-, G3 from 7-, G4 from 8- (9- is still
G4), G5 at 9o. Colours follow the NOAA SWPC space-weather-scales page (minor yellow ... extreme
dark red); quiet and active conditions below G1 are green. Dst storm classes follow
Gonzalez et al. (1994): moderate <= -50 nT, intense <= -100 nT, superstorm <= -250 nT.
"""

from __future__ import annotations

import numpy as np

from forecasting.schema import G_SCALE, exceeds

#: colour below G1 (Kp < 5)
QUIET = "#92D050"

_G_NAMES = {
    "G1": ("G1 minor", "#F6EB14"),
    "G2": ("G2 moderate", "#FFC800"),
    "G3": ("G3 strong", "#FF9600"),
    "G4": ("G4 severe", "#FF0000"),
    "G5": ("G5 extreme", "#C80000"),
}

#: G level -> (name, lowest Kp of the level, SWPC colour); thresholds from forecasting.schema
G_LEVELS: dict[int, tuple[str, float, str]] = {
    int(g[1]): (_G_NAMES[g][0], lowest, _G_NAMES[g][1]) for g, lowest in G_SCALE.items()
}

#: Dst threshold [nT] -> label (Gonzalez et al. 1994)
DST_LEVELS: dict[float, str] = {
    -50.0: "moderate storm (Dst <= -50 nT)",
    -100.0: "intense storm (Dst <= -100 nT)",
    -250.0: "superstorm (Dst <= -250 nT)",
}

#: quantile bands drawn in fan charts, widest first: (lower, upper, label, fill colour)
BANDS: tuple[tuple[float, float, str, str], ...] = (
    (0.05, 0.95, "90% range", "rgba(31,119,180,0.15)"),
    (0.10, 0.90, "80% range", "rgba(31,119,180,0.25)"),
    (0.25, 0.75, "50% range", "rgba(31,119,180,0.40)"),
)
MEDIAN_COLOR = "#1f4e8c"
OBSERVED_COLOR = "#111111"
ISSUE_COLOR = "#d62728"
LATEST_COLOR = "#7f7f7f"

#: one fixed colour per model so a model looks the same on every page
MODEL_COLORS: dict[str, str] = {
    "tft": "#1f77b4",
    "persistence": "#7f7f7f",
    "recurrence27": "#9467bd",
    "climatology": "#bcbd22",
    "burton": "#ff7f0e",
    "obrien_mcpherron": "#2ca02c",
}
_FALLBACK = ("#17becf", "#8c564b", "#e377c2", "#d62728")


def g_level(kp: float) -> int:
    """Return the NOAA G level (0 below G1, 1..5) for one Kp value; NaN gives 0.

    Kp is in thirds; each level starts at its minus third (5- = 4.667 is G1, 8- = 7.667 is
    G4), as in SWPC's products (see :data:`forecasting.schema.G_SCALE`).

    Parameters
    ----------
    kp : float
        Planetary Kp index, 0..9 in thirds as decimals (``5-`` = 4.667, ``5o`` = 5.0,
        ``5+`` = 5.333); None or NaN is read as quiet.

    Returns
    -------
    int
        0 below G1 (Kp < 5-), else 1..5 (G1 minor .. G5 extreme).
    """
    if kp is None or not np.isfinite(kp):
        return 0
    level = 0
    for g, (_, lowest, _) in G_LEVELS.items():
        if exceeds("kp", kp, lowest):
            level = g
    return level


def g_color(kp: float) -> str:
    """Return the SWPC colour of the G level that ``kp`` reaches (green below G1).

    Parameters
    ----------
    kp : float
        Planetary Kp index in thirds as decimals (see :func:`g_level`); NaN is quiet.

    Returns
    -------
    str
        Hex colour: :data:`QUIET` below G1, else the level's colour in :data:`G_LEVELS`.
    """
    level = g_level(kp)
    return G_LEVELS[level][2] if level else QUIET


def model_color(name: str, index: int = 0) -> str:
    """Return the fixed colour of a model (a fallback cycle for names not in :data:`MODEL_COLORS`).

    Parameters
    ----------
    name : str
        Model name as archived (``tft``, ``persistence``, ``burton``, ...).
    index : int, default 0
        Position of the model in the figure; picks the fallback colour of an unknown name
        (cycling through four colours).

    Returns
    -------
    str
        Hex colour.
    """
    return MODEL_COLORS.get(name, _FALLBACK[index % len(_FALLBACK)])
