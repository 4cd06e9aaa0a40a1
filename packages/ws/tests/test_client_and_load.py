"""PikkuChannelClient against a live server, and 200 concurrent connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pikku_ws
import pytest
from pikku_core import Pikku
from pikku_ws import ChannelCallError, PikkuChannelClient
from ws_app import create_app, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
def app() -> Pikku:
    return create_app()


@pytest.fixture
async def url(app: Pikku) -> AsyncIterator[str]:
    async with pikku_ws.serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/chat"


async def test_many_requests_in_flight_matched_by_id(url: str) -> None:
    async with PikkuChannelClient(url) as client:
        results: dict[int, Any] = {}

        async def one(i: int) -> None:
            results[i] = await client.send("slow", {"n": i, "delay": 0.001 * (i % 5)})

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(one, i)
        assert results == {i: {"action": "slow", "result": i} for i in range(50)}


async def test_error_reply_raises(url: str) -> None:
    async with PikkuChannelClient(url) as client:
        with pytest.raises(ChannelCallError) as info:
            await client.send("missing")
        assert info.value.name == "NotFoundError"
        assert info.value.payload == {"id": 1}
        assert info.value.error_id
        with pytest.raises(ChannelCallError) as info:
            await client.send("login", {"user": 5})
        assert info.value.name == "UnprocessableContentError"
        assert info.value.payload == {"path": "$.user"}


async def test_stream_and_subscribe(url: str) -> None:
    async with PikkuChannelClient(url) as client, PikkuChannelClient(url) as other:
        items = [item async for item in client.stream("ticks", {"n": 3})]
        assert items == [{"action": "ticks", "result": i} for i in range(3)]
        got: list[Any] = []
        arrived = anyio.Event()

        async def on_news(data: Any) -> None:
            got.append(data)
            arrived.set()

        remove = client.subscribe("news", on_news)
        await client.send("subscribe", {"topic": "news"})
        await other.send("shout", {"topic": "news", "text": "extra"})
        with anyio.fail_after(5):
            await arrived.wait()
        assert got == [{"text": "extra"}]
        remove()


async def test_reconnects_with_backoff_after_server_restart(app: Pikku) -> None:
    reconnected = anyio.Event()

    async def resubscribe(client: PikkuChannelClient) -> None:
        await client.send("login", {"user": "back"})
        reconnected.set()

    async with pikku_ws.serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/chat"
        client = PikkuChannelClient(
            url, backoff_initial=0.02, backoff_max=0.1, on_reconnect=resubscribe, timeout=5
        )
        await client.connect()
        await client.send("login", {"user": "first"})
        assert (await client.send("me"))["user"] == "first"
    # The server is down: requests fail fast instead of hanging.
    await eventually(lambda: not client.connected, 5)
    try:
        async with pikku_ws.serve(app, "127.0.0.1", port):
            with anyio.fail_after(10):
                await reconnected.wait()
            assert (await client.send("me"))["user"] == "back"
    finally:
        await client.aclose()
    with pytest.raises(ConnectionError):
        await client.send("me")


async def test_200_connections_pubsub_no_crossing(url: str) -> None:
    n = 200
    clients = [PikkuChannelClient(url, timeout=20) for _ in range(n)]
    inbox: dict[int, list[Any]] = {i: [] for i in range(n)}
    try:
        async with anyio.create_task_group() as tg:
            for c in clients:
                tg.start_soon(c.connect)

        async def prepare(i: int) -> None:
            c = clients[i]
            c.subscribe(f"user-{i}", inbox[i].append)
            c.subscribe("all", inbox[i].append)
            await c.send("login", {"user": f"user-{i}"})
            await c.send("subscribe", {"topic": f"user-{i}"})
            await c.send("subscribe", {"topic": "all"})

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(prepare, i)

        whoami: dict[int, Any] = {}

        async def ask_and_publish(i: int) -> None:
            whoami[i] = (await clients[i].send("me"))["user"]
            # Publish to the *next* client's private topic.
            j = (i + 1) % n
            await clients[i].send("shout", {"topic": f"user-{j}", "text": f"from-{i}-to-{j}"})

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(ask_and_publish, i)
        await clients[0].send("shout", {"topic": "all", "text": "broadcast"})
        await eventually(lambda: all(len(box) >= 2 for box in inbox.values()), 10)
        await anyio.sleep(0.1)
        assert whoami == {i: f"user-{i}" for i in range(n)}
        for j, box in inbox.items():
            i = (j - 1) % n
            assert sorted(d["text"] for d in box) == sorted([f"from-{i}-to-{j}", "broadcast"])
    finally:
        with anyio.CancelScope(shield=True):
            for c in clients:
                await c.aclose()


async def test_failing_topic_callback_does_not_break_the_client(url: str) -> None:
    async with PikkuChannelClient(url) as client:

        def broken(data: Any) -> None:
            raise RuntimeError("callback bug")

        client.subscribe("boom", broken)
        await client.send("subscribe", {"topic": "boom"})
        await client.send("shout", {"topic": "boom", "text": "x"})
        assert await client.send("double", {"value": 3}) == {"action": "double", "result": 6}
