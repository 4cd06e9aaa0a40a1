"""`create_app` and `PikkuPlugin`: put a pikku app's HTTP wirings on Litestar."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncGenerator, Callable, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, cast

from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler, asgi
from litestar.plugins import InitPluginProtocol
from litestar.types import Receive, Scope, Send
from pikku_core import (
    PROBLEM_CONTENT_TYPE,
    InternalServerError,
    Pikku,
    encode_json,
    error_for_status,
)

from ._channels import channel_route_handlers
from ._responses import logger
from ._routes import HTTPEndpoint, RPCEndpoint, litestar_path, route_handler

__all__ = ["DEFAULT_BODY_LIMIT", "PikkuPlugin", "create_app"]

DEFAULT_BODY_LIMIT = 10 * 1024 * 1024
"""Default request body limit in bytes (10 MiB); larger bodies get a 413."""

_DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>API docs</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>"""


def _optional(module: str) -> Any | None:
    """Import an optional sibling package, or None when it is not installed.

    An installed package that fails to import raises: a broken install is not hidden.
    """
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


def _litestar_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors (unknown route 404, wrong method 405, …) in the pikku shape."""
    if exc.status_code >= 500:
        # a server-side failure inside Litestar: its detail is not for the client
        return _unexpected_error(request, exc)
    err = error_for_status(exc.status_code, exc.detail)
    allow = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    body = encode_json(err.to_problem())
    return Response(
        body, status_code=err.status_code, media_type=PROBLEM_CONTENT_TYPE, headers=allow
    )


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: a masked 500 whose ``error_id`` is logged with the traceback."""
    err = InternalServerError()
    logger.error(
        "unhandled error %s on %s %s", err.error_id, request.method, request.url.path, exc_info=exc
    )
    return Response(encode_json(err.to_problem()), status_code=500, media_type=PROBLEM_CONTENT_TYPE)


