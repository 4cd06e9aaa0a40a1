"""The per-wiring call pipeline: middleware onion, auth, validation, permissions, function.

A `Pipeline` is built when a function is wired and composed once (again only if the app's
global middleware, permissions or error mappings change), so a call does no set-up work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from ._func import FunctionMeta, Middleware, Permission, PermissionSpec
from ._queue import current_wire
from ._services import ServicesView, close_wire_services
from ._wire import Wire
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


async def _passes(check: _Check, services: Any, data: Any, wire: Wire[Any]) -> bool:
    fn, is_async = check
    result = fn(services, data, wire)
    if is_async or inspect.isawaitable(result):
        result = await result  # pyright: ignore[reportGeneralTypeIssues]
    return bool(result)


async def _any_group(groups: tuple[_Group, ...], services: Any, data: Any, wire: Wire[Any]) -> bool:
    for group in groups:
        ok = True
        for check in group:
            if not await _passes(check, services, data, wire):
                ok = False
                break
        if ok:
            return True
    return False


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

    @property
    def requires_session(self) -> bool:
        """Whether a call without a session is refused (401)."""
        return self.meta.auth if self.auth is None else self.auth

    def _compile(self) -> None:
        app = self.app
        tag_mws: list[Middleware] = []
        for tag in self.tags:
            tag_mws.extend(app._tag_middleware.get(tag, ()))
        self._mws = (*app._middleware, *tag_mws, *self.middleware, *self.meta.middleware)
        self._needs_session = self.requires_session
        self._gates = tuple((p, inspect.iscoroutinefunction(p)) for p in app._permissions)
        self._wiring_groups = _compile_checks(self.permissions)
        self._groups = _compile_checks(self.meta.permissions)
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
        if not app._started:
            await app.start()
        services = app._services_for(wire)
        # Lets `services.queue.add` send the enqueuer's session with the job.
        wire_token = current_wire.set(wire)
        try:
            try:
                if self._mws:
                    return await self._run_onion(services, wire, data, raw_json, strict, emit)
                return await self._core(services, wire, data, raw_json, strict, emit)
            finally:
                current_wire.reset(wire_token)
                if services is not app._shared_services:
                    await close_wire_services(services)
        except PikkuError:
            raise
        except Exception as exc:
            raise app.map_exception(exc, self.meta) from None

    async def _run_onion(
        self,
        services: ServicesView,
        wire: Wire[Any],
        data: Any,
        raw_json: bytes | str | None,
        strict: bool,
        emit: Emit | None,
    ) -> Any:
        mws = self._mws
        n = len(mws)
        cell: list[Any] = [None]

        async def step(i: int) -> Any:
            if i == n:
                cell[0] = await self._core(services, wire, data, raw_json, strict, emit)
                return cell[0]
            return await mws[i](services, wire, functools.partial(step, i + 1))

        await step(0)
        return cell[0]

    async def _core(
        self,
        services: ServicesView,
        wire: Wire[Any],
        data: Any,
        raw_json: bytes | str | None,
        strict: bool,
        emit: Emit | None,
    ) -> Any:
        meta = self.meta
        if self._needs_session and wire.session is None:
            raise UnauthorizedError()
        if raw_json is not None:
            value = meta.decode_json(raw_json)
        elif meta.input_type is None:
            value = None
        else:
            value = meta.convert(data, strict)
        for gate in self._gates:
            if not await _passes(gate, services, value, wire):
                raise ForbiddenError()
        if self._wiring_groups and not await _any_group(
            self._wiring_groups, services, value, wire
        ):
            raise ForbiddenError()
        if self._groups and not await _any_group(self._groups, services, value, wire):
            raise ForbiddenError()
        if meta.is_stream:
            return await self._stream(services, value, wire, emit)
        if meta.is_sync:
            return await anyio.to_thread.run_sync(self._call, services, value, wire)
        return await self._call(services, value, wire)

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
