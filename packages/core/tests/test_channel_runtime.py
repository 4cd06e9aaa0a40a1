"""The channel runtime over an in-memory transport (the adapters' tests use real sockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from pikku_core import (
    CLOSE_SLOW_CONSUMER,
    ChannelRequest,
    ChannelRuntime,
    ForbiddenError,
    Pikku,
    Wire,
    auth_bearer,
    pikku_func,
    pikku_sessionless_func,
)

pytestmark = pytest.mark.anyio


class MemoryTransport:
    """A ChannelTransport that keeps what it is sent; ``block`` makes sends wait."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.closed: tuple[int, str] | None = None
        self.block = anyio.Event()
        self.block.set()

    async def send(self, text: str, /) -> None:
        await self.block.wait()
        if self.closed is not None:
            raise ConnectionError("closed")
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str = "", /) -> None:
        if self.closed is None:
            self.closed = (code, reason)


class Item(msgspec.Struct):
    name: str
    qty: int = 1


class Clash(msgspec.Struct):
    action: str
    value: int


@pikku_sessionless_func
async def create(services: Any, data: Item, wire: Wire[Any]) -> Item:
    return data


@pikku_sessionless_func
async def as_dict(services: Any, data: dict[str, Any], wire: Wire[Any]) -> dict[str, Any]:
    return {"got": data, "action": "ignored"}


@pikku_sessionless_func
async def clash(services: Any, data: None, wire: Wire[Any]) -> Clash:
    return Clash(action="inner", value=1)


@pikku_sessionless_func
async def nothing(services: Any, data: None, wire: Wire[Any]) -> None:
    return None


@pikku_sessionless_func
async def square(services: Any, data: int, wire: Wire[Any]) -> int:
    return data * data


@pikku_sessionless_func
async def login(services: Any, data: dict[str, Any], wire: Wire[Any]) -> None:
    wire.set_session({"user": data["user"]})


@pikku_sessionless_func
async def logout(services: Any, data: None, wire: Wire[Any]) -> None:
    wire.clear_session()


@pikku_func
async def me(services: Any, data: None, wire: Wire[Any]) -> dict[str, Any]:
    return dict(wire.session or {})


@pikku_sessionless_func
async def count(services: Any, data: int, wire: Wire[Any]) -> AsyncIterator[int]:
    for i in range(data):
        yield i


@pikku_sessionless_func
async def subscribe(services: Any, data: str, wire: Wire[Any]) -> None:
    await services.event_hub.subscribe(data, wire.channel)


@pikku_sessionless_func
async def whole(services: Any, data: dict[str, Any], wire: Wire[Any]) -> dict[str, Any]:
    return {"whole": data}


@pikku_sessionless_func
async def unserialisable(services: Any, data: None, wire: Wire[Any]) -> Any:
    return object()


def make_app(**wiring: Any) -> Pikku:
    app = Pikku(secret="runtime-test-secret-0123456789")
    app.add_middleware(auth_bearer())
    app.wire_channel(
        name="c",
        route="/c",
        on_message_wiring={
            "create": create,
            "as_dict": as_dict,
            "clash": clash,
            "nothing": nothing,
            "square": square,
            "login": login,
            "logout": logout,
            "me": me,
            "open_me": {"func": me, "auth": False},
            "count": count,
            "subscribe": subscribe,
            "unserialisable": unserialisable,
        },
        **wiring,
    )
    return app


async def run(
    app: Pikku, frames: list[Any], request: ChannelRequest | None = None
) -> MemoryTransport:
    runtime = ChannelRuntime(app)
    wiring = runtime.match("/c")
    assert wiring is not None
    transport = MemoryTransport()
    async with runtime.connect(wiring, transport, request or ChannelRequest("/c")) as conn:
        for frame in frames:
            text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
            await runtime.message(conn, text)
    return transport


async def test_replies_use_the_wiring_routing_key() -> None:
    app = Pikku(secret="runtime-test-secret-0123456789")
    app.wire_channel(
        name="c",
        route="/c",
        routing_key="type",
        on_message_wiring={"clash": clash, "square": square},
    )
    t = await run(app, [{"type": "square", "value": 3, "id": 1}, {"type": "clash"}, {"type": "x"}])
    assert t.sent[0] == {"type": "square", "result": 9, "id": 1}
    # "action" is no reply key here, so this Struct merges.
    assert t.sent[1] == {"type": "clash", "action": "inner", "value": 1}
    assert t.sent[2]["type"] == "x" and t.sent[2]["error"]["name"] == "NotFoundError"


