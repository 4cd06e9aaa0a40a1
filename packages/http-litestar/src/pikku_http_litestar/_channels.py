"""Channels on Litestar websockets: the core channel runtime on the HTTP port.

Only translation lives here (ASGI websocket events to `ChannelRuntime` calls and back);
routing, replies, sessions, channel middleware and the EventHub are core's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from litestar import WebSocket
from litestar.handlers import WebsocketRouteHandler
from pikku_core import ChannelRequest, ChannelRuntime, ChannelWiring, Pikku

from ._routes import litestar_path

__all__ = ["channel_route_handlers"]


class _SocketTransport:
    """`ChannelTransport` over a Litestar `WebSocket`."""

    __slots__ = ("_closed", "_socket")

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._socket = socket
        self._closed = False

    async def send(self, text: str, /) -> None:
        await self._socket.send_text(text)

    async def close(self, code: int = 1000, reason: str = "", /) -> None:
        if self._closed:
            return
        self._closed = True
        if self._socket.connection_state != "disconnect":
            await self._socket.close(code, reason)


def _request(socket: WebSocket[Any, Any, Any]) -> ChannelRequest:
    scope = socket.scope
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    query = scope["query_string"].decode("latin-1")
    cookies: Mapping[str, str] = socket.cookies if "cookie" in headers else {}
    return ChannelRequest(
        path=scope["path"],
        headers=headers,
        cookies=cookies,
        query=parse_qs(query, keep_blank_values=True) if query else {},
    )


def _handler(runtime: ChannelRuntime, wiring: ChannelWiring) -> WebsocketRouteHandler:
    async def channel(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        transport = _SocketTransport(socket)
        async with runtime.connect(wiring, transport, _request(socket)) as conn:
            while True:
                event = await socket.receive()
                if event["type"] != "websocket.receive":
                    break
                text = event.get("text")
                await runtime.message(conn, text if text is not None else event.get("bytes") or b"")
        await transport.close()

    channel.__name__ = f"pikku_channel_{wiring.name}"
    return WebsocketRouteHandler(litestar_path(wiring.route), name=f"pikku-channel-{wiring.name}")(
        channel
    )


def channel_route_handlers(app: Pikku) -> list[WebsocketRouteHandler]:
    """Litestar websocket route handlers serving every channel wired on ``app``.

    For the HTTP adapter's ``create_app`` / plugin: add the returned handlers to the
    Litestar app's route handlers and the channels share the HTTP port (a path with no
    channel and no HTTP route is a 404 before the upgrade). Each handler accepts the
    upgrade, runs the core `ChannelRuntime` for the connection (``on_connect`` sees the
    upgrade request's path, query, headers and cookies through ``wire.http``) and feeds it
    every frame in order until the client disconnects. The app must be started by the
    Litestar lifespan (the plugin does this); frame size limits are the ASGI server's
    (uvicorn: ``ws_max_size``, 16 MiB by default).

    Args:
        app: The pikku app (its ``channel_wirings`` are read now).

    Returns:
        One handler per distinct channel route, in wiring order.
    """
    runtime = ChannelRuntime(app)
    handlers: list[WebsocketRouteHandler] = []
    seen: set[str] = set()
    for wiring in app.channel_wirings:
        if wiring.route in seen:
            continue
        seen.add(wiring.route)
        handlers.append(_handler(runtime, wiring))
    return handlers
