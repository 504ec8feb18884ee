"""Quantities derived from measured solar-wind values, needed by the sources themselves.

Only formulas the bottom layer uses live here (the SWPC hourly averages derive the flow
pressure as OMNI does); the coupling functions of the models are in
:mod:`forecasting.models.physics`.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd
import xarray as xr

ArrayT = TypeVar("ArrayT", float, np.ndarray, pd.Series, xr.DataArray)

#: OMNI's flow-pressure coefficient: P [nPa] = 2e-6 n [cm-3] V^2 [km2 s-2], which is
#: m_p n V^2 = 1.6726e-6 n V^2 nPa raised by ~20 % for an assumed 4 % alpha-particle
#: content (OMNI2 documentation, ``omni2.text``; King & Papitashvili 2005).
OMNI_PDYN_COEFF = 2.0e-6
#: Proton mass in the units above: m_p n V^2 with n in cm-3 and V in km s-1 gives nPa.
PROTON_PDYN_COEFF = 1.6726e-6


def dynamic_pressure(n_p: ArrayT, v_sw: ArrayT, *, alpha_ratio: float | None = None) -> ArrayT:
    """Solar-wind dynamic (flow) pressure ``p_dyn`` [nPa].

    ``P = k n V^2``. With ``alpha_ratio`` unknown (``None``) ``k = 2e-6``, OMNI's flow
    pressure (omni2.text; King & Papitashvili 2005), which assumes ~4 % alphas; with a known
    alpha/proton ratio ``a``, ``k = 1.6726e-6 (1 + 4 a)`` (protons plus alphas of mass 4 m_p).

    Parameters
    ----------
    n_p
        Proton density [cm-3].
    v_sw
        Bulk speed [km s-1].
    alpha_ratio
        Alpha/proton number ratio, if measured.

    Returns
    -------
    Same type as ``n_p``
        Pressure [nPa]; NaN where an input is NaN.
    """
    k = OMNI_PDYN_COEFF if alpha_ratio is None else PROTON_PDYN_COEFF * (1.0 + 4.0 * alpha_ratio)
    return k * n_p * v_sw**2
