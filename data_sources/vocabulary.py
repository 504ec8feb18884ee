"""The canonical vocabulary: one name, unit and long name per physical quantity.

Every source maps its native names to these through one table; unknown names raise.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from data_sources.registry import lookup

DATA_VERSIONS = (
    "final",
    "provisional",
    "quicklook",
    "real-time",
    "definitive",
    "nowcast",
    "predicted",
)


STORM_DIRECTIONS = ("low", "high")
#: The solar flux unit written as UDUNITS/CF accept it.
SFU = "10-22 W m-2 Hz-1"


@dataclass(frozen=True)
class Variable:
    """A canonical variable: name, CF-style ``units``, ``long_name`` and physical limits.

    Attributes
    ----------
    name : str
        Canonical name (``dst``, ``bz_gsm``, ...).
    units : str
        CF/UDUNITS unit string.
    long_name : str
        Human-readable description.
    valid_range : tuple of float
        ``(min, max)`` physical limits in ``units``, inclusive. A parsed value outside them is
        not a measurement (a fill value, a corrupted digit) and is flagged by
        :func:`data_sources.base.apply_valid_range`. The limits are generous bounds beyond the
        most extreme events on record (e.g. Dst -589 nT in March 1989, Kp 9o by definition),
        not climatology: they must never reject a real storm.
    storm_direction : {"low", "high"} or None
        Which way the variable moves in a geomagnetic storm: ``"low"`` for Dst (the ring
        current depresses the field), ``"high"`` for Kp and ap, ``None`` otherwise.
    standard_name : str or None
        CF standard name, only where the CF standard-name table has one; none of the current
        heliophysics quantities has one, so all are ``None`` today.
    """

    name: str
    units: str
    long_name: str
    valid_range: tuple[float, float]
    storm_direction: str | None = None
    standard_name: str | None = None

    def __post_init__(self) -> None:
        lo, hi = self.valid_range
        if not lo < hi:
            raise ValueError(f"{self.name}: valid_range {self.valid_range} must have min < max")
        if self.storm_direction not in (None, *STORM_DIRECTIONS):
            raise ValueError(
                f"{self.name}: storm_direction {self.storm_direction!r} must be one of "
                f"{STORM_DIRECTIONS} or None"
            )


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("bx_gsm", "nT", "IMF Bx, GSE/GSM", (-500.0, 500.0)),
        Variable("by_gsm", "nT", "IMF By, GSM", (-500.0, 500.0)),
        Variable("bz_gsm", "nT", "IMF Bz, GSM", (-500.0, 500.0)),
        Variable("b_total", "nT", "IMF magnitude |B| (average of magnitudes)", (0.0, 500.0)),
        Variable("v_sw", "km s-1", "solar wind bulk flow speed", (100.0, 3500.0)),
        Variable("n_p", "cm-3", "solar wind proton density", (0.0, 500.0)),
        Variable("t_p", "K", "solar wind proton temperature", (0.0, 9.0e6)),
        Variable("p_dyn", "nPa", "solar wind dynamic (flow) pressure", (0.0, 500.0)),
        Variable("e_y", "mV m-1", "dawn-dusk electric field -V Bz", (-500.0, 500.0)),
        Variable("dst", "nT", "disturbance storm time index Dst", (-2000.0, 300.0), "low"),
        Variable("kp", "1", "planetary K index Kp (0..9 in thirds)", (0.0, 9.0), "high"),
        Variable("ap", "2 nT", "planetary equivalent amplitude ap", (0.0, 400.0), "high"),
        Variable("ap_daily", "2 nT", "daily planetary amplitude Ap", (0.0, 400.0), "high"),
        Variable("ae", "nT", "auroral electrojet index AE", (0.0, 6000.0)),
        # 1 solar flux unit (sfu) = 1e-22 W m-2 Hz-1; "sfu" itself is not a UDUNITS unit
        Variable(
            "f107",
            SFU,
            "solar radio flux at 10.7 cm, F10.7 (observed), solar flux units",
            (0.0, 5000.0),
        ),
        Variable(
            "f107_adj",
            SFU,
            "solar radio flux at 10.7 cm, F10.7 adjusted to 1 AU, solar flux units",
            (0.0, 5000.0),
        ),
        Variable("sunspot_number", "1", "international sunspot number", (0.0, 1000.0)),
        Variable("hp30", "1", "half-hourly planetary index Hp30", (0.0, 30.0)),
        Variable("hp60", "1", "hourly planetary index Hp60", (0.0, 30.0)),
    ]
}


def describe(name: str) -> Variable:
    """Return the canonical :class:`Variable` for ``name``.

    Parameters
    ----------
    name : str
        Canonical variable name, e.g. ``"dst"``, ``"bz_gsm"``, ``"kp"`` (see
        :data:`VARIABLES`).

    Returns
    -------
    Variable
        Its CF ``units`` (``"nT"``, ``"km s-1"``, ``"cm-3"``, ``"nPa"``, ...), ``long_name``,
        ``valid_range`` and ``storm_direction``.

    Raises
    ------
    KeyError
        If ``name`` is not canonical; the message lists the valid names.
    """
    hint = "; it is not in the canonical vocabulary: add it to data_sources/vocabulary.py"
    return lookup(VARIABLES, name, "variable", hint)


def annotate(
    ds: xr.Dataset,
    *,
    source: str,
    data_version: str | dict[str, str],
) -> xr.Dataset:
    """Attach ``units``, ``long_name``, ``source`` and ``data_version`` to every data variable.

    ``data_version`` is one string for all variables, or a mapping name -> version.
    Variables whose name ends in ``_qc`` or ``_version`` are left as they are.

    Parameters
    ----------
    ds : xr.Dataset
        Dataset whose data variables all have canonical names; updated in place.
    source : str
        Source name written to each variable's ``source`` attribute (e.g. ``"omni2"``).
    data_version : str or dict of str to str
        One of :data:`DATA_VERSIONS` (``"final"``, ``"provisional"``, ``"quicklook"``,
        ``"real-time"``, ...) for all variables, or a mapping variable name -> version
        that covers every annotated variable.

    Returns
    -------
    xr.Dataset
        ``ds`` itself (same object), annotated.

    Raises
    ------
    KeyError
        If a variable name is not canonical (or missing from a ``data_version`` mapping).
    ValueError
        If a version is not one of :data:`DATA_VERSIONS`.
    """
    for key, da in ds.data_vars.items():
        name = str(key)
        if name.endswith(("_qc", "_version")):
            continue
        var = describe(name)
        version = data_version if isinstance(data_version, str) else data_version[name]
        if version not in DATA_VERSIONS:
            raise ValueError(f"data_version {version!r} for {name!r} is not one of {DATA_VERSIONS}")
        da.attrs.update(
            units=var.units,
            long_name=var.long_name,
            source=source,
            data_version=version,
        )
        if var.standard_name is not None:
            da.attrs["standard_name"] = var.standard_name
    return ds
