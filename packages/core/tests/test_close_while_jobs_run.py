"""Closing an app with a job just handed to a worker never restarts the app."""

from __future__ import annotations

import pytest
from pikku_core import Pikku, pikku_sessionless_func

pytestmark = pytest.mark.anyio


async def test_close_right_after_enqueue_does_not_restart_the_app() -> None:
    @pikku_sessionless_func
    async def job(services: object, data: int, wire: object) -> int:
        return data

    @pikku_sessionless_func
    async def enqueue(services: object, data: None, wire: object) -> str:
        return await services.queue.add("jobs", 1)  # type: ignore[attr-defined]

    app = Pikku(secret="x" * 32)
    app.wire_queue("jobs", job)
    app.wire_scheduler("nightly", "0 3 * * *", enqueue)
    for _ in range(2):  # the app also starts again cleanly afterwards
        async with app:
            # The worker picks the job up while the app closes: the call must run on the
            # closing app (and be cancelled), not start a second app inside the worker.
            run = await app.services.scheduler.trigger("nightly")
            assert run.status == "succeeded"
        assert not app.started
