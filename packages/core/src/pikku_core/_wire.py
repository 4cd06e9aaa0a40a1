"""The wire: the third argument of every function (session, RPC, transport parts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec

from .errors import PikkuError

if TYPE_CHECKING:
    from ._app import Pikku

__all__ = [
    "CLIWire",
    "ChannelWire",
    "HTTPWire",
    "MCPWire",
    "QueueWire",
    "RPC",
    "ScheduledWire",
    "SetCookie",
    "SkipRun",
    "Wire",
]

SessionT = TypeVar("SessionT")

SameSite = Literal["lax", "strict", "none"]

_EPOCH = "Expires=Thu, 01 Jan 1970 00:00:00 GMT"

current_wire: ContextVar[Wire[Any] | None] = ContextVar("pikku_current_wire", default=None)
"""The wire of the running call, for apps that wire queues: ``services.queue.add`` reads
the enqueuer's session from it."""


class SetCookie(msgspec.Struct):
    """A cookie a call asks the transport to set (or expire)."""

    name: str
    value: str
    max_age: int | None = None
    path: str = "/"
    domain: str | None = None
    secure: bool = True
    http_only: bool = True
    same_site: SameSite = "lax"

    def header_value(self) -> str:
        """Return the full ``Set-Cookie`` header value."""
        parts = [f"{self.name}={self.value}", f"Path={self.path}"]
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
            if self.max_age <= 0:
                parts.append(_EPOCH)
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        parts.append(f"SameSite={self.same_site.capitalize()}")
        return "; ".join(parts)


class HTTPWire:
    """The HTTP part of a wire: the request as read, and the response as shaped.

    Adapters build it from the request and read ``status``, ``response_headers`` and
    ``response_cookies`` back after the call.
    """

    __slots__ = (
        "cookies",
        "headers",
        "method",
        "path",
        "query",
        "response_cookies",
        "response_headers",
        "status",
    )

    def __init__(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        query: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.cookies: Mapping[str, str] = cookies if cookies is not None else {}
        self.query: Mapping[str, list[str]] = query if query is not None else {}
        self.status: int | None = None
        self.response_headers: list[tuple[str, str]] = []
        self.response_cookies: list[SetCookie] = []

    def header(self, name: str) -> str | None:
        """Return a request header by (case-insensitive) name."""
        return self.headers.get(name.lower())

    def set_status(self, status: int) -> None:
        """Set the response status code."""
        self.status = status

    def set_header(self, name: str, value: str) -> None:
        """Add a response header."""
        self.response_headers.append((name, value))

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        http_only: bool = True,
        same_site: SameSite = "lax",
    ) -> None:
        """Set a response cookie (``Secure``, ``HttpOnly``, ``SameSite=Lax`` by default)."""
        self.response_cookies.append(
            SetCookie(name, value, max_age, path, domain, secure, http_only, same_site)
        )

    def delete_cookie(self, name: str, *, path: str = "/", domain: str | None = None) -> None:
        """Expire a cookie on the client."""
        self.response_cookies.append(SetCookie(name, "", 0, path, domain))


class ChannelWire(msgspec.Struct):
    """The channel part of a wire: the connection a message arrived on.

    Attributes:
        channel_id: Unique id of the connection.
        channel_name: The wired channel's name.
        send: Send one JSON-serialisable message to this connection.
        close: Close this connection.
        state: Per-connection state shared by every call on it.
    """

    channel_id: str
    channel_name: str
    send: Callable[[Any], Awaitable[None]]
    close: Callable[..., Awaitable[None]]
    state: dict[str, Any] = msgspec.field(default_factory=dict[str, Any])
    opening: Mapping[str, Any] = msgspec.field(default_factory=dict[str, Any])


class _FailJob(PikkuError):
    status = 422
    default_message = "Job failed"


class QueueWire(msgspec.Struct):
    """The queue part of a wire: which job this call is running."""

    job_id: str
    queue: str
    attempt: int = 1

    def fail(self, message: str = "Job failed", payload: Any = None) -> None:
        """Fail the job now, without any further retry."""
        raise _FailJob(message, payload, name="JobFailedError")


