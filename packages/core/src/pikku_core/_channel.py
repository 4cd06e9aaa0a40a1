"""The transport-agnostic channel runtime: connections, action routing, replies.

Any WebSocket server hosts channels by giving the runtime a `ChannelTransport` (send a
text frame, close) per connection and feeding it the frames it receives::

    runtime = ChannelRuntime(app)
    wiring = runtime.match(path)                # None -> refuse the upgrade (404)
    async with runtime.connect(wiring, transport, request) as conn:
        async for frame in websocket:           # handled one at a time, in order
            await runtime.message(conn, frame)

Everything else is decided here, once for every transport: routing by the routing key,
stripping ``action``/``id`` and putting them back on the reply, reply and error shapes,
the session kept on the connection, channel middleware on every outgoing message, and
the bounded send queue (a connection that cannot keep up is closed with 1013).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import anyio
import msgspec

from ._channel_connection import (
    CLOSE_SLOW_CONSUMER,
    ChannelConnection,
    ChannelRequest,
    ChannelTransport,
    ChannelTransportNowait,
)
from ._channel_middleware import ChannelMiddlewareChain, compose_channel_middleware
from ._func import FunctionMeta, as_meta, pikku_sessionless_func
from ._pipeline import Pipeline
from ._wire import HTTPWire, Wire
from ._wirings import ChannelMiddleware, ChannelWiring
from .errors import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PikkuError,
    UnsupportedMediaTypeError,
)

if TYPE_CHECKING:
    from ._app import Pikku

__all__ = [
    "CLOSE_SLOW_CONSUMER",
    "ChannelConnection",
    "ChannelRequest",
    "ChannelRuntime",
    "ChannelTransport",
    "ChannelTransportNowait",
]

CLOSE_POLICY = 1008
"""Close code when ``on_connect`` refuses the connection."""

_log = logging.getLogger("pikku.channel")
_message_decode = msgspec.json.Decoder(dict[str, Any]).decode
_json_encode = msgspec.json.Encoder().encode


def _input_mode(meta: FunctionMeta[Any]) -> str:
    """How a message's remaining keys become ``data``: none, object, or value."""
    tp = meta.input_type
    if tp is None:
        return "none"
    try:
        info = msgspec.inspect.type_info(tp)
    except Exception:
        return "object"
    objectish = (
        msgspec.inspect.StructType,
        msgspec.inspect.DataclassType,
        msgspec.inspect.TypedDictType,
        msgspec.inspect.NamedTupleType,
        msgspec.inspect.DictType,
        msgspec.inspect.AnyType,
    )
    members = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    return "object" if any(isinstance(m, objectish) for m in members) else "value"


@dataclass(slots=True, eq=False)
class _Route:
    pipeline: Pipeline
    mode: str
    stream: bool
    head: bytes  # b'{"action":"<name>"': the start of every reply, encoded once
    key: str  # the wiring's routing key, put back on every reply


_REPLY_KEYS = frozenset(("id", "error", "result", "done"))
"""Keys of the reply envelope besides the routing key; an output holding one is not merged."""
_splice_ok: dict[tuple[type, str], bool] = {}


def _spliceable(tp: type, key: str) -> bool:
    """Whether a Struct type encodes as an object without the reply's own keys."""
    ok = _splice_ok.get((tp, key))
    if ok is None:
        reserved = {key, *_REPLY_KEYS}
        info = msgspec.inspect.type_info(tp)
        ok = (
            isinstance(info, msgspec.inspect.StructType)
            and not info.array_like
            and not ({f.encode_name for f in info.fields} & reserved)
            and info.tag_field not in reserved
        )
        _splice_ok[(tp, key)] = ok
    return ok


def _fast_reply(route: _Route, msg_id: Any, has_id: bool, result: Any) -> str | None:
    """The reply's JSON without building a dict (no channel middleware), or None.

    Covers the common outputs: None, and Structs whose fields cannot clash with the reply
    keys. Anything else goes through `_shape` (same bytes, slower).
    """
    if result is None:
        body = b"}"
    elif isinstance(result, msgspec.Struct) and _spliceable(type(result), route.key):
        encoded = _json_encode(result)
        body = b"," + encoded[1:] if len(encoded) > 2 else b"}"
    else:
        return None
    if has_id:
        return (route.head + b',"id":' + _json_encode(msg_id) + body).decode()
    return (route.head + body).decode()


