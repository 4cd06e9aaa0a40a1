"""Reliability on a real Redis: crashed workers, a Redis restart, 10,000 jobs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable

import anyio
import pytest
import redis.asyncio as aioredis
from arq.connections import RedisSettings
from arq_testing import SECRET, PrivateRedis, make_workers
from pikku_core import JobInfo, Pikku
from worker_app import build_app

pytestmark = pytest.mark.anyio


def _url(settings: RedisSettings) -> str:
    return f"redis://{settings.host}:{settings.port}/0"


async def wait_for(
    check: Callable[[], Awaitable[bool]], limit: float, what: str, step: float = 0.05
) -> None:
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await anyio.sleep(step)


async def all_finished(app: Pikku, queue: str, job_ids: list[str]) -> list[JobInfo]:
    infos: list[JobInfo] = []
    for job_id in job_ids:
        infos.append(await app.queue_service.get_job(queue, job_id))
    return infos


async def test_killed_worker_job_is_retried_by_another_and_completes_once(
    redis_settings: RedisSettings, queue_name: str
) -> None:
    url = _url(redis_settings)
    workers = make_workers(url, queue_name)
    # arq hands a crashed worker's job on once its in-progress lock (job timeout + 10 s)
    # expires: a 3 s job timeout keeps the test at ~13 s and leaves 3 s to kill the
    # worker before arq would time the first attempt out.
    args = ("--poll-delay", "0.05", "--job-timeout", "3")
    workers.spawn(*args)
    workers.spawn(*args)
    app = build_app(url, queue_name, SECRET)
    redis = aioredis.Redis.from_url(url)
    try:
        async with app:
            job_id = await app.queue_service.add("work", {"n": 7, "hang_first": True})
            started = f"{queue_name}:started"

            async def first_started() -> bool:
                return await redis.llen(started) >= 1

            await wait_for(first_started, 20, "a worker to start the job")
            first_pid = int((await redis.lindex(started, 0)).split(b":")[0])
            os.kill(first_pid, signal.SIGKILL)

            async def done() -> bool:
                info = await app.queue_service.get_job("work", job_id)
                return info.status in ("succeeded", "failed")

            await wait_for(done, 40, "the job to be retried by the other worker", step=0.1)
            info = await app.queue_service.get_job("work", job_id)
            assert info.status == "succeeded", info
            assert info.result == 7
            assert info.attempts == 2
            entries = [e.decode() for e in await redis.lrange(started, 0, -1)]
            assert len(entries) == 2
            second_pid, second_attempt = entries[1].split(":")
            assert int(second_pid) != first_pid
            assert second_attempt == "2"
            assert await redis.hget(f"{queue_name}:done", "7") == b"1"
    finally:
        workers.stop_all()
        await redis.aclose()


async def test_worker_reconnects_after_redis_restart(private_redis: PrivateRedis) -> None:
    queue_name = "pikku-test:restart"
    workers = make_workers(private_redis.url, queue_name)
    proc = workers.spawn("--poll-delay", "0.02")
    app = build_app(private_redis.url, queue_name, SECRET)
    try:
        async with app:
            queue = app.queue_service
            before = [await queue.add("echo", n) for n in range(50)]

            async def finished(ids: list[str]) -> bool:
                infos = await all_finished(app, "echo", ids)
                return all(i.status == "succeeded" for i in infos)

            await wait_for(lambda: finished(before), 20, "the first batch")
            private_redis.stop()
            await anyio.sleep(1.0)
            assert proc.poll() is None, "the worker exited while Redis was down"
            private_redis.start()
            after: list[str] = []
            for n in range(50, 100):
                after.append(await queue.add("echo", n))
            await wait_for(lambda: finished(after), 30, "the batch enqueued after the restart")
            infos = await all_finished(app, "echo", before + after)
            assert [i.result for i in infos] == list(range(100))
            assert proc.poll() is None
    finally:
        workers.stop_all()


async def test_ten_thousand_jobs_two_workers_none_lost_none_doubled(
    redis_settings: RedisSettings, queue_name: str
) -> None:
    total = 10_000
    url = _url(redis_settings)
    workers = make_workers(url, queue_name)
    args = ("--poll-delay", "0.01", "--max-jobs", "100")
    workers.spawn(*args)
    workers.spawn(*args)
    app = build_app(url, queue_name, SECRET)
    redis = aioredis.Redis.from_url(url)
    try:
        async with app:
            queue = app.queue_service
            job_ids: list[str] = [""] * total

            async def produce(start: int) -> None:
                for n in range(start, total, 20):
                    job_ids[n] = await queue.add("work", {"n": n})

            async with anyio.create_task_group() as tg:
                for start in range(20):
                    tg.start_soon(produce, start)

            done_key = f"{queue_name}:done"

            async def all_done() -> bool:
                return await redis.hlen(done_key) >= total

            await wait_for(all_done, 240, f"{total} jobs", step=0.2)
            await anyio.sleep(0.5)  # a doubled run would land now
            counts = await redis.hgetall(done_key)
            assert len(counts) == total
            doubled = {k: v for k, v in counts.items() if v != b"1"}
            assert not doubled, f"jobs run more than once: {list(doubled)[:10]}"
            pids = {k: int(v) for k, v in (await redis.hgetall(f"{queue_name}:pids")).items()}
            assert len(pids) == 2, pids
            assert sum(pids.values()) == total
            sample = [job_ids[i] for i in range(0, total, 997)]
            for info in await all_finished(app, "work", sample):
                assert info.status == "succeeded"
                assert info.attempts == 1
    finally:
        workers.stop_all()
        await redis.aclose()