class SkipRun(PikkuError):
    """Raised by `ScheduledWire.skip` to end a scheduled run early without error."""

    status = 200
    default_message = "Skipped"


class ScheduledWire(msgspec.Struct):
    """The scheduler part of a wire: which scheduled task is running."""

    name: str
    schedule: str = ""
    scheduled_at: datetime | None = None

    def skip(self, reason: str = "") -> None:
        """Skip this run (it is recorded as skipped, not failed)."""
        raise SkipRun(reason or "Skipped")


class MCPWire(msgspec.Struct):
    """The MCP part of a wire: the request context of a tool/resource/prompt call."""

    kind: Literal["tool", "resource", "prompt"]
    name: str
    request_id: str | int | None = None
    report_progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None


class CLIWire(msgspec.Struct):
    """The CLI part of a wire: the command being run."""

    command: str
    argv: tuple[str, ...] = ()


class RPC:
    """``wire.rpc``: call another registered function with the caller's session."""

    __slots__ = ("_wire",)

    def __init__(self, wire: Wire[Any]) -> None:
        self._wire = wire

    async def invoke(self, name: str, data: Any = None) -> Any:
        """Invoke a registered function by ``name`` or ``name@N``; its permissions apply."""
        app = self._wire.app
        meta = app.resolve(name)
        child: Wire[Any] = Wire(app, session=self._wire.session, depth=self._wire.depth + 1)
        result = await app.rpc_pipeline(meta).run(child, data=data)
        return result


class Wire(Generic[SessionT]):
    """The per-call context handed to a function as its third argument.

    Attributes:
        app: The app running the call.
        http: HTTP request/response part, when called over HTTP.
        channel: Channel connection part, when called over a channel.
        queue: Job part, when run by a queue worker.
        scheduled: Scheduled-task part, when run by the scheduler.
        mcp: MCP request part, when called as an MCP tool/resource/prompt.
        cli: CLI part, when run as a command.
    """

    # Class-level defaults keep construction cheap: a call sets only what it has.
    http: HTTPWire | None = None
    channel: ChannelWire | None = None
    queue: QueueWire | None = None
    scheduled: ScheduledWire | None = None
    mcp: MCPWire | None = None
    cli: CLIWire | None = None
    depth: int = 0
    session_changed: bool = False
    _on_session_change: Callable[[Any], None] | None = None
    _rpc: RPC | None = None

    def __init__(
        self,
        app: Pikku,
        session: SessionT | None = None,
        *,
        on_session_change: Callable[[Any], None] | None = None,
        http: HTTPWire | None = None,
        channel: ChannelWire | None = None,
        queue: QueueWire | None = None,
        scheduled: ScheduledWire | None = None,
        mcp: MCPWire | None = None,
        cli: CLIWire | None = None,
        depth: int = 0,
    ) -> None:
        self.app = app
        self._session = session
        if on_session_change is not None:
            self._on_session_change = on_session_change
        if http is not None:
            self.http = http
        if channel is not None:
            self.channel = channel
        if queue is not None:
            self.queue = queue
        if scheduled is not None:
            self.scheduled = scheduled
        if mcp is not None:
            self.mcp = mcp
        if cli is not None:
            self.cli = cli
        if depth:
            self.depth = depth

    @property
    def session(self) -> SessionT | None:
        """The caller's session, or None."""
        return self._session

    def load_session(self, session: SessionT | None) -> None:
        """Load a session read by the transport (not a change to persist)."""
        self._session = session

    def set_session(self, session: SessionT) -> None:
        """Set the session; the transport persists it (cookie, connection, token)."""
        self._session = session
        self.session_changed = True
        if self._on_session_change is not None:
            self._on_session_change(session)

    def clear_session(self) -> None:
        """Clear the session; the transport forgets it (expired cookie, connection state)."""
        self._session = None
        self.session_changed = True
        if self._on_session_change is not None:
            self._on_session_change(None)

    @property
    def rpc(self) -> RPC:
        """Call other registered functions with this call's session."""
        if self._rpc is None:
            self._rpc = RPC(self)
        return self._rpc
