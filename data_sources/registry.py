"""Name lookup for the registries (sources, variables, forecasters, metrics, channels).

One error type and one message for a name that is not registered: the name asked for and the
known names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

T = TypeVar("T")


class Named(Protocol):
    """Anything registered under its own ``name``."""

    @property
    def name(self) -> str:
        """The registry name."""
        ...


N = TypeVar("N", bound=Named)


class UnknownNameError(KeyError, ValueError):
    """A name that is not in a registry (a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def lookup(registry: Mapping[str, T], name: str, what: str, hint: str = "") -> T:
    """``registry[name]``, or an error listing the known names.

    Parameters
    ----------
    registry
        Name -> implementation (sources, forecasters, metrics, channels).
    name
        The name asked for.
    what
        What the names are, for the message (``"source"``, ``"model"`` ...).
    hint
        Appended to the message (how to add a name).

    Returns
    -------
    The registered implementation.

    Raises
    ------
    UnknownNameError
        If ``name`` is not registered; the message lists the known names.
    """
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(registry) or "none registered"
        raise UnknownNameError(f"unknown {what} {name!r}; use one of {known}{hint}") from None


def by_name(*items: N) -> dict[str, N]:
    """A registry ``{item.name: item}`` in the given order.

    Parameters
    ----------
    *items : N
        Objects with a ``name`` attribute (e.g. :class:`data_sources.base.Source`).

    Returns
    -------
    dict of str to N
        Name -> item, in the order given.

    Raises
    ------
    ValueError
        If two items share a name.
    """
    out: dict[str, N] = {}
    for item in items:
        if item.name in out:
            raise ValueError(f"two registry entries are called {item.name!r}")
        out[item.name] = item
    return out