class _Compiled:
    """What the runtime precomputes once per channel wiring."""

    __slots__ = ("chain", "connect", "routes", "wiring")

    def __init__(self, app: Pikku, wiring: ChannelWiring) -> None:
        self.wiring = wiring
        self.routes = {
            name: _Route(
                a.pipeline,
                _input_mode(a.func),
                a.func.is_stream,
                b"{" + _json_encode(wiring.routing_key) + b":" + _json_encode(name),
                wiring.routing_key,
            )
            for name, a in wiring.actions.items()
        }
        cms = [*_tag_channel_middleware(app, wiring.tags), *wiring.channel_middleware]
        self.chain: ChannelMiddlewareChain | None = compose_channel_middleware(cms)
        # Without on_connect the opening request still runs the middleware onion, so that
        # session middleware (auth_cookie, auth_bearer) can load a session from it.
        self.connect: Pipeline = wiring.on_connect or Pipeline(
            app,
            as_meta(_opened),
            auth=False,
            middleware=wiring.middleware,
            tags=wiring.tags,
        )


def _tag_channel_middleware(app: Pikku, tags: Iterable[str]) -> list[ChannelMiddleware]:
    found = list(app._channel_middleware)
    for tag in tags:
        found.extend(app._tag_channel_middleware.get(tag, ()))
    return found


@pikku_sessionless_func(name="pikku_channel_opened")
async def _opened(services: Any, data: None, wire: Wire[Any]) -> None:
    """Stand-in ``on_connect`` for channels without one (runs the middleware only)."""


class _Connecting:
    """The context manager `ChannelRuntime.connect` returns (small: one per connection)."""

    __slots__ = ("_compiled", "_conn", "_request", "_runtime", "_tg", "_transport")

    def __init__(
        self,
        runtime: ChannelRuntime,
        compiled: _Compiled,
        transport: ChannelTransport,
        request: ChannelRequest,
    ) -> None:
        self._runtime = runtime
        self._compiled = compiled
        self._transport = transport
        self._request = request
        self._tg: anyio.abc.TaskGroup | None = None
        self._conn: ChannelConnection | None = None

    async def __aenter__(self) -> ChannelConnection:
        runtime = self._runtime
        await runtime.app.start()
        tg = runtime._tg
        if tg is None:
            # No runtime-wide task group: this connection's background sends get one.
            tg = self._tg = anyio.create_task_group()
            await tg.__aenter__()
        conn = self._conn = ChannelConnection(
            runtime, self._compiled, self._transport, self._request, tg
        )
        try:
            await runtime._opened(conn)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        tg, self._tg = self._tg, None
        try:
            if conn is not None:
                await self._runtime._closed(conn)
        finally:
            if tg is not None:
                tg.cancel_scope.cancel()
                await tg.__aexit__(exc_type, exc, tb)


def _shape(key: str, action: str, msg_id: Any, has_id: bool, result: Any) -> dict[str, Any]:
    """The reply to one action: the routing key and ``id`` put back on the output.

    A dict output is merged into the reply unless it holds one of the reply's own keys
    (the routing key, ``id``, ``error``, ``result``, ``done``): then it goes under
    ``result`` whole, so no output field is ever overwritten and a client can always
    tell: a reply with ``result`` carries the output there, otherwise the output is the
    reply without its routing key and ``id``.
    """
    reply: dict[str, Any] = {key: action}
    if result is not None:
        value: Any = msgspec.to_builtins(result)
        if isinstance(value, dict) and key not in value and _REPLY_KEYS.isdisjoint(value):  # pyright: ignore[reportUnknownArgumentType]
            reply.update(cast(dict[str, Any], value))
        else:
            reply["result"] = value
    if has_id:
        reply["id"] = msg_id
    return reply


def _error(
    key: str, action: str | None, msg_id: Any, has_id: bool, err: PikkuError
) -> dict[str, Any]:
    reply: dict[str, Any] = {}
    if action is not None:
        reply[key] = action
    if has_id:
        reply["id"] = msg_id
    reply["error"] = err.to_dict()
    return reply


