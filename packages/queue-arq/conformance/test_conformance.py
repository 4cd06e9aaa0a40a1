"""The conformance suite over arq and the real Redis (127.0.0.1:6379).

One call = enqueue a job (with the client's session) through `ArqQueueService`, then
poll `get_job` until an arq worker, running in this event loop, has finished it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import ClassVar

import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings
from arq.worker import Worker, create_worker
from pikku_conformance import (
    Capabilities,
    ConformanceSuite,
    Harness,
    HarnessClient,
    QueueHarnessClient,
)
from pikku_core import Pikku, PikkuError
from pikku_queue_arq import ArqQueueService, worker_settings

REDIS = RedisSettings(host="127.0.0.1", port=6379)


class ArqHarness(Harness):
    """The reference app's queues served by an arq worker over the real Redis."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming=False, session_persistence=False, shared_state=True, concurrency=True
    )

    def __init__(self) -> None:
        self._app: Pikku | None = None
        self._queue: ArqQueueService | None = None
        self._worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None
        self._queue_name = f"pikku-conformance:{uuid.uuid4().hex[:12]}"

    async def start(self, app: Pikku) -> None:
        self._queue = ArqQueueService(app, REDIS, queue_name=self._queue_name)
        try:
            await app.start()
        except PikkuError as exc:
            pytest.fail(f"the arq conformance suite needs Redis at 127.0.0.1:6379: {exc}")
        self._app = app
        settings = worker_settings(
            app, queue_name=self._queue_name, poll_delay=0.002, handle_signals=False, max_jobs=100
        )
        self._worker = create_worker(settings)
        self._task = asyncio.create_task(self._worker.async_run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._worker is not None:
            await self._worker.close()
        if self._app is not None:
            await self._app.close()
        redis = aioredis.Redis(host="127.0.0.1", port=6379)
        try:
            keys = [k async for k in redis.scan_iter(match=f"arq:*:{self._queue_name}:*")]
            for i in range(0, len(keys), 500):
                await redis.delete(*keys[i : i + 500])
            await redis.delete(self._queue_name)
        finally:
            await redis.aclose()

    async def client(self) -> HarnessClient:
        assert self._app is not None and self._queue is not None, "harness not started"
        return QueueHarnessClient(self._app, self._queue, timeout=20, poll_interval=0.005)


class TestArqQueue(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return ArqHarness()
