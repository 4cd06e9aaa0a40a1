"""The worker side: arq settings built from an app's queue and scheduler wirings."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, Retry, func
from pikku_core import CronSchedule, NotFoundError, PikkuError, ScheduledRun
from pikku_core._queue import open_job, run_job
from pikku_core._scheduler import run_scheduled
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._serde import JobOutcomeRecord, deserialize, serialize
from ._service import DEFAULT_QUEUE_NAME, ArqQueueService, arq_job_id, function_name

if TYPE_CHECKING:
    from arq.typing import WorkerCoroutine
    from pikku_core import Pikku, QueueWiring, SchedulerWiring

__all__ = ["ArqScheduler", "worker_settings"]


# A worker outlives short Redis outages: each command is retried with backoff (up to
# about a minute) before the error reaches arq and stops the worker.
_RECONNECT_TRIES = 40
_RECONNECT_CAP = 2.0


def _resilient(settings: RedisSettings) -> RedisSettings:
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


def cron_options(schedule: CronSchedule) -> tuple[dict[str, set[int] | None], bool]:
    """Translate a cron schedule to `arq.cron.cron` field options.

    Returns:
        The options, and whether each tick must also be checked with
        `CronSchedule.matches` (day-of-month and day-of-week both restricted, which
        crontab reads as "either", or markers such as ``L`` that arq cannot express).
    """
    minute, hour, day, month, weekday = schedule.fields()

    def ints(values: list[int | str]) -> set[int] | None:
        if values == ["*"]:
            return None
        return {v for v in values if isinstance(v, int)}

    plain = all(isinstance(v, int) or v == "*" for v in (*day, *weekday))
    options: dict[str, set[int] | None] = {
        "minute": ints(minute),
        "hour": ints(hour),
        "month": ints(month),
        "day": None,
        "weekday": None,
    }
    both = day != ["*"] and weekday != ["*"]
    if not plain or both:
        return options, True
    options["day"] = ints(day)
    wd = ints(weekday)
    # crontab counts weekdays from Sunday = 0; arq uses datetime.weekday() (Monday = 0)
    options["weekday"] = None if wd is None else {(v - 1) % 7 for v in wd}
    return options, False


def cron_job_name(queue_name: str, name: str) -> str:
    """The arq cron job of scheduled task ``name`` (namespaced: arq's job keys are global)."""
    return f"{queue_name}:cron:{quote(name, safe='')}"


def _tick_time(ctx: dict[str, Any]) -> datetime:
    # arq's unique cron job id is "<name>:<tick in unix ms>"; the score is only the
    # tick when the job was enqueued ahead of it.
    _, _, stamp = str(ctx.get("job_id", "")).rpartition(":")
    millis = int(stamp) if stamp.isdigit() else int(ctx["score"])
    return datetime.fromtimestamp(millis / 1000).astimezone()


def _cron_job(app: Pikku, wiring: SchedulerWiring, scheduler: ArqScheduler) -> CronJob:
    schedule = CronSchedule(wiring.schedule)
    options, check = cron_options(schedule)

    async def tick(ctx: dict[str, Any]) -> None:
        at = _tick_time(ctx).replace(second=0, microsecond=0)
        if check and not schedule.matches(at):
            return
        await scheduler.run(wiring, at)

    return cron(
        tick,
        name=cron_job_name(scheduler.queue_name, wiring.name),
        microsecond=0,
        unique=True,
        max_tries=1,
        **options,  # pyright: ignore[reportArgumentType]
    )


class ArqScheduler:
    """The app's ``scheduler`` inside an arq worker: ticks come from arq cron jobs.

    Every worker enqueues each tick under the same job id, so a tick runs once however
    many workers run. `trigger` runs a task now, in this process.

    Args:
        app: The app whose scheduler wirings become cron jobs.
        queue_name: The arq queue the ticks go through.

    Attributes:
        last_runs: The latest finished run of each task this worker ran, by name.
    """

    def __init__(self, app: Pikku, *, queue_name: str = DEFAULT_QUEUE_NAME) -> None:
        self.app = app
        self.queue_name = queue_name
        self.last_runs: dict[str, ScheduledRun] = {}
        self.cron_jobs: list[CronJob] = [_cron_job(app, w, self) for w in app.scheduler_wirings]

    async def run(self, wiring: SchedulerWiring, scheduled_at: datetime) -> ScheduledRun:
        """Run one tick of ``wiring`` (the arq cron job calls this)."""
        outcome = await run_scheduled(self.app, wiring, scheduled_at)
        self.last_runs[wiring.name] = outcome
        return outcome

    async def trigger(self, name: str) -> ScheduledRun:
        """Run the task ``name`` now and return the outcome."""
        for wiring in self.app.scheduler_wirings:
            if wiring.name == name:
                return await self.run(wiring, datetime.now().astimezone())
        raise NotFoundError(f"no scheduled task named {name!r}")


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
        if isinstance(service, ArqQueueService) and service.queue_name == queue_name:
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
        "redis_settings": _resilient(redis_settings),
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
    }
    settings.update(arq_overrides)
    return settings
