"""Queues: the `QueueService` contract, the job rules every backend shares, and the
in-memory default with in-process workers.

Every backend (this one, ``pikku_queue_arq``) validates with `prepare_job`, runs a job
with `run_job` (which applies the retry rules: a 4xx `PikkuError` fails at once, anything
else retries with `retry_delay` until ``max_attempts``) and reports `JobInfo`. Backends
that store jobs outside the process seal them with `seal_job` / `open_job`, which sign
the job (and the enqueuer's session) with the app secret.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import anyio
import msgspec

from ._background import BackgroundTasks
from ._values import to_builtins
from ._wire import QueueWire, Wire, current_wire
from .errors import (
    GatewayTimeoutError,
    InternalServerError,
    NotFoundError,
    PikkuError,
    UnauthorizedError,
    UnprocessableContentError,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._app import Pikku
    from ._wirings import QueueWiring

__all__ = [
    "CALLER",
    "MAX_BACKOFF",
    "InMemoryQueueService",
    "JobInfo",
    "JobOutcome",
    "JobStatus",
    "PreparedJob",
    "QueueService",
    "SealedJob",
    "current_wire",
    "default_backoff",
    "enqueuer_session",
    "failed_outcome",
    "is_final_error",
    "new_job_id",
    "open_job",
    "prepare_job",
    "retry_delay",
    "run_job",
    "seal_job",
]

logger = logging.getLogger("pikku.queue")

JobStatus = Literal["queued", "deferred", "running", "succeeded", "failed", "not_found"]
"""The states a job can be in, as `QueueService.get_job` reports them."""


# Set by the pipeline for each call of an app that wires queues (see `_wire`).
"""The wire of the call running in this context (set by `Pipeline.run`)."""

CALLER: Any = object()
"""Default of ``add(session=...)``: the session of the call that enqueues (if any)."""


class JobInfo(msgspec.Struct, frozen=True):
    """What `QueueService.get_job` reports about one job.

    Attributes:
        job_id: The job's id (given to ``add`` or generated).
        queue: The queue the job was added to.
        status: ``queued``, ``deferred`` (waiting for its delay or a retry), ``running``,
            ``succeeded``, ``failed`` or ``not_found``.
        result: The function's output as JSON builtins once ``succeeded``.
        error: The error shape (``name``, ``message``, ``payload``, ``error_id``) once
            ``failed``.
        attempts: How many times the job has been started.
    """

    job_id: str
    queue: str
    status: JobStatus
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0


@runtime_checkable
class QueueService(Protocol):
    """The ``services.queue`` contract, implemented by every queue backend."""

    async def add(
        self,
        queue: str,
        data: Any = None,
        job_id: str | None = None,
        delay: float | None = None,
        *,
        session: Any = CALLER,
    ) -> str:
        """Validate ``data`` against the queue's function and enqueue a job.

        Args:
            queue: A queue wired with ``app.wire_queue``.
            data: The function's input.
            job_id: Makes the add idempotent: a second add with the same id is ignored.
            delay: Seconds to wait before the job may run.
            session: The session the job runs with; by default the session of the call
                that enqueues (none outside a call).

        Returns:
            The job id.

        Raises:
            NotFoundError: No function is wired to ``queue``.
            UnprocessableContentError: ``data`` does not match the function's input.
        """
        ...

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """Return the job's status, result or error shape, and attempts."""
        ...


# -- the rules every backend shares -------------------------------------------------

MAX_BACKOFF = 60.0
"""Upper bound of the default backoff, in seconds."""


def default_backoff(attempt: int) -> float:
    """The default delay before retrying after failed ``attempt`` (1-based).

    0.5 s * 2 ** (attempt - 1), capped at 60 s.
    """
    if attempt > 64:
        return MAX_BACKOFF
    return min(0.5 * 2 ** (attempt - 1), MAX_BACKOFF)


