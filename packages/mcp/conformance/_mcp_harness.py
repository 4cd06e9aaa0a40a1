"""Conformance harnesses for pikku-mcp: the SDK's own `mcp.Client`, in memory and over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
from abc import abstractmethod
from contextlib import AsyncExitStack
from typing import Any, ClassVar

import anyio
import httpx2
import mcp_types as types
import pikku_mcp
import uvicorn
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pikku_conformance import CallResult, Capabilities, Harness, HarnessClient
from pikku_conformance.routes import mcp_tool
from pikku_core import Pikku, mcp_tool_schemas

# MCP has no place to hand a session set by a tool back to the client (no cookie, no
# response header once the SSE stream has started), so clients carry bearer tokens.
MCP_CAPABILITIES = Capabilities(session_persistence=False)


def _arguments(app: Pikku, key: str, data: Any) -> dict[str, Any]:
    meta = app.resolve(key)
    schemas = mcp_tool_schemas(meta)
    if schemas.wrap_input:
        return {"value": data}
    return dict(data) if data is not None else {}


def _outcome(result: types.CallToolResult, app: Pikku, key: str) -> CallResult:
    if result.is_error:
        return CallResult(ok=False, error=result.structured_content)
    meta = app.resolve(key)
    schemas = mcp_tool_schemas(meta)
    if schemas.output_schema is None:
        if not result.content:
            return CallResult(ok=True, value=None)
        block = result.content[0]
        assert isinstance(block, types.TextContent)
        return CallResult(ok=True, value=json.loads(block.text))
    structured = result.structured_content
    assert structured is not None
    return CallResult(ok=True, value=structured["result"] if schemas.wrap_output else structured)


class MCPHarnessClient(HarnessClient):
    """One `mcp.Client`; a new session means a new connection carrying it.

    The connection lives in its own task of the harness's task group, so clients can be
    opened and closed in any order (the suite closes 100 of them first-in, first-out).
    """

    def __init__(self, harness: MCPHarness) -> None:
        self._harness = harness
        self._client: Client | None = None
        self._close: anyio.Event | None = None
        self._closed: anyio.Event | None = None

    async def _own(
        self, session: dict[str, Any] | None, *, task_status: TaskStatus[Client]
    ) -> None:
        close, closed = anyio.Event(), anyio.Event()
        self._close, self._closed = close, closed
        try:
            async with AsyncExitStack() as stack:
                task_status.started(await self._harness.connect(stack, session))
                await close.wait()
        finally:
            closed.set()

    async def _connect(self, session: dict[str, Any] | None) -> None:
        await self.aclose()
        self._client = await self._harness.task_group.start(self._own, session)

    async def client(self) -> Client:
        if self._client is None:
            await self._connect(None)
        assert self._client is not None
        return self._client

    async def call(self, key: str, data: Any = None) -> CallResult:
        app = self._harness.app
        client = await self.client()
        try:
            result = await client.call_tool(mcp_tool(key), _arguments(app, key, data))
        except MCPError as exc:
            return CallResult(ok=False, error={"name": "MCPError", "message": exc.error.message})
        return _outcome(result, app, key)

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        app = self._harness.app
        client = await self.client()
        items: list[Any] = []

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            assert message is not None
            items.append(json.loads(message))

        result = await client.call_tool(
            mcp_tool(key), _arguments(app, key, data), progress_callback=progress
        )
        outcome = _outcome(result, app, key)
        assert outcome.ok, outcome.error
        assert outcome.value == items, "the final result must hold the streamed items"
        return items

    async def set_session(self, session: dict[str, Any] | None) -> None:
        await self._connect(session)

    async def aclose(self) -> None:
        close, closed = self._close, self._closed
        self._client = self._close = self._closed = None
        if close is not None and closed is not None:
            close.set()
            await closed.wait()


class MCPHarness(Harness):
    """Base of the MCP harnesses: how a client connects is what differs."""

    capabilities: ClassVar[Capabilities] = MCP_CAPABILITIES
    _app: Pikku | None = None
    _tg: TaskGroup | None = None

    @property
    def task_group(self) -> TaskGroup:
        assert self._tg is not None, "harness not started"
        return self._tg

    async def _open_task_group(self) -> None:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()

    async def _close_task_group(self) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    @property
    def app(self) -> Pikku:
        assert self._app is not None, "harness not started"
        return self._app

    @abstractmethod
    async def connect(self, stack: AsyncExitStack, session: dict[str, Any] | None) -> Client:
        """Open an SDK client on this harness's transport, closed by ``stack``."""

    async def client(self) -> HarnessClient:
        return MCPHarnessClient(self)


class InMemoryHarness(MCPHarness):
    """`mcp.Client(create_server(app, session=...))` in process.

    ``mode="auto"`` negotiates the current protocol (direct dispatch); ``"legacy"`` runs
    the ``initialize`` handshake over in-memory JSON-RPC streams.
    """

    def __init__(self, mode: str = "auto") -> None:
        self.mode = mode

    async def start(self, app: Pikku) -> None:
        await app.start()
        self._app = app
        await self._open_task_group()

    async def stop(self) -> None:
        await self._close_task_group()
        if self._app is not None:
            await self._app.close()
            self._app = None

    async def connect(self, stack: AsyncExitStack, session: dict[str, Any] | None) -> Client:
        server = pikku_mcp.create_server(self.app, session=session)
        return await stack.enter_async_context(Client(server, mode=self.mode))


class LiveServer:
    """Uvicorn serving an ASGI app on a free 127.0.0.1 port, in its own thread."""

    def __init__(self, asgi: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            asgi, lifespan="on", log_level="warning", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class StreamableHTTPHarness(MCPHarness):
    """`create_asgi_app(app)` under uvicorn; `mcp.Client` over streamable HTTP.

    A session travels as ``Authorization: Bearer <token>`` and is loaded by the app's
    ``auth_bearer`` middleware, as on HTTP routes.
    """

    def __init__(self, mode: str = "auto") -> None:
        self.mode = mode
        self._live: LiveServer | None = None

    @property
    def url(self) -> str:
        assert self._live is not None
        return f"http://127.0.0.1:{self._live.port}/mcp"

    async def start(self, app: Pikku) -> None:
        self._app = app
        self._live = LiveServer(pikku_mcp.create_asgi_app(app))
        self._live.start()
        await self._open_task_group()

    async def stop(self) -> None:
        await self._close_task_group()
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._app = None

    async def connect(self, stack: AsyncExitStack, session: dict[str, Any] | None) -> Client:
        headers: dict[str, str] = {}
        if session is not None:
            headers["Authorization"] = f"Bearer {self.app.session_codec().encode(session)}"
        timeout = httpx2.Timeout(30, read=60)
        http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=timeout))
        transport = streamable_http_client(self.url, http_client=http)
        return await stack.enter_async_context(Client(transport, mode=self.mode))