async def test_reply_shapes_and_id_echo() -> None:
    t = await run(
        make_app(),
        [
            {"action": "create", "id": 1, "name": "milk"},
            {"action": "create", "name": "tea", "qty": 2},
            {"action": "as_dict", "id": "x", "k": 1},
            {"action": "clash", "id": 2},
            {"action": "nothing", "id": None},
            {"action": "square", "value": 7},
        ],
    )
    assert t.sent == [
        {"action": "create", "id": 1, "name": "milk", "qty": 1},
        {"action": "create", "name": "tea", "qty": 2},
        # A dict output holding a reply key goes under "result" whole: nothing is lost.
        {"action": "as_dict", "id": "x", "result": {"got": {"k": 1}, "action": "ignored"}},
        {"action": "clash", "id": 2, "result": {"action": "inner", "value": 1}},
        {"action": "nothing", "id": None},
        {"action": "square", "result": 49},
    ]


async def test_bad_input_error_replies() -> None:
    t = await run(
        make_app(),
        [
            "{",
            "3",
            b"\x01",
            {"id": 4},
            {"action": ["x"], "id": 5},
            {"action": "missing", "id": 6},
            {"action": "create", "id": 7, "qty": "lots", "name": "x"},
            {"action": "unserialisable", "id": 8},
            {"action": "nothing"},
        ],
    )
    names = [m.get("error", {}).get("name") for m in t.sent]
    assert names == [
        "BadRequestError",
        "BadRequestError",
        "UnsupportedMediaTypeError",
        "BadRequestError",
        "BadRequestError",
        "NotFoundError",
        "UnprocessableContentError",
        "InternalServerError",
        None,
    ]
    assert t.sent[3]["id"] == 4 and "action" not in t.sent[3]
    assert t.sent[5]["action"] == "missing" and t.sent[5]["id"] == 6
    assert t.sent[6]["error"]["payload"] == {"path": "$.qty"}
    assert t.sent[-1] == {"action": "nothing"}


async def test_per_action_auth_and_session_lifecycle() -> None:
    t = await run(
        make_app(),
        [
            {"action": "me"},
            {"action": "open_me"},
            {"action": "login", "user": "ada"},
            {"action": "me"},
            {"action": "logout"},
            {"action": "me"},
        ],
    )
    assert t.sent[0]["error"]["name"] == "UnauthorizedError"
    assert t.sent[1] == {"action": "open_me"}
    assert t.sent[3] == {"action": "me", "user": "ada"}
    assert t.sent[5]["error"]["name"] == "UnauthorizedError"


async def test_channel_auth_false_makes_actions_sessionless() -> None:
    t = await run(make_app(auth=False), [{"action": "me"}])
    assert t.sent == [{"action": "me"}]


async def test_opening_request_loads_session_through_middleware() -> None:
    app = make_app()
    token = app.session_codec().encode({"user": "bearer"})
    request = ChannelRequest("/c", headers={"authorization": f"Bearer {token}"})
    t = await run(app, [{"action": "me"}], request)
    assert t.sent == [{"action": "me", "user": "bearer"}]


async def test_on_connect_reads_request_and_can_refuse() -> None:
    @pikku_sessionless_func
    async def gate(services: Any, data: None, wire: Wire[Any]) -> None:
        assert wire.http is not None and wire.channel is not None
        assert wire.channel.opening["path"] == "/c"
        if wire.http.query.get("k") != ["ok"]:
            raise ForbiddenError("no key")
        wire.set_session({"user": wire.http.cookies["who"]})

    app = make_app(on_connect=gate)
    ok = ChannelRequest("/c", cookies={"who": "cookie-user"}, query={"k": ["ok"]})
    t = await run(app, [{"action": "me"}], ok)
    assert t.sent == [{"action": "me", "user": "cookie-user"}]
    t = await run(app, [{"action": "me"}], ChannelRequest("/c"))
    assert t.sent[0]["error"]["name"] == "ForbiddenError"
    assert len(t.sent) == 1  # later frames are ignored
    assert t.closed == (1008, "no key")


async def test_on_message_gets_messages_without_action() -> None:
    t = await run(make_app(on_message=whole), [{"hello": 1, "id": 3}, {"action": "nothing"}])
    assert t.sent == [{"whole": {"hello": 1, "id": 3}}, {"action": "nothing"}]


