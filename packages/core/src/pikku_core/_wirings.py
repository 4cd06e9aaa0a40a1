"""Wiring records: how each function is reached on each transport.

The app stores one record per ``wire_*`` call; adapters read them to build routes,
handlers, workers and commands. Each record owns the `Pipeline` its calls run through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from ._func import FunctionMeta, Middleware, PermissionSpec
from ._pipeline import Pipeline

__all__ = [
    "CLIWiring",
    "ChannelAction",
    "ChannelMiddleware",
    "ChannelWiring",
    "HTTPWiring",
    "MCPPromptWiring",
    "MCPResourceWiring",
    "MCPToolWiring",
    "QueueWiring",
    "SchedulerWiring",
]

ChannelMiddleware = Callable[[Any, Any, Callable[[Any], Any]], Any]
"""``async def cm(services, event, next)``: ``await next(event)`` passes or transforms it."""


class HTTPWiring(msgspec.Struct, eq=False):
    """One HTTP route."""

    method: str
    route: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    auth: bool | None = None
    permissions: PermissionSpec | None = None
    middleware: Sequence[Middleware] = ()
    tags: Sequence[str] = ()
    sse: bool = False


class ChannelAction(msgspec.Struct, eq=False):
    """One routed action of a channel."""

    action: str
    func: FunctionMeta[Any]
    pipeline: Pipeline


class ChannelWiring(msgspec.Struct, eq=False):
    """One WebSocket channel: its lifecycle functions and routed actions."""

    name: str
    route: str
    on_connect: Pipeline | None = None
    on_disconnect: Pipeline | None = None
    on_message: Pipeline | None = None
    actions: dict[str, ChannelAction] = msgspec.field(default_factory=dict[str, ChannelAction])
    routing_key: str = "action"
    auth: bool = True
    middleware: Sequence[Middleware] = ()
    channel_middleware: Sequence[ChannelMiddleware] = ()
    tags: Sequence[str] = ()


class QueueWiring(msgspec.Struct, eq=False):
    """One queue and the function its jobs run."""

    queue: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    max_attempts: int = 3
    timeout: float | None = None
    backoff: Callable[[int], float] | None = None


class SchedulerWiring(msgspec.Struct, eq=False):
    """One scheduled task (5-field cron or an ``@hourly``-style alias)."""

    name: str
    schedule: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    data: Any = None
    session: Any = None


class CLIWiring(msgspec.Struct, eq=False):
    """One CLI command (``"books get"`` is a group and a sub-command)."""

    command: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    positionals: Sequence[str] = ()
    render: Callable[[Any], str] | None = None
    description: str | None = None


class MCPToolWiring(msgspec.Struct, eq=False):
    """One MCP tool."""

    name: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    description: str | None = None
    title: str | None = None
    annotations: Mapping[str, Any] | None = None


class MCPResourceWiring(msgspec.Struct, eq=False):
    """One MCP resource (a URI template such as ``books://{book_id}``)."""

    uri_template: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    name: str = ""
    mime_type: str | None = None
    description: str | None = None


class MCPPromptWiring(msgspec.Struct, eq=False):
    """One MCP prompt (input fields are the prompt's arguments)."""

    name: str
    func: FunctionMeta[Any]
    pipeline: Pipeline
    description: str | None = None
