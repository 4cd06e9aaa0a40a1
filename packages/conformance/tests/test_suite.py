"""The suite's own guarantees: the guard catches dropped tests, routes are stable."""

from __future__ import annotations

from typing import Any

import pytest
from pikku_conformance import (
    ConformanceSuite,
    InProcessHarness,
    create_reference_app,
    reference_functions,
    routes,
    suite_test_names,
)


def test_guard_catches_a_dropped_test() -> None:
    class Dropping(ConformanceSuite):
        test_happy_path = None  # type: ignore[assignment]

    class Replacing(ConformanceSuite):
        async def test_streaming(self, *args: Any) -> None:
            return None

    for cls in (Dropping, Replacing):
        with pytest.raises(AssertionError, match="overrides or drops"):
            cls().test_suite_is_complete()
    ConformanceSuite().test_suite_is_complete()


def test_suite_covers_the_contract() -> None:
    names = set(suite_test_names())
    for required in (
        "test_happy_path",
        "test_validation_error_has_path",
        "test_missing_session",
        "test_permission_or_any_group",
        "test_permission_and_group",
        "test_set_and_clear_session_persist",
        "test_error_mapping",
        "test_registered_custom_error",
        "test_masked_internal_error",
        "test_middleware_order",
        "test_wire_services_lazy_and_closed",
        "test_rpc_propagates_session",
        "test_version_pinning",
        "test_none_output",
        "test_sync_function",
        "test_streaming",
        "test_concurrent_calls_keep_sessions_apart",
    ):
        assert required in names


def test_routes_are_transport_safe() -> None:
    assert routes.slug("versioned@1") == "versioned_v1"
    assert routes.http_route("versioned@1") == "/conformance/versioned_v1"
    assert routes.cli_command("rpc_whoami") == "rpc-whoami"
    assert routes.queue_name("echo") == "conformance-echo"


def test_reference_app_wires_every_function_everywhere() -> None:
    app = create_reference_app()
    keys = set(reference_functions())
    assert {w.route for w in app.http_wirings} == {routes.http_route(k) for k in keys}
    (channel,) = app.channel_wirings
    assert set(channel.actions) == {routes.channel_action(k) for k in keys}
    assert {w.name for w in app.mcp_tools} == {routes.mcp_tool(k) for k in keys}
    streaming = {k for k, f in reference_functions().items() if f.meta.is_stream}
    assert set(app.queue_wirings) == {routes.queue_name(k) for k in keys - streaming}


@pytest.mark.anyio
async def test_in_process_harness_round_trip() -> None:
    harness = InProcessHarness()
    await harness.start(create_reference_app())
    try:
        client = await harness.client()
        result = await client.call("echo", {"text": "x"})
        assert result.ok and result.value == {"text": "x", "count": 1}
        failed = await client.call("whoami")
        assert not failed.ok and failed.error_name == "UnauthorizedError"
        assert failed.status == 401
    finally:
        await harness.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
