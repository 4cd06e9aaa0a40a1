"""The app the worker subprocesses of the reliability tests run (``worker_app:app``).

Configured by environment: PIKKU_TEST_REDIS_URL (where the queue and the bookkeeping
live), PIKKU_TEST_QUEUE (the arq queue name), PIKKU_SECRET.
"""

from __future__ import annotations

import os

import anyio
import msgspec
import redis.asyncio as aioredis
from arq.connections import RedisSettings
from pikku_core import Pikku, Wire, pikku_sessionless_func
from pikku_queue_arq import ArqQueueService


class Services:
    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url)
        self.prefix = prefix

    async def aclose(self) -> None:
        await self.redis.aclose()


class Work(msgspec.Struct):
    n: int
    hang_first: bool = False


@pikku_sessionless_func
async def work(services: Services, data: Work, wire: Wire[None]) -> int:
    """Idempotent bookkeeping: counts completions per job and jobs per worker."""
    assert wire.queue is not None
    if data.hang_first:
        entry = f"{os.getpid()}:{wire.queue.attempt}"
        await services.redis.rpush(f"{services.prefix}:started", entry)
        if wire.queue.attempt == 1:
            await anyio.sleep(120)
    async with services.redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(f"{services.prefix}:done", str(data.n), 1)
        pipe.hincrby(f"{services.prefix}:pids", str(os.getpid()), 1)
        await pipe.execute()
    return data.n


@pikku_sessionless_func
async def echo(services: Services, data: int, wire: Wire[None]) -> int:
    """Touches no Redis of its own (for the Redis restart test)."""
    return data


def build_app(redis_url: str, queue_name: str, secret: str | None = None) -> Pikku:
    app = Pikku(services=lambda: Services(redis_url, queue_name), secret=secret)
    app.wire_queue("work", work)
    app.wire_queue("echo", echo)
    settings = RedisSettings.from_dsn(redis_url)
    ArqQueueService(app, settings, queue_name=queue_name)
    return app


app = build_app(
    os.environ.get("PIKKU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("PIKKU_TEST_QUEUE", "pikku-test:unset"),
)
