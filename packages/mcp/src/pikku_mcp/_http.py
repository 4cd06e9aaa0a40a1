"""Streamable HTTP: an ASGI app serving the MCP server, with its lifespan handled."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from typing import Any

from mcp.server import Server
from mcp.server.streamable_http import EventStore
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings
from pikku_core import Pikku

from ._server import create_server

__all__ = ["MCPASGIApp", "create_asgi_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

logger = logging.getLogger("pikku_mcp")


class MCPASGIApp:
    """An ASGI app serving one Pikku app's MCP wirings over streamable HTTP.

    It answers on whatever path it is mounted at. Its lifespan (run by an ASGI server
    such as uvicorn, or entered through `lifespan` by a host app) runs the SDK's session
    manager and, with ``start_app=True``, starts and closes the Pikku app. It can be
    started again after it stopped.

    Made by `create_asgi_app`.

    Attributes:
        app: The Pikku app served.
        server: The SDK's low-level server (see `create_server`).
    """

    def __init__(self, app: Pikku, server: Server[Any], *, start_app: bool, **options: Any) -> None:
        self.app = app
        self.server = server
        self._start_app = start_app
        self._options = options  # StreamableHTTPSessionManager arguments
        self._manager: StreamableHTTPSessionManager | None = None

    @contextlib.asynccontextmanager
    async def _run(self) -> AsyncGenerator[None]:
        if self._manager is not None:
            raise RuntimeError("this MCP ASGI app is already running")
        # A session manager runs once; each start gets a fresh one.
        manager = StreamableHTTPSessionManager(app=self.server, **self._options)
        async with contextlib.AsyncExitStack() as stack:
            if self._start_app:
                await stack.enter_async_context(self.app)
            await stack.enter_async_context(manager.run())
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    def lifespan(self, _host: object = None) -> contextlib.AbstractAsyncContextManager[None]:
        """The app's lifespan as an async context manager, for a host app to enter.

        Litestar takes it as is: ``Litestar(..., lifespan=[mcp_app.lifespan])``.
        """
        return self._run()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(self._run())
        except Exception as exc:
            logger.exception("MCP app failed to start")
            await send(
                {"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"}
            )
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await stack.aclose()
        except Exception as exc:
            logger.exception("MCP app failed to stop cleanly")
            await send(
                {"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__}: {exc}"}
            )
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        manager = self._manager
        if manager is None:
            body = (
                b"MCP app is not running: run its lifespan (Litestar: lifespan=[mcp_app.lifespan])"
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await manager.handle_request(scope, receive, send)


def create_asgi_app(
    app: Pikku,
    *,
    name: str = "pikku",
    start_app: bool = True,
    json_response: bool = False,
    stateless: bool = False,
    event_store: EventStore | None = None,
    transport_security: TransportSecuritySettings | None = None,
    max_request_body_size: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
) -> MCPASGIApp:
    """Serve an app's MCP wirings over streamable HTTP as an ASGI app.

    The session of each call comes from the HTTP request through the app's session
    middleware (``auth_bearer``/``auth_cookie``), the same way as on HTTP routes.

    Args:
        app: The Pikku app.
        name: The server name announced to clients.
        start_app: Start and close the Pikku app in this app's lifespan. Pass False when
            a host app (the Litestar app of ``pikku_http_litestar.create_app``) already
            does.
        json_response: Answer with JSON bodies instead of SSE streams.
        stateless: No MCP sessions: a fresh transport per request.
        event_store: An SDK `EventStore` that makes SSE streams resumable.
        transport_security: Host/Origin checks against DNS rebinding (SDK settings).
        max_request_body_size: Larger request bodies are refused with 413.

    Returns:
        An ASGI app. Run it with uvicorn (``uvicorn.run(create_asgi_app(app))``), or mount
        it into Litestar at ``/mcp``:

        ```python
        mcp_app = pikku_mcp.create_asgi_app(app, start_app=False)
        handler = litestar.asgi("/mcp", is_mount=True, copy_scope=True)(mcp_app)
        litestar.Litestar([handler], lifespan=[mcp_app.lifespan])
        ```
    """
    return MCPASGIApp(
        app,
        create_server(app, name),
        start_app=start_app,
        json_response=json_response,
        stateless=stateless,
        event_store=event_store,
        security_settings=transport_security,
        max_request_body_size=max_request_body_size,
    )
