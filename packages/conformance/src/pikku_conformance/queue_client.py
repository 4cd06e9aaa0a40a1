"""A harness client for any queue backend: one call = enqueue a job, then wait for it."""

from __future__ import annotations

from typing import Any

import anyio
from pikku_core import Pikku, PikkuError, QueueService

from .harness import CallResult, HarnessClient
from .routes import queue_name

__all__ = ["QueueHarnessClient"]


class QueueHarnessClient(HarnessClient):
    """Enqueues each call as a job carrying this client's session, then polls `get_job`.

    Works with every `pikku_core.QueueService` (the in-memory queue, arq, ...).

    Args:
        app: The reference app (its queue wirings name the queues).
        queue: The queue service jobs are added to.
        timeout: Seconds a job may take before the call fails the test.
        poll_interval: Seconds between two `get_job` polls.
    """

    def __init__(
        self, app: Pikku, queue: QueueService, *, timeout: float = 10, poll_interval: float = 0.002
    ) -> None:
        self._app = app
        self._queue = queue
        self._timeout = timeout
        self._poll = poll_interval
        self._session: dict[str, Any] | None = None

    async def call(self, key: str, data: Any = None) -> CallResult:
        """Enqueue the function's job and return its outcome."""
        queue = queue_name(key)
        try:
            job_id = await self._queue.add(queue, data, session=self._session)
        except PikkuError as exc:
            return CallResult(ok=False, error=exc.to_dict())
        with anyio.fail_after(self._timeout):
            while True:
                info = await self._queue.get_job(queue, job_id)
                if info.status == "succeeded":
                    return CallResult(ok=True, value=info.result)
                if info.status == "failed":
                    return CallResult(ok=False, error=info.error)
                await anyio.sleep(self._poll)

    async def set_session(self, session: dict[str, Any] | None) -> None:
        """Jobs added from now on carry ``session`` (the enqueuer's session)."""
        self._session = session
