"""List-change announcements: tools, resources and prompts wired while a server runs.

Two protocol eras, two delivery paths:

- 2026-07-28 clients open a ``subscriptions/listen`` stream; the SDK's `ListenHandler`
  serves it from a `SubscriptionBus`, which `ChangeBus` is.
- Handshake-era clients get ``notifications/*/list_changed`` on their connection; each
  server lifespan keeps the connections that finished the handshake and a pump task
  that forwards bus events to them.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    ServerEvent,
    ToolsListChanged,
)

__all__ = ["ChangeBus", "LifespanState", "track_connections"]

logger = logging.getLogger("pikku_mcp")

EVENTS: dict[str, ServerEvent] = {
    "tool": ToolsListChanged(),
    "resource": ResourcesListChanged(),
    "prompt": PromptsListChanged(),
}


class ChangeBus:
    """In-process `SubscriptionBus` that can also publish from synchronous code.

    Wiring happens in plain functions (``app.wire_mcp_tool``), so the change must be
    announceable without awaiting; listeners only enqueue.
    """

    def __init__(self) -> None:
        self._listeners: dict[object, Callable[[ServerEvent], None]] = {}

    def publish_nowait(self, event: ServerEvent) -> None:
        """Deliver ``event`` to every listener now."""
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:  # one bad listener must not starve the others
                logger.exception("list-change listener raised")

    async def publish(self, event: ServerEvent) -> None:
        """Deliver ``event`` to every listener (the `SubscriptionBus` protocol)."""
        self.publish_nowait(event)
        await anyio.lowlevel.checkpoint()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Register ``listener``; return an idempotent unsubscribe callable."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def announce(self, kind: str) -> None:
        """Announce that the list of ``kind`` (tool, resource, prompt) changed."""
        event = EVENTS.get(kind)
        if event is not None:
            self.publish_nowait(event)


class LifespanState:
    """What one server lifespan holds: the handshake-era connections to notify."""

    def __init__(self) -> None:
        self.connections: weakref.WeakSet[Connection] = weakref.WeakSet()


async def _notify(connection: Connection, event: ServerEvent) -> None:
    if isinstance(event, ToolsListChanged):
        await connection.send_tool_list_changed()
    elif isinstance(event, PromptsListChanged):
        await connection.send_prompt_list_changed()
    elif isinstance(event, ResourcesListChanged):
        await connection.send_resource_list_changed()


def lifespan_for(bus: ChangeBus) -> Callable[[Any], Any]:
    """Return a server lifespan that forwards bus events to handshake-era connections."""

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncGenerator[LifespanState]:
        state = LifespanState()
        send, recv = anyio.create_memory_object_stream[ServerEvent](64)

        def enqueue(event: ServerEvent) -> None:
            try:
                send.send_nowait(event)
            except (anyio.WouldBlock, anyio.ClosedResourceError):
                logger.debug("list-change backlog full; dropped %r", event)

        async def pump() -> None:
            async for event in recv:
                for connection in list(state.connections):
                    try:
                        await _notify(connection, event)
                    except Exception:  # a gone client must not stop the others
                        state.connections.discard(connection)

        unsubscribe = bus.subscribe(enqueue)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                try:
                    yield state
                finally:
                    tg.cancel_scope.cancel()
        finally:
            unsubscribe()
            send.close()
            recv.close()

    return lifespan


async def track_connections(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Server middleware: remember each connection that completes the handshake."""
    result = await call_next(ctx)
    if ctx.method == "notifications/initialized":
        state = ctx.lifespan_context
        if isinstance(state, LifespanState):
            state.connections.add(ctx.session._connection)  # pyright: ignore[reportPrivateUsage]
    return result
