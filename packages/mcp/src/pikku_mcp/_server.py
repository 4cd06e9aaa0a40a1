"""`create_server`: the app's MCP wirings on the SDK's low-level `mcp.server.Server`."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

from mcp import types
from mcp.server import NotificationOptions, Server
from mcp.server.context import ServerRequestContext
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import ListenHandler
from mcp.shared.exceptions import MCPError
from pikku_core import (
    HTTPWire,
    MCPWire,
    Pikku,
    PikkuError,
    Response,
    Wire,
    encode_json,
    to_builtins,
)

from ._changes import ChangeBus, lifespan_for, track_connections
from ._registry import Registry, Resource, Tool, content_of

__all__ = ["PikkuMCPServer", "create_server"]

logger = logging.getLogger("pikku_mcp")

Ctx = ServerRequestContext[Any, Any]


def _error_text(err: PikkuError) -> str:
    return f"{err.name}: {err.message}"


def _error_data(err: PikkuError, **extra: Any) -> dict[str, Any]:
    return {**to_builtins(err.to_dict()), **extra}


def _error_result(err: PikkuError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=_error_text(err))],
        structured_content=_error_data(err),
        is_error=True,
    )


def _protocol_error(err: PikkuError, **extra: Any) -> MCPError:
    """A JSON-RPC error for a resource or prompt call (they have no error results)."""
    code = types.INVALID_PARAMS if err.status_code < 500 else types.INTERNAL_ERROR
    return MCPError(code=code, message=_error_text(err), data=_error_data(err, **extra))


def _http_wire(request: Any) -> HTTPWire | None:
    """The HTTP part of a call made over streamable HTTP (a Starlette request)."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        query.setdefault(key, []).append(value)
    return HTTPWire(request.method, request.url.path, headers, request.cookies, query)