def retry_delay(wiring: QueueWiring, attempt: int) -> float:
    """The delay before retrying ``wiring``'s job after failed ``attempt``."""
    backoff = wiring.backoff if wiring.backoff is not None else default_backoff
    delay = float(backoff(attempt))
    if math.isnan(delay) or delay < 0:
        return 0.0
    return delay


def is_final_error(error: PikkuError) -> bool:
    """Whether a job failing with ``error`` must not be retried.

    A 4xx error (bad input, missing session, forbidden, ``wire.queue.fail()``) would fail
    the same way again.
    """
    return 400 <= error.status_code < 500


def enqueuer_session() -> Any:
    """The session of the call that is running (None outside a call)."""
    wire = current_wire.get()
    return None if wire is None else wire.session


@dataclass(slots=True, frozen=True)
class PreparedJob:
    """A validated job, ready for a backend to store.

    Attributes:
        queue: The queue name.
        wiring: The queue's wiring.
        data: The validated input as JSON builtins.
        session: The enqueuer's session (None when enqueued outside a call).
    """

    queue: str
    wiring: QueueWiring
    data: Any
    session: Any


def prepare_job(app: Pikku, queue: str, data: Any, session: Any = CALLER) -> PreparedJob:
    """Look up ``queue`` and validate ``data`` against its function (enqueue time).

    ``session`` defaults to the session of the call that is enqueuing.

    Raises:
        NotFoundError: No function is wired to ``queue``.
        UnprocessableContentError: ``data`` does not match the function's input.
    """
    wiring = app.queue_wirings.get(queue)
    if wiring is None:
        raise NotFoundError(f"no function is wired to queue {queue!r}")
    value = wiring.func.convert(data, True)
    try:
        builtins = to_builtins(value)
    except (TypeError, NotImplementedError) as exc:
        raise UnprocessableContentError(
            f"job data cannot be stored: {exc}", {"path": "$"}
        ) from None
    if session is CALLER:
        session = enqueuer_session()
    return PreparedJob(queue, wiring, builtins, session)


def new_job_id() -> str:
    """A fresh random job id."""
    return os.urandom(16).hex()


# -- sealing jobs for storage outside the process -------------------------------------


class _JobBody(msgspec.Struct, array_like=True):
    queue: str
    data: Any
    session: str | None


class SealedJob(msgspec.Struct, frozen=True):
    """A job read back from storage, its signature checked.

    Attributes:
        queue: The queue name.
        data: The input as JSON builtins.
        session: The enqueuer's session, decoded with the app's session type.
    """

    queue: str
    data: Any
    session: Any


_SIG_LEN = 32
_body_encoder = msgspec.msgpack.Encoder()
_body_decoder = msgspec.msgpack.Decoder(_JobBody)


@functools.lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return secret.encode()


def _sign(app: Pikku, body: bytes) -> bytes:
    import hashlib  # imported on first use: `import pikku_core` stays small
    import hmac

    return hmac.digest(_key(app.require_secret("signing queued jobs")), body, hashlib.sha256)


def seal_job(app: Pikku, job: PreparedJob) -> bytes:
    """Serialize a prepared job and sign it (with its session) using the app secret."""
    token = app.session_codec().encode(job.session) if job.session is not None else None
    body = _body_encoder.encode(_JobBody(job.queue, job.data, token))
    return _sign(app, body) + body


def open_job(app: Pikku, raw: bytes) -> SealedJob:
    """Check a sealed job's signature and decode it.

    Raises:
        UnauthorizedError: The signature (of the job or of its session) does not verify;
            the job must be failed, not run.
    """
    sig, body = raw[:_SIG_LEN], raw[_SIG_LEN:]
    import hmac

    if len(sig) != _SIG_LEN or not hmac.compare_digest(sig, _sign(app, body)):
        raise UnauthorizedError("the job's signature does not verify")
    try:
        decoded = _body_decoder.decode(body)
    except msgspec.MsgspecError:
        raise UnauthorizedError("the job's signature does not verify") from None
    session = None
    if decoded.session is not None:
        session = app.session_codec().decode(decoded.session)
        if session is None:
            raise UnauthorizedError("the job's session does not verify")
    return SealedJob(decoded.queue, decoded.data, session)