class PikkuPlugin(InitPluginProtocol):
    """Mount a pikku app's HTTP wirings into any Litestar app.

    Every ``wire_http`` becomes a real Litestar route, ``POST /rpc/{name}`` serves exposed
    functions, and the app is started and closed with Litestar's lifespan. When the
    optional siblings are installed it also serves ``/openapi.json`` and ``/docs``
    (pikku-client-gen), MCP at ``/mcp`` (pikku-mcp) and channels on Litestar websockets.

    Example:
        ```python
        app = Litestar(route_handlers=[...], plugins=[PikkuPlugin(pikku_app)])
        ```

    Args:
        app: The pikku app.
        body_limit: Largest accepted request body in bytes (413 above); None for no limit.
        cors_origins: Origins allowed by CORS (an explicit list; ``"*"`` is refused when
            credentials are allowed). None leaves CORS off.
        cors_allow_credentials: Whether CORS responses allow credentials (cookies).
        rpc: Whether to serve ``POST /rpc/{name}``.
    """

    def __init__(
        self,
        app: Pikku,
        *,
        body_limit: int | None = DEFAULT_BODY_LIMIT,
        cors_origins: Sequence[str] | None = None,
        cors_allow_credentials: bool = True,
        rpc: bool = True,
    ) -> None:
        if cors_origins is not None and cors_allow_credentials and "*" in cors_origins:
            raise ValueError(
                "CORS: a wildcard origin cannot be used with credentials; list the origins"
            )
        self.app = app
        self.body_limit = body_limit
        self.cors_origins = list(cors_origins) if cors_origins is not None else None
        self.cors_allow_credentials = cors_allow_credentials
        self.rpc = rpc
        self._mcp_lifespan: Callable[[], AbstractAsyncContextManager[None]] | None = None

    def route_handlers(self) -> list[BaseRouteHandler]:
        """Build the Litestar route handlers for every wiring (done once, at app build)."""
        pikku = self.app
        handlers: list[BaseRouteHandler] = [
            route_handler(litestar_path(w.route), w.method, HTTPEndpoint(pikku, w, self.body_limit))
            for w in pikku.http_wirings
        ]
        if self.rpc:
            handlers.append(
                route_handler("/rpc/{name:str}", "POST", RPCEndpoint(pikku, self.body_limit))
            )
        handlers.extend(self._openapi_handlers())
        handlers.extend(self._mcp_handlers())
        if pikku.channel_wirings:
            handlers.extend(channel_route_handlers(pikku))
        return handlers

    def _openapi_handlers(self) -> list[BaseRouteHandler]:
        client_gen = _optional("pikku_client_gen")
        if client_gen is None:
            return []
        pikku = self.app
        cache: dict[str, bytes] = {}

        async def openapi_json() -> Response[bytes]:
            if "doc" not in cache:
                cache["doc"] = encode_json(client_gen.openapi_document(pikku))
            return Response(cache["doc"], media_type="application/json")

        async def docs() -> Response[str]:
            return Response(_DOCS_PAGE, media_type="text/html")

        return [
            HTTPRouteHandler("/openapi.json", http_method="GET", include_in_schema=False)(
                openapi_json
            ),
            HTTPRouteHandler("/docs", http_method="GET", include_in_schema=False)(docs),
        ]

    def _mcp_handlers(self) -> list[BaseRouteHandler]:
        pikku = self.app
        if not (pikku.mcp_tools or pikku.mcp_resources or pikku.mcp_prompts):
            return []
        pikku_mcp = _optional("pikku_mcp")
        if pikku_mcp is None:
            return []
        # the plugin's lifespan starts the pikku app; the MCP app only runs its manager
        mcp_app = pikku_mcp.create_asgi_app(pikku, start_app=False)
        self._mcp_lifespan = mcp_app.lifespan

        async def mount(scope: Scope, receive: Receive, send: Send) -> None:
            await mcp_app(scope, receive, send)

        return [asgi("/mcp", is_mount=True, copy_scope=True)(mount)]

    @asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncGenerator[None, None]:
        """Start the pikku app (and a mounted MCP app) for the server's lifetime."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.app)
            if self._mcp_lifespan is not None:
                await stack.enter_async_context(self._mcp_lifespan())
            yield

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add the routes, lifespan, error shape and CORS to the Litestar app config."""
        app_config.route_handlers.extend(self.route_handlers())
        lifespans = cast("list[Any]", app_config.lifespan)  # pyright: ignore[reportUnknownMemberType]
        lifespans.append(self.lifespan)
        handlers = cast("MutableMapping[Any, Any]", app_config.exception_handlers)  # pyright: ignore[reportUnknownMemberType]
        handlers.setdefault(HTTPException, _litestar_error)
        handlers.setdefault(Exception, _unexpected_error)
        if self.cors_origins is not None and app_config.cors_config is None:
            app_config.cors_config = CORSConfig(
                allow_origins=self.cors_origins,
                allow_credentials=self.cors_allow_credentials,
            )
        return app_config


def create_app(
    app: Pikku,
    *,
    body_limit: int | None = DEFAULT_BODY_LIMIT,
    cors_origins: Sequence[str] | None = None,
    cors_allow_credentials: bool = True,
    rpc: bool = True,
    **litestar_kwargs: Any,
) -> Litestar:
    """Build a Litestar app serving a pikku app's HTTP wirings.

    Args:
        app: The pikku app.
        body_limit: Largest accepted request body in bytes (413 above); None for no limit.
        cors_origins: Origins allowed by CORS (explicit list; no ``"*"`` with credentials).
        cors_allow_credentials: Whether CORS responses allow credentials (cookies).
        rpc: Whether to serve ``POST /rpc/{name}`` for ``expose=True`` functions.
        **litestar_kwargs: Passed to `litestar.Litestar` (``debug``, ``middleware``, …).
            Litestar's own OpenAPI schema is off unless ``openapi_config`` is given.

    Returns:
        The Litestar ASGI app; run it with uvicorn or granian.
    """
    plugin = PikkuPlugin(
        app,
        body_limit=body_limit,
        cors_origins=cors_origins,
        cors_allow_credentials=cors_allow_credentials,
        rpc=rpc,
    )
    litestar_kwargs.setdefault("openapi_config", None)
    plugins = [plugin, *litestar_kwargs.pop("plugins", [])]
    return Litestar(plugins=plugins, **litestar_kwargs)
