"""Channel middleware: the onion every outgoing channel message passes through.

``async def cm(services, event, next)``: ``await next(event)`` passes it on (possibly
transformed), ``await next(None)`` drops it, ``await next([a, b])`` fans it out into
several messages (each continues through the inner layers). The first middleware in the
list is the outermost layer. Chains are composed once per channel wiring.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ._wirings import ChannelMiddleware

__all__ = ["ChannelMiddlewareChain", "compose_channel_middleware"]

ChannelMiddlewareChain = Callable[[Any, Any], Awaitable[list[Any]]]
"""``await chain(services, event) -> [event, ...]``: the messages to actually send."""


def _check(mw: ChannelMiddleware) -> ChannelMiddleware:
    if not callable(mw):
        raise TypeError(
            f"channel middleware must be `async def cm(services, event, next)`, got {mw!r}"
        )
    return mw


def compose_channel_middleware(
    middleware: Sequence[ChannelMiddleware],
) -> ChannelMiddlewareChain | None:
    """Compose channel middleware into one chain (``None`` when there is none).

    Args:
        middleware: Outermost first.

    Returns:
        ``await chain(services, event)`` returning the list of events that reached the end
        of the onion, in order; or ``None`` when ``middleware`` is empty (send as is).

    Raises:
        TypeError: A middleware is not callable.
    """
    mws = tuple(_check(mw) for mw in middleware)
    if not mws:
        return None
    n = len(mws)

    async def chain(services: Any, event: Any) -> list[Any]:
        out: list[Any] = []

        def layer(i: int) -> Callable[[Any], Awaitable[None]]:
            async def next_(value: Any) -> None:
                if value is None:
                    return
                items: list[Any] = value if isinstance(value, list) else [value]  # pyright: ignore[reportUnknownVariableType]
                for item in items:
                    if item is None:
                        continue
                    if i == n:
                        out.append(item)
                    else:
                        result = mws[i](services, item, layer(i + 1))
                        if inspect.isawaitable(result):
                            await result

            return next_

        await layer(0)(event)
        return out

    return chain
