"""Serve an app's wired channels with the ``websockets`` asyncio server.

This module only translates: the upgrade request becomes a `ChannelRequest`, each
connection is handed to the core `ChannelRuntime`, each received frame to
``runtime.message``. Routing, replies, sessions and pub/sub live in core.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncGenerator, Iterator, Mapping
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pikku_core import Pikku
from pikku_core._channel import ChannelRequest, ChannelRuntime
from websockets.asyncio.server import Server, ServerConnection, broadcast
from websockets.asyncio.server import serve as ws_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

__all__ = ["channel_request", "run", "serve"]


_EMPTY: Mapping[str, Any] = MappingProxyType({})


class _HeaderView(Mapping[str, str]):
    """The request's headers, lower-case names, repeated ones joined (no copy is made)."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def __getitem__(self, key: str) -> str:
        values = self._headers.get_all(key)
        if not values:
            raise KeyError(key)
        return values[0] if len(values) == 1 else ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)  # websockets keeps the names lower-cased

    def __len__(self) -> int:
        return len(self._headers)


def _cookies(headers: Headers) -> Mapping[str, str]:
    values = headers.get_all("cookie")
    if not values:
        return _EMPTY
    jar = SimpleCookie()
    try:
        jar.load("; ".join(values))
    except CookieError:
        return _EMPTY
    return {name: morsel.value for name, morsel in jar.items()}


class _Transport:
    """The core `ChannelTransportNowait` over one ``websockets`` connection."""

    __slots__ = ("_ws",)

    def __init__(self, ws: ServerConnection) -> None:
        self._ws = ws

    async def send(self, text: str, /) -> None:
        await self._ws.send(text)

    async def close(self, code: int = 1000, reason: str = "", /) -> None:
        await self._ws.close(code, reason)

    def send_nowait(self, text: str, /) -> bool:
        # Write at once while the socket's write buffer is under its high-water mark (as
        # websockets' own `broadcast` does); otherwise the runtime queues the frame and
        # awaits `send`, which waits for the buffer to drain.
        ws = self._ws
        transport = ws.transport
        if ws.protocol.state is not State.OPEN or transport.is_closing():
            return False
        if transport.get_write_buffer_size() >= transport.get_write_buffer_limits()[1]:
            return False
        try:
            broadcast((ws,), text, raise_exceptions=True)
        except Exception:
            return False
        return True


def channel_request(request: Request) -> ChannelRequest:
    """Translate a ``websockets`` opening request into the core `ChannelRequest`."""
    path, _, query = request.path.partition("?")
    return ChannelRequest(
        path=path,
        headers=_HeaderView(request.headers),
        cookies=_cookies(request.headers),
        query=parse_qs(query, keep_blank_values=True) if query else _EMPTY,
    )


@contextlib.asynccontextmanager
async def serve(
    app: Pikku,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    send_queue_size: int = 1024,
    **websockets_kwargs: Any,
) -> AsyncGenerator[Server, None]:
    """Serve the app's wired channels; an async context manager yielding the server.

    Starts the app if it is not started yet (and closes it again on exit), routes each
    upgrade by path to the channel wired there (any other path is refused with HTTP
    404), and on exit closes every connection with a close frame (1001) before
    returning.

    Args:
        app: The app.
        host: Interface to listen on.
        port: Port (0 picks a free one: read it from ``server.sockets[0].getsockname()``).
        send_queue_size: Messages a connection may have waiting; past that it is closed
            with 1013 (slow consumer).
        **websockets_kwargs: Passed to ``websockets.asyncio.server.serve``, e.g.
            ``max_size`` (default 1 MiB; a bigger frame closes the connection with 1009),
            ``ping_interval`` / ``ping_timeout`` (keepalive, default 20 s each).

    Yields:
        The running ``websockets`` server.
    """
    runtime = ChannelRuntime(app, send_queue_size=send_queue_size)

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if runtime.match(urlsplit(request.path).path) is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "No channel is wired at this path.\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None  # set once the handshake succeeded
        request = channel_request(ws.request)
        wiring = runtime.match(request.path)
        if wiring is None:  # process_request refused it already; kept for safety
            await ws.close(1008, "no channel at this path")
            return
        async with runtime.connect(wiring, _Transport(ws), request) as conn:
            with contextlib.suppress(ConnectionClosed):
                async for frame in ws:
                    await runtime.message(conn, frame)

    owns_app = not app.started
    if owns_app:
        await app.start()
    try:
        async with (
            runtime,
            ws_serve(
                handler, host, port, process_request=process_request, **websockets_kwargs
            ) as server,
        ):
            yield server
    finally:
        if owns_app:
            await app.close()


def run(app: Pikku, host: str = "127.0.0.1", port: int = 8765, **kwargs: Any) -> None:
    """Serve the app's channels until SIGINT or SIGTERM (blocking).

    Args:
        app: The app.
        host: Interface to listen on.
        port: Port to listen on.
        **kwargs: Passed to `serve`.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with serve(app, host, port, **kwargs) as server:
            for sock in server.sockets:
                app.logger.info("pikku-ws listening on %s", sock.getsockname())
            await stop.wait()

    asyncio.run(main())
