"""`PikkuChannelClient`: a small Python client for pikku channels over ``websockets``."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

__all__ = ["ChannelCallError", "PikkuChannelClient"]

TopicCallback = Callable[[Any], Awaitable[None] | None]
"""Receives the ``data`` of each event published to a topic (sync or async)."""

_log = logging.getLogger("pikku_ws.client")
_decode = msgspec.json.Decoder[Any]().decode
_encode = msgspec.json.Encoder().encode


class ChannelCallError(Exception):
    """The server answered a request with an error reply.

    Attributes:
        name: The error's name (``"NotFoundError"``, ``"UnprocessableContentError"``...).
        message: Its message.
        payload: Its payload (``{"path": "$.field"}`` for validation errors).
        error_id: The server-side id of this error (also in the server's log).
        error: The whole error shape as received.
    """

    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error
        self.name: str = str(error.get("name", "Error"))
        self.message: str = str(error.get("message", ""))
        self.payload: Any = error.get("payload")
        self.error_id: str | None = error.get("error_id")
        super().__init__(f"{self.name}: {self.message}")


class _Pending:
    __slots__ = ("future", "queue")

    def __init__(self, stream: bool) -> None:
        loop = asyncio.get_running_loop()
        self.future: asyncio.Future[dict[str, Any]] | None = (
            None if stream else loop.create_future()
        )
        self.queue: asyncio.Queue[dict[str, Any] | BaseException] | None = (
            asyncio.Queue() if stream else None
        )

    def deliver(self, message: dict[str, Any]) -> None:
        if self.future is not None:
            if not self.future.done():
                self.future.set_result(message)
        elif self.queue is not None:
            self.queue.put_nowait(message)

    def discard(self) -> None:
        """Forget this request; an error already set on it is not reported as unread."""
        if self.future is not None:
            if self.future.done():
                if not self.future.cancelled():
                    self.future.exception()
            else:
                self.future.cancel()

    def fail(self, exc: BaseException) -> None:
        if self.future is not None:
            if not self.future.done():
                self.future.set_exception(exc)
        elif self.queue is not None:
            self.queue.put_nowait(exc)


class PikkuChannelClient:
    """Talks to one pikku channel: requests matched to replies by ``id``, topic events.

    Usage::

        async with PikkuChannelClient("ws://127.0.0.1:8765/ws/todos") as client:
            reply = await client.send("create", {"title": "milk"})

    Args:
        url: The channel's ``ws://`` or ``wss://`` URL.
        reconnect: Reconnect with exponential backoff when the connection drops.
        backoff_initial: First reconnect delay in seconds (doubled each try, with jitter).
        backoff_max: Longest delay between reconnect tries.
        max_retries: Give up after this many failed tries in a row (None: never).
        timeout: Default seconds a request waits for its reply.
        on_reconnect: Called (sync or async) with the client after each reconnect, to
            re-subscribe or re-authenticate: the server forgets a closed connection.
        on_message: Called with every message that is neither a reply nor a topic event.
        **connect_kwargs: Passed to ``websockets.asyncio.client.connect`` (headers...).
    """

    def __init__(
        self,
        url: str,
        *,
        reconnect: bool = True,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        max_retries: int | None = None,
        timeout: float = 30.0,
        on_reconnect: Callable[[PikkuChannelClient], Awaitable[None] | None] | None = None,
        on_message: Callable[[Any], Awaitable[None] | None] | None = None,
        **connect_kwargs: Any,
    ) -> None:
        self.url = url
        self.reconnect = reconnect
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_retries = max_retries
        self.timeout = timeout
        self.on_reconnect = on_reconnect
        self.on_message = on_message
        self._connect_kwargs = connect_kwargs
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._topics: dict[str, list[TopicCallback]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._hook: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._failure: BaseException | None = None

    @property
    def connected(self) -> bool:
        """Whether the client currently has an open connection."""
        return self._connected.is_set()

    async def connect(self) -> None:
        """Open the connection (the first attempt is not retried: errors propagate)."""
        self._closing = False
        self._failure = None
        self._ws = await connect(self.url, **self._connect_kwargs)
        self._connected.set()
        self._reader = asyncio.create_task(self._read_loop())

    async def __aenter__(self) -> PikkuChannelClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection and stop reconnecting; pending requests fail."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        reader = self._reader
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._fail_pending(ConnectionError("the channel client was closed"))
        self._connected.clear()

    def subscribe(self, topic: str, callback: TopicCallback) -> Callable[[], None]:
        """Call ``callback(data)`` for every event published to ``topic``.

        This only routes incoming events; the server-side subscription is made by an
        action of the app (``services.event_hub.subscribe(topic, wire.channel)``).

        Returns:
            A function that removes this callback.
        """
        callbacks = self._topics.setdefault(topic, [])
        callbacks.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                callbacks.remove(callback)

        return remove

    async def send(
        self,
        action: str,
        data: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a per-request override, like httpx)
    ) -> dict[str, Any]:
        """Send one action message and return its reply (without ``id``).

        Raises:
            ChannelCallError: The server replied with an error.
            ConnectionError: The connection dropped before the reply arrived.
            TimeoutError: No reply within ``timeout`` (default: the client's).
        """
        msg_id, pending = await self._request(action, data, stream=False)
        assert pending.future is not None
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                reply = await pending.future
        finally:
            self._pending.pop(msg_id, None)
            pending.discard()
        return self._unwrap(reply)

    async def stream(
        self,
        action: str,
        data: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a per-message override)
    ) -> AsyncIterator[dict[str, Any]]:
        """Send an action wired to a streaming function and yield each item's message.

        Raises:
            ChannelCallError: The server replied with an error (also mid-stream).
            ConnectionError: The connection dropped before the stream ended.
            TimeoutError: No message within ``timeout`` of the previous one.
        """
        msg_id, pending = await self._request(action, data, stream=True)
        assert pending.queue is not None
        wait = self.timeout if timeout is None else timeout
        try:
            while True:
                async with asyncio.timeout(wait):
                    item = await pending.queue.get()
                if isinstance(item, BaseException):
                    raise item
                if item.get("done") is True and set(item) <= {"action", "id", "done"}:
                    return
                yield self._unwrap(item)
        finally:
            self._pending.pop(msg_id, None)

    @staticmethod
    def _unwrap(reply: dict[str, Any]) -> dict[str, Any]:
        if "error" in reply and isinstance(reply["error"], dict):
            raise ChannelCallError(reply["error"])  # pyright: ignore[reportUnknownArgumentType]
        reply.pop("id", None)
        return reply

    async def _request(
        self, action: str, data: dict[str, Any] | None, *, stream: bool
    ) -> tuple[int, _Pending]:
        ws = await self._wait_connected()
        msg_id = next(self._ids)
        message: dict[str, Any] = dict(data) if data else {}
        message["action"] = action
        message["id"] = msg_id
        pending = self._pending[msg_id] = _Pending(stream)
        try:
            await ws.send(_encode(message).decode())
        except ConnectionClosed as exc:
            self._pending.pop(msg_id, None)
            pending.discard()
            raise ConnectionError(f"channel connection closed: {exc}") from None
        return msg_id, pending

    async def _wait_connected(self) -> ClientConnection:
        if self._closing:
            raise ConnectionError("the channel client is closed")
        if not self._connected.is_set():
            if self._failure is not None:
                raise ConnectionError(f"channel unreachable: {self._failure}")
            async with asyncio.timeout(self.timeout):
                await self._connected.wait()
        assert self._ws is not None
        return self._ws

    def _fail_pending(self, exc: BaseException) -> None:
        pending = list(self._pending.values())
        self._pending.clear()
        for p in pending:
            p.fail(exc)

    async def _read_loop(self) -> None:
        while True:
            ws = self._ws
            assert ws is not None
            try:
                async for frame in ws:
                    try:
                        await self._dispatch(frame)
                    except Exception:
                        # A failing callback must not stop replies from being delivered.
                        _log.exception("channel client callback failed")
            except ConnectionClosed:
                pass
            self._connected.clear()
            code = ws.close_code
            self._fail_pending(ConnectionError(f"channel connection closed (code {code})"))
            if self._closing or not self.reconnect:
                return
            if not await self._reconnect():
                return

    async def _reconnect(self) -> bool:
        delay = self.backoff_initial
        attempt = 0
        while not self._closing:
            attempt += 1
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            try:
                self._ws = await connect(self.url, **self._connect_kwargs)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                self._failure = exc
                if self.max_retries is not None and attempt >= self.max_retries:
                    return False
                delay = min(delay * 2, self.backoff_max)
                continue
            self._failure = None
            self._connected.set()
            if self.on_reconnect is not None:
                # A task of its own: the hook may await replies, which this loop reads.
                self._hook = asyncio.create_task(self._run_reconnect_hook())
            return True
        return False

    async def _run_reconnect_hook(self) -> None:
        assert self.on_reconnect is not None
        result = self.on_reconnect(self)
        if inspect.isawaitable(result):
            await result

    async def _dispatch(self, frame: str | bytes) -> None:
        try:
            message = _decode(frame)
        except msgspec.DecodeError:
            return
        if isinstance(message, dict):
            msg: dict[str, Any] = message  # pyright: ignore[reportUnknownVariableType]
            msg_id = msg.get("id")
            if isinstance(msg_id, int) and msg_id in self._pending:
                self._pending[msg_id].deliver(msg)
                return
            topic = msg.get("topic")
            if isinstance(topic, str) and "data" in msg and topic in self._topics:
                for callback in list(self._topics[topic]):
                    result = callback(msg["data"])
                    if inspect.isawaitable(result):
                        await result
                return
        if self.on_message is not None:
            result = self.on_message(message)
            if inspect.isawaitable(result):
                await result
