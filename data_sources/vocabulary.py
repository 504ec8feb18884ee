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


@dataclass(frozen=True)
class Variable:
    """A canonical variable: name, CF-style ``units`` and a ``long_name``."""

    name: str
    units: str
    long_name: str


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("bx_gsm", "nT", "IMF Bx, GSE/GSM"),
        Variable("by_gsm", "nT", "IMF By, GSM"),
        Variable("bz_gsm", "nT", "IMF Bz, GSM"),
        Variable("b_total", "nT", "IMF magnitude |B| (average of magnitudes)"),
        Variable("v_sw", "km s-1", "solar wind bulk flow speed"),
        Variable("n_p", "cm-3", "solar wind proton density"),
        Variable("t_p", "K", "solar wind proton temperature"),
        Variable("p_dyn", "nPa", "solar wind dynamic (flow) pressure"),
        Variable("e_y", "mV m-1", "dawn-dusk electric field -V Bz"),
        Variable("dst", "nT", "disturbance storm time index Dst"),
        Variable("kp", "1", "planetary K index Kp (0..9 in thirds)"),
        Variable("ap", "2 nT", "planetary equivalent amplitude ap"),
        Variable("ap_daily", "2 nT", "daily planetary amplitude Ap"),
        Variable("ae", "nT", "auroral electrojet index AE"),
        Variable("f107", "sfu", "solar radio flux at 10.7 cm, F10.7 (observed)"),
        Variable("f107_adj", "sfu", "solar radio flux at 10.7 cm, F10.7 adjusted to 1 AU"),
        Variable("sunspot_number", "1", "international sunspot number"),
        Variable("hp30", "1", "half-hourly planetary index Hp30"),
        Variable("hp60", "1", "hourly planetary index Hp60"),
    ]
}


def describe(name: str) -> Variable:
    """Return the canonical :class:`Variable` for ``name``.

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
            units=var.units, long_name=var.long_name, source=source, data_version=version
        )
    return ds
