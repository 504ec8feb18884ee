"""The alert-channel contract and the one registry of channel kinds.

A :class:`Channel` has a ``label`` (what the alert log records as the channel, e.g.
``webhook``), ``secrets`` (strings every log line and error about it must hide) and
``send(subject, body, key=None)``, which delivers one message or raises (HTTP error, timeout,
notifier failure) so the delivery loop can retry; ``key`` is the message's idempotency key (its
serial), so a receiver can drop a resend. Secrets (webhook URLs, tokens) never appear in
``label``.

:data:`CHANNELS` maps a channel kind to a factory returning a configured :class:`Channel`;
:mod:`forecasting.alerting.delivery` registers its kinds (``webhook``, ``block``) with
:func:`register_channel`; :func:`forecasting.alerting.delivery.configured_channel` builds the
configured one through :func:`get_channel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from data_sources.registry import lookup


@runtime_checkable
class Channel(Protocol):
    """Where alert messages go (see the module docstring)."""

    label: str
    secrets: tuple[str, ...]

    def send(self, subject: str, body: str, key: str | None = None) -> None:
        """Deliver one message; raise on failure.

        Parameters
        ----------
        subject : str
            One-line summary (e.g. ``superstorm kp G3 (issue, serial 12)``).
        body : str
            The message itself (the alert record as JSON for the shipped channels).
        key : str, optional
            Idempotency key (the message serial); the same message resent after a crash carries
            the same key. ``None``: no key (e.g. a run-failure notice).

        Raises
        ------
        Exception
            Any failure (HTTP error, timeout, notifier failure), so the delivery loop records it
            and retries; a return means the channel accepted the message.
        """
        ...


#: channel kind -> factory (keyword arguments from the configuration, e.g. ``url``)
CHANNELS: dict[str, Callable[..., Channel]] = {}


def register_channel(kind: str, factory: Callable[..., Channel]) -> Callable[..., Channel]:
    """Register ``factory`` for channel ``kind`` and return it (usable as a call or decorator).

    Parameters
    ----------
    kind
        Channel kind named in the configuration (``webhook``, ``block`` ...).
    factory
        Returns a configured :class:`Channel`.

    Returns
    -------
    Callable
        ``factory`` unchanged.

    Raises
    ------
    ValueError
        If ``kind`` is already registered to another factory.
    """
    if CHANNELS.get(kind, factory) is not factory:
        raise ValueError(f"channel kind {kind!r} is already registered")
    CHANNELS[kind] = factory
    return factory


def get_channel(kind: str, **config: object) -> Channel:
    """Build a configured channel of ``kind``.

    Parameters
    ----------
    kind : str
        Channel kind registered with :func:`register_channel`.
    **config : object
        Keyword arguments for the kind's factory (e.g. ``url``, ``timeout`` [s]).

    Returns
    -------
    Channel
        The configured channel, ready to ``send``.

    Raises
    ------
    data_sources.registry.UnknownNameError
        A ``ValueError`` (and ``KeyError``) if ``kind`` is unknown; the message lists the
        registered kinds.
    """
    return lookup(CHANNELS, kind, "alert channel")(**config)
