from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def live(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yield a client for it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            asgi_app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            # the same HTTP parser whether or not httptools is installed, with room for the
            # oversized request lines the bad-input tests send to the app
            http="h11",
            h11_max_incomplete_event_size=1024 * 1024,
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
def serve() -> Callable[[Any], Any]:
    return live


async def raw_request(port: int, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes on a new connection; return the status and the response body."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        data = b""
        with anyio.fail_after(10):
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += await stream.receive()
    return int(head[9:12]), body