# -- running one attempt ---------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class JobOutcome:
    """The result of one attempt, as `run_job` decided it.

    Attributes:
        status: ``succeeded``, ``retry`` (run again after ``delay`` seconds) or ``failed``.
        result: The output as JSON builtins (``succeeded``).
        error: The error shape (``retry`` and ``failed``).
        delay: Seconds to wait before the next attempt (``retry``).
    """

    status: Literal["succeeded", "retry", "failed"]
    result: Any = None
    error: dict[str, Any] | None = None
    delay: float = 0.0


def failed_outcome(wiring: QueueWiring | None, error: PikkuError, attempt: int) -> JobOutcome:
    """Apply the retry rules to an attempt that raised ``error``."""
    if wiring is None or is_final_error(error) or attempt >= wiring.max_attempts:
        return JobOutcome("failed", error=error.to_dict())
    return JobOutcome("retry", error=error.to_dict(), delay=retry_delay(wiring, attempt))


async def run_job(
    app: Pikku,
    wiring: QueueWiring,
    *,
    job_id: str,
    attempt: int,
    data: Any,
    session: Any,
) -> JobOutcome:
    """Run one attempt of a job through its wiring's pipeline and apply the retry rules.

    Never raises for a failing job (cancellation still propagates).
    """
    wire: Wire[Any] = Wire(
        app, session=session, queue=QueueWire(job_id=job_id, queue=wiring.queue, attempt=attempt)
    )
    try:
        if wiring.timeout is None:
            result = await wiring.pipeline.run(wire, data=data)
        else:
            with anyio.fail_after(wiring.timeout):
                result = await wiring.pipeline.run(wire, data=data)
        result = to_builtins(result)
    except TimeoutError:
        error: PikkuError = GatewayTimeoutError(f"the job timed out after {wiring.timeout} s")
        return failed_outcome(wiring, error, attempt)
    except PikkuError as exc:
        return failed_outcome(wiring, exc, attempt)
    except (TypeError, NotImplementedError):
        error = InternalServerError("the job's result cannot be stored")
        logger.exception("job %s on %s returned an unstorable result", job_id, wiring.queue)
        return failed_outcome(wiring, error, attempt)
    return JobOutcome("succeeded", result=result)


# -- the in-memory default --------------------------------------------------------------


class _Job:
    __slots__ = ("attempts", "data", "error", "job_id", "queue", "result", "session", "status")

    def __init__(self, job_id: str, prepared: PreparedJob) -> None:
        self.job_id = job_id
        self.queue = prepared.queue
        self.data: Any = prepared.data
        self.session: Any = prepared.session
        self.status: JobStatus = "queued"
        self.attempts = 0
        self.result: Any = None
        self.error: dict[str, Any] | None = None

    def info(self) -> JobInfo:
        return JobInfo(self.job_id, self.queue, self.status, self.result, self.error, self.attempts)


