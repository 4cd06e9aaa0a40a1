"""ArqQueueService and the arq worker over the real Redis."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq_testing import SECRET, free_port, running_worker
from pikku_core import (
    ConflictError,
    JobInfo,
    NotFoundError,
    Pikku,
    QueueService,
    ServiceUnavailableError,
    UnprocessableContentError,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)
from pikku_core._queue import prepare_job, seal_job
from pikku_queue_arq import ArqQueueService, worker_settings
from pikku_queue_arq._serde import deserialize
from pikku_queue_arq._service import arq_job_id, function_name, open_pool

pytestmark = pytest.mark.anyio


class Order(msgspec.Struct):
    item: str
    qty: int = 1


class Receipt(msgspec.Struct):
    item: str
    total: int


class Calls:
    def __init__(self) -> None:
        self.items: list[tuple[str, int, Any]] = []
        self.fail_until = 0


@pytest.fixture
def calls() -> Calls:
    return Calls()


def build_app(calls: Calls, secret: str | None = SECRET) -> Pikku:
    @pikku_sessionless_func
    async def place(services: Any, data: Order, wire: Wire[Any]) -> Receipt:
        assert wire.queue is not None
        calls.items.append((data.item, wire.queue.attempt, wire.queue.job_id))
        if data.item == "conflict":
            raise ConflictError("already placed")
        if data.item == "give-up":
            wire.queue.fail("out of stock")
        if wire.queue.attempt <= calls.fail_until:
            raise RuntimeError("flaky: secret-detail")
        return Receipt(data.item, data.qty * 10)

    @pikku_sessionless_func
    async def slow(services: Any, data: float, wire: Wire[Any]) -> None:
        await anyio.sleep(data)

    @pikku_func
    async def needs_session(services: Any, data: None, wire: Wire[Any]) -> Any:
        return wire.session

    @pikku_func
    async def enqueue(services: Any, data: None, wire: Wire[Any]) -> str:
        job_id: str = await services.queue.add("needs-session")
        return job_id

    app = Pikku(secret=secret)
    app.wire_queue("orders", place, backoff=lambda attempt: 0.01)
    app.wire_queue("slow", slow, max_attempts=2, timeout=0.1, backoff=lambda attempt: 0.0)
    app.wire_queue("needs-session", needs_session, max_attempts=1)
    app.add_functions(enqueue)
    return app


@pytest.fixture
async def app(calls: Calls, redis_settings: RedisSettings, queue_name: str) -> AsyncIterator[Pikku]:
    app = build_app(calls)
    ArqQueueService(app, redis_settings, queue_name=queue_name)
    async with app:
        yield app


@pytest.fixture
def queue(app: Pikku) -> ArqQueueService:
    assert isinstance(app.queue_service, ArqQueueService)
    return app.queue_service


@pytest.fixture
async def redis(redis_settings: RedisSettings, queue_name: str) -> AsyncIterator[ArqRedis]:
    pool = await open_pool(redis_settings, queue_name)
    yield pool
    await pool.aclose()


async def wait_done(queue: QueueService, name: str, job_id: str, limit: float = 10) -> JobInfo:
    with anyio.fail_after(limit):
        while True:
            info = await queue.get_job(name, job_id)
            if info.status in ("succeeded", "failed"):
                return info
            await anyio.sleep(0.01)


# ------------------------------------------------------------------ producer


async def test_job_runs_and_reports_its_result(
    app: Pikku, queue: ArqQueueService, queue_name: str, calls: Calls
) -> None:
    assert isinstance(queue, QueueService)
    job_id = await queue.add("orders", {"item": "book", "qty": 2})
    assert await queue.get_job("orders", job_id) == JobInfo(job_id, "orders", "queued")
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", job_id)
    assert info == JobInfo(job_id, "orders", "succeeded", {"item": "book", "total": 20}, None, 1)
    assert calls.items == [("book", 1, job_id)]


async def test_bad_payload_is_rejected_before_redis(
    queue: ArqQueueService, redis: ArqRedis, queue_name: str
) -> None:
    with pytest.raises(UnprocessableContentError) as excinfo:
        await queue.add("orders", {"item": "book", "qty": "two"})
    assert excinfo.value.payload == {"path": "$.qty"}
    with pytest.raises(NotFoundError):
        await queue.add("nope", {})
    assert await redis.zcard(queue_name) == 0
    assert (await queue.get_job("orders", "missing")).status == "not_found"


async def test_same_job_id_twice_is_one_job(
    app: Pikku, queue: ArqQueueService, queue_name: str, calls: Calls
) -> None:
    assert await queue.add("orders", {"item": "a"}, job_id="o-1") == "o-1"
    assert await queue.add("orders", {"item": "b"}, job_id="o-1") == "o-1"
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", "o-1")
        assert await queue.add("orders", {"item": "c"}, job_id="o-1") == "o-1"
        await anyio.sleep(0.1)
    assert info.result == {"item": "a", "total": 10}
    assert [c[0] for c in calls.items] == ["a"]


async def test_delay_defers_the_job(app: Pikku, queue: ArqQueueService, queue_name: str) -> None:
    start = time.monotonic()
    job_id = await queue.add("orders", {"item": "later"}, delay=0.3)
    assert (await queue.get_job("orders", job_id)).status == "deferred"
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", job_id)
    assert info.status == "succeeded"
    assert time.monotonic() - start >= 0.3


# ------------------------------------------------------------------ retries


async def test_exception_retries_then_succeeds(
    app: Pikku, queue: ArqQueueService, queue_name: str, calls: Calls
) -> None:
    calls.fail_until = 2
    job_id = await queue.add("orders", {"item": "flaky"})
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", job_id)
    assert (info.status, info.attempts) == ("succeeded", 3)
    assert [c[1] for c in calls.items] == [1, 2, 3]


async def test_retries_exhausted_fails_with_the_error_shape(
    app: Pikku, queue: ArqQueueService, queue_name: str, calls: Calls
) -> None:
    calls.fail_until = 99
    job_id = await queue.add("orders", {"item": "broken"})
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", job_id)
    assert (info.status, info.attempts) == ("failed", 3)
    assert info.error is not None
    assert set(info.error) == {"name", "message", "payload", "error_id"}
    assert info.error["name"] == "InternalServerError"
    assert "secret-detail" not in str(info.error)


async def test_4xx_and_wire_fail_are_not_retried(
    app: Pikku, queue: ArqQueueService, queue_name: str
) -> None:
    conflict = await queue.add("orders", {"item": "conflict"})
    give_up = await queue.add("orders", {"item": "give-up"})
    async with running_worker(app, queue_name):
        first = await wait_done(queue, "orders", conflict)
        second = await wait_done(queue, "orders", give_up)
    assert (first.status, first.attempts) == ("failed", 1)
    assert first.error is not None and first.error["name"] == "ConflictError"
    assert (second.status, second.attempts) == ("failed", 1)
    assert second.error is not None and second.error["message"] == "out of stock"


async def test_timeout_is_retried_then_failed(
    app: Pikku, queue: ArqQueueService, queue_name: str
) -> None:
    job_id = await queue.add("slow", 3.0)
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "slow", job_id)
    assert (info.status, info.attempts) == ("failed", 2)
    assert info.error is not None and info.error["name"] == "GatewayTimeoutError"


async def test_crash_on_the_last_attempt_fails_the_job(
    app: Pikku, queue: ArqQueueService, redis: ArqRedis, queue_name: str, calls: Calls
) -> None:
    # A job whose earlier attempts died with their workers arrives past max_attempts.
    prepared = prepare_job(app, "orders", {"item": "x"}, None)
    key = arq_job_id(queue_name, "orders", "crashed")
    await redis.enqueue_job(
        function_name("orders"), seal_job(app, prepared), _job_id=key, _job_try=4
    )
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "orders", "crashed")
    assert (info.status, info.attempts) == ("failed", 4)
    assert info.error is not None
    assert info.error["name"] == "InternalServerError"
    assert "max 3 retries exceeded" in info.error["message"]
    assert calls.items == []


# ------------------------------------------------------------------ sessions, signatures


async def test_enqueuer_session_travels_signed(
    app: Pikku, queue: ArqQueueService, queue_name: str
) -> None:
    from_call = await app.invoke("enqueue", session={"user_id": "u1"})
    explicit = await queue.add("needs-session", session={"user_id": "u2"})
    anonymous = await queue.add("needs-session")
    async with running_worker(app, queue_name):
        assert (await wait_done(queue, "needs-session", from_call)).result == {"user_id": "u1"}
        assert (await wait_done(queue, "needs-session", explicit)).result == {"user_id": "u2"}
        info = await wait_done(queue, "needs-session", anonymous)
    assert info.error is not None and info.error["name"] == "UnauthorizedError"


async def test_job_with_a_bad_signature_is_failed_not_run(
    app: Pikku, queue: ArqQueueService, redis: ArqRedis, queue_name: str, calls: Calls
) -> None:
    good = seal_job(app, prepare_job(app, "orders", {"item": "x"}, None))
    forged = good[:-1] + bytes([good[-1] ^ 1])
    other = Pikku(secret="some-other-secret-0123456789abc")
    other.wire_queue("orders", app.queue_wirings["orders"].func)
    foreign = seal_job(other, prepare_job(other, "orders", {"item": "y"}, None))
    for job_id, raw in (("forged", forged), ("foreign", foreign), ("garbage", b"\x00" * 40)):
        key = arq_job_id(queue_name, "orders", job_id)
        await redis.enqueue_job(function_name("orders"), raw, _job_id=key)
    async with running_worker(app, queue_name):
        for job_id in ("forged", "foreign", "garbage"):
            info = await wait_done(queue, "orders", job_id)
            assert (info.status, info.attempts) == ("failed", 1)
            assert info.error is not None and info.error["name"] == "UnauthorizedError"
    assert calls.items == []


async def test_records_are_msgpack_never_pickle(
    app: Pikku, queue: ArqQueueService, redis: ArqRedis, queue_name: str
) -> None:
    job_id = await queue.add("orders", {"item": "x"})
    key = arq_job_id(queue_name, "orders", job_id)
    raw_job = await redis.get(job_key_prefix + key)
    assert raw_job is not None and not raw_job.startswith(b"\x80")  # pickle's PROTO opcode
    record = msgspec.msgpack.decode(raw_job)
    assert record["f"] == function_name("orders")
    async with running_worker(app, queue_name):
        await wait_done(queue, "orders", job_id)
    raw_result = await redis.get(result_key_prefix + key)
    assert raw_result is not None and not raw_result.startswith(b"\x80")
    assert deserialize(raw_result)["r"] == {"ok": True, "result": {"item": "x", "total": 10}}


async def test_arq_failures_are_stored_as_the_error_shape(
    app: Pikku, queue: ArqQueueService, redis: ArqRedis, queue_name: str
) -> None:
    await redis.enqueue_job("pikku:ghost", b"", _job_id=arq_job_id(queue_name, "ghost", "g1"))
    async with running_worker(app, queue_name):
        info = await wait_done(queue, "ghost", "g1")
    assert info.status == "failed"
    assert info.error is not None
    assert info.error["name"] == "InternalServerError"
    assert "'pikku:ghost' not found" in info.error["message"]


# ------------------------------------------------------------------ outages, settings


async def test_redis_down_is_a_503(calls: Calls) -> None:
    app = build_app(calls)
    service = ArqQueueService(
        app, RedisSettings(port=free_port(), conn_retries=0, conn_timeout=1), queue_name="q"
    )
    with pytest.raises(ServiceUnavailableError, match="unavailable"):
        await service.add("orders", {"item": "x"})
    with pytest.raises(ServiceUnavailableError):
        await service.get_job("orders", "x")
    with pytest.raises(ServiceUnavailableError):
        await app.start()
    assert not app.started


def test_worker_settings(calls: Calls, redis_settings: RedisSettings) -> None:
    app = build_app(calls)
    service = ArqQueueService(app, redis_settings, queue_name="pikku-test:settings")
    settings = worker_settings(app, queue_name="pikku-test:settings", max_jobs=3)
    assert settings["queue_name"] == "pikku-test:settings"
    assert settings["max_jobs"] == 3
    names = {f.name: f for f in settings["functions"]}
    assert set(names) == {"pikku:orders", "pikku:slow", "pikku:needs-session"}
    assert names["pikku:orders"].max_tries == 3
    assert names["pikku:slow"].timeout_s == pytest.approx(5.1)
    assert settings["redis_settings"].port == service.redis_settings.port
    assert settings["redis_settings"].retry is not None  # rides out Redis restarts
    assert settings["job_serializer"] is not None and settings["job_deserializer"] is not None
    assert settings["cron_jobs"] == []
    with pytest.raises(ValueError, match="no wired queues or scheduled tasks"):
        worker_settings(Pikku(secret=SECRET))


async def test_a_queue_needs_a_secret(
    calls: Calls, redis_settings: RedisSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIKKU_SECRET", raising=False)
    app = build_app(calls, secret=None)
    ArqQueueService(app, redis_settings, queue_name="pikku-test:no-secret")
    with pytest.raises(RuntimeError, match="PIKKU_SECRET"):
        await app.start()
    with pytest.raises(RuntimeError, match="PIKKU_SECRET"):
        worker_settings(app, queue_name="pikku-test:no-secret")
