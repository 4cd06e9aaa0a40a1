"""The conformance suite over the in-memory queue: one call = enqueue + wait for the job."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pikku_conformance import (
    Capabilities,
    ConformanceSuite,
    Harness,
    HarnessClient,
    QueueHarnessClient,
)
from pikku_core import InMemoryQueueService, Pikku


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
        return QueueHarnessClient(self._app, self._app.queue_service)


class TestInMemoryQueue(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return InMemoryQueueHarness()
