"""The reference app: one function per rule of the contract, wired to every transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from pikku_core import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Pikku,
    Wire,
    auth_bearer,
    auth_cookie,
    pikku_func,
    pikku_sessionless_func,
)

from .routes import CHANNEL_NAME, CHANNEL_ROUTE, cli_command, http_route, mcp_tool, queue_name, slug

__all__ = [
    "REFERENCE_SECRET",
    "TeapotError",
    "create_reference_app",
    "reference_functions",
]

REFERENCE_SECRET = "pikku-conformance-secret-0123456789"
"""The secret the reference app signs sessions and jobs with."""

Session = dict[str, Any]


class TeapotError(Exception):
    """A user exception the reference app registers with status 418."""


@dataclass
class ResourceStats:
    """Counts of `Resource` wire services built and closed."""

    created: int = 0
    closed: int = 0


@dataclass
class RefServices:
    """Singleton services of the reference app (fresh on every start)."""

    stats: ResourceStats = field(default_factory=ResourceStats)


class Resource:
    """A wire service that counts how often it is built and closed."""

    def __init__(self, services: Any) -> None:
        self._stats: ResourceStats = services.stats
        self._stats.created += 1
        self.value = "resource"

    def close(self) -> None:
        """Count the close."""
        self._stats.closed += 1


class Trace:
    """A wire service recording which middleware layers ran, in order."""

    def __init__(self) -> None:
        self.layers: list[str] = []


# --------------------------------------------------------------------- inputs / outputs


class EchoInput(msgspec.Struct):
    """Input of `echo`."""

    text: str
    count: int = 1


class EchoOutput(msgspec.Struct):
    """Output of `echo`."""

    text: str
    count: int


class LoginInput(msgspec.Struct):
    """Input of `login`: the session to set."""

    user_id: str
    role: str = "user"
    verified: bool = False


class FailInput(msgspec.Struct):
    """Input of `fail`: which error to raise."""

    kind: Literal["not_found", "conflict", "teapot", "crash"]


class CountInput(msgspec.Struct):
    """Input of the streaming `count`."""

    n: int


class Number(msgspec.Struct):
    """A single number."""

    value: int


# --------------------------------------------------------------------- permissions


def is_admin(services: Any, data: Any, wire: Wire[Session]) -> bool:
    """Synchronous permission: the session's role is admin."""
    return bool(wire.session and wire.session.get("role") == "admin")


async def is_owner(services: Any, data: Any, wire: Wire[Session]) -> bool:
    """Asynchronous permission: the session's user is ``owner``."""
    return bool(wire.session and wire.session.get("user_id") == "owner")


async def is_verified(services: Any, data: Any, wire: Wire[Session]) -> bool:
    """The session is marked verified."""
    return bool(wire.session and wire.session.get("verified"))


# --------------------------------------------------------------------- middleware


def _trace_layer(name: str) -> Any:
    async def middleware(services: Any, wire: Wire[Any], next: Any) -> Any:
        services.trace.layers.append(name)
        return await next()

    middleware.__name__ = f"trace_{name}"
    return middleware


trace_global = _trace_layer("global")
trace_tag = _trace_layer("tag")
trace_wiring = _trace_layer("wiring")
trace_function = _trace_layer("function")


# --------------------------------------------------------------------- functions


@pikku_sessionless_func(title="Echo", tags=["conformance"])
async def echo(services: Any, data: EchoInput, wire: Wire[Session]) -> EchoOutput:
    """Return the text and count it was given (the happy path)."""
    return EchoOutput(text=data.text, count=data.count)


@pikku_sessionless_func
async def login(services: Any, data: LoginInput, wire: Wire[Session]) -> None:
    """Set the session from the input."""
    wire.set_session({"user_id": data.user_id, "role": data.role, "verified": data.verified})


@pikku_sessionless_func
async def logout(services: Any, data: None, wire: Wire[Session]) -> None:
    """Clear the session."""
    wire.clear_session()


@pikku_func
async def whoami(services: Any, data: None, wire: Wire[Session]) -> Session:
    """Return the caller's session (needs one)."""
    assert wire.session is not None
    return dict(wire.session)


@pikku_func(permissions={"admin": is_admin, "owner": is_owner})
async def perm_or(services: Any, data: None, wire: Wire[Session]) -> str:
    """Allowed for admins OR the owner."""
    return "allowed"


@pikku_func(permissions={"verified_admin": [is_admin, is_verified]})
async def perm_and(services: Any, data: None, wire: Wire[Session]) -> str:
    """Allowed only for admins who are ALSO verified."""
    return "allowed"


@pikku_sessionless_func(errors=[NotFoundError, ConflictError])
async def fail(services: Any, data: FailInput, wire: Wire[Session]) -> None:
    """Raise the error named by ``kind``."""
    if data.kind == "not_found":
        raise NotFoundError("thing 7 not found", {"id": 7})
    if data.kind == "conflict":
        raise ConflictError("already exists")
    if data.kind == "teapot":
        raise TeapotError("short and stout")
    raise RuntimeError("database password is hunter2")


@pikku_sessionless_func(tags=["conformance"], middleware=[trace_function])
async def trace(services: Any, data: None, wire: Wire[Session]) -> list[str]:
    """Return the middleware layers that ran before the function, in order."""
    return [*services.trace.layers, "function-body"]


@pikku_sessionless_func
async def uses_resource(services: Any, data: None, wire: Wire[Session]) -> str:
    """Read the ``resource`` wire service (built lazily, closed after the call)."""
    return services.resource.value


