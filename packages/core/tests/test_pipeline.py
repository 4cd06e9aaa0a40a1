"""The execution order: middleware, auth, validation, permissions, services, errors."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from pikku_core import (
    ForbiddenError,
    InternalServerError,
    Pikku,
    PikkuError,
    UnauthorizedError,
    UnprocessableContentError,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)

pytestmark = pytest.mark.anyio


class In(msgspec.Struct):
    n: int


@pikku_func
async def needs_session(services: Any, data: In, wire: Wire[Any]) -> int:
    return data.n


@pikku_sessionless_func
async def open_func(services: Any, data: In, wire: Wire[Any]) -> int:
    return data.n


async def test_order_auth_before_validation_before_permissions() -> None:
    seen: list[str] = []

    def deny(services: Any, data: Any, wire: Any) -> bool:
        seen.append("permission")
        return False

    @pikku_func(permissions={"g": deny})
    async def guarded(services: Any, data: In, wire: Any) -> int:
        return 1

    app = Pikku()
    app.add_functions(guarded)
    with pytest.raises(UnauthorizedError):
        await app.invoke("guarded", {"n": "bad"})
    with pytest.raises(UnprocessableContentError):
        await app.invoke("guarded", {"n": "bad"}, session={"u": 1})
    assert seen == []
    with pytest.raises(ForbiddenError):
        await app.invoke("guarded", {"n": 1}, session={"u": 1})
    assert seen == ["permission"]


async def test_global_permissions_gate_before_function_permissions() -> None:
    order: list[str] = []

    async def gate(services: Any, data: Any, wire: Any) -> bool:
        order.append("gate")
        return bool(wire.session and wire.session.get("ok"))

    def allow(services: Any, data: Any, wire: Any) -> bool:
        order.append("function")
        return True

    @pikku_func(permissions={"any": allow})
    async def f(services: Any, data: None, wire: Any) -> str:
        return "ran"

    app = Pikku()
    app.add_permission(gate)
    app.add_functions(f)
    with pytest.raises(ForbiddenError):
        await app.invoke("f", session={"ok": False})
    assert order == ["gate"]
    assert await app.invoke("f", session={"ok": True}) == "ran"
    assert order == ["gate", "gate", "function"]


async def test_permission_receives_validated_data() -> None:
    def small(services: Any, data: In, wire: Any) -> bool:
        return data.n < 10

    @pikku_sessionless_func(permissions={"small": small})
    async def f(services: Any, data: In, wire: Any) -> int:
        return data.n

    app = Pikku()
    app.add_functions(f)
    assert await app.invoke("f", {"n": 3}) == 3
    with pytest.raises(ForbiddenError):
        await app.invoke("f", {"n": 30})


async def test_wiring_auth_override_and_wiring_permissions() -> None:
    app = Pikku()
    open_route = app.wire_http("POST", "/open", needs_session, auth=False)
    closed_route = app.wire_http("POST", "/closed", open_func, auth=True)
    perm_route = app.wire_http(
        "POST", "/perm", open_func, permissions={"never": lambda s, d, w: False}
    )
    wire: Wire[Any] = Wire(app)
    assert await open_route.pipeline.run(wire, {"n": 1}) == 1
    with pytest.raises(UnauthorizedError):
        await closed_route.pipeline.run(Wire(app), {"n": 1})
    with pytest.raises(ForbiddenError):
        await perm_route.pipeline.run(Wire(app), {"n": 1})
    assert await app.invoke("needs_session", {"n": 2}, session={}) == 2


async def test_middleware_onion_and_composition_once() -> None:
    events: list[str] = []

    def layer(name: str) -> Any:
        async def mw(services: Any, wire: Any, next: Any) -> Any:
            events.append(f"{name}>")
            result = await next()
            events.append(f"<{name}:{result}")
            return result

        return mw

    @pikku_sessionless_func(tags=["t"], middleware=[layer("function")])
    async def f(services: Any, data: None, wire: Any) -> str:
        events.append("body")
        return "r"

    app = Pikku()
    app.add_middleware(layer("global"))
    app.add_middleware(layer("tag"), tags=["t"])
    app.add_middleware(layer("other-tag"), tags=["nope"])
    wiring = app.wire_http("GET", "/f", f, middleware=[layer("wiring")])
    assert await wiring.pipeline.run(Wire(app)) == "r"
    assert events == [
        "global>",
        "tag>",
        "wiring>",
        "function>",
        "body",
        "<function:r",
        "<wiring:r",
        "<tag:r",
        "<global:r",
    ]
    composed = wiring.pipeline._mws
    await wiring.pipeline.run(Wire(app))
    assert wiring.pipeline._mws is composed  # not rebuilt per call
    app.add_middleware(layer("late"))
    events.clear()
    await wiring.pipeline.run(Wire(app))
    assert events[:2] == ["global>", "late>"]  # rebuilt after the app's rules changed


async def test_middleware_may_short_circuit_and_result_is_not_lost() -> None:
    async def forgetful(services: Any, wire: Any, next: Any) -> None:
        await next()  # does not return the result

    async def refuse(services: Any, wire: Any, next: Any) -> None:
        raise ForbiddenError("closed today")

    @pikku_sessionless_func
    async def f(services: Any, data: None, wire: Any) -> str:
        return "value"

    app = Pikku()
    kept = app.wire_http("GET", "/a", f, middleware=[forgetful])
    refused = app.wire_http("GET", "/b", f, middleware=[refuse])
    assert await kept.pipeline.run(Wire(app)) == "value"
    with pytest.raises(ForbiddenError, match="closed today"):
        await refused.pipeline.run(Wire(app))


class TeapotError(Exception):
    pass


class SubTeapot(TeapotError):
    pass


async def test_error_mapping_and_masking(caplog: pytest.LogCaptureFixture) -> None:
    @pikku_sessionless_func
    async def teapot(services: Any, data: None, wire: Any) -> None:
        raise SubTeapot("short")

    @pikku_sessionless_func
    async def crash(services: Any, data: None, wire: Any) -> None:
        raise KeyError("secret-key")

    app = Pikku()
    app.register_error(TeapotError, status=418)
    app.add_functions(teapot, crash)
    with pytest.raises(PikkuError) as info:
        await app.invoke("teapot")
    assert info.value.status_code == 418
    assert info.value.name == "SubTeapot"
    assert info.value.message == "short"
    with caplog.at_level(logging.ERROR, logger="pikku"):
        with pytest.raises(InternalServerError) as crashed:
            await app.invoke("crash")
    assert "secret-key" not in crashed.value.message
    record = next(r for r in caplog.records if crashed.value.error_id in r.getMessage())
    assert record.exc_info is not None and record.exc_info[0] is KeyError


async def test_sync_functions_run_in_a_worker_thread() -> None:
    main = threading.get_ident()

    @pikku_sessionless_func
    def where(services: Any, data: None, wire: Any) -> bool:
        return threading.get_ident() != main

    app = Pikku()
    app.add_functions(where)
    assert await app.invoke("where") is True


async def test_streaming_collects_emits_and_cancels() -> None:
    closed: list[bool] = []

    @pikku_sessionless_func
    async def ticks(services: Any, data: In, wire: Any) -> AsyncIterator[int]:
        try:
            for i in range(data.n):
                yield i
                await anyio.lowlevel.checkpoint()
        finally:
            closed.append(True)

    app = Pikku()
    wiring = app.wire_http("GET", "/ticks", ticks)
    assert wiring.sse is True
    assert await app.invoke("ticks", {"n": 3}) == [0, 1, 2]
    got: list[int] = []

    async def emit(item: int) -> None:
        got.append(item)

    assert await wiring.pipeline.run(Wire(app), {"n": 2}, emit=emit) is None
    assert got == [0, 1]
    async with app.stream("ticks", {"n": 1000}) as items:
        async for item in items:
            if item == 2:
                break
    assert closed == [True, True, True]
    with pytest.raises(UnprocessableContentError):
        async with app.stream("ticks", {"n": "x"}) as items:
            async for _ in items:
                pass


@dataclass
class Counter:
    built: int = 0
    closed: list[str] = field(default_factory=list[str])


class SyncClose:
    def __init__(self, counter: Counter) -> None:
        counter.built += 1
        self.counter = counter

    def close(self) -> None:
        self.counter.closed.append("sync")


class AsyncClose:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    async def aclose(self) -> None:
        self.counter.closed.append("async")


async def test_wire_services_lazy_per_call_and_closed() -> None:
    counter = Counter()

    @pikku_sessionless_func
    async def uses(services: Any, data: None, wire: Any) -> bool:
        first = services.audit
        assert services.audit is first  # one instance within a call
        _ = services.tx
        return True

    @pikku_sessionless_func
    async def skips(services: Any, data: None, wire: Any) -> bool:
        return services.counter is counter

    @pikku_sessionless_func
    async def fails(services: Any, data: None, wire: Any) -> None:
        _ = services.audit
        raise ForbiddenError()

    app = Pikku(
        services=lambda: type("S", (), {"counter": counter})(),
        wire_services={
            "audit": lambda s, w: SyncClose(s.counter),
            "tx": lambda s, w: AsyncClose(s.counter),
        },
    )
    app.add_functions(uses, skips, fails)
    assert await app.invoke("skips") is True
    assert counter.built == 0
    assert await app.invoke("uses") is True
    assert counter.built == 1
    assert counter.closed == ["async", "sync"]  # closed in reverse order of creation
    with pytest.raises(ForbiddenError):
        await app.invoke("fails")
    assert counter.closed == ["async", "sync", "sync"]
    await app.close()


async def test_core_services_added_without_mutating_user_object() -> None:
    @dataclass
    class Services:
        db: str = "db"

    user = Services()

    @pikku_sessionless_func
    async def look(services: Any, data: None, wire: Any) -> list[bool]:
        return [
            services.db == "db",
            services.logger is not None,
            services.event_hub is not None,
            services.queue is not None,
        ]

    app = Pikku(services=user)
    app.add_functions(look)
    assert await app.invoke("look") == [True, True, True, True]
    assert not hasattr(user, "logger")
    assert vars(user) == {"db": "db"}
    await app.close()


async def test_lifecycle_async_factory_restart_builds_fresh_services() -> None:
    built: list[object] = []
    closed: list[object] = []

    class Svc:
        async def aclose(self) -> None:
            closed.append(self)

    async def factory() -> Svc:
        svc = Svc()
        built.append(svc)
        return svc

    @pikku_sessionless_func
    async def which(services: Any, data: None, wire: Any) -> int:
        return built.index(services._pikku_singletons)

    app = Pikku(services=factory)
    app.add_functions(which)
    async with app:
        assert app.started
        assert await app.invoke("which") == 0
    assert not app.started and closed == built
    assert await app.invoke("which") == 1  # lazy start on invoke
    await app.close()
    assert len(built) == 2 and closed == built


async def test_rpc_propagates_session_and_checks_permissions() -> None:
    @pikku_func(permissions={"admin": lambda s, d, w: w.session.get("role") == "admin"})
    async def admin_only(services: Any, data: None, wire: Any) -> str:
        return "secret"

    @pikku_sessionless_func
    async def caller(services: Any, data: None, wire: Any) -> str:
        return await wire.rpc.invoke("admin_only")

    app = Pikku()
    app.add_functions(admin_only, caller)
    with pytest.raises(UnauthorizedError):
        await app.invoke("caller")
    with pytest.raises(ForbiddenError):
        await app.invoke("caller", session={"role": "user"})
    assert await app.invoke("caller", session={"role": "admin"}) == "secret"


async def test_wire_session_changes_reach_the_transport() -> None:
    changes: list[Any] = []

    @pikku_sessionless_func
    async def login(services: Any, data: None, wire: Any) -> None:
        wire.set_session({"u": 1})
        assert wire.session == {"u": 1}
        wire.clear_session()
        wire.set_session({"u": 2})

    app = Pikku()
    wiring = app.wire_http("POST", "/login", login)
    wire: Wire[Any] = Wire(app, on_session_change=changes.append)
    await wiring.pipeline.run(wire)
    assert changes == [{"u": 1}, None, {"u": 2}]
    assert wire.session_changed and wire.session == {"u": 2}
