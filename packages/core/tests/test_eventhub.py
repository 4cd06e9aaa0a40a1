"""InProcessEventHub: subscribe, unsubscribe, publish with exclude, cleanup."""

from __future__ import annotations

from typing import Any

import pytest
from pikku_core import ChannelWire, EventHub, InProcessEventHub

pytestmark = pytest.mark.anyio


def make_channel(cid: str, inbox: list[tuple[str, Any]]) -> ChannelWire:
    async def send(event: Any) -> None:
        inbox.append((cid, event))

    async def close(code: int = 1000, reason: str = "") -> None:
        return None

    return ChannelWire(channel_id=cid, channel_name="test", send=send, close=close)


async def test_publish_reaches_subscribers_except_excluded() -> None:
    hub = InProcessEventHub()
    assert isinstance(hub, EventHub)
    inbox: list[tuple[str, Any]] = []
    a, b, c = (make_channel(x, inbox) for x in "abc")
    for ch in (a, b, c):
        await hub.subscribe("room", ch)
    await hub.subscribe("room", a)  # twice is one subscription
    assert hub.subscriber_count("room") == 3
    await hub.publish("room", {"n": 1}, exclude=a)
    await hub.publish("room", {"n": 2}, exclude="b")
    await hub.publish("room", {"n": 3}, exclude=[a, "c"])
    await hub.publish("room", {"n": 4})
    await hub.publish("elsewhere", {"n": 5})
    assert inbox == [
        ("b", {"topic": "room", "data": {"n": 1}}),
        ("c", {"topic": "room", "data": {"n": 1}}),
        ("a", {"topic": "room", "data": {"n": 2}}),
        ("c", {"topic": "room", "data": {"n": 2}}),
        ("b", {"topic": "room", "data": {"n": 3}}),
        ("a", {"topic": "room", "data": {"n": 4}}),
        ("b", {"topic": "room", "data": {"n": 4}}),
        ("c", {"topic": "room", "data": {"n": 4}}),
    ]


async def test_unsubscribe_and_unsubscribe_all_leave_nothing_behind() -> None:
    hub = InProcessEventHub()
    inbox: list[tuple[str, Any]] = []
    a, b = make_channel("a", inbox), make_channel("b", inbox)
    await hub.subscribe("t1", a)
    await hub.subscribe("t2", a)
    await hub.subscribe("t1", b)
    await hub.unsubscribe("t1", a)
    await hub.unsubscribe("never", a)  # no error
    assert hub.subscriber_count("t1") == 1
    await hub.unsubscribe_all(a)
    await hub.unsubscribe_all(b)
    await hub.unsubscribe_all(b)
    assert hub.subscriber_count() == 0
    assert hub._topics == {}
    assert hub._by_channel == {}
    await hub.publish("t1", "x")
    assert inbox == []


async def test_subscribe_checks_its_arguments() -> None:
    hub = InProcessEventHub()
    with pytest.raises(TypeError, match=r"wire\.channel"):
        await hub.subscribe("t", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="topic"):
        await hub.subscribe(1, make_channel("a", []))  # type: ignore[arg-type]


async def test_aclose_forgets_subscriptions() -> None:
    hub = InProcessEventHub()
    await hub.start()
    await hub.subscribe("t", make_channel("a", []))
    await hub.aclose()
    assert hub.subscriber_count() == 0
