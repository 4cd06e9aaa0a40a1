# redis-py's asyncio client is only partly typed.
# pyright: reportUnknownMemberType=false, reportUnknownVariableType=false, reportUnknownArgumentType=false
"""An EventHub over Redis pub/sub, so a publish reaches the channels of every process.

Subscriptions stay in each process (an `InProcessEventHub` holds them); a publish goes
through one Redis channel per app, and every process hands what it receives to its own
subscribers. A job run by an arq worker can thus notify a client connected to a web
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from pikku_core import ChannelWire, InProcessEventHub, encode_json
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

logger = logging.getLogger("pikku_queue_arq.events")


class _Envelope(msgspec.Struct):
    topic: str
    data: msgspec.Raw
    exclude: list[str] = msgspec.field(default_factory=list[str])


class RedisEventHub:
    """`pikku_core.EventHub` whose publishes travel through Redis.

    Set it as the app's hub before the app starts (``app.event_hub = RedisEventHub(...)``)
    in every process: web servers hosting channels and workers that publish.

    Args:
        redis_url: Where Redis is (``redis://127.0.0.1:6379/0``).
        channel: The Redis pub/sub channel carrying this app's events; processes of one
            app share it, other apps on the same Redis use another.
    """

    def __init__(self, redis_url: str, channel: str = "pikku:events") -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._local = InProcessEventHub()
        self._redis: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._decoder = msgspec.json.Decoder(_Envelope)

    async def start(self) -> None:
        """Connect and listen (the app calls this when it starts)."""
        redis = Redis.from_url(self.redis_url)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        # A plain asyncio task, not a task group: arq starts the app in one task and
        # closes it from another (arq, and so this package, run on asyncio).
        self._listener = asyncio.create_task(self._listen(pubsub), name="pikku events")
        self._redis = redis

    async def aclose(self) -> None:
        """Stop listening and disconnect (the app calls this when it closes)."""
        listener, redis = self._listener, self._redis
        self._listener = self._redis = None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if redis is not None:
            await redis.aclose()
        await self._local.aclose()

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            async for message in pubsub.listen():
                try:
                    event = self._decoder.decode(message["data"])
                    data = msgspec.json.decode(event.data)
                except (msgspec.DecodeError, TypeError, KeyError):
                    logger.warning("ignored a malformed event on %s", self.channel)
                    continue
                await self._local.publish(event.topic, data, exclude=event.exclude)
        finally:
            await asyncio.shield(pubsub.aclose())

    async def subscribe(self, topic: str, channel: ChannelWire) -> None:
        """Subscribe a connection of this process to ``topic``."""
        await self._local.subscribe(topic, channel)

    async def unsubscribe(self, topic: str, channel: ChannelWire) -> None:
        """Remove a connection's subscription to ``topic``."""
        await self._local.unsubscribe(topic, channel)

    async def unsubscribe_all(self, channel: ChannelWire) -> None:
        """Remove every subscription of a connection."""
        await self._local.unsubscribe_all(channel)

    async def publish(self, topic: str, data: Any, exclude: Any = None) -> None:
        """Send ``data`` to the subscribers of ``topic`` in every process."""
        if self._redis is None:
            raise RuntimeError("the event hub is not started")
        skip: list[str] = []
        if exclude is not None:
            items: list[Any] = [exclude] if isinstance(exclude, (str, ChannelWire)) else [*exclude]
            skip = [e if isinstance(e, str) else e.channel_id for e in items]
        envelope = _Envelope(topic, msgspec.Raw(encode_json(data)), skip)
        try:
            await self._redis.publish(self.channel, encode_json(envelope))
        except (RedisError, OSError) as exc:
            logger.warning("event on %s not published: %s", topic, exc)
