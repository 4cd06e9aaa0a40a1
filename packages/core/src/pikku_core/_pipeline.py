"""The per-wiring call pipeline: middleware onion, auth, validation, permissions, function.

A `Pipeline` is built when a function is wired and composed once (again only if the app's
global middleware, permissions or error mappings change), so a call does no set-up work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ._func import FunctionMeta, Middleware, Permission, PermissionSpec, dec_hook, decode_error
from ._services import ServicesView, close_wire_services
from ._wire import Wire, current_wire
from .errors import ForbiddenError, PikkuError, UnauthorizedError

if TYPE_CHECKING:
    from ._app import Pikku

__all__ = ["Emit", "Pipeline"]

Emit = Callable[[Any], Awaitable[None]]
"""Receives each item of a streaming function, in order."""

_UNSET: Any = object()

_Check = tuple[Permission, bool]
_Group = tuple[_Check, ...]


def _compile_checks(spec: PermissionSpec | None) -> tuple[_Group, ...]:
    if not spec:
        return ()
    groups: list[_Group] = []
    for checks in spec.values():
        if callable(checks):
            items: Sequence[Permission] = [checks]
        else:
            items = list(checks)
        groups.append(tuple((c, inspect.iscoroutinefunction(c)) for c in items))
    return tuple(groups)


def _caller(meta: FunctionMeta[Any]) -> Callable[[Any, Any, Any], Any]:
    fn = meta.fn
    arity = meta.arity
    if arity >= 3:
        return fn
    if arity == 2:
        return lambda s, d, w: fn(s, d)
    if arity == 1:
        return lambda s, d, w: fn(s)
    return lambda s, d, w: fn()


def _identity(value: Any) -> Any:
    return value


def _converters(
    meta: FunctionMeta[Any],
) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any]]:
    """Strict and lenient converters for the input type, built once.

    Keyword arguments make ``msgspec.convert`` several times slower, so the common strict
    path passes none, and ``dec_hook`` is only passed to types holding an `UploadFile`.
    """
    tp = meta.input_type
    if tp is None or tp is Any:
        return None, _identity
    convert = msgspec.convert
    if meta.input_has_uploads:
        return (
            lambda obj: convert(obj, tp, dec_hook=dec_hook),
            lambda obj: convert(obj, tp, strict=False, dec_hook=dec_hook),
        )
    return (lambda obj: convert(obj, tp)), (lambda obj: convert(obj, tp, strict=False))


class Pipeline:
    """Runs one wired function with every rule of the execution order.

    Attributes:
        meta: The function's metadata.
        auth: The wiring's auth override (None keeps the function's own rule).
    """

    def __init__(
        self,
        app: Pikku,
        meta: FunctionMeta[Any],
        *,
        auth: bool | None = None,
        permissions: PermissionSpec | None = None,
        middleware: Sequence[Middleware] | None = None,
        tags: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        self.meta = meta
        self.auth = auth
        self.permissions = permissions
        self.middleware: tuple[Middleware, ...] = tuple(middleware or ())
        self.tags: tuple[str, ...] = tuple(dict.fromkeys((*(tags or ()), *meta.tags)))
        self._generation = -1
        self._mws: tuple[Middleware, ...] = ()
        self._needs_session = True
        self._gates: tuple[_Check, ...] = ()
        self._wiring_groups: tuple[_Group, ...] = ()
        self._groups: tuple[_Group, ...] = ()
        self._call = _caller(meta)
        self._has_checks = False
        self._group_sets: tuple[tuple[_Group, ...], ...] = ()
        self._takes_input = False
        self._convert: Callable[[Any], Any] | None = None
        self._convert_lenient: Callable[[Any], Any] = _identity
        self._kind = 0
        self._track_wire = False
        self._entry: Callable[..., Awaitable[Any]] = self._core

    @property
    def requires_session(self) -> bool:
        """Whether a call without a session is refused (401)."""
        return self.meta.auth if self.auth is None else self.auth

    def _compile(self) -> None:
        app = self.app
        meta = self.meta
        tag_mws: list[Middleware] = []
        for tag in self.tags:
            tag_mws.extend(app._tag_middleware.get(tag, ()))
        self._mws = (*app._middleware, *tag_mws, *self.middleware, *meta.middleware)
        self._needs_session = self.requires_session
        self._gates = tuple((p, inspect.iscoroutinefunction(p)) for p in app._permissions)
        self._wiring_groups = _compile_checks(self.permissions)
        self._groups = _compile_checks(meta.permissions)
        self._group_sets = tuple(g for g in (self._wiring_groups, self._groups) if g)
        self._has_checks = bool(self._gates or self._group_sets)
        tp = meta.input_type
        self._takes_input = tp is not None
        self._convert, self._convert_lenient = _converters(meta)
        self._kind = 2 if meta.is_stream else 1 if meta.is_sync else 0
        self._entry = self._run_onion if self._mws else self._core
        self._track_wire = bool(app.queue_wirings)
        self._generation = app._generation

    async def run(
        self,
        wire: Wire[Any],
        data: Any = None,
        *,
        raw_json: bytes | str | None = None,
        strict: bool = True,
        emit: Emit | None = None,
    ) -> Any:
        """Run the call and return the function's output.

        Args:
            wire: The call's wire (session and transport parts).
            data: The input as builtins (or an instance of the input type).
            raw_json: The input as raw JSON, decoded strictly with the input type.
            strict: False converts strings to the declared field types (path, query, CLI).
            emit: For a streaming function, receives each item; without it the items are
                returned as a list.

        Raises:
            PikkuError: Any failure, already mapped (unknown exceptions are masked 500s).
        """
        app = self.app
        if self._generation != app._generation:
            self._compile()
        if not app._started and not app._closing:
            await app.start()
        factories = app._wire_service_factories
        # Lets `services.queue.add` send the enqueuer's session with the job (only apps
        # that wire queues pay for it).
        token = current_wire.set(wire) if self._track_wire else None
        try:
            if factories is None:
                return await self._entry(app._shared_services, wire, data, raw_json, strict, emit)
            services = ServicesView(app._singletons, app._core_services, factories, wire)
            try:
                return await self._entry(services, wire, data, raw_json, strict, emit)
            finally:
                await close_wire_services(services)
        except PikkuError:
            raise
        except Exception as exc:
            raise app.map_exception(exc, self.meta) from None
        finally:
            if token is not None:
                current_wire.reset(token)

    async def _run_onion(
        self,
        services: Any,
        wire: Wire[Any],
        data: Any,
        raw_json: bytes | str | None,
        strict: bool,
        emit: Emit | None,
    ) -> Any:
        mws = self._mws
        core = self._core
        result: Any = None

        async def innermost() -> Any:
            nonlocal result
            result = await core(services, wire, data, raw_json, strict, emit)
            return result

        # `next` of each layer is the next layer bound to this call; the result is taken
        # from the innermost call, so a middleware that forgets to return it loses nothing.
        nxt: Callable[[], Awaitable[Any]] = innermost
        for mw in reversed(mws[1:]):
            nxt = functools.partial(mw, services, wire, nxt)
        await mws[0](services, wire, nxt)
        return result

    async def _core(
        self,
        services: Any,
        wire: Wire[Any],
        data: Any,
        raw_json: bytes | str | None,
        strict: bool,
        emit: Emit | None,
    ) -> Any:
        if self._needs_session and wire._session is None:
            raise UnauthorizedError()
        if raw_json is not None:
            value = self.meta.decode_json(raw_json)
        elif self._convert is not None:
            try:
                value = self._convert(data) if strict else self._convert_lenient(data)
            except msgspec.MsgspecError as exc:
                raise decode_error(exc) from None
        else:
            value = data if self._takes_input else None
        if self._has_checks:
            await self._check(services, value, wire)
        kind = self._kind
        if kind == 0:
            return await self._call(services, value, wire)
        if kind == 1:
            from anyio.to_thread import run_sync

            return await run_sync(self._call, services, value, wire)
        return await self._stream(services, value, wire, emit)

    async def _check(self, services: Any, value: Any, wire: Wire[Any]) -> None:
        # Flat loops, no helper coroutines: this runs on every guarded call.
        for fn, is_async in self._gates:
            ok: Any = fn(services, value, wire)
            if is_async or inspect.isawaitable(ok):
                ok = await ok
            if not ok:
                raise ForbiddenError()
        for groups in self._group_sets:
            for group in groups:
                for fn, is_async in group:
                    ok = fn(services, value, wire)
                    if is_async or inspect.isawaitable(ok):
                        ok = await ok
                    if not ok:
                        break
                else:
                    break  # every check of this group passed
            else:
                raise ForbiddenError()

    async def _stream(
        self, services: ServicesView, value: Any, wire: Wire[Any], emit: Emit | None
    ) -> Any:
        gen = self._call(services, value, wire)
        try:
            if emit is None:
                return [item async for item in gen]
            async for item in gen:
                await emit(item)
            return None
        finally:
            await gen.aclose()
