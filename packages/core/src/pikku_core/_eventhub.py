"""EventHub: topic pub/sub across channel connections, and its in-process default.

A subscribed connection receives each publish as one message ``{"topic": t, "data": d}``
through its own channel middleware. Publishing never waits on a slow subscriber: a
connection's ``send`` only enqueues (a connection that cannot keep up is closed with
1013 by the channel runtime), so one stuck client cannot stall the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._wire import ChannelWire

if TYPE_CHECKING:
    from ._app import Pikku

__all__ = ["EventHub", "InProcessEventHub"]

Exclude = ChannelWire | str | Iterable[ChannelWire | str] | None
"""Connections a publish skips: a channel, a channel id, or several of them."""


@runtime_checkable
class EventHub(Protocol):
    """What ``services.event_hub`` offers (every method is a coroutine)."""

    async def subscribe(self, topic: str, channel: ChannelWire) -> None:
        """Subscribe a connection to ``topic``."""
        ...

    async def unsubscribe(self, topic: str, channel: ChannelWire) -> None:
        """Remove a connection's subscription to ``topic`` (no error if absent)."""
        ...

    async def unsubscribe_all(self, channel: ChannelWire) -> None:
        """Remove every subscription of a connection (called when it closes)."""
        ...

    async def publish(self, topic: str, data: Any, exclude: Exclude = None) -> None:
        """Send ``{"topic": topic, "data": data}`` to every subscriber of ``topic``."""
        ...


def _excluded_ids(exclude: Exclude) -> frozenset[str]:
    if exclude is None:
        return frozenset()
    if isinstance(exclude, str):
        return frozenset((exclude,))
    if isinstance(exclude, ChannelWire):
        return frozenset((exclude.channel_id,))
    return frozenset(e if isinstance(e, str) else e.channel_id for e in exclude)


class InProcessEventHub:
    """The default EventHub: subscriptions kept in this process's memory.

    Args:
        app: The app whose connections subscribe (kept for symmetry with external hubs).
    """

    def __init__(self, app: Pikku | None = None) -> None:
        self.app = app
        self._topics: dict[str, dict[str, ChannelWire]] = {}
        self._by_channel: dict[str, set[str]] = {}

    async def start(self) -> None:
        """Nothing to start in process (present for the app's lifecycle)."""

    async def aclose(self) -> None:
        """Forget every subscription."""
        self._topics.clear()
        self._by_channel.clear()

    def subscriber_count(self, topic: str | None = None) -> int:
        """Number of subscriptions to ``topic`` (or to all topics)."""
        if topic is not None:
            return len(self._topics.get(topic, ()))
        return sum(len(subs) for subs in self._topics.values())

    async def subscribe(self, topic: str, channel: ChannelWire) -> None:
        """Subscribe a connection to ``topic`` (subscribing twice is one subscription).

        Raises:
            TypeError: ``topic`` is not a string or ``channel`` is not a `ChannelWire`
                (outside a channel call ``wire.channel`` is None).
        """
        if not isinstance(topic, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"topic must be a str, got {type(topic).__name__}")
        if not isinstance(channel, ChannelWire):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(
                f"subscribe needs a channel connection (wire.channel), got {type(channel).__name__}"
            )
        self._topics.setdefault(topic, {})[channel.channel_id] = channel
        self._by_channel.setdefault(channel.channel_id, set()).add(topic)

    async def unsubscribe(self, topic: str, channel: ChannelWire) -> None:
        """Remove a connection's subscription to ``topic`` (no error if absent)."""
        cid = channel.channel_id
        subs = self._topics.get(topic)
        if subs is not None:
            subs.pop(cid, None)
            if not subs:
                del self._topics[topic]
        topics = self._by_channel.get(cid)
        if topics is not None:
            topics.discard(topic)
            if not topics:
                del self._by_channel[cid]

    async def unsubscribe_all(self, channel: ChannelWire) -> None:
        """Remove every subscription of a connection."""
        cid = channel.channel_id
        for topic in self._by_channel.pop(cid, ()):
            subs = self._topics.get(topic)
            if subs is not None:
                subs.pop(cid, None)
                if not subs:
                    del self._topics[topic]

    async def publish(self, topic: str, data: Any, exclude: Exclude = None) -> None:
        """Send ``{"topic": topic, "data": data}`` to every subscriber of ``topic``.

        Args:
            topic: The topic.
            data: Any JSON-serialisable value (Structs and dataclasses included).
            exclude: Connections to skip (typically the sender's ``wire.channel``).
        """
        subs = self._topics.get(topic)
        if not subs:
            return
        skip = _excluded_ids(exclude)
        event = {"topic": topic, "data": data}
        for cid, channel in list(subs.items()):
            if cid in skip:
                continue
            await channel.send(event)