@pikku_sessionless_func
async def uses_resource_then_fails(services: Any, data: None, wire: Wire[Session]) -> str:
    """Read the ``resource`` wire service, then fail (it must still be closed)."""
    _ = services.resource.value
    raise ForbiddenError("no")


@pikku_sessionless_func
async def skips_resource(services: Any, data: None, wire: Wire[Session]) -> str:
    """Never touch the ``resource`` wire service (it must not be built)."""
    return "skipped"


@pikku_sessionless_func
async def resource_stats(services: Any, data: None, wire: Wire[Session]) -> dict[str, int]:
    """Return how many ``resource`` wire services were built and closed so far."""
    return {"created": services.stats.created, "closed": services.stats.closed}


@pikku_sessionless_func
async def rpc_whoami(services: Any, data: None, wire: Wire[Session]) -> Session:
    """Call `whoami` over RPC with the caller's session."""
    return await wire.rpc.invoke("whoami")


@pikku_sessionless_func
async def rpc_perm_or(services: Any, data: None, wire: Wire[Session]) -> str:
    """Call `perm_or` over RPC (its permissions apply to the caller's session)."""
    return await wire.rpc.invoke("perm_or")


@pikku_sessionless_func
async def rpc_versioned(services: Any, data: Number, wire: Wire[Session]) -> dict[str, int]:
    """Call `versioned` pinned to the version given in ``value`` (0 = latest)."""
    name = "versioned" if data.value == 0 else f"versioned@{data.value}"
    return await wire.rpc.invoke(name)


@pikku_sessionless_func(name="versioned", version=1)
async def versioned_v1(services: Any, data: None, wire: Wire[Session]) -> dict[str, int]:
    """Version 1 of `versioned`."""
    return {"version": 1}


@pikku_sessionless_func(name="versioned", version=2)
async def versioned_v2(services: Any, data: None, wire: Wire[Session]) -> dict[str, int]:
    """Version 2 of `versioned` (the latest)."""
    return {"version": 2}


@pikku_sessionless_func
async def nothing(services: Any, data: None, wire: Wire[Session]) -> None:
    """Return nothing."""
    return None


@pikku_sessionless_func
def sync_double(services: Any, data: Number, wire: Wire[Session]) -> Number:
    """A synchronous function (runs in a worker thread)."""
    return Number(value=data.value * 2)


@pikku_sessionless_func
async def count(services: Any, data: CountInput, wire: Wire[Session]) -> AsyncIterator[Number]:
    """Stream the numbers 0..n-1, one item each."""
    for i in range(data.n):
        yield Number(value=i)


@pikku_sessionless_func
async def session_echo(services: Any, data: EchoInput, wire: Wire[Session]) -> dict[str, Any]:
    """Return the input text with the caller's user id (for concurrency checks)."""
    user = wire.session.get("user_id") if wire.session else None
    return {"text": data.text, "user_id": user}


def _make_resource(services: Any, wire: Any) -> Resource:
    return Resource(services)


def _make_trace(services: Any, wire: Any) -> Trace:
    return Trace()


def reference_functions() -> dict[str, Any]:
    """Every reference function by key (``versioned@1`` for pinned versions).

    The bare name of a versioned function (``versioned``) is a key too, for its latest
    version, so transports reach it the way a client that does not pin one would.
    """
    funcs = [
        echo,
        login,
        logout,
        whoami,
        perm_or,
        perm_and,
        fail,
        trace,
        uses_resource,
        uses_resource_then_fails,
        skips_resource,
        resource_stats,
        rpc_whoami,
        rpc_perm_or,
        rpc_versioned,
        versioned_v1,
        versioned_v2,
        nothing,
        sync_double,
        count,
        session_echo,
    ]
    keys: dict[str, Any] = {f.meta.key: f for f in funcs}
    latest: dict[str, Any] = {}
    for f in funcs:
        if f.meta.version is not None:
            best = latest.get(f.meta.name)
            if best is None or f.meta.version > best.meta.version:
                latest[f.meta.name] = f
    keys.update(latest)
    return keys


def create_reference_app(**pikku_kwargs: Any) -> Pikku:
    """Build the reference app with every function wired to every transport.

    Keyword arguments go to `Pikku` (``secret`` defaults to `REFERENCE_SECRET`).
    Sessions reach HTTP calls through a cookie (not ``Secure``, tests use plain HTTP)
    or a bearer token.
    """
    pikku_kwargs.setdefault("secret", REFERENCE_SECRET)
    pikku_kwargs.setdefault("services", RefServices)
    pikku_kwargs.setdefault("wire_services", {"resource": _make_resource, "trace": _make_trace})
    app = Pikku(**pikku_kwargs)
    app.add_middleware(auth_cookie(secure=False), auth_bearer())
    app.add_middleware(trace_global)
    app.add_middleware(trace_tag, tags=["conformance"])
    app.register_error(TeapotError, status=418)

    funcs = reference_functions()
    wiring_mw = [trace_wiring]
    channel_actions: dict[str, Any] = {}
    for key, func in funcs.items():
        meta = func.meta
        mws = wiring_mw if key == "trace" else None
        if meta.is_stream:
            app.wire_http("GET", http_route(key), func, middleware=mws)
        else:
            app.wire_http("POST", http_route(key), func, middleware=mws)
            app.wire_queue(queue_name(key), func, max_attempts=1, middleware=mws)
        channel_actions[slug(key)] = {"func": func, "middleware": mws or []}
        app.wire_cli(cli_command(key), func, middleware=mws)
        app.wire_mcp_tool(mcp_tool(key), func, middleware=mws)
    app.wire_channel(name=CHANNEL_NAME, route=CHANNEL_ROUTE, on_message_wiring=channel_actions)
    return app
