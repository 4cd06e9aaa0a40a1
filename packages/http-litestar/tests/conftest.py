from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

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
        uvicorn.Config(asgi_app, log_level="warning", lifespan="on", access_log=False)
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
