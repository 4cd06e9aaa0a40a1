"""RedisEventHub: publishes reach subscribers of every process, over the real Redis."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import pytest
import redis.asyncio as aredis
from arq.connections import RedisSettings
from pikku_core import ChannelWire
from pikku_queue_arq import RedisEventHub

pytestmark = pytest.mark.anyio


class Inbox(list[Any]):
    """What one connection received; `wait` returns once a message arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = anyio.Event()

    async def wait(self) -> None:
        with anyio.fail_after(5):
            await self.arrived.wait()
        self.arrived = anyio.Event()


def _conn(cid: str, inbox: Inbox) -> ChannelWire:
    async def send(message: Any) -> None:
        inbox.append(message)
        inbox.arrived.set()

    async def close(*args: Any) -> None:
        return None

    return ChannelWire(channel_id=cid, channel_name="test", send=send, close=close)


@pytest.fixture
def url(redis_settings: RedisSettings) -> str:
    return f"redis://{redis_settings.host}:{redis_settings.port}/0"


async def test_publish_reaches_other_processes_and_honours_exclude(url: str) -> None:
    channel = f"pikku-test-events-{uuid.uuid4().hex}"
    web, worker = RedisEventHub(url, channel), RedisEventHub(url, channel)
    await web.start()
    await worker.start()
    try:
        a_inbox, b_inbox = Inbox(), Inbox()
        a, b = _conn("a", a_inbox), _conn("b", b_inbox)
        await web.subscribe("books", a)
        await web.subscribe("books", b)
        await worker.publish("books", {"id": 1}, exclude="b")
        await a_inbox.wait()
        assert a_inbox == [{"topic": "books", "data": {"id": 1}}]
        await web.unsubscribe("books", a)
        await worker.publish("books", {"id": 2})
        await b_inbox.wait()
        assert b_inbox == [{"topic": "books", "data": {"id": 2}}]
        assert a_inbox == [{"topic": "books", "data": {"id": 1}}]
    finally:
        await web.aclose()
        await worker.aclose()


async def test_malformed_events_are_ignored_and_the_hub_keeps_listening(url: str) -> None:
    channel = f"pikku-test-events-{uuid.uuid4().hex}"
    hub = RedisEventHub(url, channel)
    await hub.start()
    raw = aredis.Redis.from_url(url)
    try:
        inbox = Inbox()
        await hub.subscribe("t", _conn("c", inbox))
        await raw.publish(channel, b"not json")
        await raw.publish(channel, b'{"no_topic": 1}')
        await hub.publish("t", "after")
        await inbox.wait()
        assert inbox == [{"topic": "t", "data": "after"}]
    finally:
        await raw.aclose()
        await hub.aclose()


async def test_publish_before_start_is_a_clear_error(url: str) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await RedisEventHub(url).publish("t", 1)
