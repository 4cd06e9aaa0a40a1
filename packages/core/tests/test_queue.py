"""The queue contract, the shared job rules and the in-memory queue."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import pytest
from pikku_core import (
    ConflictError,
    InMemoryQueueService,
    JobInfo,
    NotFoundError,
    Pikku,
    PikkuError,
    QueueService,
    ServiceUnavailableError,
    UnauthorizedError,
    UnprocessableContentError,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)
from pikku_core._queue import (
    default_backoff,
    is_final_error,
    open_job,
    prepare_job,
    seal_job,
)

pytestmark = pytest.mark.anyio

SECRET = "core-queue-tests-secret-0123456789"


class Order(msgspec.Struct):
    item: str
    qty: int = 1


class Receipt(msgspec.Struct):
    item: str
    total: int


async def wait_done(queue: QueueService, name: str, job_id: str, limit: float = 5) -> JobInfo:
    with anyio.fail_after(limit):
        while True:
            info = await queue.get_job(name, job_id)
            if info.status in ("succeeded", "failed"):
                return info
            await anyio.sleep(0.002)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_until = 0
        self.running = 0
        self.max_running = 0


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def app(rec: Recorder) -> Pikku:
    @pikku_sessionless_func
    async def place(services: Any, data: Order, wire: Wire[Any]) -> Receipt:
        assert wire.queue is not None
        rec.calls.append(
            {
                "job_id": wire.queue.job_id,
                "queue": wire.queue.queue,
                "attempt": wire.queue.attempt,
                "session": wire.session,
                "services_queue": services.queue,
            }
        )
        if data.item == "conflict":
            raise ConflictError("already placed")
        if data.item == "give-up":
            wire.queue.fail("out of stock", {"item": data.item})
        if wire.queue.attempt <= rec.fail_until:
            raise RuntimeError("flaky dependency: secret-detail")
        return Receipt(data.item, data.qty * 10)

    @pikku_sessionless_func
    async def slow(services: Any, data: float, wire: Wire[Any]) -> None:
        rec.running += 1
        rec.max_running = max(rec.max_running, rec.running)
        try:
            await anyio.sleep(data)
        finally:
            rec.running -= 1

    @pikku_func
    async def needs_session(services: Any, data: None, wire: Wire[Any]) -> Any:
        return wire.session

    @pikku_func
    async def enqueue(services: Any, data: Order, wire: Wire[Any]) -> str:
        job_id: str = await services.queue.add("needs-session", None)
        return job_id

    @pikku_sessionless_func
    async def unstorable(services: Any, data: None, wire: Wire[Any]) -> Any:
        return object()

    app = Pikku(secret=SECRET)
    app.wire_queue("orders", place, max_attempts=3, backoff=lambda attempt: 0.01 * attempt)
    app.wire_queue("slow", slow, max_attempts=2, timeout=0.05, backoff=lambda attempt: 0.0)
    app.wire_queue("needs-session", needs_session, max_attempts=1)
    app.wire_queue("unstorable", unstorable, max_attempts=1)
    app.add_functions(enqueue)
    return app


@pytest.fixture
async def queue(app: Pikku) -> AsyncIterator[InMemoryQueueService]:
    async with app:
        assert isinstance(app.queue_service, InMemoryQueueService)
        yield app.queue_service


# ------------------------------------------------------------------ the shared rules


def test_job_info_shape() -> None:
    info = JobInfo("j1", "q", "succeeded", {"a": 1}, None, 2)
    assert (info.job_id, info.queue, info.status, info.result, info.error, info.attempts) == (
        "j1",
        "q",
        "succeeded",
        {"a": 1},
        None,
        2,
    )
    assert JobInfo("j", "q", "not_found").attempts == 0
    with pytest.raises(AttributeError):
        info.status = "failed"  # type: ignore[misc]


def test_default_backoff_doubles_and_caps_at_60s() -> None:
    assert [default_backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert default_backoff(8) == 60.0
    assert default_backoff(1000) == 60.0


def test_only_4xx_errors_are_final() -> None:
    assert is_final_error(ConflictError())
    assert is_final_error(UnprocessableContentError())
    assert is_final_error(NotFoundError())
    assert not is_final_error(PikkuError("x"))
    assert not is_final_error(ServiceUnavailableError())


def test_in_memory_queue_is_a_queue_service(app: Pikku) -> None:
    assert isinstance(InMemoryQueueService(app), QueueService)


# ------------------------------------------------------------------ enqueue


async def test_job_runs_and_reports_its_result(
    app: Pikku, queue: InMemoryQueueService, rec: Recorder
) -> None:
    job_id = await queue.add("orders", {"item": "book", "qty": 2})
    info = await wait_done(queue, "orders", job_id)
    assert info == JobInfo(job_id, "orders", "succeeded", {"item": "book", "total": 20}, None, 1)
    call = rec.calls[0]
    assert (call["job_id"], call["queue"], call["attempt"]) == (job_id, "orders", 1)
    assert call["services_queue"] is queue


async def test_bad_payload_is_rejected_at_enqueue(
    queue: InMemoryQueueService, rec: Recorder
) -> None:
    with pytest.raises(UnprocessableContentError) as excinfo:
        await queue.add("orders", {"item": "book", "qty": "two"})
    assert excinfo.value.payload == {"path": "$.qty"}
    with pytest.raises(UnprocessableContentError):
        await queue.add("orders", {})
    await anyio.sleep(0.02)
    assert rec.calls == []


async def test_unwired_queue_is_not_found(queue: InMemoryQueueService) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        await queue.add("nope", {})
    assert (await queue.get_job("nope", "x")).status == "not_found"
    assert (await queue.get_job("orders", "missing")).status == "not_found"


async def test_same_job_id_twice_is_one_job(queue: InMemoryQueueService, rec: Recorder) -> None:
    first = await queue.add("orders", {"item": "a"}, job_id="order-1")
    second = await queue.add("orders", {"item": "b"}, job_id="order-1")
    assert first == second == "order-1"
    info = await wait_done(queue, "orders", "order-1")
    assert info.result == {"item": "a", "total": 10}
    await anyio.sleep(0.02)
    assert len(rec.calls) == 1


async def test_delay_defers_the_job(queue: InMemoryQueueService, rec: Recorder) -> None:
    start = time.monotonic()
    job_id = await queue.add("orders", {"item": "later"}, delay=0.15)
    assert (await queue.get_job("orders", job_id)).status == "deferred"
    info = await wait_done(queue, "orders", job_id)
    assert info.status == "succeeded"
    assert time.monotonic() - start >= 0.14


async def test_jobs_added_before_start_run_after_start(app: Pikku, rec: Recorder) -> None:
    service = InMemoryQueueService(app)
    job_id = await service.add("orders", {"item": "early"})
    assert (await service.get_job("orders", job_id)).status == "queued"
    app.queue_service = service
    async with app:
        assert app.queue_service is service
        info = await wait_done(service, "orders", job_id)
    assert info.status == "succeeded"


# ------------------------------------------------------------------ retries


async def test_exception_retries_with_backoff_then_succeeds(
    queue: InMemoryQueueService, rec: Recorder
) -> None:
    rec.fail_until = 2
    job_id = await queue.add("orders", {"item": "flaky"})
    info = await wait_done(queue, "orders", job_id)
    assert info.status == "succeeded"
    assert info.attempts == 3
    assert [c["attempt"] for c in rec.calls] == [1, 2, 3]


async def test_retries_exhausted_fails_with_the_error_shape(
    queue: InMemoryQueueService, rec: Recorder
) -> None:
    rec.fail_until = 99
    job_id = await queue.add("orders", {"item": "broken"})
    info = await wait_done(queue, "orders", job_id)
    assert info.status == "failed"
    assert info.attempts == 3
    assert info.error is not None
    assert info.error["name"] == "InternalServerError"
    assert "secret-detail" not in str(info.error)
    assert set(info.error) == {"name", "message", "payload", "error_id"}


async def test_4xx_error_fails_at_once(queue: InMemoryQueueService, rec: Recorder) -> None:
    job_id = await queue.add("orders", {"item": "conflict"})
    info = await wait_done(queue, "orders", job_id)
    assert (info.status, info.attempts) == ("failed", 1)
    assert info.error is not None and info.error["name"] == "ConflictError"


async def test_wire_queue_fail_stops_retries(queue: InMemoryQueueService, rec: Recorder) -> None:
    job_id = await queue.add("orders", {"item": "give-up"})
    info = await wait_done(queue, "orders", job_id)
    assert (info.status, info.attempts) == ("failed", 1)
    assert info.error is not None
    assert info.error["message"] == "out of stock"
    assert info.error["payload"] == {"item": "give-up"}


async def test_timeout_is_a_retryable_504(queue: InMemoryQueueService) -> None:
    job_id = await queue.add("slow", 5.0)
    info = await wait_done(queue, "slow", job_id)
    assert (info.status, info.attempts) == ("failed", 2)
    assert info.error is not None and info.error["name"] == "GatewayTimeoutError"


async def test_unstorable_result_fails_the_job(queue: InMemoryQueueService) -> None:
    info = await wait_done(queue, "unstorable", await queue.add("unstorable"))
    assert info.status == "failed"
    assert info.error is not None and info.error["name"] == "InternalServerError"


# ------------------------------------------------------------------ sessions


async def test_enqueuer_session_travels_with_the_job(
    app: Pikku, queue: InMemoryQueueService
) -> None:
    session = {"user_id": "u1"}
    job_id = await app.invoke("enqueue", {"item": "x"}, session=session)
    info = await wait_done(queue, "needs-session", job_id)
    assert info.result == session


async def test_job_without_session_cannot_run_a_session_function(
    queue: InMemoryQueueService,
) -> None:
    info = await wait_done(queue, "needs-session", await queue.add("needs-session"))
    assert info.status == "failed"
    assert info.error is not None and info.error["name"] == "UnauthorizedError"
    explicit = await queue.add("needs-session", session={"user_id": "given"})
    assert (await wait_done(queue, "needs-session", explicit)).result == {"user_id": "given"}


# ------------------------------------------------------------------ workers


async def test_concurrency_is_bounded(app: Pikku, rec: Recorder) -> None:
    service = InMemoryQueueService(app, concurrency=2)
    app.queue_service = service
    async with app:
        ids = [await service.add("slow", 0.02) for _ in range(6)]
        for job_id in ids:
            assert (await wait_done(service, "slow", job_id)).status == "succeeded"
    assert rec.max_running == 2


async def test_close_fails_jobs_that_did_not_run(app: Pikku) -> None:
    service = InMemoryQueueService(app)
    app.queue_service = service
    async with app:
        job_id = await service.add("orders", {"item": "x"}, delay=30)
    info = await service.get_job("orders", job_id)
    assert info.status == "failed"
    assert info.error is not None and "closed" in info.error["message"]


async def test_finished_jobs_are_forgotten_beyond_keep_finished(app: Pikku) -> None:
    service = InMemoryQueueService(app, keep_finished=2)
    app.queue_service = service
    async with app:
        ids = []
        for n in range(4):
            ids.append(await service.add("orders", {"item": f"i{n}"}))
            await wait_done(service, "orders", ids[-1])
        statuses = [(await service.get_job("orders", i)).status for i in ids]
    assert statuses == ["not_found", "not_found", "succeeded", "succeeded"]


def test_concurrency_must_be_positive(app: Pikku) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        InMemoryQueueService(app, concurrency=0)


# ------------------------------------------------------------------ sealed jobs


async def test_sealed_job_round_trips_with_its_session(app: Pikku) -> None:
    prepared = prepare_job(app, "orders", {"item": "x"}, {"user_id": "u9"})
    raw = seal_job(app, prepared)
    opened = open_job(app, raw)
    assert (opened.queue, opened.data, opened.session) == (
        "orders",
        {"item": "x", "qty": 1},
        {"user_id": "u9"},
    )
    assert (
        open_job(app, seal_job(app, prepare_job(app, "orders", {"item": "y"}, None))).session
        is None
    )


async def test_tampered_job_does_not_verify(app: Pikku) -> None:
    raw = seal_job(app, prepare_job(app, "orders", {"item": "x", "qty": 1}, {"user_id": "u"}))
    tampered = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(UnauthorizedError, match="signature"):
        open_job(app, tampered)
    with pytest.raises(UnauthorizedError):
        open_job(app, b"short")
    other = Pikku(secret="another-secret-0123456789abcdef")
    other.wire_queue("orders", app.queue_wirings["orders"].func)
    with pytest.raises(UnauthorizedError):
        open_job(other, raw)


async def test_job_with_forged_session_does_not_verify(app: Pikku) -> None:
    from pikku_core import HMACSessionCodec
    from pikku_core._queue import _body_encoder, _JobBody, _sign

    forged = HMACSessionCodec("a-different-secret-0123456789").encode({"user_id": "admin"})
    body = _body_encoder.encode(_JobBody("orders", {"item": "x"}, forged))
    with pytest.raises(UnauthorizedError, match="session"):
        open_job(app, _sign(app, body) + body)


async def test_sealing_needs_a_secret(monkeypatch: pytest.MonkeyPatch, app: Pikku) -> None:
    monkeypatch.delenv("PIKKU_SECRET", raising=False)
    bare = Pikku()
    bare.wire_queue("orders", app.queue_wirings["orders"].func)
    with pytest.raises(RuntimeError, match="PIKKU_SECRET"):
        seal_job(bare, prepare_job(bare, "orders", {"item": "x"}, None))


async def test_lazy_start_in_a_child_task_then_close_from_another(app: Pikku) -> None:
    # The first call starts the app (and the queue's workers) inside a short-lived task
    # and a cancel scope; the workers outlive both, and closing works from elsewhere.
    found: dict[str, str] = {}

    async def handler() -> None:
        with anyio.fail_after(5):
            found["job"] = await app.invoke("enqueue", {"item": "x"}, session={"user_id": "u"})

    async with anyio.create_task_group() as tg:
        tg.start_soon(handler)
    assert app.started
    info = await wait_done(app.queue_service, "needs-session", found["job"])
    assert info.result == {"user_id": "u"}
    service = app.queue_service
    await app.close()
    assert not service.running
