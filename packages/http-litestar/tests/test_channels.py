"""Channels on Litestar websockets share the HTTP port (uvicorn, real sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from pikku_core import Pikku, Wire, pikku_sessionless_func
from pikku_http_litestar import create_app
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.anyio


class Greeting(msgspec.Struct):
    name: str


@pikku_sessionless_func
async def greet(services: Any, data: Greeting, wire: Wire[Any]) -> dict[str, str]:
    return {"greeting": f"hello {data.name}"}


@pikku_sessionless_func
async def where(services: Any, data: None, wire: Wire[Any]) -> dict[str, Any]:
    assert wire.channel is not None
    opening = wire.channel.opening
    return {"path": opening["path"], "query": dict(opening["query"])}


@pikku_sessionless_func
async def join(services: Any, data: None, wire: Wire[Any]) -> None:
    await services.event_hub.subscribe("room", wire.channel)


@pikku_sessionless_func
async def say(services: Any, data: Greeting, wire: Wire[Any]) -> None:
    await services.event_hub.publish("room", {"from": data.name}, exclude=wire.channel)


def make_app() -> Pikku:
    app = Pikku()
    app.wire_http("POST", "/greet", greet)
    app.wire_channel(
        name="chat",
        route="/ws/chat",
        on_message_wiring={"greet": greet, "where": where, "join": join, "say": say},
    )
    return app


async def test_http_and_channels_on_one_port(serve: Callable[[Any], Any]) -> None:
    async with serve(create_app(make_app())) as http:
        port = http.base_url.port
        response = await http.post("/greet", json={"name": "http"})
        assert response.json() == {"greeting": "hello http"}
        url = f"ws://127.0.0.1:{port}/ws/chat"
        async with connect(f"{url}?room=1") as a, connect(url) as b:
            await a.send(json.dumps({"action": "greet", "id": 1, "name": "ws"}))
            assert json.loads(await a.recv()) == {
                "action": "greet",
                "id": 1,
                "greeting": "hello ws",
            }
            await a.send(json.dumps({"action": "where"}))
            assert json.loads(await a.recv()) == {
                "action": "where",
                "path": "/ws/chat",
                "query": {"room": ["1"]},
            }
            await a.send(b"\x00binary")
            assert json.loads(await a.recv())["error"]["name"] == "UnsupportedMediaTypeError"
            await a.send("not json")
            assert json.loads(await a.recv())["error"]["name"] == "BadRequestError"
            await b.send(json.dumps({"action": "join"}))
            await b.recv()
            await a.send(json.dumps({"action": "say", "name": "ada"}))
            assert json.loads(await a.recv()) == {"action": "say"}
            assert json.loads(await b.recv()) == {"topic": "room", "data": {"from": "ada"}}
        # Litestar refuses an unknown websocket path before accepting; uvicorn answers 403.
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{port}/ws/nowhere"):
                pass
        assert info.value.response.status_code in (403, 404)