class PikkuMCPServer(Server[Any]):
    """The SDK's low-level `Server`, serving one Pikku app's MCP wirings.

    Every list-changed capability is advertised: wirings added while the server runs
    are announced to connected clients.

    Attributes:
        app: The Pikku app whose MCP wirings are served.
        session: The session every call starts with when the transport carries none.
        registry: The current MCP view of the app's wirings.
    """

    def __init__(
        self, app: Pikku, name: str = "pikku", *, session: Any = None, version: str = ""
    ) -> None:
        self.app = app
        self.session = session
        self._bus = ChangeBus()
        self.registry = Registry(app, self._bus)
        super().__init__(
            name,
            version=version,
            lifespan=lifespan_for(self._bus),
            get_tool_input_schema=self.registry.tool_input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_subscriptions_listen=ListenHandler(self._bus),
        )
        self.middleware.append(track_connections)

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        """Initialization options announcing tool, resource and prompt list changes."""
        options = notification_options or NotificationOptions(
            prompts_changed=True, resources_changed=True, tools_changed=True
        )
        return super().create_initialization_options(options, experimental_capabilities, extensions)

    def _wire(self, ctx: Ctx, kind: Any, name: str) -> Wire[Any]:
        request = ctx.request
        http = _http_wire(request) if request is not None else None
        mcp = MCPWire(kind, name, ctx.request_id, ctx.session.report_progress)
        return Wire(self.app, session=self.session, http=http, mcp=mcp)

    # -- tools ---------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.tool for t in self.registry.current().tools.values()])

    async def _call_tool(
        self, ctx: Ctx, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        tool = self.registry.current().tools.get(params.name)
        if tool is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        arguments = params.arguments or {}
        data: Any = arguments.get("value") if tool.schemas.wrap_input else arguments
        wire = self._wire(ctx, "tool", tool.name)
        try:
            if tool.is_stream:
                value = await self._stream(ctx, tool, wire, data)
            else:
                value = await tool.pipeline.run(wire, data)
            if isinstance(value, Response):
                block = _content_block(
                    await _body(value), value.content_type, f"pikku://{tool.name}"
                )
                return types.CallToolResult(content=[block])
            return tool.result(value)
        except PikkuError as err:
            return _error_result(err)
        except Exception as exc:  # an output that cannot be sent: a masked 500, logged
            return _error_result(self.app.map_exception(exc, tool.pipeline.meta))

    async def _stream(self, ctx: Ctx, tool: Tool, wire: Wire[Any], data: Any) -> list[Any]:
        items: list[Any] = []
        report = ctx.session.report_progress

        async def emit(item: Any) -> None:
            items.append(item)
            await report(len(items), None, encode_json(item).decode())

        await tool.pipeline.run(wire, data, emit=emit)
        return items

    # -- resources -----------------------------------------------------------------------

    async def _list_resources(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        resources = self.registry.current().resources.values()
        return types.ListResourcesResult(resources=[r.listing() for r in resources])

    async def _list_resource_templates(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        templates = self.registry.current().templates
        return types.ListResourceTemplatesResult(
            resource_templates=[r.template_listing() for r in templates]
        )

    async def _read_resource(
        self, ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        found = self.registry.current().find_resource(uri)
        if found is None:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Resource not found: {uri}", data={"uri": uri}
            )
        resource, variables = found
        wire = self._wire(ctx, "resource", resource.name)
        try:
            value = await resource.pipeline.run(wire, resource.input_from(variables), strict=False)
            return types.ReadResourceResult(contents=await _resource_contents(resource, uri, value))
        except PikkuError as err:
            raise _protocol_error(err, uri=uri) from None
        except Exception as exc:  # an output that cannot be sent: a masked 500, logged
            err = self.app.map_exception(exc, resource.pipeline.meta)
            raise _protocol_error(err, uri=uri) from None

    # -- prompts -------------------------------------------------------------------------

    async def _list_prompts(
        self, ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[p.prompt for p in self.registry.current().prompts.values()]
        )

    async def _get_prompt(
        self, ctx: Ctx, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        prompt = self.registry.current().prompts.get(params.name)
        if prompt is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
        arguments: Mapping[str, Any] = params.arguments or {}
        data: Any = arguments.get("value") if prompt.wrap_input else dict(arguments)
        wire = self._wire(ctx, "prompt", prompt.name)
        try:
            value = await prompt.pipeline.run(wire, data, strict=False)
        except PikkuError as err:
            raise _protocol_error(err) from None
        try:
            messages = _prompt_messages(value)
        except (TypeError, ValueError):  # pydantic's ValidationError is a ValueError
            logger.exception(
                "prompt %r returned something that is not a list of messages", prompt.name
            )
            raise MCPError(
                code=types.INTERNAL_ERROR,
                message=f"InternalServerError: prompt {prompt.name!r} did not return prompt messages",
            ) from None
        return types.GetPromptResult(description=prompt.description, messages=messages)


def _media_type(mime: str) -> str:
    return mime.split(";")[0].strip().lower()


def _is_text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type.endswith(("/json", "+json"))


async def _body(response: Response) -> bytes:
    body = response.body
    if isinstance(body, bytes):
        return body
    return b"".join([chunk async for chunk in body])


def _content_block(data: bytes, mime: str, uri: str) -> types.ContentBlock:
    """A tool content block for raw bytes of a media type."""
    base = _media_type(mime)
    if _is_text(base):
        return types.TextContent(type="text", text=data.decode("utf-8", "replace"))
    encoded = base64.b64encode(data).decode("ascii")
    if base.startswith("image/"):
        return types.ImageContent(type="image", data=encoded, mime_type=base)
    if base.startswith("audio/"):
        return types.AudioContent(type="audio", data=encoded, mime_type=base)
    blob = types.BlobResourceContents(uri=uri, blob=encoded, mime_type=base)
    return types.EmbeddedResource(type="resource", resource=blob)


async def _resource_contents(
    resource: Resource, uri: str, value: Any
) -> list[types.TextResourceContents | types.BlobResourceContents]:
    mime = resource.mime_type
    if isinstance(value, Response):
        mime, value = value.content_type, await _body(value)
        if _is_text(_media_type(mime)):
            value = value.decode("utf-8", "replace")
    if isinstance(value, bytes):
        blob = base64.b64encode(value).decode("ascii")
        mime = mime or "application/octet-stream"
        return [types.BlobResourceContents(uri=uri, blob=blob, mime_type=mime)]
    if isinstance(value, str):
        return [types.TextResourceContents(uri=uri, text=value, mime_type=mime or "text/plain")]
    if value is None:
        return []
    text = content_of(value)
    return [types.TextResourceContents(uri=uri, text=text, mime_type=mime or "application/json")]


def _message(item: Any) -> types.PromptMessage:
    if isinstance(item, str):
        return types.PromptMessage(role="user", content=types.TextContent(type="text", text=item))
    if isinstance(item, types.PromptMessage):
        return item
    raw = to_builtins(item)
    if not isinstance(raw, dict):
        raise TypeError(f"a prompt message must be a str or a mapping, not {type(raw).__name__}")
    message: dict[str, Any] = dict(raw)  # pyright: ignore[reportUnknownArgumentType]
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = {"type": "text", "text": content}
    message.setdefault("role", "user")
    return types.PromptMessage.model_validate(message)


def _prompt_messages(value: Any) -> list[types.PromptMessage]:
    """Prompt messages from what a prompt function returned.

    Accepted: a string (one user message), or a list whose items are strings or
    ``{"role": "user" | "assistant", "content": str | content block}`` mappings/Structs.
    """
    if isinstance(value, str):
        return [_message(value)]
    if isinstance(value, list | tuple):
        return [_message(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    raise TypeError(f"expected a str or a list of messages, not {type(value).__name__}")


def create_server(
    app: Pikku, name: str = "pikku", *, session: Any = None, version: str = ""
) -> Server[Any]:
    """Serve an app's MCP tools, resources and prompts on the SDK's low-level server.

    The server reads the app's wirings when it is asked for them, so wirings added
    later are served (and announced to connected clients).

    Args:
        app: The Pikku app (its ``wire_mcp_tool``/``resource``/``prompt`` wirings).
        name: The server name announced to clients.
        session: A session for every call that brings none of its own (stdio, in-process
            clients). Over streamable HTTP the session comes from the request, through the
            app's session middleware (``auth_bearer``), exactly as on HTTP routes.
        version: The server version announced to clients.

    Returns:
        A `mcp.server.Server`: run it over any SDK transport, or connect in-process with
        ``mcp.Client(server)``.

    Example:
        ```python
        async with mcp.Client(pikku_mcp.create_server(app)) as client:
            result = await client.call_tool("get_book", {"book_id": "1"})
        ```
    """
    return PikkuMCPServer(app, name, session=session, version=version)
