"""Channel behaviour over real WebSocket connections on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pikku_ws
import pytest
from pikku_core import Pikku
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_app import create_app, double, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
def app() -> Pikku:
    return create_app()


@pytest.fixture
async def base(app: Pikku) -> AsyncIterator[str]:
    async with pikku_ws.serve(app, "127.0.0.1", 0, max_size=64 * 1024) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def ask(ws: ClientConnection, message: Any) -> dict[str, Any]:
    await ws.send(message if isinstance(message, str | bytes) else json.dumps(message))
    with anyio.fail_after(5):
        return json.loads(await ws.recv())


async def test_routing_strips_and_restores_action_and_id(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        reply = await ask(ws, {"action": "echo", "id": "a1", "x": 1})
        assert reply == {"action": "echo", "id": "a1", "seen": {"x": 1}}
        # No id on the message: none on the reply.
        assert await ask(ws, {"action": "echo", "y": [1, 2]}) == {
            "action": "echo",
            "seen": {"y": [1, 2]},
        }
        # Numeric ids come back as they were sent.
        assert (await ask(ws, {"action": "echo", "id": 7}))["id"] == 7


async def test_reply_shapes(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        assert await ask(ws, {"action": "nothing", "id": 1}) == {"action": "nothing", "id": 1}
        assert await ask(ws, {"action": "double", "id": 2, "value": 21}) == {
            "action": "double",
            "id": 2,
            "result": 42,
        }
        reply = await ask(ws, {"action": "missing", "id": 3})
        assert reply["action"] == "missing"
        assert reply["id"] == 3
        assert reply["error"]["name"] == "NotFoundError"
        assert reply["error"]["payload"] == {"id": 1}


async def test_per_action_auth_and_session_persistence(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        assert (await ask(ws, {"action": "secret"}))["error"]["name"] == "UnauthorizedError"
        assert await ask(ws, {"action": "open_secret"}) == {
            "action": "open_secret",
            "result": "classified",
        }
        assert (await ask(ws, {"action": "me"}))["error"]["name"] == "UnauthorizedError"
        await ask(ws, {"action": "login", "user": "ada"})
        first = await ask(ws, {"action": "me"})
        second = await ask(ws, {"action": "me"})
        assert first["user"] == second["user"] == "ada"
        assert (await ask(ws, {"action": "secret"}))["result"] == "classified"
    # The session belonged to that connection only.
    async with connect(f"{base}/chat") as ws:
        assert (await ask(ws, {"action": "me"}))["error"]["name"] == "UnauthorizedError"


async def test_opening_request_loads_session_from_cookie_and_bearer(app: Pikku, base: str) -> None:
    token = app.session_codec().encode({"user": "from-cookie"})
    async with connect(
        f"{base}/chat?x=1", additional_headers={"Cookie": f"pikku_session={token}"}
    ) as ws:
        assert (await ask(ws, {"action": "me"}))["user"] == "from-cookie"
    token = app.session_codec().encode({"user": "from-bearer"})
    async with connect(
        f"{base}/chat", additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        assert (await ask(ws, {"action": "me"}))["user"] == "from-bearer"
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    async with connect(
        f"{base}/chat", additional_headers={"Authorization": f"Bearer {forged}"}
    ) as ws:
        assert (await ask(ws, {"action": "me"}))["error"]["name"] == "UnauthorizedError"


async def test_bad_input_gets_error_replies_and_connection_stays_open(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        cases: list[tuple[Any, str]] = [
            ("not json", "BadRequestError"),
            ("[1, 2]", "BadRequestError"),
            ('{"id": 1}', "BadRequestError"),
            ({"action": 5}, "BadRequestError"),
            ({"action": "nope", "id": 9}, "NotFoundError"),
            ({"action": "double", "value": "x"}, "UnprocessableContentError"),
            ({"action": "login", "user": 3}, "UnprocessableContentError"),
            (b"\x00\x01binary", "UnsupportedMediaTypeError"),
        ]
        for message, name in cases:
            reply = await ask(ws, message)
            assert reply["error"]["name"] == name, (message, reply)
            assert reply["error"]["message"]
            assert "Traceback" not in json.dumps(reply)
        unknown = await ask(ws, {"action": "nope", "id": 9})
        assert unknown["action"] == "nope"
        assert unknown["id"] == 9
        # Still serving on the same connection.
        assert (await ask(ws, {"action": "double", "value": 2}))["result"] == 4


async def test_oversized_frame_closes_with_1009_others_unaffected(base: str) -> None:
    async with connect(f"{base}/chat") as bystander, connect(f"{base}/chat") as ws:
        await ws.send(json.dumps({"action": "echo", "blob": "x" * 100_000}))
        with pytest.raises(ConnectionClosed):
            with anyio.fail_after(5):
                await ws.recv()
        assert ws.close_code == 1009
        assert (await ask(bystander, {"action": "double", "value": 1}))["result"] == 2


async def test_client_disconnecting_mid_call_leaves_server_serving(base: str) -> None:
    ws = await connect(f"{base}/chat")
    await ws.send(json.dumps({"action": "slow", "n": 1, "delay": 0.2}))
    await ws.close()
    await anyio.sleep(0.3)
    async with connect(f"{base}/chat") as other:
        assert (await ask(other, {"action": "slow", "n": 5}))["result"] == 5


async def test_unknown_path_is_refused_with_404(base: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/nowhere"):
            pass
    assert info.value.response.status_code == 404


async def test_messages_are_handled_in_order(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        # The slow first call must still be answered first.
        await ws.send(json.dumps({"action": "slow", "id": 1, "n": 1, "delay": 0.1}))
        await ws.send(json.dumps({"action": "slow", "id": 2, "n": 2}))
        first = json.loads(await ws.recv())
        second = json.loads(await ws.recv())
        assert [first["id"], second["id"]] == [1, 2]


async def test_streaming_action(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        await ws.send(json.dumps({"action": "ticks", "id": "s", "n": 3}))
        got = [json.loads(await ws.recv()) for _ in range(4)]
        assert got == [
            {"action": "ticks", "id": "s", "result": 0},
            {"action": "ticks", "id": "s", "result": 1},
            {"action": "ticks", "id": "s", "result": 2},
            {"action": "ticks", "id": "s", "done": True},
        ]


async def test_pubsub_with_exclude_and_unsubscribe(base: str) -> None:
    async with (
        connect(f"{base}/chat") as a,
        connect(f"{base}/chat") as b,
        connect(f"{base}/chat") as c,
    ):
        for ws in (a, b):
            await ask(ws, {"action": "subscribe", "topic": "room"})
        # say excludes the sender: b receives, a does not, c never subscribed.
        assert await ask(a, {"action": "say", "topic": "room", "text": "hi"}) == {"action": "say"}
        assert json.loads(await b.recv()) == {"topic": "room", "data": {"text": "hi"}}
        # shout reaches the sender too: its event comes before its reply.
        await a.send(json.dumps({"action": "shout", "topic": "room", "text": "all"}))
        assert json.loads(await a.recv()) == {"topic": "room", "data": {"text": "all"}}
        assert json.loads(await a.recv()) == {"action": "shout"}
        assert json.loads(await b.recv()) == {"topic": "room", "data": {"text": "all"}}
        await ask(b, {"action": "unsubscribe", "topic": "room"})
        await ask(c, {"action": "shout", "topic": "room", "text": "after"})
        assert json.loads(await a.recv())["data"] == {"text": "after"}
        with pytest.raises(TimeoutError):
            with anyio.fail_after(0.2):
                await b.recv()


async def test_channel_middleware_transform_drop_fan_out(base: str) -> None:
    async with connect(f"{base}/loud") as ws, connect(f"{base}/chat") as sender:
        for topic in ("room", "hidden", "twice"):
            await ask(ws, {"action": "subscribe", "topic": topic})
        await ask(sender, {"action": "shout", "topic": "hidden", "text": "psst"})
        await ask(sender, {"action": "shout", "topic": "room", "text": "hello"})
        await ask(sender, {"action": "shout", "topic": "twice", "text": "echo"})
        got = [json.loads(await ws.recv()) for _ in range(3)]
        assert got == [
            {"topic": "room", "data": {"text": "HELLO"}},
            {"topic": "twice", "data": {"text": "ECHO"}},
            {"topic": "twice", "data": {"text": "ECHO"}, "copy": True},
        ]
        # Replies pass through the same middleware (untouched by these three).
        assert await ask(ws, {"action": "double", "value": 4}) == {"action": "double", "result": 8}


async def test_tag_channel_middleware(app: Pikku) -> None:
    async def stamp(services: Any, event: Any, next: Any) -> None:
        await next({**event, "stamped": True})

    app.add_channel_middleware(stamp, tags=["loud"])
    async with pikku_ws.serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/loud") as loud:
            assert await ask(loud, {"action": "nothing"}) == {"action": "nothing", "stamped": True}
        async with connect(f"ws://127.0.0.1:{port}/chat") as chat:
            assert await ask(chat, {"action": "nothing"}) == {"action": "nothing"}


async def test_subscriptions_end_when_connection_closes(app: Pikku, base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        await ask(ws, {"action": "subscribe", "topic": "gone"})
        assert app.event_hub.subscriber_count("gone") == 1
    await eventually(lambda: not app.event_hub.subscriber_count("gone"), 5)


async def test_push_from_function_then_reply(base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        await ws.send(json.dumps({"action": "push", "id": 1, "n": 1}))
        assert json.loads(await ws.recv()) == {"pushed": {"n": 1}}
        assert json.loads(await ws.recv()) == {"action": "push", "id": 1, "result": "sent"}


async def test_slow_consumer_closed_with_1013(app: Pikku) -> None:
    async with pikku_ws.serve(
        app, "127.0.0.1", 0, send_queue_size=8, max_queue=4, compression=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"ws://127.0.0.1:{port}/chat"
        # The slow client never reads; a small TCP buffer makes its send queue fill up.
        async with connect(url, max_queue=1) as slowpoke, connect(url) as fast:
            await ask(slowpoke, {"action": "subscribe", "topic": "flood"})
            await ask(fast, {"action": "subscribe", "topic": "flood"})
            blob = "y" * 200_000
            received = 0
            with anyio.fail_after(20):
                for _ in range(400):
                    await fast.send(json.dumps({"action": "say", "topic": "flood", "text": blob}))
                    assert (json.loads(await fast.recv())) == {"action": "say"}
                    received += 1
                    if (
                        slowpoke.protocol.close_code is not None
                        or app.event_hub.subscriber_count("flood") == 1
                    ):
                        break
            # The publisher was never blocked, and the slow client was dropped.
            await eventually(lambda: app.event_hub.subscriber_count("flood") == 1, 10)
            assert received < 400
            with pytest.raises(ConnectionClosed):
                with anyio.fail_after(10):
                    while True:
                        await slowpoke.recv()
            assert slowpoke.close_code == 1013


async def test_shutdown_sends_close_frame_to_every_client(app: Pikku) -> None:
    disconnected: list[str] = []

    async def left(services: Any, data: None, wire: Any) -> None:
        disconnected.append(wire.channel.channel_id)

    from pikku_core import pikku_sessionless_func

    app.wire_channel(
        name="bye", route="/bye", on_disconnect=pikku_sessionless_func(left), on_message_wiring={}
    )
    clients: list[ClientConnection] = []
    async with pikku_ws.serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        for _ in range(5):
            clients.append(await connect(f"ws://127.0.0.1:{port}/bye"))
    for ws in clients:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1001
    assert len(disconnected) == 5


async def test_on_connect_can_refuse(app: Pikku) -> None:
    from pikku_core import ForbiddenError, pikku_sessionless_func

    @pikku_sessionless_func
    async def gate(services: Any, data: None, wire: Any) -> None:
        if wire.http.query.get("key") != ["open-sesame"]:
            raise ForbiddenError("wrong key")

    app.wire_channel(
        name="gated", route="/gated", on_connect=gate, on_message_wiring={"double": double}
    )
    async with pikku_ws.serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/gated?key=open-sesame") as ok:
            assert (await ask(ok, {"action": "double", "value": 1}))["result"] == 2
        async with connect(f"ws://127.0.0.1:{port}/gated?key=nope") as refused:
            first = json.loads(await refused.recv())
            assert first["error"]["name"] == "ForbiddenError"
            with pytest.raises(ConnectionClosed):
                await refused.recv()
            assert refused.close_code == 1008


async def test_function_can_close_its_connection(app: Pikku, base: str) -> None:
    async with connect(f"{base}/chat") as ws:
        await ask(ws, {"action": "subscribe", "topic": "kicked"})
        await ws.send(json.dumps({"action": "kick"}))
        with pytest.raises(ConnectionClosed):
            with anyio.fail_after(5):
                await ws.recv()
        assert ws.close_code == 4000
        assert ws.close_reason == "kicked"
    await eventually(lambda: app.event_hub.subscriber_count("kicked") == 0, 5)
