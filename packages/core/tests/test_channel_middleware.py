"""Channel middleware composition: pass, transform, drop, fan out, onion order."""

from __future__ import annotations

from typing import Any

import pytest
from pikku_core import compose_channel_middleware

pytestmark = pytest.mark.anyio


async def test_no_middleware_is_none() -> None:
    assert compose_channel_middleware([]) is None


async def test_pass_transform_drop_fan_out() -> None:
    async def tag(services: Any, event: Any, next: Any) -> None:
        await next({**event, "tagged": True})

    async def drop_secret(services: Any, event: Any, next: Any) -> None:
        await next(None if event.get("secret") else event)

    async def twice(services: Any, event: Any, next: Any) -> None:
        await next([event, {**event, "copy": 1}])

    chain = compose_channel_middleware([tag, drop_secret, twice])
    assert chain is not None
    assert await chain(None, {"n": 1}) == [
        {"n": 1, "tagged": True},
        {"n": 1, "tagged": True, "copy": 1},
    ]
    assert await chain(None, {"secret": True}) == []


async def test_onion_order_and_services() -> None:
    seen: list[str] = []

    def layer(name: str) -> Any:
        async def mw(services: Any, event: Any, next: Any) -> None:
            seen.append(f"{name}>")
            await next({"path": [*event["path"], name]} if services == "svc" else None)
            seen.append(f"<{name}")

        return mw

    chain = compose_channel_middleware([layer("a"), layer("b")])
    assert chain is not None
    assert await chain("svc", {"path": ["start"]}) == [{"path": ["start", "a", "b"]}]
    assert seen == ["a>", "b>", "<b", "<a"]


async def test_fan_out_items_each_go_through_inner_layers() -> None:
    async def split(services: Any, event: Any, next: Any) -> None:
        await next([{"i": 1}, {"i": 2}, None])

    async def double(services: Any, event: Any, next: Any) -> None:
        await next({"i": event["i"] * 2})

    chain = compose_channel_middleware([split, double])
    assert chain is not None
    assert await chain(None, {"i": 0}) == [{"i": 2}, {"i": 4}]


async def test_sync_middleware_that_returns_nothing_drops() -> None:
    def ignore(services: Any, event: Any, next: Any) -> None:
        return None

    chain = compose_channel_middleware([ignore])
    assert chain is not None
    assert await chain(None, {"x": 1}) == []


def test_non_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="channel middleware"):
        compose_channel_middleware(["nope"])  # type: ignore[list-item]
