"""The conformance harness for pikku-http-litestar: a live uvicorn server driven by httpx."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, ClassVar

import httpx
import uvicorn
from pikku_conformance import CallResult, Capabilities, Harness, HarnessClient
from pikku_conformance.routes import http_route
from pikku_core import Pikku
from pikku_http_litestar import create_app

SESSION_COOKIE = "pikku_session"


class LiveServer:
    """uvicorn serving an ASGI app on a free 127.0.0.1 port, inside this event loop."""

    def __init__(self, asgi_app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(asgi_app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve until `stop`; returns once uvicorn accepts connections."""
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait for it (connections drain, lifespan closes)."""
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None
        self._sock.close()


def _error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    return {k: body[k] for k in ("name", "message", "payload", "error_id")}


class LitestarClient(HarnessClient):
    """One HTTP client with its own cookie jar."""

    def __init__(self, base_url: str, app: Pikku) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self._app = app

    async def call(self, key: str, data: Any = None) -> CallResult:
        """POST the data as JSON to the function's route."""
        kwargs: dict[str, Any] = {} if data is None else {"json": data}
        response = await self._http.post(http_route(key), **kwargs)
        if response.is_success:
            value = response.json() if response.content else None
            return CallResult(ok=True, value=value, status=response.status_code)
        return CallResult(ok=False, error=_error_of(response), status=response.status_code)

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        """GET the function's route with the data as query and read the SSE frames."""
        items: list[Any] = []
        async with self._http.stream("GET", http_route(key), params=data or {}) as response:
            if not response.is_success:
                await response.aread()
                raise AssertionError(f"stream failed: {response.status_code} {response.text}")
            assert response.headers["content-type"].startswith("text/event-stream")
            event = "message"
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    payload = json.loads(line[5:])
                    if event == "error":
                        raise AssertionError(f"stream error event: {payload}")
                    items.append(payload)
                elif not line:
                    event = "message"
        return items

    async def set_session(self, session: dict[str, Any] | None) -> None:
        """Put a signed session cookie in this client's jar (or empty the jar)."""
        self._http.cookies.clear()
        if session is not None:
            token = self._app.session_codec().encode(session)
            self._http.cookies.set(SESSION_COOKIE, token, domain="127.0.0.1")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


class LitestarHarness(Harness):
    """Serves the app with `pikku_http_litestar.create_app` on uvicorn over a real socket."""

    capabilities: ClassVar[Capabilities] = Capabilities(http_status=True)

    def __init__(self) -> None:
        self._server: LiveServer | None = None
        self._app: Pikku | None = None

    async def start(self, app: Pikku) -> None:
        """Build the Litestar app and serve it on a free port."""
        self._app = app
        self._server = LiveServer(create_app(app))
        await self._server.start()

    async def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def client(self) -> HarnessClient:
        """A new client with its own cookie jar and no session."""
        assert self._server is not None and self._app is not None, "harness not started"
        return LitestarClient(self._server.url, self._app)