class ChannelRuntime:
    """Hosts an app's wired channels on any WebSocket server.

    Args:
        app: The app whose ``channel_wirings`` are served.
        send_queue_size: Messages a connection may have waiting to be sent; past that it
            is a slow consumer and is closed with 1013.
    """

    def __init__(self, app: Pikku, *, send_queue_size: int = 1024) -> None:
        if send_queue_size < 1:
            raise ValueError("send_queue_size must be at least 1")
        self.app = app
        self.send_queue_size = send_queue_size
        self._compiled: dict[int, _Compiled] = {}
        self._routes: dict[str, ChannelWiring] = {}
        for wiring in app.channel_wirings:
            self._routes.setdefault(wiring.route, wiring)
        self.connections: dict[str, ChannelConnection] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> ChannelRuntime:
        """Run the connections' background sends in one task group for the runtime.

        Optional: without it each connection holds a task group of its own (more memory
        per connection). Leave the block only after the server's connections are closed.
        """
        if self._tg is not None:
            raise RuntimeError("this ChannelRuntime is already running")
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    def match(self, path: str) -> ChannelWiring | None:
        """The channel wired at ``path`` (query string ignored), or None."""
        path = path.split("?", 1)[0]
        found = self._routes.get(path)
        if found is None and path.endswith("/") and len(path) > 1:
            found = self._routes.get(path.rstrip("/"))
        return found

    def _compile(self, wiring: ChannelWiring) -> _Compiled:
        compiled = self._compiled.get(id(wiring))
        if compiled is None:
            compiled = self._compiled[id(wiring)] = _Compiled(self.app, wiring)
        return compiled

    def connect(
        self,
        wiring: ChannelWiring,
        transport: ChannelTransport,
        request: ChannelRequest,
    ) -> _Connecting:
        """Open a connection: ``async with runtime.connect(...) as conn:``.

        Entering runs ``on_connect`` (or, without one, the middleware onion) with
        ``wire.http`` built from ``request``, so session middleware can load the session.
        If it raises, the client gets ``{"error": {...}}`` and the connection is closed
        with 1008 (the block still runs; `message` ignores frames on a closed
        connection). Leaving removes the connection's subscriptions and runs
        ``on_disconnect``.
        """
        return _Connecting(self, self._compile(wiring), transport, request)

    async def _opened(self, conn: ChannelConnection) -> None:
        self.connections[conn.id] = conn
        compiled = conn._compiled
        req = conn.request
        wire = conn._wire(HTTPWire("GET", req.path, req.headers, req.cookies, req.query))
        try:
            await compiled.connect.run(wire)
        except PikkuError as err:
            await conn.reply({"error": err.to_dict()})
            await conn.close(CLOSE_POLICY, err.message[:120])
            return
        conn.session = wire.session

    async def _unsubscribe_all(self, conn: ChannelConnection) -> None:
        unsubscribe_all = getattr(self.app.event_hub, "unsubscribe_all", None)
        if unsubscribe_all is not None:
            try:
                await unsubscribe_all(conn.channel)
            except Exception:
                _log.exception("event hub failed to drop the subscriptions of %s", conn.id)

    async def open(
        self,
        wiring: ChannelWiring,
        transport: ChannelTransport,
        request: ChannelRequest,
    ) -> ChannelConnection:
        """Open a connection without a context manager, for callback-style servers.

        Same as entering `connect`; pair it with `disconnect`. Needs the runtime to be
        running (``async with runtime:``), whose task group does the background sends.

        Raises:
            RuntimeError: The runtime is not running.
        """
        if self._tg is None:
            raise RuntimeError(
                "ChannelRuntime.open needs a running runtime (`async with runtime:`); "
                "or use `async with runtime.connect(...)`"
            )
        await self.app.start()
        conn = ChannelConnection(self, self._compile(wiring), transport, request, self._tg)
        await self._opened(conn)
        return conn

    async def disconnect(self, conn: ChannelConnection) -> None:
        """Forget a connection: drop its subscriptions and run ``on_disconnect`` (once)."""
        await self._closed(conn)

    async def _closed(self, conn: ChannelConnection) -> None:
        conn.closed = True
        conn._outbox = None
        if self.connections.pop(conn.id, None) is None:
            return  # already disconnected
        with anyio.move_on_after(10, shield=True):
            await self._unsubscribe_all(conn)
            on_disconnect = conn.wiring.on_disconnect
            if on_disconnect is not None:
                try:
                    await on_disconnect.run(conn._wire())
                except PikkuError as err:
                    _log.warning("on_disconnect of channel %s failed: %s", conn.wiring.name, err)

    async def message(self, conn: ChannelConnection, frame: str | bytes) -> None:
        """Handle one incoming frame; always answers with a reply or an error reply.

        Never raises for bad input: non-JSON, binary frames, a missing or unknown action
        and invalid data each get ``{"action"?, "id"?, "error": {...}}``.
        """
        if conn.closed:
            return
        if not isinstance(frame, str):
            err = UnsupportedMediaTypeError("binary frames are not accepted: send JSON text")
            await conn.reply(_error(conn.wiring.routing_key, None, None, False, err))
            return
        try:
            msg = _message_decode(frame)
        except msgspec.ValidationError:
            err = BadRequestError("a message must be a JSON object")
            await conn.reply(_error(conn.wiring.routing_key, None, None, False, err))
            return
        except msgspec.DecodeError as exc:
            await conn.reply(
                _error(
                    conn.wiring.routing_key,
                    None,
                    None,
                    False,
                    BadRequestError(f"invalid JSON: {exc}"),
                )
            )
            return
        # The hot path (a known action) is kept flat: this runs once per message.
        compiled = conn._compiled
        has_id = "id" in msg
        msg_id = msg.pop("id", None) if has_id else None
        action = msg.pop(compiled.wiring.routing_key, None)
        route = compiled.routes.get(action) if isinstance(action, str) else None
        if route is None:
            await self._unrouted(conn, msg, action, msg_id, has_id)
            return
        action = cast(str, action)
        mode = route.mode
        data = msg if mode == "object" else (None if mode == "none" else msg.get("value"))
        wire = Wire(
            self.app,
            session=conn.session,
            on_session_change=conn._set_session,
            channel=conn.channel,
        )
        if route.stream:
            await self._stream(conn, route, wire, data, action, msg_id, has_id)
            return
        try:
            result = await route.pipeline.run(wire, data)
            if compiled.chain is None:
                text = _fast_reply(route, msg_id, has_id, result)
                if text is not None:
                    await conn._reply_text(text)
                    return
            reply = _shape(conn.wiring.routing_key, action, msg_id, has_id, result)
        except PikkuError as err:
            reply = _error(conn.wiring.routing_key, action, msg_id, has_id, err)
        except Exception as exc:
            # Only shaping gets here (the pipeline raises PikkuError alone): an output that
            # msgspec cannot serialise.
            _log.error(
                "channel %s: reply to %r not serialisable (%s)", conn.wiring.name, action, exc
            )
            reply = _error(conn.wiring.routing_key, action, msg_id, has_id, InternalServerError())
        await conn.reply(reply)

    async def _unrouted(
        self, conn: ChannelConnection, msg: dict[str, Any], action: Any, msg_id: Any, has_id: bool
    ) -> None:
        wiring = conn.wiring
        key = wiring.routing_key
        if action is None:
            if wiring.on_message is not None:
                if has_id:
                    msg["id"] = msg_id
                await self._on_message(conn, wiring.on_message, msg)
                return
            err = BadRequestError(f"missing {key!r}: every message names an action")
            await conn.reply(_error(conn.wiring.routing_key, None, msg_id, has_id, err))
        elif not isinstance(action, str):
            err = BadRequestError(f"{key!r} must be a string, got {type(action).__name__}")
            await conn.reply(_error(conn.wiring.routing_key, None, msg_id, has_id, err))
        else:
            err = NotFoundError(f"unknown action {action!r}")
            await conn.reply(_error(conn.wiring.routing_key, action, msg_id, has_id, err))

    async def _stream(
        self,
        conn: ChannelConnection,
        route: _Route,
        wire: Wire[Any],
        data: Any,
        action: str,
        msg_id: Any,
        has_id: bool,
    ) -> None:
        scope = anyio.CancelScope()

        async def emit(item: Any) -> None:
            await conn.reply(_shape(conn.wiring.routing_key, action, msg_id, has_id, item))
            if conn.closed:
                # The client went away: cancel the generator at its next await.
                scope.cancel()

        try:
            with scope:
                await route.pipeline.run(wire, data, emit=emit)
        except PikkuError as err:
            await conn.reply(_error(conn.wiring.routing_key, action, msg_id, has_id, err))
            return
        except Exception as exc:
            _log.error(
                "channel %s: item of %r not serialisable (%s)", conn.wiring.name, action, exc
            )
            await conn.reply(
                _error(conn.wiring.routing_key, action, msg_id, has_id, InternalServerError())
            )
            return
        if conn.closed:
            return
        done: dict[str, Any] = {conn.wiring.routing_key: action, "done": True}
        if has_id:
            done["id"] = msg_id
        await conn.reply(done)

    async def _on_message(
        self, conn: ChannelConnection, pipeline: Pipeline, msg: dict[str, Any]
    ) -> None:
        try:
            result = await pipeline.run(conn._wire(), msg)
        except PikkuError as err:
            has_id = "id" in msg
            await conn.reply(_error(conn.wiring.routing_key, None, msg.get("id"), has_id, err))
            return
        if result is not None:
            await conn.reply(msgspec.to_builtins(result))
