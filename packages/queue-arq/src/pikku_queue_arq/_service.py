"""The producer side: `ArqQueueService` enqueues jobs on arq and reports on them."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import msgspec
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, result_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from pikku_core import InternalServerError, JobInfo, ServiceUnavailableError
from pikku_core._queue import CALLER, new_job_id, prepare_job, seal_job
from redis.exceptions import RedisError

from ._cron import ArqScheduler
from ._serde import JobOutcomeRecord, deserialize, serialize

if TYPE_CHECKING:
    from pikku_core import Pikku

DEFAULT_QUEUE_NAME = "pikku:queue"
"""The arq queue (Redis sorted set) an app's jobs go through unless told otherwise."""

_UNAVAILABLE = "the job queue (Redis) is unavailable"


def function_name(queue: str) -> str:
    """The arq function name that runs the jobs of pikku ``queue``."""
    return f"pikku:{queue}"


@functools.lru_cache(maxsize=256)
def _job_prefix(queue_name: str, queue: str) -> str:
    return f"{queue_name}:{quote(queue, safe='')}:"


def arq_job_id(queue_name: str, queue: str, job_id: str) -> str:
    """The arq job id of a pikku job (arq's job keys are global, so it is namespaced)."""
    return _job_prefix(queue_name, queue) + job_id


async def open_pool(settings: RedisSettings, queue_name: str) -> ArqRedis:
    """Connect to Redis with the msgspec serializers (never pickle)."""
    return await create_pool(
        settings,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=queue_name,
    )


class ArqQueueService:
    """The app's ``queue`` service on arq and Redis.

    Creating it makes it the app's queue service (``app.queue_service``); the app
    connects it when it starts. Jobs go to one arq queue (``queue_name``) that carries
    all the app's wired queues; run them with `pikku_queue_arq.worker_settings` or
    ``pikku-queue-arq worker module:app``.

    Args:
        app: The app whose queues this service feeds.
        redis_settings: Where Redis is (arq's `RedisSettings`; default localhost:6379).
        queue_name: The arq queue name; producers and workers must agree on it.
    """

    def __init__(
        self,
        app: Pikku,
        redis_settings: RedisSettings | None = None,
        *,
        queue_name: str = DEFAULT_QUEUE_NAME,
    ) -> None:
        self.app = app
        self.redis_settings = redis_settings if redis_settings is not None else RedisSettings()
        self.queue_name = queue_name
        self._redis: ArqRedis | None = None
        self._owns_redis = True
        self._lock = anyio.Lock()
        app.queue_service = self
        if app.scheduler is None:
            # Scheduled tasks run as arq cron jobs in the workers, not in this process.
            app.scheduler = ArqScheduler(app, queue_name=queue_name)

    @classmethod
    def with_pool(cls, app: Pikku, redis: ArqRedis, *, queue_name: str) -> ArqQueueService:
        """A service over an existing connection (a worker's), which it does not close."""
        service = cls(app, queue_name=queue_name)
        service._redis = redis
        service._owns_redis = False
        return service

    async def start(self) -> None:
        """Connect to Redis (the app calls this when it starts).

        Raises:
            RuntimeError: The app has no secret to sign jobs with.
            ServiceUnavailableError: Redis cannot be reached.
        """
        self.app.require_secret("queued jobs")
        await self._pool()

    async def aclose(self) -> None:
        """Close the Redis connection (the app calls this when it closes)."""
        redis, self._redis = self._redis, None
        if redis is not None and self._owns_redis:
            await redis.aclose(close_connection_pool=True)

    async def _pool(self) -> ArqRedis:
        if self._redis is None:
            async with self._lock:
                if self._redis is None:
                    try:
                        self._redis = await open_pool(self.redis_settings, self.queue_name)
                    except (RedisError, OSError) as exc:
                        raise ServiceUnavailableError(f"{_UNAVAILABLE}: {exc}") from None
                    self._owns_redis = True
        return self._redis

    async def add(
        self,
        queue: str,
        data: Any = None,
        job_id: str | None = None,
        delay: float | None = None,
        *,
        session: Any = CALLER,
    ) -> str:
        """Validate ``data`` and enqueue a job; see `pikku_core.QueueService.add`.

        Raises:
            NotFoundError: No function is wired to ``queue``.
            UnprocessableContentError: ``data`` does not match the function's input.
            ServiceUnavailableError: Redis cannot be reached.
        """
        prepared = prepare_job(self.app, queue, data, session)
        raw = seal_job(self.app, prepared)
        job_id = job_id or new_job_id()
        redis = await self._pool()
        try:
            await redis.enqueue_job(
                function_name(queue),
                raw,
                _job_id=arq_job_id(self.queue_name, queue, job_id),
                _queue_name=self.queue_name,
                _defer_by=delay if delay is not None and delay > 0 else None,
            )
        except (RedisError, OSError) as exc:
            raise ServiceUnavailableError(f"{_UNAVAILABLE}: {exc}") from None
        return job_id

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """Return the job's state; see `pikku_core.QueueService.get_job`.

        Raises:
            ServiceUnavailableError: Redis cannot be reached.
        """
        key = arq_job_id(self.queue_name, queue, job_id)
        redis = await self._pool()
        try:
            async with redis.pipeline(transaction=True) as tr:
                tr.get(result_key_prefix + key)
                tr.exists(in_progress_key_prefix + key)
                tr.zscore(self.queue_name, key)
                tr.get(retry_key_prefix + key)
                stored, in_progress, score, tries = await tr.execute()
        except (RedisError, OSError) as exc:
            raise ServiceUnavailableError(f"{_UNAVAILABLE}: {exc}") from None
        if stored is not None:
            return job_info_from_result(job_id, queue, deserialize(stored))
        attempts = int(tries) if tries is not None else 0
        if in_progress:
            return JobInfo(job_id, queue, "running", attempts=attempts)
        if score is not None:
            status = "deferred" if score > timestamp_ms() else "queued"
            return JobInfo(job_id, queue, status, attempts=attempts)
        return JobInfo(job_id, queue, "not_found")


def job_info_from_result(job_id: str, queue: str, record: dict[str, Any]) -> JobInfo:
    """Read an arq result record written by our worker (or by arq itself on failure)."""
    attempts = int(record.get("t") or 0)
    stored = record.get("r")
    if record.get("s"):
        try:
            outcome = msgspec.convert(stored, JobOutcomeRecord)
        except msgspec.ValidationError:
            error = InternalServerError("the job's result record is unreadable").to_dict()
            return JobInfo(job_id, queue, "failed", None, error, attempts)
        if outcome.ok:
            return JobInfo(job_id, queue, "succeeded", outcome.result, None, attempts)
        return JobInfo(job_id, queue, "failed", None, outcome.error, attempts)
    # arq's own failures (retries exhausted after a crash, an expired job) were stored
    # as the error shape by our serializer.
    try:
        error = msgspec.convert(stored, dict[str, Any])
    except msgspec.ValidationError:
        error = InternalServerError(str(stored)).to_dict()
    return JobInfo(job_id, queue, "failed", None, error, attempts)
