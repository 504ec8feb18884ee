"""Ring-current (Dst) physics models: Burton et al. (1975) and O'Brien & McPherron (2000).

Both integrate the pressure-corrected index ``Dst*``::

    dDst*/dt = Q(t) - Dst*/tau,        Dst* = Dst - b sqrt(P_dyn) + c

Burton, McPherron & Russell (1975), "An empirical relationship between interplanetary
conditions and Dst", J. Geophys. Res. 80, 4204, doi:10.1029/JA080i031p04204:

* ``Q = d (E_y - E_c)`` for ``E_y > E_c``, else 0, with ``E_y = -V Bz 1e-3`` [mV m-1],
  ``E_c = 0.5 mV m-1`` and ``d = -1.5e-3 nT (mV m-1)^-1 s^-1 = -5.4 nT h^-1 (mV m-1)^-1``;
* decay ``a = 3.6e-5 s^-1``, i.e. ``tau = 1/a = 7.7 h``;
* ``b = 0.20 nT (eV cm-3)^-1/2``. With ``1 nPa = 6241.5 eV cm-3`` this is
  ``0.20 sqrt(6241.5) = 15.8 nT nPa^-1/2``; ``c = 20 nT``.

O'Brien & McPherron (2000), "An empirical phase space analysis of ring current dynamics:
Solar wind control of injection and decay", J. Geophys. Res. 105, 7707,
doi:10.1029/1998JA000437:

* ``Q = -4.4 (VBs - 0.49)`` nT h^-1 for ``VBs > 0.49 mV m-1``, else 0, where
  ``VBs = V max(-Bz, 0) 1e-3`` [mV m-1];
* ``tau = 2.40 exp(9.74 / (4.69 + VBs))`` h;
* ``b = 7.26 nT nPa^-1/2``, ``c = 11 nT``.

Integration: drivers are hourly and held constant over each hour, and for a constant
``Q`` and ``tau`` the equation has the exact solution
``Dst*(t + dt) = Q tau + (Dst*(t) - Q tau) exp(-dt / tau)``; :func:`integrate_dst_star`
applies it step by step (exact for piecewise-constant drivers, unlike Euler steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: 1 nPa in eV cm-3 (1e-9 Pa / 1.602176634e-19 J/eV / 1e6 cm-3 per m3)
NPA_IN_EV_CM3 = 1e-9 / 1.602176634e-19 / 1e6


@dataclass(frozen=True)
class RingCurrentModel:
    """Constants of one Dst* model (units in the field names' docs)."""

    name: str
    b: float  # nT nPa^-1/2, pressure correction
    c: float  # nT, quiet-time offset
    e_c: float  # mV m-1, injection threshold
    d: float  # nT h^-1 per mV m-1, injection efficiency (negative)
    reference: str


BURTON = RingCurrentModel(
    name="burton",
    b=0.20 * np.sqrt(NPA_IN_EV_CM3),  # 15.8 nT nPa^-1/2
    c=20.0,
    e_c=0.5,
    d=-1.5e-3 * 3600.0,  # -5.4 nT/h per mV/m
    reference="Burton, McPherron & Russell (1975), doi:10.1029/JA080i031p04204",
)
BURTON_TAU_H = 1.0 / 3.6e-5 / 3600.0  # 7.7 h

OBRIEN_MCPHERRON = RingCurrentModel(
    name="obrien_mcpherron",
    b=7.26,
    c=11.0,
    e_c=0.49,
    d=-4.4,
    reference="O'Brien & McPherron (2000), doi:10.1029/1998JA000437",
)


def electric_field(v_sw: np.ndarray, bz_gsm: np.ndarray) -> np.ndarray:
    """Dawn-dusk interplanetary electric field ``E_y = -V Bz 1e-3`` [mV m-1].

    The driver of Burton et al. (1975); positive for southward Bz.

    Parameters
    ----------
    v_sw : numpy.ndarray
        Solar-wind bulk speed [km s-1] (positive, antisunward).
    bz_gsm : numpy.ndarray
        IMF Bz, GSM [nT]; broadcastable against ``v_sw``.

    Returns
    -------
    numpy.ndarray
        ``E_y`` [mV m-1] (``1 km s-1 x 1 nT = 1e-3 mV m-1``), the broadcast shape of the inputs;
        NaN where an input is NaN.
    """
    return -np.asarray(v_sw, dtype=float) * np.asarray(bz_gsm, dtype=float) * 1e-3


def vbs(v_sw: np.ndarray, bz_gsm: np.ndarray) -> np.ndarray:
    """Rectified ``VBs = V max(-Bz, 0) 1e-3`` [mV m-1], the O'Brien & McPherron (2000) driver.

    Parameters
    ----------
    v_sw : numpy.ndarray
        Solar-wind bulk speed [km s-1].
    bz_gsm : numpy.ndarray
        IMF Bz, GSM [nT]; broadcastable against ``v_sw``.

    Returns
    -------
    numpy.ndarray
        ``VBs`` [mV m-1], >= 0 (0 for northward Bz); NaN where an input is NaN.
    """
    return np.maximum(electric_field(v_sw, bz_gsm), 0.0) * np.where(
        np.isnan(np.asarray(bz_gsm, dtype=float)), np.nan, 1.0
    )


def newell_coupling(v_sw: ArrayLike, by_gsm: ArrayLike | None, bz_gsm: ArrayLike) -> np.ndarray:
    """Newell et al. (2007) coupling ``V^(4/3) B_T^(2/3) sin^(8/3)(theta_c / 2)``.

    doi:10.1029/2006JA012015. ``B_T = sqrt(By^2 + Bz^2)``, ``theta_c = atan2(By, Bz)`` (GSM).

    Parameters
    ----------
    v_sw : ArrayLike
        Bulk speed [km s-1].
    by_gsm : ArrayLike or None
        IMF By, GSM [nT]; ``None`` gives the Bz-only form ``V^(4/3) Bs^(2/3)`` (``B_T = |Bz|``,
        ``theta_c`` 0 or 180 deg).
    bz_gsm : ArrayLike
        IMF Bz, GSM [nT].

    Returns
    -------
    numpy.ndarray
        Coupling [(km s-1)^(4/3) nT^(2/3)]; NaN where an input is NaN.
    """
    v = np.asarray(v_sw, dtype=float)
    bz = np.asarray(bz_gsm, dtype=float)
    with np.errstate(invalid="ignore"):  # an unphysical negative speed gives NaN, as in pandas
        if by_gsm is None:
            return v ** (4 / 3) * np.clip(-bz, 0.0, None) ** (2 / 3)
        by = np.asarray(by_gsm, dtype=float)
        theta = clock_angle(by, bz)
        return v ** (4 / 3) * np.hypot(by, bz) ** (2 / 3) * np.abs(np.sin(theta / 2)) ** (8 / 3)


def clock_angle(by_gsm: ArrayLike, bz_gsm: ArrayLike) -> np.ndarray:
    """IMF clock angle ``theta_c = atan2(By, Bz)`` in the GSM y-z plane (Newell et al. 2007).

    Parameters
    ----------
    by_gsm : ArrayLike
        IMF By, GSM [nT].
    bz_gsm : ArrayLike
        IMF Bz, GSM [nT]; broadcastable against ``by_gsm``.

    Returns
    -------
    numpy.ndarray
        ``theta_c`` [rad] in ``[-pi, pi]``: 0 for northward, +-pi for southward IMF.
    """
    return np.arctan2(np.asarray(by_gsm, dtype=float), np.asarray(bz_gsm, dtype=float))


def injection(e: np.ndarray, model: RingCurrentModel) -> np.ndarray:
    """Injection ``Q = d (E - E_c)`` for ``E > E_c`` else 0 [nT h^-1].

    ``E`` is ``E_y`` for Burton et al. (1975) and ``VBs`` for O'Brien & McPherron (2000)
    (equal whenever Bz < 0, and both give Q = 0 for northward Bz).

    Parameters
    ----------
    e : numpy.ndarray
        Driving electric field [mV m-1]: :func:`electric_field` (Burton) or :func:`vbs`
        (O'Brien & McPherron), any shape.
    model : RingCurrentModel
        Supplies the threshold ``e_c`` [mV m-1] and efficiency ``d`` [nT h^-1 (mV m-1)^-1].

    Returns
    -------
    numpy.ndarray
        ``Q`` [nT h^-1], same shape as ``e``; <= 0 (injection deepens Dst*), NaN where ``e``
        is NaN.
    """
    e = np.asarray(e, dtype=float)
    return np.where(e > model.e_c, model.d * (e - model.e_c), np.where(np.isnan(e), np.nan, 0.0))


def burton_tau(e: np.ndarray | float) -> np.ndarray:
    """Burton et al. (1975) decay time: constant 7.7 h (``a = 3.6e-5 s^-1``).

    Parameters
    ----------
    e : numpy.ndarray or float
        Driving field [mV m-1]; only its shape is used (the Burton decay does not depend on it).

    Returns
    -------
    numpy.ndarray
        ``tau`` [h], :data:`BURTON_TAU_H` everywhere, shape of ``e``.
    """
    return np.full(np.shape(e), BURTON_TAU_H)


def obrien_mcpherron_tau(vbs_mv_m: np.ndarray | float) -> np.ndarray:
    """O'Brien & McPherron (2000) decay time ``tau = 2.40 exp(9.74 / (4.69 + VBs))`` [h].

    Faster decay under stronger driving: about 19.1 h at ``VBs = 0``, 6.6 h at 5 mV m-1.

    Parameters
    ----------
    vbs_mv_m : numpy.ndarray or float
        Rectified ``VBs`` [mV m-1] (:func:`vbs`).

    Returns
    -------
    numpy.ndarray
        ``tau`` [h], same shape as ``vbs_mv_m``.
    """
    return 2.40 * np.exp(9.74 / (4.69 + np.asarray(vbs_mv_m, dtype=float)))


def dst_star(dst: ArrayLike, p_dyn: ArrayLike, model: RingCurrentModel) -> np.ndarray:
    """Pressure-corrected ``Dst* = Dst - b sqrt(P_dyn) + c`` [nT].

    Removes the magnetopause-current contribution (Burton et al. 1975; O'Brien & McPherron
    2000 constants in ``model``).

    Parameters
    ----------
    dst : ArrayLike
        Observed Dst [nT].
    p_dyn : ArrayLike
        Solar-wind dynamic pressure [nPa]; broadcastable against ``dst``.
    model : RingCurrentModel
        Supplies ``b`` [nT nPa^-1/2] and ``c`` [nT].

    Returns
    -------
    numpy.ndarray
        ``Dst*`` [nT], the broadcast shape of the inputs.
    """
    return (
        np.asarray(dst, dtype=float) - model.b * np.sqrt(np.asarray(p_dyn, dtype=float)) + model.c
    )


def dst_from_star(star: np.ndarray, p_dyn: np.ndarray, model: RingCurrentModel) -> np.ndarray:
    """Inverse of :func:`dst_star`: ``Dst = Dst* + b sqrt(P_dyn) - c`` [nT].

    Parameters
    ----------
    star : numpy.ndarray
        Pressure-corrected ``Dst*`` [nT].
    p_dyn : numpy.ndarray
        Solar-wind dynamic pressure [nPa] at the same hours; broadcastable against ``star``.
    model : RingCurrentModel
        Supplies ``b`` [nT nPa^-1/2] and ``c`` [nT] (the same model that made ``star``).

    Returns
    -------
    numpy.ndarray
        Dst [nT], the broadcast shape of the inputs.
    """
    return (
        np.asarray(star, dtype=float) + model.b * np.sqrt(np.asarray(p_dyn, dtype=float)) - model.c
    )


def step_dst_star(
    star: np.ndarray, q: np.ndarray, tau: np.ndarray, dt_h: float | np.ndarray = 1.0
) -> np.ndarray:
    """Advance ``Dst*`` by ``dt_h`` hours with constant ``Q`` and ``tau`` (exact).

    ``Dst*(t + dt) = Q tau + (Dst*(t) - Q tau) exp(-dt / tau)``, the exact solution of
    ``dDst*/dt = Q - Dst*/tau`` for drivers held constant over the step.

    Parameters
    ----------
    star : numpy.ndarray
        ``Dst*`` [nT] at the start of the step.
    q : numpy.ndarray
        Injection [nT h^-1] over the step.
    tau : numpy.ndarray
        Decay time [h] over the step (> 0).
    dt_h : float or numpy.ndarray, default 1.0
        Step length [h].

    Returns
    -------
    numpy.ndarray
        ``Dst*`` [nT] at the end of the step, the broadcast shape of the inputs.
    """
    qtau = np.asarray(q, dtype=float) * np.asarray(tau, dtype=float)
    return qtau + (np.asarray(star, dtype=float) - qtau) * np.exp(
        -dt_h / np.asarray(tau, dtype=float)
    )


def integrate_dst_star(
    star0: np.ndarray, q: np.ndarray, tau: np.ndarray, *, dt_h: float = 1.0
) -> np.ndarray:
    """Integrate ``dDst*/dt = Q - Dst*/tau`` over hourly steps.

    Parameters
    ----------
    star0 : numpy.ndarray
        Initial ``Dst*`` [nT], shape ``(n,)`` (one per forecast/run).
    q, tau : numpy.ndarray
        Injection [nT h^-1] and decay time [h] per step, shape ``(n, n_steps)`` (or
        broadcastable to it); step ``k`` uses ``q[:, k]`` and ``tau[:, k]``.
    dt_h : float, default 1.0
        Step length [h] (the drivers' cadence).

    Returns
    -------
    numpy.ndarray
        ``Dst*`` after steps ``1 .. n_steps``, shape ``(n, n_steps)``.
    """
    star = np.asarray(star0, dtype=float)
    q, tau = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(tau, dtype=float))
    out = np.empty(q.shape)
    for k in range(q.shape[-1]):
        star = step_dst_star(star, q[..., k], tau[..., k], dt_h)
        out[..., k] = star
    return out


