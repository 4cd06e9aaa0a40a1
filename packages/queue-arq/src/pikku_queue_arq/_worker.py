"""The worker side: arq settings built from an app's queue and scheduler wirings."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, cast

from arq.connections import RedisSettings
from arq.worker import Function, Retry, func
from pikku_core import NotFoundError, PikkuError
from pikku_core._queue import open_job, run_job
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._cron import ArqScheduler
from ._serde import JobOutcomeRecord, deserialize, serialize
from ._service import DEFAULT_QUEUE_NAME, ArqQueueService, arq_job_id, function_name

if TYPE_CHECKING:
    from arq.typing import WorkerCoroutine
    from pikku_core import Pikku, QueueWiring

__all__ = ["resilient_redis_settings", "worker_settings"]


# A worker outlives short Redis outages: each command is retried with backoff (up to
# about a minute) before the error reaches arq and stops the worker.
_RECONNECT_TRIES = 40
_RECONNECT_CAP = 2.0


def resilient_redis_settings(settings: RedisSettings) -> RedisSettings:
    """Return ``settings`` with Redis commands retried with backoff (about a minute).

    `worker_settings` applies it, so a worker rides out a Redis restart; settings that
    already carry a ``retry`` policy are returned unchanged.
    """
    if settings.retry is not None:
        return settings
    return dataclasses.replace(
        settings,
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionError, OSError],
        retry=RedisRetry(ExponentialBackoff(cap=_RECONNECT_CAP, base=0.05), _RECONNECT_TRIES),
    )


def _job_coroutine(app: Pikku, wiring: QueueWiring, queue_name: str) -> WorkerCoroutine:
    prefix_len = len(arq_job_id(queue_name, wiring.queue, ""))

    async def run(ctx: dict[str, Any], raw: bytes) -> JobOutcomeRecord:
        job_id = str(ctx["job_id"])[prefix_len:]
        try:
            job = open_job(app, raw)
        except PikkuError as exc:
            app.logger.warning("job %s on %s refused: %s", job_id, wiring.queue, exc.message)
            return JobOutcomeRecord(False, error=exc.to_dict())
        if job.queue != wiring.queue:
            error = NotFoundError(f"job for queue {job.queue!r} reached queue {wiring.queue!r}")
            return JobOutcomeRecord(False, error=error.to_dict())
        outcome = await run_job(
            app,
            wiring,
            job_id=job_id,
            attempt=int(ctx["job_try"]),
            data=job.data,
            session=job.session,
        )
        if outcome.status == "retry":
            raise Retry(defer=outcome.delay)
        if outcome.status == "succeeded":
            return JobOutcomeRecord(True, result=outcome.result)
        return JobOutcomeRecord(False, error=outcome.error)

    run.__qualname__ = function_name(wiring.queue)
    return cast("WorkerCoroutine", run)


def _queue_function(app: Pikku, wiring: QueueWiring, queue_name: str) -> Function:
    return func(
        _job_coroutine(app, wiring, queue_name),
        name=function_name(wiring.queue),
        max_tries=wiring.max_attempts,
        # run_job enforces the wiring's timeout (so it can retry); arq's is a backstop.
        timeout=wiring.timeout + 5 if wiring.timeout is not None else None,
    )


def worker_settings(
    app: Pikku, *, queue_name: str = DEFAULT_QUEUE_NAME, **arq_overrides: Any
) -> dict[str, Any]:
    """Build arq worker settings that run ``app``'s queues and scheduled tasks.

    Feed the result to `arq.worker.create_worker` or `arq.worker.run_worker`. The worker
    starts the app (its services) on start-up and closes it on shutdown; the app's queue
    service becomes an `ArqQueueService` on the worker's connection when it is not one
    already, so jobs can enqueue jobs.

    Args:
        app: The app whose wirings the worker runs.
        queue_name: The arq queue to consume (must match the producers').
        **arq_overrides: Any other `arq.worker.Worker` argument (``redis_settings``,
            ``max_jobs``, ``poll_delay``, ``burst``...). ``redis_settings`` defaults to
            the app's `ArqQueueService` settings, else localhost.

    Returns:
        A settings dict.

    Raises:
        ValueError: The app has no wired queues or scheduled tasks.
        RuntimeError: The app has queues but no secret to verify their jobs with.
    """
    service = app.queue_service
    redis_settings: RedisSettings | None = arq_overrides.pop("redis_settings", None)
    if redis_settings is None:
        if isinstance(service, ArqQueueService):
            redis_settings = service.redis_settings
        else:
            redis_settings = RedisSettings()
    scheduler = ArqScheduler(app, queue_name=queue_name)
    functions = [_queue_function(app, w, queue_name) for w in app.queue_wirings.values()]
    if not functions and not scheduler.cron_jobs:
        raise ValueError("the app has no wired queues or scheduled tasks to run")
    if functions:
        app.require_secret("queued jobs")  # a worker cannot verify jobs without it
    user_startup = arq_overrides.pop("on_startup", None)
    user_shutdown = arq_overrides.pop("on_shutdown", None)

    # A worker run inside a process that already started the app (tests, an app that
    # also serves HTTP) leaves the app's lifecycle to that process.
    owns_app: list[bool] = [False]

    async def on_startup(ctx: dict[str, Any]) -> None:
        if not app.started:
            if not isinstance(app.queue_service, ArqQueueService):
                ArqQueueService.with_pool(app, ctx["redis"], queue_name=queue_name)
            app.scheduler = scheduler
            await app.start()
            owns_app[0] = True
        if user_startup is not None:
            await user_startup(ctx)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        try:
            if user_shutdown is not None:
                await user_shutdown(ctx)
        finally:
            if owns_app[0]:
                owns_app[0] = False
                await app.close()

    settings: dict[str, Any] = {
        "functions": functions,
        "cron_jobs": scheduler.cron_jobs,
        "queue_name": queue_name,
        "redis_settings": resilient_redis_settings(redis_settings),
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
    }
    settings.update(arq_overrides)
    return settings
