"""A small chat-like app exercising every channel rule (shared by the ws tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import msgspec
from pikku_core import NotFoundError, Pikku, Wire, pikku_func, pikku_sessionless_func

SECRET = "ws-test-secret-0123456789abcdef"


class Login(msgspec.Struct):
    user: str


class Say(msgspec.Struct):
    topic: str
    text: str


class Topic(msgspec.Struct):
    topic: str


class Count(msgspec.Struct):
    n: int
    delay: float = 0.0


@pikku_sessionless_func
async def echo(services: Any, data: dict[str, Any], wire: Wire[Any]) -> dict[str, Any]:
    return {"seen": data}


@pikku_sessionless_func
async def nothing(services: Any, data: None, wire: Wire[Any]) -> None:
    return None


@pikku_sessionless_func
async def double(services: Any, data: int, wire: Wire[Any]) -> int:
    return data * 2


@pikku_sessionless_func
async def login(services: Any, data: Login, wire: Wire[Any]) -> None:
    wire.set_session({"user": data.user})


@pikku_func
async def me(services: Any, data: None, wire: Wire[Any]) -> dict[str, Any]:
    assert wire.session is not None
    return {
        "user": wire.session["user"],
        "channel": wire.channel.channel_id if wire.channel else None,
    }


@pikku_func
async def secret(services: Any, data: None, wire: Wire[Any]) -> str:
    return "classified"


@pikku_sessionless_func
async def subscribe(services: Any, data: Topic, wire: Wire[Any]) -> None:
    assert wire.channel is not None
    await services.event_hub.subscribe(data.topic, wire.channel)


@pikku_sessionless_func
async def unsubscribe(services: Any, data: Topic, wire: Wire[Any]) -> None:
    assert wire.channel is not None
    await services.event_hub.unsubscribe(data.topic, wire.channel)


@pikku_sessionless_func
async def say(services: Any, data: Say, wire: Wire[Any]) -> None:
    await services.event_hub.publish(data.topic, {"text": data.text}, exclude=wire.channel)


@pikku_sessionless_func
async def shout(services: Any, data: Say, wire: Wire[Any]) -> None:
    await services.event_hub.publish(data.topic, {"text": data.text})


@pikku_sessionless_func
async def push(services: Any, data: dict[str, Any], wire: Wire[Any]) -> str:
    assert wire.channel is not None
    await wire.channel.send({"pushed": data})
    return "sent"


@pikku_sessionless_func
async def slow(services: Any, data: Count, wire: Wire[Any]) -> int:
    await anyio.sleep(data.delay)
    return data.n


@pikku_sessionless_func
async def ticks(services: Any, data: Count, wire: Wire[Any]) -> AsyncIterator[int]:
    for i in range(data.n):
        if data.delay:
            await anyio.sleep(data.delay)
        yield i


@pikku_sessionless_func
async def kick(services: Any, data: None, wire: Wire[Any]) -> None:
    assert wire.channel is not None
    await wire.channel.close(4000, "kicked")


@pikku_sessionless_func
async def missing(services: Any, data: None, wire: Wire[Any]) -> None:
    raise NotFoundError("no such thing", {"id": 1})


async def upper(services: Any, event: Any, next: Any) -> None:
    if isinstance(event, dict) and "topic" in event:
        data = event["data"]
        await next({**event, "data": {**data, "text": str(data.get("text", "")).upper()}})
    else:
        await next(event)


async def drop_secret(services: Any, event: Any, next: Any) -> None:
    if isinstance(event, dict) and event.get("topic") == "hidden":
        await next(None)
    else:
        await next(event)


async def fan_out(services: Any, event: Any, next: Any) -> None:
    if isinstance(event, dict) and event.get("topic") == "twice":
        await next([event, {**event, "copy": True}])
    else:
        await next(event)


def create_app(**kwargs: Any) -> Pikku:
    """Channel ``/chat`` with every action; ``/loud`` adds channel middleware."""
    from pikku_core import auth_bearer, auth_cookie

    app = Pikku(secret=SECRET, **kwargs)
    app.add_middleware(auth_cookie(secure=False), auth_bearer())
    actions: dict[str, Any] = {
        "echo": echo,
        "nothing": nothing,
        "double": double,
        "login": login,
        "me": me,
        "secret": secret,
        "open_secret": {"func": secret, "auth": False},
        "subscribe": subscribe,
        "unsubscribe": unsubscribe,
        "say": say,
        "shout": shout,
        "push": push,
        "slow": slow,
        "ticks": ticks,
        "missing": missing,
        "kick": kick,
    }
    app.wire_channel(name="chat", route="/chat", on_message_wiring=actions)
    app.wire_channel(
        name="loud",
        route="/loud",
        on_message_wiring=actions,
        channel_middleware=[drop_secret, upper, fan_out],
        tags=["loud"],
    )
    return app


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until ``predicate()`` is true, polling (fails the test after ``within`` s)."""
    step = 0.01
    for _ in range(int(within / step)):
        if predicate():
            return
        await anyio.sleep(step)
    raise AssertionError(f"condition not met within {within}s")
