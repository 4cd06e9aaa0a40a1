"""Minimal ASGI responses: JSON, problem+json, raw bodies and server-sent events."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from litestar.types import Receive, Scope, Send
from pikku_core import PROBLEM_CONTENT_TYPE, HTTPWire, PikkuError, Response, encode_json

logger = logging.getLogger("pikku_http_litestar")

Headers = list[tuple[bytes, bytes]]

JSON_TYPE = (b"content-type", b"application/json")
PROBLEM_TYPE = (b"content-type", PROBLEM_CONTENT_TYPE.encode())
SSE_HEADERS: Headers = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class BodyResponse:
    """An ASGI app sending one status, headers and a complete body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class StreamResponse:
    """An ASGI app streaming a `pikku_core.Response` whose body is an async iterator."""

    __slots__ = ("chunks", "headers", "status")

    def __init__(self, status: int, headers: Headers, chunks: AsyncIterator[bytes]) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        async for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def wire_headers(http: HTTPWire) -> Headers:
    """Headers and cookies a function or middleware set on ``wire.http``."""
    out: Headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in http.response_headers
    ]
    out.extend((b"set-cookie", c.header_value().encode("latin-1")) for c in http.response_cookies)
    return out


def problem(err: PikkuError, http: HTTPWire | None = None) -> BodyResponse:
    """Render a `PikkuError` as an RFC 9457 problem+json response."""
    body = encode_json(err.to_problem())
    headers = [PROBLEM_TYPE, (b"content-length", str(len(body)).encode())]
    if http is not None:
        headers.extend(wire_headers(http))
    return BodyResponse(err.status_code, headers, body)


def render(result: Any, http: HTTPWire) -> BodyResponse | StreamResponse:
    """Render a function's return value: JSON (200), None (204) or a raw `Response`."""
    extra = wire_headers(http) if http.response_headers or http.response_cookies else None
    if isinstance(result, Response):
        headers: Headers = [(b"content-type", result.content_type.encode("latin-1"))]
        headers.extend(
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in result.headers.items()
        )
        if extra:
            headers.extend(extra)
        status = http.status or result.status
        if isinstance(result.body, bytes):
            headers.append((b"content-length", str(len(result.body)).encode()))
            return BodyResponse(status, headers, result.body)
        return StreamResponse(status, headers, result.body)
    if result is None:
        return BodyResponse(http.status or 204, extra or [], b"")
    body = encode_json(result)
    headers = [JSON_TYPE, (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    return BodyResponse(http.status or 200, headers, body)


Emit = Callable[[Any], Awaitable[None]]


class EventStream:
    """An ASGI app serving a streaming function as server-sent events.

    The response starts with the first item, so errors raised before it (auth,
    validation, permissions) are still sent as problem+json with their status; an error
    after it is one ``event: error`` frame. A client that goes away cancels the stream.
    """

    __slots__ = ("http", "run")

    def __init__(self, run: Callable[[Emit], Awaitable[Any]], http: HTTPWire) -> None:
        self.run = run
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def start() -> None:
            nonlocal started
            headers = list(SSE_HEADERS)
            headers.extend(wire_headers(self.http))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True

        async def emit(item: Any) -> None:
            if not started:
                await start()
            frame = b"data: " + encode_json(item) + b"\n\n"
            await send({"type": "http.response.body", "body": frame, "more_body": True})

        async def watch_disconnect(cancel: anyio.CancelScope) -> None:
            message: Any = await receive()
            while message["type"] != "http.disconnect":
                message = await receive()
            cancel.cancel()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_disconnect, tg.cancel_scope)
                try:
                    await self.run(emit)
                except PikkuError as err:
                    if not started:
                        await problem(err, self.http)(scope, receive, send)
                        tg.cancel_scope.cancel()
                        return
                    frame = b"event: error\ndata: " + encode_json(err.to_dict()) + b"\n\n"
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                if not started:
                    await start()
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                tg.cancel_scope.cancel()
        except OSError:
            # the client went away while we were writing: nothing left to tell it
            logger.debug("SSE client disconnected")
