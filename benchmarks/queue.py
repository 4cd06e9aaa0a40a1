"""Queue benchmark: pikku-queue-arq vs the same work as a raw arq function.

Run: ``uv run python benchmarks/queue.py`` (``--jobs 5000 --slices 10``).

Both sides use the same Redis (127.0.0.1:6379, a fresh queue name per run), the same
msgspec serializers and the same worker settings (``max_jobs``, ``poll_delay``, burst
mode, in-process worker). For each side, ``--jobs`` trivial jobs are enqueued (timed:
enqueue throughput), then a burst worker drains them (timed: jobs/s). The jobs are run
in ``--slices`` interleaved slices per side (which side goes first alternates) so that
background load on the machine hits both alike; each side's rate is its jobs over its
total time.

Then memory: a pikku worker in a subprocess runs 1,000 warm-up jobs and then 10,000
more; its RSS is read from /proc after each phase.
"""

import sys

# This file is named like the stdlib ``queue`` module; run as a script its folder comes
# first on sys.path and would shadow it for every library imported below.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    del sys.path[0]

import argparse
import asyncio
import time
import uuid
from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "benchmark-secret-0123456789abcdef"
WORKER_SETTINGS: dict[str, Any] = {
    "max_jobs": 20,
    "poll_delay": 0.005,
    "burst": True,
    "handle_signals": False,
    "log_results": False,
}


def build_pikku_app(queue_name: str) -> Any:
    from arq.connections import RedisSettings
    from pikku_core import Pikku, Wire, pikku_sessionless_func
    from pikku_queue_arq import ArqQueueService

    @pikku_sessionless_func
    async def double(services: Any, data: int, wire: Wire[None]) -> int:
        return data * 2

    app = Pikku(secret=SECRET)
    app.wire_queue("double", double)
    ArqQueueService(app, RedisSettings.from_dsn(REDIS_URL), queue_name=queue_name)
    return app


async def raw_double(ctx: dict[str, Any], n: int) -> int:
    return n * 2


