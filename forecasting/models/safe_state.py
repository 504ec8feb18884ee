"""Model state as JSON and safe loading of legacy pickles: no file can run code.

The TFT's hyper-parameters hold fitted objects (scikit-learn scalers, pytorch-forecasting
target normalisers). :func:`dumps` writes them as JSON: plain values, containers, numpy
arrays and scalars, torch tensors, and objects of the classes in :func:`allowed_classes`
as ``{"__kind__": "object", "class": <name>, "state": <their attributes>}``. :func:`loads`
rebuilds only those classes (looked up in a fixed table, never imported by name from the
file) with ``cls.__new__`` and their attribute dictionary: no constructor, no
``__setstate__``, no ``__reduce__``, so a crafted file can at worst fail to load.

:func:`load_legacy_pickle` reads a ``.pt`` written by older versions with
``torch.load(weights_only=True)`` and only these classes allowlisted (PyTorch's restricted
unpickler), so it is safe as well; anything else in the file is refused.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: numpy dtype kinds an array in a state file may have (no object arrays of arbitrary things)
_ARRAY_KINDS = "biufUSO"


class UnsafeStateError(ValueError):
    """A state file holds something other than plain values and allowlisted classes."""


@cache
def allowed_classes() -> dict[str, type]:
    """Classes a state file may rebuild: ``"module.qualname" -> class``.

    Returns
    -------
    dict
        The scikit-learn scalers and pytorch-forecasting encoders a fitted TFT keeps, and the
        project's own ``LastValueNormalizer``.
    """
    from pytorch_forecasting.data.encoders import (
        EncoderNormalizer,
        GroupNormalizer,
        MultiNormalizer,
        NaNLabelEncoder,
        TorchNormalizer,
    )
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    from forecasting.models import pipeline

    classes = [
        EncoderNormalizer,
        GroupNormalizer,
        MultiNormalizer,
        NaNLabelEncoder,
        TorchNormalizer,
        StandardScaler,
        RobustScaler,
        MinMaxScaler,
        pipeline.__getattr__("LastValueNormalizer"),
    ]
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


def _class_name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def encode(obj: Any) -> Any:
    """Encode ``obj`` as JSON-compatible values (see the module docstring).

    Parameters
    ----------
    obj : Any
        Plain values (None, bool, int, float incl. NaN/inf, str), dicts, lists, tuples, numpy
        arrays (dtype kinds ``biufUSO``) and scalars, torch tensors, and instances of
        :func:`allowed_classes`, nested freely.

    Returns
    -------
    Any
        Tagged JSON values (``{"__kind__": ..., ...}`` for everything but None, bool, int,
        finite float and str) that :func:`decode` turns back into ``obj``.

    Raises
    ------
    TypeError
        For a type that is neither plain nor allowlisted; the message names it.
    """
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__kind__": "float", "value": repr(obj)}
    if isinstance(obj, dict):
        return {"__kind__": "dict", "items": [[encode(k), encode(v)] for k, v in obj.items()]}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {"__kind__": kind, "items": [encode(v) for v in obj]}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot store a numpy array of dtype {obj.dtype}")
        data = [encode(v) for v in obj.ravel().tolist()]
        return {"__kind__": "ndarray", "dtype": obj.dtype.str, "shape": obj.shape, "data": data}
    if isinstance(obj, np.generic):
        return {"__kind__": "npscalar", "dtype": obj.dtype.str, "value": encode(obj.item())}
    if isinstance(obj, torch.Tensor):
        arr = obj.detach().cpu().numpy()
        return {"__kind__": "tensor", "array": encode(arr)}
    name = _class_name(obj)
    if name in allowed_classes() and hasattr(obj, "__dict__"):
        return {"__kind__": "object", "class": name, "state": encode(dict(vars(obj)))}
    raise TypeError(
        f"cannot store an object of type {name} in a model state file; only plain values, "
        f"arrays and {sorted(allowed_classes())} are allowed"
    )


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`; rebuilds only allowlisted classes.

    Parameters
    ----------
    data : Any
        Parsed JSON as :func:`encode` made it (from an untrusted file).

    Returns
    -------
    Any
        The rebuilt object: plain values, containers, numpy arrays and scalars, CPU torch
        tensors and allowlisted objects (built with ``cls.__new__`` and their attributes).

    Raises
    ------
    UnsafeStateError
        For an unknown ``__kind__``, a class not in :func:`allowed_classes`, or an array of a
        dtype that is not allowed.
    """
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        raise UnsafeStateError("bare JSON list in a state file (lists are tagged)")
    if not isinstance(data, dict) or "__kind__" not in data:
        raise UnsafeStateError(f"untagged value in a state file: {str(data)[:80]}")
    kind = data["__kind__"]
    if kind == "float":
        value = data["value"]
        if value not in ("nan", "inf", "-inf"):
            raise UnsafeStateError(f"bad float {value!r} in a state file")
        return float(value)
    if kind == "dict":
        return {decode(k): decode(v) for k, v in data["items"]}
    if kind == "list":
        return [decode(v) for v in data["items"]]
    if kind == "tuple":
        return tuple(decode(v) for v in data["items"])
    if kind == "ndarray":
        dtype = np.dtype(str(data["dtype"]))
        if dtype.kind not in _ARRAY_KINDS:
            raise UnsafeStateError(f"array dtype {dtype} is not allowed in a state file")
        values = [decode(v) for v in data["data"]]
        arr = np.empty(len(values), dtype=dtype) if dtype.kind == "O" else None
        if arr is not None:
            arr[:] = values
        else:
            arr = np.array(values, dtype=dtype)
        return arr.reshape([int(n) for n in data["shape"]])
    if kind == "npscalar":
        dtype = np.dtype(str(data["dtype"]))
        if dtype.kind not in _ARRAY_KINDS.replace("O", ""):
            raise UnsafeStateError(f"scalar dtype {dtype} is not allowed in a state file")
        return dtype.type(decode(data["value"]))
    if kind == "tensor":
        return torch.from_numpy(np.ascontiguousarray(decode(data["array"])))
    if kind == "object":
        name = data.get("class")
        cls = allowed_classes().get(name)  # type: ignore[arg-type]
        if cls is None:
            raise UnsafeStateError(
                f"class {name!r} is not allowed in a model state file (allowed: "
                f"{sorted(allowed_classes())})"
            )
        state = decode(data["state"])
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise UnsafeStateError(f"bad state for {name} in a state file")
        obj = cls.__new__(cls)  # type: ignore[call-overload]
        obj.__dict__.update(state)
        return obj
    raise UnsafeStateError(f"unknown value kind {kind!r} in a state file")


