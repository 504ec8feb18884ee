"""Alert channels: the delivery Channel satisfies the protocol; the registry hands them out."""

import pytest

from forecasting.alerting import base, delivery
from forecasting.alerting.base import CHANNELS, Channel, get_channel, register_channel


class _Block:
    def __init__(self):
        self.sent = []

    def notify(self, body, subject):
        self.sent.append((subject, body))


def test_delivery_channel_is_a_channel():
    ch = delivery.Channel(_Block(), label="webhook", secrets=("http://x/token",))
    assert isinstance(ch, Channel)
    ch.send("s", "b")
    assert ch.block.sent == [("s", "b")]


def test_every_registered_channel_is_a_channel(monkeypatch):
    from prefect.blocks.core import Block

    monkeypatch.setattr(Block, "load", classmethod(lambda cls, name: _Block()))
    args = {"webhook": {"url": "http://127.0.0.1:9/hook"}, "block": {"name": "ops-slack"}}
    assert set(CHANNELS) == set(args)
    for kind, factory in CHANNELS.items():
        ch = factory(**args[kind])
        assert isinstance(ch, Channel) and ch.label == kind, kind
        assert "127.0.0.1" not in ch.label


def test_configured_channel_comes_from_the_registry(monkeypatch):
    monkeypatch.setenv("SUPERSTORM_ALERT_WEBHOOK", "http://127.0.0.1:9/hook/s3cret")
    made = []
    real = CHANNELS["webhook"]
    monkeypatch.setitem(CHANNELS, "webhook", lambda **kw: made.append(kw) or real(**kw))
    ch = delivery.configured_channel()
    assert made and made[0]["url"].endswith("s3cret")
    assert ch is not None and ch.secrets == ("http://127.0.0.1:9/hook/s3cret",)


def test_register_and_get(monkeypatch):
    monkeypatch.setattr(base, "CHANNELS", {})
    made = register_channel("test", lambda **kw: delivery.Channel(_Block(), label="test"))
    assert base.CHANNELS["test"] is made
    assert isinstance(get_channel("test"), Channel)
    with pytest.raises(ValueError, match="already registered"):
        register_channel("test", lambda **kw: None)
    with pytest.raises(ValueError, match="unknown alert channel 'mail'"):
        get_channel("mail")