async def cleanup(queue_name: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    keys = [queue_name, f"{queue_name}:health-check"]
    async for key in redis.scan_iter(match=f"arq:*:{queue_name}:*", count=1000):
        keys.append(key)
    for i in range(0, len(keys), 1000):
        await redis.delete(*keys[i : i + 1000])
    await redis.aclose()


async def run_raw(jobs: int) -> tuple[float, float, float]:
    from arq.connections import RedisSettings
    from arq.worker import create_worker
    from pikku_queue_arq import resilient_redis_settings
    from pikku_queue_arq._serde import deserialize, serialize
    from pikku_queue_arq._service import open_pool

    queue_name = f"bench-raw:{uuid.uuid4().hex[:8]}"
    pool = await open_pool(RedisSettings.from_dsn(REDIS_URL), queue_name)
    try:
        start = time.perf_counter()
        for n in range(jobs):
            await pool.enqueue_job(
                "raw_double", n, _job_id=f"{queue_name}:raw:{n}", _queue_name=queue_name
            )
        enqueue = time.perf_counter() - start
        worker = create_worker(
            {
                "functions": [raw_double],
                "queue_name": queue_name,
                # The same Redis retry policy pikku's worker_settings applies.
                "redis_settings": resilient_redis_settings(RedisSettings.from_dsn(REDIS_URL)),
                "job_serializer": serialize,
                "job_deserializer": deserialize,
                **WORKER_SETTINGS,
            }
        )
        start, cpu = time.perf_counter(), time.process_time()
        await worker.async_run()
        drain, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert worker.jobs_complete == jobs, worker
        await worker.close()
    finally:
        await pool.aclose()
        await cleanup(queue_name)
    return jobs / enqueue, jobs / drain, cpu / jobs


async def run_pikku(jobs: int) -> tuple[float, float, float]:
    from arq.worker import create_worker
    from pikku_queue_arq import worker_settings

    queue_name = f"bench-pikku:{uuid.uuid4().hex[:8]}"
    app = build_pikku_app(queue_name)
    try:
        async with app:
            queue = app.queue_service
            start = time.perf_counter()
            for n in range(jobs):
                await queue.add("double", n)
            enqueue = time.perf_counter() - start
            worker = create_worker(worker_settings(app, queue_name=queue_name, **WORKER_SETTINGS))
            start, cpu = time.perf_counter(), time.process_time()
            await worker.async_run()
            drain, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert worker.jobs_complete == jobs, worker
            await worker.close()
            last = await queue.get_job("double", "x")
            assert last.status == "not_found"
    finally:
        await cleanup(queue_name)
    return jobs / enqueue, jobs / drain, cpu / jobs


# --------------------------------------------------------------------------- memory


def memory_worker(queue_name: str) -> None:
    """Subprocess entry: a long-running pikku worker on ``queue_name``."""
    from arq.worker import run_worker
    from pikku_queue_arq import worker_settings

    app = build_pikku_app(queue_name)
    settings = {**WORKER_SETTINGS, "burst": False, "handle_signals": True}
    run_worker(worker_settings(app, queue_name=queue_name, **settings))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def run_memory(warmup: int, jobs: int) -> tuple[int, int]:
    from pikku_queue_arq._service import arq_job_id
    from redis.asyncio import Redis

    queue_name = f"bench-mem:{uuid.uuid4().hex[:8]}"
    app = build_pikku_app(queue_name)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--memory-worker",
        queue_name,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    redis = Redis.from_url(REDIS_URL)
    try:
        async with app:
            queue = app.queue_service

            async def batch(first: int, count: int) -> None:
                ids = [f"m{n}" for n in range(first, first + count)]
                for n, job_id in enumerate(ids, first):
                    await queue.add("double", n, job_id=job_id)
                keys = ["arq:result:" + arq_job_id(queue_name, "double", i) for i in ids]
                deadline = time.monotonic() + 300
                while await redis.exists(*keys) < count:
                    if time.monotonic() > deadline or proc.returncode is not None:
                        raise RuntimeError("the memory worker stalled")
                    await asyncio.sleep(0.05)

            await batch(0, warmup)
            await asyncio.sleep(0.5)
            before = rss_kib(proc.pid)
            await batch(warmup, jobs)
            await asyncio.sleep(0.5)
            after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
        await redis.aclose()
        await cleanup(queue_name)
    return before, after


async def main(args: argparse.Namespace) -> None:
    sides = {"raw arq": run_raw, "pikku": run_pikku}
    rates: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    per_slice = args.jobs // args.slices
    order = list(sides)
    for _ in range(args.slices):
        for name in order:
            rates[name].append(await sides[name](per_slice))
        order.reverse()

    def total(name: str, index: int) -> float:
        # jobs / total time over all slices
        return per_slice * args.slices / sum(per_slice / r[index] for r in rates[name])

    raw_enq, raw_drain = total("raw arq", 0), total("raw arq", 1)
    pk_enq, pk_drain = total("pikku", 0), total("pikku", 1)
    ratios = sorted(p[1] / r[1] for p, r in zip(rates["pikku"], rates["raw arq"], strict=True))
    raw_cpu = sum(r[2] for r in rates["raw arq"]) / args.slices * 1e6
    pk_cpu = sum(r[2] for r in rates["pikku"]) / args.slices * 1e6
    print(
        f"{per_slice * args.slices} trivial jobs per side in {args.slices} interleaved slices, "
        f"max_jobs={WORKER_SETTINGS['max_jobs']}, poll_delay={WORKER_SETTINGS['poll_delay']}"
    )
    print(
        f"worker   raw arq {raw_drain:8.0f} jobs/s   pikku {pk_drain:8.0f} jobs/s   "
        f"ratio {pk_drain / raw_drain:.2f} (median slice ratio {ratios[len(ratios) // 2]:.2f})"
    )
    print(
        f"worker CPU per job: raw arq {raw_cpu:6.0f} us   pikku {pk_cpu:6.0f} us   "
        f"ratio (raw/pikku, as throughput) {raw_cpu / pk_cpu:.2f}"
    )
    print(
        f"enqueue  raw arq {raw_enq:8.0f} jobs/s   pikku {pk_enq:8.0f} jobs/s   "
        f"ratio {pk_enq / raw_enq:.2f}"
    )
    if args.memory_jobs:
        before, after = await run_memory(1_000, args.memory_jobs)
        growth = (after - before) / 1024
        print(
            f"memory   worker RSS {before / 1024:.1f} MiB after 1,000 warm-up jobs, "
            f"{after / 1024:.1f} MiB after {args.memory_jobs:,} more: growth {growth:+.2f} MiB "
            f"(target < 5 MiB)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--memory-jobs", type=int, default=10_000)
    parser.add_argument("--memory-worker", metavar="QUEUE", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.memory_worker:
        memory_worker(parsed.memory_worker)
    else:
        asyncio.run(main(parsed))