def dumps(obj: Any) -> str:
    """Write ``obj`` as JSON text (see :func:`encode`).

    Parameters
    ----------
    obj : Any
        Model state (e.g. a TFT's ``hparams``) made of values :func:`encode` accepts.

    Returns
    -------
    str
        The JSON text.

    Raises
    ------
    TypeError
        For a value that is neither plain nor allowlisted.
    """
    return json.dumps(encode(obj))


def loads(text: str) -> Any:
    """Read an object from JSON text written by :func:`dumps` (see :func:`decode`).

    Parameters
    ----------
    text : str
        JSON text (e.g. a registry version's ``hparams.json``).

    Returns
    -------
    Any
        The rebuilt object.

    Raises
    ------
    UnsafeStateError
        If the text holds anything but tagged plain values and allowlisted classes.
    ValueError
        If it is not JSON (``json.JSONDecodeError``).
    """
    return decode(json.loads(text))


def _multiarray() -> Any:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def legacy_safe_globals() -> list:
    """List what ``torch.load(weights_only=True)`` may rebuild from a legacy ``hparams.pt``.

    Returns
    -------
    list
        The classes of :func:`allowed_classes`, and the numpy dtype, array and scalar
        reconstructors a pickled numpy array needs.
    """
    return [
        *allowed_classes().values(),
        np.dtype,
        np.ndarray,
        _multiarray()._reconstruct,
        _multiarray().scalar,
        *{type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDGUSO"},
    ]


def load_legacy_pickle(path: str | Path) -> Any:
    """Read a legacy ``.pt`` pickle with PyTorch's restricted unpickler (no code runs).

    Parameters
    ----------
    path : str or pathlib.Path
        The legacy file (a registry version's ``hparams.pt``).

    Returns
    -------
    Any
        The unpickled state (a TFT's hyper-parameter mapping).

    Raises
    ------
    UnsafeStateError
        If the file needs anything beyond :func:`legacy_safe_globals` (a crafted file).
    """
    import pickle

    try:
        with torch.serialization.safe_globals(legacy_safe_globals()):
            return torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        detail = next((line for line in first if "GLOBAL" in line or "error" in line), "")
        raise UnsafeStateError(
            f"{path}: refused by the safe loader ({detail.strip()[:300]})"
        ) from None