def drivers(
    model: RingCurrentModel, v_sw: np.ndarray, bz_gsm: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Injection and decay time of ``model`` for the given solar wind.

    Parameters
    ----------
    model : RingCurrentModel
        :data:`BURTON` (driven by ``E_y``, constant ``tau``) or :data:`OBRIEN_MCPHERRON`
        (driven by ``VBs``, ``tau`` from :func:`obrien_mcpherron_tau`).
    v_sw : numpy.ndarray
        Solar-wind bulk speed [km s-1].
    bz_gsm : numpy.ndarray
        IMF Bz, GSM [nT], same shape as ``v_sw``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(Q, tau)``: injection [nT h^-1] and decay time [h], shape of the inputs.

    Raises
    ------
    ValueError
        If ``model.name`` is neither ``"burton"`` nor ``"obrien_mcpherron"``.
    """
    if model.name == "burton":
        e = electric_field(v_sw, bz_gsm)
        return injection(e, model), burton_tau(e)
    if model.name == "obrien_mcpherron":
        e = vbs(v_sw, bz_gsm)
        return injection(e, model), obrien_mcpherron_tau(e)
    raise ValueError(f"unknown ring-current model {model.name!r}; use BURTON or OBRIEN_MCPHERRON")


def simulate_dst(
    model: RingCurrentModel,
    dst0: float,
    v_sw: np.ndarray,
    bz_gsm: np.ndarray,
    p_dyn: np.ndarray,
    p_dyn0: float | None = None,
) -> np.ndarray:
    """Run ``model`` from an observed ``dst0`` through hourly solar wind.

    Converts ``dst0`` to ``Dst*`` (:func:`dst_star`), integrates with :func:`integrate_dst_star`
    and converts back with each hour's pressure (:func:`dst_from_star`).

    Parameters
    ----------
    model : RingCurrentModel
        :data:`BURTON` or :data:`OBRIEN_MCPHERRON`.
    dst0 : float
        Dst [nT] of the hour before the first driver hour.
    v_sw : numpy.ndarray
        Hourly solar-wind bulk speed [km s-1], shape ``(n_steps,)``.
    bz_gsm : numpy.ndarray
        Hourly IMF Bz, GSM [nT], shape ``(n_steps,)``.
    p_dyn : numpy.ndarray
        Hourly dynamic pressure [nPa], shape ``(n_steps,)``.
    p_dyn0 : float, optional
        Pressure [nPa] at the hour of ``dst0``; ``None`` uses ``p_dyn[0]``.

    Returns
    -------
    numpy.ndarray
        Dst [nT] after each driver hour, shape ``(n_steps,)``.
    """
    p = np.asarray(p_dyn, dtype=float)
    p0 = p[0] if p_dyn0 is None else p_dyn0
    q, tau = drivers(model, v_sw, bz_gsm)
    star = integrate_dst_star(np.atleast_1d(dst_star(dst0, p0, model)), q[None, :], tau[None, :])[0]
    return dst_from_star(star, p, model)