async def test_streaming_action_sends_items_then_done() -> None:
    t = await run(make_app(), [{"action": "count", "id": 9, "value": 2}])
    assert t.sent == [
        {"action": "count", "id": 9, "result": 0},
        {"action": "count", "id": 9, "result": 1},
        {"action": "count", "id": 9, "done": True},
    ]


async def test_disconnect_drops_subscriptions_and_runs_on_disconnect() -> None:
    left: list[str] = []

    @pikku_sessionless_func
    async def bye(services: Any, data: None, wire: Wire[Any]) -> None:
        assert wire.channel is not None
        left.append(wire.channel.channel_id)

    app = make_app(on_disconnect=bye)
    async with app:
        await run(app, [{"action": "subscribe", "value": "news"}])
        assert app.event_hub.subscriber_count() == 0
        assert len(left) == 1


async def test_slow_consumer_closed_with_1013_publisher_not_blocked() -> None:
    app = make_app()
    async with app, ChannelRuntime(app, send_queue_size=3) as runtime:
        wiring = runtime.match("/c")
        assert wiring is not None
        slow, fast = MemoryTransport(), MemoryTransport()
        async with (
            runtime.connect(wiring, slow, ChannelRequest("/c")) as s,
            runtime.connect(wiring, fast, ChannelRequest("/c")) as f,
        ):
            await runtime.message(s, json.dumps({"action": "subscribe", "value": "t"}))
            await runtime.message(f, json.dumps({"action": "subscribe", "value": "t"}))
            slow.block = anyio.Event()  # the slow client stops reading
            with anyio.fail_after(2):
                for i in range(10):
                    await app.event_hub.publish("t", i)
                    await anyio.lowlevel.checkpoint()
            for _ in range(100):
                if slow.closed and len(fast.sent) == 11:
                    break
                await anyio.sleep(0.01)
            assert slow.closed == (CLOSE_SLOW_CONSUMER, "slow consumer")
            assert app.event_hub.subscriber_count("t") == 1
            assert [m["data"] for m in fast.sent[1:]] == list(range(10))


def test_match_and_request_mapping() -> None:
    runtime = ChannelRuntime(make_app())
    assert runtime.match("/c") is not None
    assert runtime.match("/c/") is not None
    assert runtime.match("/c?x=1") is not None
    assert runtime.match("/d") is None
    request = ChannelRequest("/c", headers={"a": "b"})
    assert dict(request) == {"path": "/c", "headers": {"a": "b"}, "cookies": {}, "query": {}}
    with pytest.raises(ValueError, match="send_queue_size"):
        ChannelRuntime(make_app(), send_queue_size=0)


async def test_optional_object_input_reads_the_message_keys() -> None:
    @pikku_sessionless_func
    async def maybe(services: Any, data: Item | None, wire: Wire[Any]) -> dict[str, Any]:
        return {"name": data.name if data else None}

    app = Pikku()
    app.wire_channel(name="c", route="/c", on_message_wiring={"maybe": maybe})
    t = await run(app, [{"action": "maybe", "name": "x"}])
    assert t.sent == [{"action": "maybe", "name": "x"}]


async def test_open_message_disconnect_for_callback_servers() -> None:
    left: list[str] = []

    @pikku_sessionless_func
    async def bye(services: Any, data: None, wire: Wire[Any]) -> None:
        left.append("bye")

    app = make_app(on_disconnect=bye)
    runtime = ChannelRuntime(app)
    wiring = runtime.match("/c")
    assert wiring is not None
    with pytest.raises(RuntimeError, match="running runtime"):
        await runtime.open(wiring, MemoryTransport(), ChannelRequest("/c"))
    async with app, runtime:
        transport = MemoryTransport()
        conn = await runtime.open(wiring, transport, ChannelRequest("/c"))
        assert runtime.connections == {conn.id: conn}
        await runtime.message(conn, json.dumps({"action": "subscribe", "value": "t"}))
        await app.event_hub.publish("t", 1)
        await anyio.sleep(0.05)  # the event goes out from a background task
        await runtime.disconnect(conn)
        await runtime.disconnect(conn)
        await runtime.message(conn, json.dumps({"action": "nothing"}))
        assert runtime.connections == {}
        assert app.event_hub.subscriber_count() == 0
        assert left == ["bye"]
        assert transport.sent == [{"action": "subscribe"}, {"topic": "t", "data": 1}]
