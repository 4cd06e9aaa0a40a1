"""A channel connection as the runtime tracks it, and what a transport provides.

`ChannelTransport` is the adapter's side of one WebSocket (send a text frame, close);
`ChannelRequest` is the opening request; `ChannelConnection` holds a connection's
session and its bounded send queue (a connection that cannot keep up is closed with
1013) and passes every outgoing message through the channel middleware.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio
import anyio.abc
import msgspec

from ._wire import ChannelWire, HTTPWire, Wire

if TYPE_CHECKING:
    from ._channel import ChannelRuntime, _Compiled

__all__ = [
    "CLOSE_SLOW_CONSUMER",
    "ChannelConnection",
    "ChannelRequest",
    "ChannelTransport",
    "ChannelTransportNowait",
]

CLOSE_SLOW_CONSUMER = 1013
"""Close code for a connection whose send queue overflowed ("try again later")."""

_log = logging.getLogger("pikku.channel")
_json_encode = msgspec.json.Encoder().encode


@runtime_checkable
class ChannelTransport(Protocol):
    """One live WebSocket connection, as the runtime sees it (the adapter implements it)."""

    async def send(self, text: str, /) -> None:
        """Send one text frame; raise any exception when the connection is gone."""
        ...

    async def close(self, code: int = 1000, reason: str = "", /) -> None:
        """Close the connection with a close frame (idempotent)."""
        ...


@runtime_checkable
class ChannelTransportNowait(ChannelTransport, Protocol):
    """A transport that can also write a frame at once when its buffer has room (optional).

    The runtime uses it, when nothing is queued, to skip a task switch per message.
    """

    def send_nowait(self, text: str, /) -> bool:
        """Write one text frame now and return True, or return False to have it queued."""
        ...


_NOTHING: Mapping[str, Any] = MappingProxyType({})
_REQUEST_KEYS = ("path", "headers", "cookies", "query")


class ChannelRequest(Mapping[str, Any]):
    """The opening (upgrade) request, readable by ``on_connect`` through ``wire.http``.

    It is also a read-only mapping with those four keys: ``wire.channel.opening``.

    Attributes:
        path: Request path without the query string.
        headers: Request headers, names in lower case.
        cookies: Request cookies.
        query: Query parameters (each name to all its values).
    """

    __slots__ = _REQUEST_KEYS

    def __init__(
        self,
        path: str,
        headers: Mapping[str, str] = _NOTHING,
        cookies: Mapping[str, str] = _NOTHING,
        query: Mapping[str, list[str]] = _NOTHING,
    ) -> None:
        self.path = path
        self.headers = headers
        self.cookies = cookies
        self.query = query

    def __getitem__(self, key: str) -> Any:
        if key not in _REQUEST_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_REQUEST_KEYS)

    def __len__(self) -> int:
        return len(_REQUEST_KEYS)

    def __repr__(self) -> str:
        return f"ChannelRequest(path={self.path!r})"


class ChannelConnection:
    """One connection as the runtime tracks it (the adapter holds it, never builds it).

    Attributes:
        id: Unique id (also ``wire.channel.channel_id``).
        wiring: The channel this connection is on.
        request: The opening request.
        session: The connection's session (set by ``on_connect`` or any action).
        channel: The `ChannelWire` functions see as ``wire.channel``.
        closed: Whether the connection is closing or closed (further sends are dropped).
    """

    __slots__ = (
        "_compiled",
        "_draining",
        "_limit",
        "_nowait",
        "_outbox",
        "_runtime",
        "_tg",
        "_transport",
        "channel",
        "closed",
        "id",
        "request",
        "session",
        "wiring",
    )

    def __init__(
        self,
        runtime: ChannelRuntime,
        compiled: _Compiled,
        transport: ChannelTransport,
        request: ChannelRequest,
        tg: anyio.abc.TaskGroup,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.wiring = compiled.wiring
        self.request = request
        self.session: Any = None
        self.closed = False
        self._runtime = runtime
        self._compiled = compiled
        self._transport = transport
        self._nowait: Callable[[str], bool] | None = getattr(transport, "send_nowait", None)
        self._tg = tg
        self._limit = runtime.send_queue_size
        # Created on first use: most connections are idle most of the time.
        self._outbox: deque[str] | None = None
        self._draining = False
        self.channel = ChannelWire(
            channel_id=self.id,
            channel_name=self.wiring.name,
            send=self.send,
            close=self.close,
            opening=request,
        )

    def _set_session(self, session: Any) -> None:
        self.session = session

    def _wire(self, http: HTTPWire | None = None) -> Wire[Any]:
        return Wire(
            self._runtime.app,
            session=self.session,
            on_session_change=self._set_session,
            channel=self.channel,
            http=http,
        )

    async def send(self, event: Any) -> None:
        """Send one message to this connection (``wire.channel.send``); never blocks.

        The message passes through the channel middleware, then joins the bounded send
        queue; when the queue is full the connection is closed with 1013.
        """
        for text in await self._encode(event):
            if self.closed:
                return
            if not self._draining and self._nowait is not None and self._nowait(text):
                continue
            outbox = self._queue()
            if len(outbox) >= self._limit:
                self._overflow()
                return
            outbox.append(text)
            if not self._draining:
                self._draining = True
                self._tg.start_soon(self._drain)

    async def reply(self, event: Any) -> None:
        """Send a reply to this connection's own message, in order after queued sends."""
        if self._compiled.chain is None:
            await self._reply_text(_json_encode(event).decode())
            return
        for text in await self._encode(event):
            await self._reply_text(text)

    async def _reply_text(self, text: str) -> None:
        if self.closed:
            return
        if self._draining:
            # A drain is under way: queue behind it (bounded like any other send).
            outbox = self._queue()
            if len(outbox) >= self._limit:
                self._overflow()
                return
            outbox.append(text)
        elif self._nowait is not None and self._nowait(text):
            return
        else:
            # Nothing waiting: send from this task (no hand-off), then flush whatever
            # other tasks queued meanwhile.
            self._draining = True
            try:
                await self._transport.send(text)
            except Exception:
                self.closed = True
            if self._outbox:
                await self._drain()
            else:
                self._draining = False

    def _queue(self) -> deque[str]:
        outbox = self._outbox
        if outbox is None:
            outbox = self._outbox = deque()
        return outbox

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close this connection (``wire.channel.close``); pending messages are dropped."""
        if self.closed:
            return
        self.closed = True
        self._outbox = None
        await self._close_transport(code, reason)

    async def _encode(self, event: Any) -> list[str]:
        chain = self._compiled.chain
        if chain is None:
            return [_json_encode(event).decode()]
        try:
            events = await chain(self._runtime.app.services, event)
        except Exception:
            _log.exception("channel middleware of %s failed: message dropped", self.wiring.name)
            return []
        return [_json_encode(e).decode() for e in events]

    async def _drain(self) -> None:
        # Runs in the task that queued into an empty outbox (a reply) or in a task of its
        # own (other sends), until the outbox is empty; then the outbox is released.
        try:
            while (outbox := self._outbox) and not self.closed:
                text = outbox.popleft()
                try:
                    await self._transport.send(text)
                except Exception:
                    # The peer is gone; the adapter's receive loop ends and disconnects.
                    self.closed = True
        finally:
            self._draining = False
            self._outbox = None

    def _overflow(self) -> None:
        _log.warning(
            "channel %s connection %s cannot keep up (%d queued): closing with 1013",
            self.wiring.name,
            self.id,
            self._limit,
        )
        self.closed = True
        self._outbox = None
        self._tg.start_soon(self._drop_slow_consumer)

    async def _drop_slow_consumer(self) -> None:
        # Unsubscribe at once: the close handshake may take up to the server's close
        # timeout with a peer that does not read.
        await self._runtime._unsubscribe_all(self)
        await self._close_transport(CLOSE_SLOW_CONSUMER, "slow consumer")

    async def _close_transport(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._transport.close(code, reason)
