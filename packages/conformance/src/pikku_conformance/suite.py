"""The conformance suite: every rule of the contract, checked over one transport.

An adapter's test module subclasses `ConformanceSuite` and overrides only the
``harness`` fixture::

    class TestLitestar(ConformanceSuite):
        @pytest.fixture
        def harness(self) -> Harness:
            return LitestarHarness()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

import anyio
import pytest

from .harness import CallResult, Harness, HarnessClient
from .reference_app import create_reference_app

__all__ = ["ConformanceSuite", "suite_test_names"]


def _need(harness: Harness, capability: str) -> None:
    if not getattr(harness.capabilities, capability):
        pytest.skip(f"capability {capability!r} not supported by {type(harness).__name__}")


def _ok(result: CallResult) -> Any:
    assert result.ok, f"expected success, got error {result.error}"
    assert result.error is None
    return result.value


def _err(result: CallResult, name: str, harness: Harness, status: int) -> dict[str, Any]:
    assert not result.ok, f"expected {name}, got success {result.value!r}"
    assert result.error is not None
    assert result.error["name"] == name, result.error
    assert isinstance(result.error.get("message"), str)
    assert result.error.get("error_id"), result.error
    if harness.capabilities.http_status:
        assert result.status == status, f"expected HTTP {status}, got {result.status}"
    return result.error


def suite_test_names() -> list[str]:
    """Names of every test the suite defines (a subclass must keep them all)."""
    return sorted(n for n in vars(ConformanceSuite) if n.startswith("test_"))


class ConformanceSuite:
    """Every rule of DESIGN sections 3 and 5, transport-neutral."""

    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.anyio]

    @pytest.fixture
    def anyio_backend(self) -> str:
        """Adapters run on asyncio (arq and websockets are asyncio-only)."""
        return "asyncio"

    @pytest.fixture
    def harness(self) -> Harness:
        """The transport's harness: every subclass overrides this fixture."""
        pytest.fail(f"{type(self).__name__} must override the 'harness' fixture")

    @pytest.fixture
    async def server(self, harness: Harness) -> AsyncIterator[Harness]:
        """The reference app served over the transport."""
        app = create_reference_app()
        await harness.start(app)
        try:
            yield harness
        finally:
            await harness.stop()

    @pytest.fixture
    async def client(self, server: Harness) -> AsyncIterator[HarnessClient]:
        """A fresh client with no session."""
        client = await server.client()
        try:
            yield client
        finally:
            await client.aclose()

    # ------------------------------------------------------------------ guard

    def test_suite_is_complete(self) -> None:
        """A subclass may not drop or replace a suite test."""
        for name in suite_test_names():
            mine = getattr(type(self), name, None)
            assert mine is getattr(ConformanceSuite, name), (
                f"{type(self).__name__} overrides or drops suite test {name!r}"
            )

    # ------------------------------------------------------------------ happy path

    async def test_happy_path(self, client: HarnessClient) -> None:
        """A valid call returns the function's output."""
        value = _ok(await client.call("echo", {"text": "hello", "count": 3}))
        assert value == {"text": "hello", "count": 3}

    async def test_defaults_applied(self, client: HarnessClient) -> None:
        """Fields left out take their declared defaults."""
        assert _ok(await client.call("echo", {"text": "hi"})) == {"text": "hi", "count": 1}

    async def test_validation_error_has_path(self, server: Harness, client: HarnessClient) -> None:
        """A wrongly typed field is a 422 naming the field's JSON path."""
        error = _err(
            await client.call("echo", {"text": "hi", "count": "many"}),
            "UnprocessableContentError",
            server,
            422,
        )
        assert error["payload"] == {"path": "$.count"}

    async def test_missing_field_has_path(self, server: Harness, client: HarnessClient) -> None:
        """A missing required field is a 422 naming that field."""
        error = _err(await client.call("echo", {}), "UnprocessableContentError", server, 422)
        assert error["payload"] == {"path": "$.text"}

    async def test_none_output(self, client: HarnessClient) -> None:
        """A function returning None succeeds with no value."""
        assert _ok(await client.call("nothing")) is None

    async def test_sync_function(self, client: HarnessClient) -> None:
        """A synchronous function runs (in a worker thread) and returns its output."""
        assert _ok(await client.call("sync_double", {"value": 21})) == {"value": 42}

    # ------------------------------------------------------------------ sessions

    async def test_missing_session(self, server: Harness, client: HarnessClient) -> None:
        """A function that needs a session refuses a caller without one (401)."""
        _err(await client.call("whoami"), "UnauthorizedError", server, 401)

    async def test_injected_session(self, client: HarnessClient) -> None:
        """A session given to the client reaches the function."""
        await client.set_session({"user_id": "u1", "role": "user"})
        value = _ok(await client.call("whoami"))
        assert value["user_id"] == "u1"
        assert value["role"] == "user"

    async def test_set_and_clear_session_persist(
        self, server: Harness, client: HarnessClient
    ) -> None:
        """``wire.set_session`` in one call holds for the next; ``clear_session`` ends it."""
        _need(server, "session_persistence")
        _ok(await client.call("login", {"user_id": "alice", "role": "admin"}))
        value = _ok(await client.call("whoami"))
        assert value["user_id"] == "alice"
        assert value["role"] == "admin"
        _ok(await client.call("logout"))
        _err(await client.call("whoami"), "UnauthorizedError", server, 401)

    # ------------------------------------------------------------------ permissions

    async def test_permission_or_denied(self, server: Harness, client: HarnessClient) -> None:
        """No permission group passes: 403."""
        await client.set_session({"user_id": "bob", "role": "user"})
        _err(await client.call("perm_or"), "ForbiddenError", server, 403)

    async def test_permission_or_any_group(self, client: HarnessClient) -> None:
        """Any one passing group allows the call."""
        await client.set_session({"user_id": "bob", "role": "admin"})
        assert _ok(await client.call("perm_or")) == "allowed"
        await client.set_session({"user_id": "owner", "role": "user"})
        assert _ok(await client.call("perm_or")) == "allowed"

    async def test_permission_and_group(self, server: Harness, client: HarnessClient) -> None:
        """A list group passes only when every check in it passes."""
        await client.set_session({"user_id": "c", "role": "admin", "verified": False})
        _err(await client.call("perm_and"), "ForbiddenError", server, 403)
        await client.set_session({"user_id": "c", "role": "user", "verified": True})
        _err(await client.call("perm_and"), "ForbiddenError", server, 403)
        await client.set_session({"user_id": "c", "role": "admin", "verified": True})
        assert _ok(await client.call("perm_and")) == "allowed"

    async def test_permission_needs_session_first(
        self, server: Harness, client: HarnessClient
    ) -> None:
        """The auth check (401) comes before permissions (403)."""
        _err(await client.call("perm_or"), "UnauthorizedError", server, 401)

    # ------------------------------------------------------------------ errors

    async def test_error_mapping(self, server: Harness, client: HarnessClient) -> None:
        """A PikkuError keeps its name, message and payload."""
        error = _err(await client.call("fail", {"kind": "not_found"}), "NotFoundError", server, 404)
        assert error["message"] == "thing 7 not found"
        assert error["payload"] == {"id": 7}
        _err(await client.call("fail", {"kind": "conflict"}), "ConflictError", server, 409)

    async def test_registered_custom_error(self, server: Harness, client: HarnessClient) -> None:
        """A user exception registered with ``register_error`` gets its status and message."""
        error = _err(await client.call("fail", {"kind": "teapot"}), "TeapotError", server, 418)
        assert error["message"] == "short and stout"

    async def test_masked_internal_error(self, server: Harness, client: HarnessClient) -> None:
        """An unknown exception is a 500 whose message hides the detail."""
        error = _err(
            await client.call("fail", {"kind": "crash"}), "InternalServerError", server, 500
        )
        assert "hunter2" not in str(error)
        assert "Traceback" not in str(error)
        assert len(error["error_id"]) >= 16

    async def test_literal_choice_validated(self, server: Harness, client: HarnessClient) -> None:
        """A value outside a Literal's choices is a 422 at that field."""
        error = _err(
            await client.call("fail", {"kind": "explode"}), "UnprocessableContentError", server, 422
        )
        assert error["payload"] == {"path": "$.kind"}

    # ------------------------------------------------------------------ middleware, services

    async def test_middleware_order(self, client: HarnessClient) -> None:
        """The onion runs global, tag, wiring, then function middleware, then the function."""
        value = _ok(await client.call("trace"))
        assert value == ["global", "tag", "wiring", "function", "function-body"]

    async def test_wire_services_lazy_and_closed(
        self, server: Harness, client: HarnessClient
    ) -> None:
        """Wire services are built on first access only, and closed after the call."""
        _need(server, "shared_state")
        before = _ok(await client.call("resource_stats"))
        assert before["created"] == before["closed"]
        assert _ok(await client.call("skips_resource")) == "skipped"
        assert _ok(await client.call("resource_stats")) == before
        assert _ok(await client.call("uses_resource")) == "resource"
        after = _ok(await client.call("resource_stats"))
        assert after == {"created": before["created"] + 1, "closed": before["closed"] + 1}

    async def test_wire_services_closed_on_error(
        self, server: Harness, client: HarnessClient
    ) -> None:
        """A wire service is closed even when the function fails."""
        _need(server, "shared_state")
        before = _ok(await client.call("resource_stats"))
        _err(await client.call("uses_resource_then_fails"), "ForbiddenError", server, 403)
        after = _ok(await client.call("resource_stats"))
        assert after == {"created": before["created"] + 1, "closed": before["closed"] + 1}

    # ------------------------------------------------------------------ RPC and versions

    async def test_rpc_propagates_session(self, server: Harness, client: HarnessClient) -> None:
        """``wire.rpc.invoke`` calls with the caller's session (or none)."""
        _err(await client.call("rpc_whoami"), "UnauthorizedError", server, 401)
        await client.set_session({"user_id": "rpc-user", "role": "user"})
        assert _ok(await client.call("rpc_whoami"))["user_id"] == "rpc-user"

    async def test_rpc_applies_permissions(self, server: Harness, client: HarnessClient) -> None:
        """The callee's permissions apply to an RPC call."""
        await client.set_session({"user_id": "x", "role": "user"})
        _err(await client.call("rpc_perm_or"), "ForbiddenError", server, 403)
        await client.set_session({"user_id": "x", "role": "admin"})
        assert _ok(await client.call("rpc_perm_or")) == "allowed"

    async def test_version_pinning(self, client: HarnessClient) -> None:
        """The bare name is the latest version; ``name@N`` pins one."""
        assert _ok(await client.call("versioned")) == {"version": 2}
        assert _ok(await client.call("versioned@1")) == {"version": 1}
        assert _ok(await client.call("versioned@2")) == {"version": 2}

    async def test_rpc_version_pinning(self, client: HarnessClient) -> None:
        """RPC resolves ``name@N`` and the bare name the same way."""
        assert _ok(await client.call("rpc_versioned", {"value": 1})) == {"version": 1}
        assert _ok(await client.call("rpc_versioned", {"value": 0})) == {"version": 2}

    # ------------------------------------------------------------------ streaming, load

    async def test_streaming(self, server: Harness, client: HarnessClient) -> None:
        """A streaming function delivers each item in order."""
        _need(server, "streaming")
        items = await client.stream("count", {"n": 4})
        assert items == [{"value": 0}, {"value": 1}, {"value": 2}, {"value": 3}]

    async def test_concurrent_calls_keep_sessions_apart(self, server: Harness) -> None:
        """100 concurrent calls, each with its own session: no session bleeds."""
        _need(server, "concurrency")
        clients = [await server.client() for _ in range(100)]
        results: dict[int, CallResult] = {}
        try:
            for i, c in enumerate(clients):
                await c.set_session({"user_id": f"user-{i}", "role": "user"})

            async def one(i: int) -> None:
                results[i] = await clients[i].call("session_echo", {"text": f"t{i}"})

            async with anyio.create_task_group() as tg:
                for i in range(len(clients)):
                    tg.start_soon(one, i)
        finally:
            for c in clients:
                await c.aclose()
        assert len(results) == 100
        for i, result in results.items():
            assert _ok(result) == {"text": f"t{i}", "user_id": f"user-{i}"}
