"""The conformance suite over the in-memory queue: one call = enqueue + wait for the job."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
import pytest
from pikku_conformance import CallResult, Capabilities, ConformanceSuite, Harness, HarnessClient
from pikku_conformance.routes import queue_name
from pikku_core import InMemoryQueueService, Pikku, PikkuError, QueueService


class QueueClient(HarnessClient):
    """Enqueues each call as a job carrying this client's session, then polls it."""

    def __init__(self, app: Pikku, queue: QueueService) -> None:
        self._app = app
        self._queue = queue
        self._session: dict[str, Any] | None = None

    def _queue_for(self, key: str) -> str:
        name = queue_name(key)
        if name not in self._app.queue_wirings:
            # A bare name means the latest version, which is wired under its pinned key.
            name = queue_name(self._app.resolve(key).key)
        return name

    async def call(self, key: str, data: Any = None) -> CallResult:
        try:
            queue = self._queue_for(key)
            job_id = await self._queue.add(queue, data, session=self._session)
        except PikkuError as exc:
            return CallResult(ok=False, error=exc.to_dict())
        with anyio.fail_after(10):
            while True:
                info = await self._queue.get_job(queue, job_id)
                if info.status == "succeeded":
                    return CallResult(ok=True, value=info.result)
                if info.status == "failed":
                    return CallResult(ok=False, error=info.error)
                await anyio.sleep(0.002)

    async def set_session(self, session: dict[str, Any] | None) -> None:
        self._session = session


class InMemoryQueueHarness(Harness):
    """Drives the reference app's queue wirings through core's in-memory queue."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming=False, session_persistence=False, shared_state=True, concurrency=True
    )

    def __init__(self) -> None:
        self._app: Pikku | None = None

    async def start(self, app: Pikku) -> None:
        await app.start()
        assert isinstance(app.queue_service, InMemoryQueueService)
        self._app = app

    async def stop(self) -> None:
        if self._app is not None:
            await self._app.close()
            self._app = None

    async def client(self) -> HarnessClient:
        assert self._app is not None, "harness not started"
        return QueueClient(self._app, self._app.queue_service)


class TestInMemoryQueue(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return InMemoryQueueHarness()
