"""The `Pikku` app: registry, wirings, services lifecycle and the in-process entry."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Self

import anyio

from ._func import FunctionMeta, Middleware, Permission, PermissionSpec, as_meta
from ._pipeline import Pipeline
from ._services import ServicesView, WireServiceFactory
from ._session import HMACSessionCodec, SessionCodec
from ._wire import Wire
from ._wirings import (
    ChannelAction,
    ChannelMiddleware,
    ChannelWiring,
    CLIWiring,
    HTTPWiring,
    MCPPromptWiring,
    MCPResourceWiring,
    MCPToolWiring,
    QueueWiring,
    SchedulerWiring,
)
from .errors import InternalServerError, NotFoundError, PikkuError

__all__ = ["Pikku"]

logger = logging.getLogger("pikku")

_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_KEY_RE = re.compile(r"^(?P<name>[^@]+)(?:@(?P<version>\d+))?$")


class Pikku:
    """A pikku application: the functions, their wirings and the services they use.

    Args:
        services: The singleton services: an object, or a zero-argument factory (sync or
            async) called once per start.
        wire_services: Per-call services: ``{"name": factory(services, wire)}``, built on
            first access within a call and closed when the call ends.
        session_type: The type sessions decode as when they come from a token.
        secret: Key for session tokens and signed jobs (default: ``PIKKU_SECRET``).
        config: Free-form app configuration, available as ``app.config``.
        name: The app's name (used for the logger and docs).
    """

    def __init__(
        self,
        services: Any = None,
        wire_services: Mapping[str, WireServiceFactory] | None = None,
        session_type: Any = dict,
        secret: str | None = None,
        config: Any = None,
        *,
        name: str = "pikku",
    ) -> None:
        self.name = name
        self.config = config
        self.session_type = session_type
        self._secret = secret
        self._services_spec = services
        self._wire_service_factories: dict[str, WireServiceFactory] | None = (
            dict(wire_services) if wire_services else None
        )
        self._registry: dict[str, dict[int, FunctionMeta[Any]]] = {}
        self._middleware: list[Middleware] = []
        self._tag_middleware: dict[str, list[Middleware]] = {}
        self._channel_middleware: list[ChannelMiddleware] = []
        self._tag_channel_middleware: dict[str, list[ChannelMiddleware]] = {}
        self._permissions: list[Permission] = []
        self._error_map: dict[type[BaseException], tuple[int, str | None]] = {}
        self._generation = 0
        self._rpc_pipelines: dict[int, Pipeline] = {}
        self._invoke_cache: dict[str, Pipeline] = {}
        self._wiring_listeners: dict[object, Callable[[Any], None]] = {}
        self.logger = logging.getLogger(name)

        self.http_wirings: list[HTTPWiring] = []
        self.channel_wirings: list[ChannelWiring] = []
        self.queue_wirings: dict[str, QueueWiring] = {}
        self.scheduler_wirings: list[SchedulerWiring] = []
        self.cli_wirings: list[CLIWiring] = []
        self.mcp_tools: list[MCPToolWiring] = []
        self.mcp_resources: list[MCPResourceWiring] = []
        self.mcp_prompts: list[MCPPromptWiring] = []

        self.queue_service: Any = None
        self.scheduler: Any = None
        self.event_hub: Any = None
        self._user_engines: dict[str, Any] = {}
        self._started = False
        self._closing = False
        self._start_lock: anyio.Lock | None = None
        self._singletons: Any = None
        self._core_services: dict[str, Any] = {}
        self._shared_services: ServicesView | None = None
        self._codec: SessionCodec | None = None
        # False leaves the embedded queue workers and in-process scheduler stopped: jobs
        # are accepted and wait (`pikku serve --no-workers`, workers run elsewhere).
        self.embedded_workers = True

    # ------------------------------------------------------------------ registry

    def add_functions(self, *funcs: Any) -> None:
        """Register functions reached only by RPC or `invoke` (wiring registers too)."""
        for f in funcs:
            self._register(as_meta(f))

    def _register(self, meta: FunctionMeta[Any]) -> FunctionMeta[Any]:
        versions = self._registry.setdefault(meta.name, {})
        version = meta.version or 1
        existing = versions.get(version)
        if existing is not None and existing is not meta:
            raise ValueError(
                f"function {meta.name!r} version {version} is already registered "
                f"(by {existing.fn.__module__}.{existing.fn.__qualname__})"
            )
        versions[version] = meta
        self._invoke_cache.clear()
        return meta

    @property
    def functions(self) -> list[FunctionMeta[Any]]:
        """Every registered function (all versions), sorted by name then version."""
        return [
            self._registry[name][v]
            for name in sorted(self._registry)
            for v in sorted(self._registry[name])
        ]

    def resolve(self, name: str) -> FunctionMeta[Any]:
        """Find a registered function by ``name`` (latest version) or ``name@N``.

        Raises:
            NotFoundError: No such function or version.
        """
        match = _KEY_RE.match(name)
        versions = self._registry.get(match.group("name")) if match else None
        if match is None or not versions:
            raise NotFoundError(f"function {name!r} not found")
        if match.group("version") is None:
            return versions[max(versions)]
        found = versions.get(int(match.group("version")))
        if found is None:
            raise NotFoundError(f"function {name!r} not found")
        return found

    # ------------------------------------------------------------------ rules

    def _changed(self) -> None:
        self._generation += 1

    def on_wiring(self, listener: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``listener(wiring)`` for every MCP wiring added from now on.

        Transports that serve a live list (MCP tools, resources, prompts) use it to
        announce changes. Returns an idempotent callable that removes the listener.
        """
        token = object()
        self._wiring_listeners[token] = listener

        def remove() -> None:
            self._wiring_listeners.pop(token, None)

        return remove

    def _wired(self, wiring: Any) -> None:
        self._changed()
        for listener in list(self._wiring_listeners.values()):
            listener(wiring)

    def add_middleware(self, *middleware: Middleware, tags: Iterable[str] | None = None) -> None:
        """Add global middleware, or tag middleware when ``tags`` is given.

        Order of the onion: global, then tag, then wiring, then function middleware.
        """
        if tags is None:
            self._middleware.extend(middleware)
        else:
            for tag in tags:
                self._tag_middleware.setdefault(tag, []).extend(middleware)
        self._changed()

    def add_channel_middleware(
        self, *middleware: ChannelMiddleware, tags: Iterable[str] | None = None
    ) -> None:
        """Add channel middleware for every channel, or for channels with one of ``tags``.

        Outgoing-message onion: global, then tag, then the wiring's ``channel_middleware``.
        Channels compose their chain when first served, so add these before serving.
        """
        if tags is None:
            self._channel_middleware.extend(middleware)
        else:
            for tag in tags:
                self._tag_channel_middleware.setdefault(tag, []).extend(middleware)
        self._changed()

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """Global middleware, in onion order (read-only; see `add_middleware`)."""
        return tuple(self._middleware)

    @property
    def tag_middleware(self) -> dict[str, tuple[Middleware, ...]]:
        """Tag middleware by tag (a copy; see `add_middleware`)."""
        return {tag: tuple(mws) for tag, mws in self._tag_middleware.items()}

    @property
    def permissions(self) -> tuple[Permission, ...]:
        """Global permissions, the AND gates every call passes first (read-only)."""
        return tuple(self._permissions)

    @property
    def error_mappings(self) -> dict[type[BaseException], tuple[int, str | None]]:
        """Registered user exceptions: ``{cls: (status, name or None)}`` (a copy)."""
        return dict(self._error_map)

    def add_permission(self, *permissions: Permission) -> None:
        """Add global permissions: AND gates checked before each function's permissions."""
        self._permissions.extend(permissions)
        self._changed()

    def register_error(
        self, exc_type: type[BaseException], *, status: int, name: str | None = None
    ) -> None:
        """Map a user exception class to an HTTP status (its message is shown to callers)."""
        self._error_map[exc_type] = (status, name)
        self._changed()

    def map_exception(
        self, exc: BaseException, meta: FunctionMeta[Any] | None = None
    ) -> PikkuError:
        """Turn any exception into the `PikkuError` a caller sees.

        Registered exceptions keep their message and get their status; anything else is a
        masked `InternalServerError` whose ``error_id`` is logged with the traceback.
        """
        if isinstance(exc, PikkuError):
            return exc
        for cls in type(exc).__mro__:
            mapped = self._error_map.get(cls)
            if mapped is not None:
                status, name = mapped
                return PikkuError(str(exc), status=status, name=name or type(exc).__name__)
        err = InternalServerError()
        where = f" in {meta.key}" if meta is not None else ""
        logger.error(
            "unhandled %s%s (error_id=%s)", type(exc).__name__, where, err.error_id, exc_info=exc
        )
        return err

    # ------------------------------------------------------------------ wiring

    def _pipeline(
        self,
        func: Any,
        *,
        auth: bool | None = None,
        permissions: PermissionSpec | None = None,
        middleware: Sequence[Middleware] | None = None,
        tags: Iterable[str] | None = None,
    ) -> Pipeline:
        meta = self._register(as_meta(func))
        return Pipeline(
            self, meta, auth=auth, permissions=permissions, middleware=middleware, tags=tags
        )

    def rpc_pipeline(self, meta: FunctionMeta[Any]) -> Pipeline:
        """The pipeline for calling ``meta`` with no wiring options (RPC, invoke)."""
        pipeline = self._rpc_pipelines.get(id(meta))
        if pipeline is None:
            pipeline = self._rpc_pipelines[id(meta)] = Pipeline(self, meta)
        return pipeline

    def wire_http(
        self,
        method: str,
        route: str,
        func: Any,
        *,
        auth: bool | None = None,
        permissions: PermissionSpec | None = None,
        middleware: Sequence[Middleware] | None = None,
        tags: Sequence[str] | None = None,
        sse: bool | None = None,
    ) -> HTTPWiring:
        """Wire a function to an HTTP route (Litestar syntax: ``/books/{book_id}``).

        Args:
            method: HTTP method.
            route: The path; ``{x}`` is a string parameter, ``{x:int}`` an int.
            func: The pikku function.
            auth: Override the function's session rule (None keeps it).
            permissions: Extra permission groups for this route (AND with the function's).
            middleware: Wiring middleware.
            tags: Extra tags (tag middleware, docs).
            sse: Serve as Server-Sent Events (None: when the function streams).
        """
        verb = method.upper()
        if verb not in _HTTP_METHODS:
            raise ValueError(f"unsupported HTTP method {method!r}")
        if not route.startswith("/"):
            raise ValueError(f"route {route!r} must start with '/'")
        pipeline = self._pipeline(
            func, auth=auth, permissions=permissions, middleware=middleware, tags=tags
        )
        wiring = HTTPWiring(
            verb,
            route,
            pipeline.meta,
            pipeline,
            auth,
            permissions,
            tuple(middleware or ()),
            tuple(tags or ()),
            pipeline.meta.is_stream if sse is None else sse,
        )
        self.http_wirings.append(wiring)
        return wiring

    def wire_http_routes(
        self,
        prefix: str,
        routes: Iterable[Mapping[str, Any]],
        *,
        auth: bool | None = None,
        tags: Sequence[str] | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> list[HTTPWiring]:
        """Wire a group of routes under a prefix sharing auth, tags and middleware.

        Each route is a mapping with ``method``, ``route`` and ``func`` plus any
        `wire_http` option; its own options win over the group's (middleware and tags add).
        """
        base = prefix.rstrip("/")
        made: list[HTTPWiring] = []
        for spec in routes:
            opts = dict(spec)
            method = opts.pop("method")
            route = opts.pop("route")
            func = opts.pop("func")
            made.append(
                self.wire_http(
                    method,
                    base + (route if route.startswith("/") else "/" + route),
                    func,
                    auth=opts.pop("auth", auth),
                    permissions=opts.pop("permissions", None),
                    middleware=(*(middleware or ()), *opts.pop("middleware", ())),
                    tags=(*(tags or ()), *opts.pop("tags", ())),
                    sse=opts.pop("sse", None),
                )
            )
            if opts:
                raise TypeError(f"unknown route options: {', '.join(sorted(opts))}")
        return made

    def wire_channel(
        self,
        name: str,
        route: str,
        on_connect: Any = None,
        on_disconnect: Any = None,
        on_message: Any = None,
        on_message_wiring: Mapping[str, Any] | None = None,
        routing_key: str = "action",
        auth: bool = True,
        middleware: Sequence[Middleware] | None = None,
        channel_middleware: Sequence[ChannelMiddleware] | None = None,
        tags: Sequence[str] | None = None,
    ) -> ChannelWiring:
        """Wire a WebSocket channel.

        Args:
            name: Channel name.
            route: The path clients connect to.
            on_connect: Function run when a client connects (may load a session).
            on_disconnect: Function run when a client goes away.
            on_message: Function for messages that carry no routing key.
            on_message_wiring: ``{action: func}`` or ``{action: {"func": f, "auth": ...,
                "permissions": ..., "middleware": [...]}}``.
            routing_key: The message key that selects the action.
            auth: False makes every action without its own ``auth`` sessionless.
            middleware: Middleware for every call on this channel.
            channel_middleware: Middleware for outgoing events (``(services, event, next)``).
            tags: Tags for tag middleware.
        """
        default_auth = None if auth else False

        def lifecycle(f: Any) -> Pipeline | None:
            if f is None:
                return None
            return self._pipeline(f, auth=False, middleware=middleware, tags=tags)

        actions: dict[str, ChannelAction] = {}
        for action, spec in (on_message_wiring or {}).items():
            if isinstance(spec, Mapping):
                opts: dict[str, Any] = dict(spec)  # pyright: ignore[reportUnknownArgumentType]
                func = opts.pop("func")
                a_auth = opts.pop("auth", default_auth)
                perms = opts.pop("permissions", None)
                a_mws = (*(middleware or ()), *opts.pop("middleware", ()))
                if opts:
                    raise TypeError(f"unknown options for action {action!r}: {sorted(opts)}")
            else:
                func, a_auth, perms, a_mws = spec, default_auth, None, tuple(middleware or ())
            pipeline = self._pipeline(
                func, auth=a_auth, permissions=perms, middleware=a_mws, tags=tags
            )
            actions[action] = ChannelAction(action, pipeline.meta, pipeline)
        on_msg = (
            self._pipeline(on_message, auth=default_auth, middleware=middleware, tags=tags)
            if on_message is not None
            else None
        )
        wiring = ChannelWiring(
            name=name,
            route=route,
            on_connect=lifecycle(on_connect),
            on_disconnect=lifecycle(on_disconnect),
            on_message=on_msg,
            actions=actions,
            routing_key=routing_key,
            auth=auth,
            middleware=tuple(middleware or ()),
            channel_middleware=tuple(channel_middleware or ()),
            tags=tuple(tags or ()),
        )
        self.channel_wirings.append(wiring)
        return wiring

    def wire_queue(
        self,
        queue: str,
        func: Any,
        max_attempts: int = 3,
        timeout: float | None = None,
        backoff: Callable[[int], float] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
    ) -> QueueWiring:
        """Wire a function as the worker of a queue.

        Args:
            queue: Queue name (one function per queue).
            func: The pikku function; each job's data is its input.
            max_attempts: Attempts before a job is failed (4xx errors fail at once).
            timeout: Seconds a job may run.
            backoff: ``attempt -> seconds`` before the next try (default 0.5 * 2**(n-1), at most 60).
            middleware: Wiring middleware.
        """
        if queue in self.queue_wirings:
            raise ValueError(f"queue {queue!r} is already wired")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        pipeline = self._pipeline(func, middleware=middleware)
        wiring = QueueWiring(queue, pipeline.meta, pipeline, max_attempts, timeout, backoff)
        self.queue_wirings[queue] = wiring
        self._changed()
        return wiring

    def wire_scheduler(
        self,
        name: str,
        schedule: str,
        func: Any,
        *,
        data: Any = None,
        session: Any = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> SchedulerWiring:
        """Wire a function to run on a cron schedule (5 fields or ``@hourly``-style).

        The function gets ``data`` (default none) and runs without a session unless one
        is given; session-requiring functions therefore need ``session=``.
        """
        if any(w.name == name for w in self.scheduler_wirings):
            raise ValueError(f"scheduled task {name!r} is already wired")
        from ._scheduler import check_schedule

        check_schedule(schedule)
        pipeline = self._pipeline(
            func, auth=False if session is None else None, middleware=middleware
        )
        wiring = SchedulerWiring(name, schedule, pipeline.meta, pipeline, data, session)
        self.scheduler_wirings.append(wiring)
        return wiring

    def wire_cli(
        self,
        command: str,
        func: Any,
        positionals: Sequence[str] | None = None,
        render: Callable[[Any], str] | None = None,
        description: str | None = None,
        *,
        auth: bool | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> CLIWiring:
        """Wire a function as a CLI command (``"books get"`` makes a command group)."""
        pipeline = self._pipeline(func, auth=auth, middleware=middleware)
        wiring = CLIWiring(
            " ".join(command.split()),
            pipeline.meta,
            pipeline,
            tuple(positionals or ()),
            render,
            description,
        )
        self.cli_wirings.append(wiring)
        return wiring

    def wire_mcp_tool(
        self,
        name: str | None = None,
        func: Any = None,
        description: str | None = None,
        title: str | None = None,
        annotations: Mapping[str, Any] | None = None,
        *,
        auth: bool | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> MCPToolWiring:
        """Wire a function as an MCP tool (name defaults to the function's name)."""
        pipeline = self._pipeline(func, auth=auth, middleware=middleware)
        meta = pipeline.meta
        wiring = MCPToolWiring(
            name or meta.name,
            meta,
            pipeline,
            description or meta.description,
            title or meta.title,
            annotations,
        )
        self.mcp_tools.append(wiring)
        self._wired(wiring)
        return wiring

    def wire_mcp_resource(
        self,
        uri_template: str,
        func: Any,
        name: str | None = None,
        mime_type: str | None = None,
        description: str | None = None,
        *,
        auth: bool | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> MCPResourceWiring:
        """Wire a function as an MCP resource; template variables fill its input."""
        pipeline = self._pipeline(func, auth=auth, middleware=middleware)
        meta = pipeline.meta
        wiring = MCPResourceWiring(
            uri_template,
            meta,
            pipeline,
            name or meta.name,
            mime_type,
            description or meta.description,
        )
        self.mcp_resources.append(wiring)
        self._wired(wiring)
        return wiring

    def wire_mcp_prompt(
        self,
        name: str | None = None,
        func: Any = None,
        description: str | None = None,
        *,
        auth: bool | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> MCPPromptWiring:
        """Wire a function as an MCP prompt; its input fields are the prompt arguments."""
        pipeline = self._pipeline(func, auth=auth, middleware=middleware)
        meta = pipeline.meta
        wiring = MCPPromptWiring(name or meta.name, meta, pipeline, description or meta.description)
        self.mcp_prompts.append(wiring)
        self._wired(wiring)
        return wiring

    # ------------------------------------------------------------------ secrets

    @property
    def secret(self) -> str | None:
        """The signing secret (constructor argument, else ``PIKKU_SECRET``)."""
        return self._secret or os.environ.get("PIKKU_SECRET") or None

    def require_secret(self, purpose: str) -> str:
        """Return the secret or raise a `RuntimeError` saying how to set it."""
        secret = self.secret
        if not secret:
            raise RuntimeError(
                f"{purpose} need a secret: pass Pikku(secret=...) or set the PIKKU_SECRET "
                "environment variable"
            )
        return secret

    def session_codec(self) -> SessionCodec:
        """The app's default session codec (HMAC-signed with the app secret)."""
        if self._codec is None:
            self._codec = HMACSessionCodec(
                self.require_secret("session tokens"), session_type=self.session_type
            )
        return self._codec

    # ------------------------------------------------------------------ lifecycle

    @property
    def started(self) -> bool:
        """Whether services are built and engines running."""
        return self._started

    async def start(self) -> None:
        """Build singleton services and start the embedded engines (idempotent)."""
        if self._started:
            return
        if self._start_lock is None:
            self._start_lock = anyio.Lock()
        async with self._start_lock:
            if self._started:
                return
            spec = self._services_spec
            if callable(spec):
                value = spec()
                if inspect.isawaitable(value):
                    value = await value
                self._singletons = value
            else:
                self._singletons = spec
            self._user_engines = {
                "queue": self.queue_service,
                "scheduler": self.scheduler,
                "event_hub": self.event_hub,
            }
            await self._start_engines()
            self._core_services = {
                "logger": self.logger,
                "event_hub": self.event_hub,
                "queue": self.queue_service,
                "scheduler": self.scheduler,
            }
            self._shared_services = ServicesView(self._singletons, self._core_services)
            self._started = True

    async def _start_engines(self) -> None:
        if self.event_hub is None:
            from ._eventhub import InProcessEventHub

            self.event_hub = InProcessEventHub(self)
        if self.queue_service is None:
            from ._queue import InMemoryQueueService

            self.queue_service = InMemoryQueueService(self)
        if self.scheduler is None and self.scheduler_wirings and self.embedded_workers:
            from ._scheduler import InProcessScheduler

            self.scheduler = InProcessScheduler(self)
        engines: list[Any] = [self.event_hub, self.scheduler]
        user_queue = self._user_engines.get("queue") is not None
        if user_queue or (self.queue_wirings and self.embedded_workers):
            # Embedded workers only run for apps that wire queues; without wirings the
            # service still answers `add` (NotFoundError) and `get_job`.
            engines.insert(1, self.queue_service)
        for engine in engines:
            start = getattr(engine, "start", None)
            if start is not None:
                await start()

    async def close(self) -> None:
        """Stop the engines and close the singleton services (the app can start again)."""
        if not self._started:
            return
        self._started = False
        # Calls still running while the engines stop (a queued job being cancelled) must
        # not start the app again from inside an engine's task.
        self._closing = True
        errors: list[BaseException] = []
        try:
            for engine in (self.scheduler, self.queue_service, self.event_hub):
                try:
                    await _aclose(engine)
                except Exception as exc:
                    errors.append(exc)
        finally:
            self._closing = False
        if callable(self._services_spec):
            try:
                await _aclose(self._singletons)
            except Exception as exc:
                errors.append(exc)
        self.queue_service = self._user_engines.get("queue")
        self.scheduler = self._user_engines.get("scheduler")
        self.event_hub = self._user_engines.get("event_hub")
        self._singletons = None
        self._shared_services = None
        if errors:
            raise errors[0]

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def services(self) -> Any:
        """The running app's services as functions see them (without wire services)."""
        if self._shared_services is None:
            raise RuntimeError("the app is not started: use `async with app:` or app.start()")
        return self._shared_services

    def _services_for(self, wire: Wire[Any]) -> ServicesView:
        shared = self._shared_services
        assert shared is not None
        if self._wire_service_factories is None:
            return shared
        return ServicesView(
            self._singletons, self._core_services, self._wire_service_factories, wire
        )

    # ------------------------------------------------------------------ entry points

    async def invoke(self, name: str, data: Any = None, *, session: Any = None) -> Any:
        """Call a registered function in-process (``name`` or ``name@N``).

        A streaming function's items are returned as a list (see `stream`).

        Raises:
            PikkuError: Any failure; unknown exceptions become a masked 500.
        """
        pipeline = self._invoke_cache.get(name)
        if pipeline is None:
            pipeline = self._invoke_cache[name] = self.rpc_pipeline(self.resolve(name))
        return await pipeline.run(Wire(self, session=session), data)

    @contextlib.asynccontextmanager
    async def stream(
        self, name: str, data: Any = None, *, session: Any = None
    ) -> AsyncGenerator[AsyncIterator[Any], None]:
        """Call a streaming function in-process and iterate its items as they come.

        Usage: ``async with app.stream("ticks", {"n": 3}) as items: async for x in items``.
        Leaving the block early cancels the function.
        """
        meta = self.resolve(name)
        pipeline = self.rpc_pipeline(meta)
        wire: Wire[Any] = Wire(self, session=session)
        send, receive = anyio.create_memory_object_stream[Any](0)
        failure: list[PikkuError] = []

        async def produce() -> None:
            async with send:
                try:
                    await pipeline.run(wire, data=data, emit=send.send)
                except PikkuError as exc:
                    failure.append(exc)

        async def items() -> AsyncGenerator[Any, None]:
            async with receive:
                async for item in receive:
                    yield item
            if failure:
                raise failure[0]

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(produce)
                iterator = items()
                try:
                    yield iterator
                finally:
                    tg.cancel_scope.cancel()
                    await iterator.aclose()
        except BaseExceptionGroup as group:
            # Surface the one error the caller can act on, not the task group's wrapper.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise


async def _aclose(obj: Any) -> None:
    if obj is None:
        return
    aclose = getattr(obj, "aclose", None)
    if aclose is not None:
        result = aclose()
        if inspect.isawaitable(result):
            await result
        return
    close = getattr(obj, "close", None)
    if close is not None and not isinstance(obj, type):
        result = close()
        if inspect.isawaitable(result):
            await result