class InMemoryQueueService:
    """The embedded queue: jobs held in memory, run by in-process workers.

    It is the app's ``queue`` service unless another is set. Jobs live as long as the
    process (nothing survives a restart); finished jobs are remembered for `get_job` up
    to ``keep_finished`` of them, oldest forgotten first.

    Args:
        app: The app whose queue wirings the jobs run.
        concurrency: How many jobs run at once.
        keep_finished: How many finished jobs `get_job` still reports.
    """

    def __init__(self, app: Pikku, *, concurrency: int = 16, keep_finished: int = 10_000) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.app = app
        self.concurrency = concurrency
        self.keep_finished = keep_finished
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._finished: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._backlog: list[tuple[_Job, float]] = []
        self._tasks = BackgroundTasks("the in-memory queue")
        self._send: MemoryObjectSendStream[_Job] | None = None
        self._receive: MemoryObjectReceiveStream[_Job] | None = None

    @property
    def running(self) -> bool:
        """Whether the workers are running."""
        return self._send is not None

    async def start(self) -> None:
        """Start the workers; jobs added before now start running."""
        if self._send is not None:
            return
        send, receive = anyio.create_memory_object_stream[_Job](math.inf)
        await self._tasks.start()
        self._send, self._receive = send, receive
        for _ in range(self.concurrency):
            self._tasks.start_soon(self._worker, receive.clone())
        backlog, self._backlog = self._backlog, []
        for job, delay in backlog:
            self._schedule(job, delay)

    async def aclose(self) -> None:
        """Stop the workers; jobs still queued or running are abandoned."""
        send, receive = self._send, self._receive
        if send is None or receive is None:
            return
        self._send = self._receive = None
        try:
            await self._tasks.aclose()
        finally:
            send.close()
            receive.close()
        for job in self._jobs.values():
            if job.status in ("queued", "deferred", "running"):
                job.status = "failed"
                job.error = InternalServerError("the queue was closed before the job ran").to_dict()

    async def add(
        self,
        queue: str,
        data: Any = None,
        job_id: str | None = None,
        delay: float | None = None,
        *,
        session: Any = CALLER,
    ) -> str:
        """Validate ``data`` and enqueue a job; see `QueueService.add`."""
        prepared = prepare_job(self.app, queue, data, session)
        job_id = job_id or new_job_id()
        key = (queue, job_id)
        if key in self._jobs:
            return job_id
        job = _Job(job_id, prepared)
        self._jobs[key] = job
        if delay is not None and delay > 0:
            job.status = "deferred"
        if self._send is None:
            # Added before start: the delay counts from start.
            self._backlog.append((job, delay or 0.0))
        else:
            self._schedule(job, delay or 0.0)
        return job_id

    async def get_job(self, queue: str, job_id: str) -> JobInfo:
        """Return the job's state; see `QueueService.get_job`."""
        job = self._jobs.get((queue, job_id))
        if job is None:
            return JobInfo(job_id, queue, "not_found")
        return job.info()

    def _schedule(self, job: _Job, delay: float) -> None:
        send = self._send
        assert send is not None
        if delay > 0:
            job.status = "deferred"
            self._tasks.start_soon(self._release_later, send, job, delay)
        else:
            job.status = "queued"
            send.send_nowait(job)

    async def _release_later(
        self, send: MemoryObjectSendStream[_Job], job: _Job, delay: float
    ) -> None:
        await anyio.sleep(delay)
        job.status = "queued"
        send.send_nowait(job)

    async def _worker(self, receive: MemoryObjectReceiveStream[_Job]) -> None:
        async with receive:
            async for job in receive:
                await self._run(job)

    async def _run(self, job: _Job) -> None:
        wiring = self.app.queue_wirings.get(job.queue)
        job.attempts += 1
        if wiring is None:
            error = NotFoundError(f"no function is wired to queue {job.queue!r}")
            self._finish(job, JobOutcome("failed", error=error.to_dict()))
            return
        job.status = "running"
        outcome = await run_job(
            self.app,
            wiring,
            job_id=job.job_id,
            attempt=job.attempts,
            data=job.data,
            session=job.session,
        )
        if outcome.status == "retry":
            job.error = outcome.error
            self._schedule(job, outcome.delay)
            return
        self._finish(job, outcome)

    def _finish(self, job: _Job, outcome: JobOutcome) -> None:
        job.status = "succeeded" if outcome.status == "succeeded" else "failed"
        job.result = outcome.result
        job.error = outcome.error
        job.data = job.session = None
        key = (job.queue, job.job_id)
        self._finished[key] = None
        while len(self._finished) > self.keep_finished:
            old, _ = self._finished.popitem(last=False)
            self._jobs.pop(old, None)
