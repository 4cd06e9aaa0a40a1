"""Scheduled tasks as arq cron jobs, and the ``pikku-queue-arq`` command."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from arq.connections import ArqRedis, RedisSettings
from arq.cron import next_cron
from arq.worker import create_worker
from arq_testing import HERE, SECRET, drain
from pikku_core import CronSchedule, NotFoundError, Pikku, Wire, pikku_sessionless_func
from pikku_queue_arq import ArqQueueService, ArqScheduler, cron_options, main, worker_settings
from pikku_queue_arq._service import open_pool
from worker_app import build_app

pytestmark = pytest.mark.anyio

SCHEDULES = [
    "* * * * *",
    "*/15 * * * *",
    "0 3 * * *",
    "30 4 * * 1-5",
    "0 0 1,15 * *",
    "0 12 * * 0",
    "0 12 * * 7",
    "5 4 * 2 *",
    "@hourly",
    "@weekly",
    "@yearly",
    "0 0 13 * 5",  # day-of-month OR day-of-week
    "0 0 L * *",  # last day of the month
]


@pytest.mark.parametrize("expression", SCHEDULES)
def test_arq_fires_exactly_when_croniter_says(expression: str) -> None:
    schedule = CronSchedule(expression)
    options, check = cron_options(schedule)
    assert check == (expression in ("0 0 13 * 5", "0 0 L * *"))
    rng = random.Random(expression)
    for _ in range(8 if check else 25):
        start = datetime(2026, 1, 1) + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        fired = next_cron(start, second=0, microsecond=0, **options)  # pyright: ignore[reportArgumentType]
        while check and not schedule.matches(fired):
            fired = next_cron(fired, second=0, microsecond=0, **options)  # pyright: ignore[reportArgumentType]
        assert fired == schedule.next_after(start), (expression, start)


class Ticks:
    def __init__(self) -> None:
        self.runs: list[tuple[str, datetime | None]] = []


def cron_app(ticks: Ticks) -> Pikku:
    @pikku_sessionless_func
    async def tick(services: Any, data: None, wire: Wire[Any]) -> None:
        assert wire.scheduled is not None
        ticks.runs.append((wire.scheduled.name, wire.scheduled.scheduled_at))

    app = Pikku(secret=SECRET)
    app.wire_scheduler("every-minute", "* * * * *", tick)
    app.wire_scheduler("fri-or-13th", "0 0 13 * 5", tick)
    return app


@pytest.fixture
async def pool(redis_settings: RedisSettings, queue_name: str) -> AsyncIterator[ArqRedis]:
    redis = await open_pool(redis_settings, queue_name)
    yield redis
    await redis.aclose()


async def test_each_tick_runs_once_across_workers(
    pool: ArqRedis, redis_settings: RedisSettings, queue_name: str
) -> None:
    ticks = Ticks()
    app = cron_app(ticks)
    ArqQueueService(app, redis_settings, queue_name=queue_name)
    due = datetime.now().astimezone() + timedelta(milliseconds=200)
    workers = []
    for _ in range(2):  # two workers, each with its own cron state, both see the tick due
        settings = worker_settings(app, queue_name=queue_name, handle_signals=False)
        worker = create_worker(settings, redis_pool=pool)
        job = next(j for j in worker.cron_jobs if j.name == f"{queue_name}:cron:every-minute")
        job.next_run = due
        worker.cron_jobs = [job]
        workers.append(worker)
    for worker in workers:
        await worker.run_cron(datetime.now().astimezone(), 0.5)
    assert await pool.zcard(queue_name) == 1
    async with app:
        with anyio.fail_after(10):
            await drain(app, queue_name)
    assert ticks.runs == [("every-minute", due.replace(second=0, microsecond=0))]


async def test_day_of_month_or_weekday_is_checked_by_core(
    pool: ArqRedis, redis_settings: RedisSettings, queue_name: str
) -> None:
    ticks = Ticks()
    app = cron_app(ticks)
    ArqQueueService(app, redis_settings, queue_name=queue_name)
    settings = worker_settings(app, queue_name=queue_name, handle_signals=False)
    worker = create_worker(settings, redis_pool=pool)
    job = next(j for j in worker.cron_jobs if j.name == f"{queue_name}:cron:fri-or-13th")
    worker.cron_jobs = [job]
    tz = datetime.now().astimezone().tzinfo
    for day in (datetime(2026, 3, 4, tzinfo=tz), datetime(2026, 3, 6, tzinfo=tz)):  # Wed, Fri
        job.next_run = day
        await worker.run_cron(day, 0.5)
    assert await pool.zcard(queue_name) == 2
    async with app:
        with anyio.fail_after(10):
            await drain(app, queue_name)
    assert ticks.runs == [("fri-or-13th", datetime(2026, 3, 6, tzinfo=tz))]


async def test_arq_scheduler_trigger() -> None:
    ticks = Ticks()
    app = cron_app(ticks)
    scheduler = ArqScheduler(app, queue_name="q")
    assert [j.name for j in scheduler.cron_jobs] == ["q:cron:every-minute", "q:cron:fri-or-13th"]
    run = await scheduler.trigger("every-minute")
    assert run.status == "succeeded"
    assert scheduler.last_runs["every-minute"] is run
    assert ticks.runs[0][0] == "every-minute"
    with pytest.raises(NotFoundError):
        await scheduler.trigger("nope")


# ------------------------------------------------------------------ the command


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(HERE)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)
    return main(list(args))


@pytest.mark.parametrize(
    ("app_path", "message"),
    [
        ("no_such_module:app", "cannot import module 'no_such_module'"),
        ("worker_app:nothing", "has no attribute 'nothing'"),
        ("worker_app", "APP must be 'module:attribute'"),
        ("worker_app:Work", "not a pikku_core.Pikku app"),
    ],
)
def test_command_refuses_a_bad_app(
    app_path: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(monkeypatch, "worker", app_path) == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert "Traceback" not in stderr


def test_command_refuses_a_bad_redis_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_main(monkeypatch, "worker", "worker_app:app", "--redis-url", "ftp://nowhere")
    assert code == 2
    assert "invalid --redis-url" in capsys.readouterr().err


def test_command_refuses_an_app_with_nothing_to_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "empty_app.py").write_text("from pikku_core import Pikku\napp = Pikku()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert run_main(monkeypatch, "worker", "empty_app:app") == 2
    assert "no wired queues or scheduled tasks" in capsys.readouterr().err


async def test_console_script_runs_the_queue(
    redis_settings: RedisSettings, queue_name: str
) -> None:
    url = f"redis://{redis_settings.host}:{redis_settings.port}/0"
    app = build_app(url, queue_name, SECRET)
    async with app:
        ids = [await app.queue_service.add("echo", n) for n in range(3)]
        script = Path(sys.executable).parent / "pikku-queue-arq"
        assert script.exists()
        env = {
            **os.environ,
            "PIKKU_TEST_REDIS_URL": url,
            "PIKKU_TEST_QUEUE": queue_name,
            "PIKKU_SECRET": SECRET,
        }
        result = await anyio.run_process(
            [str(script), "worker", "worker_app:app", "--burst", "--poll-delay", "0.01"],
            cwd=HERE,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr.decode()
        infos = [await app.queue_service.get_job("echo", i) for i in ids]
    assert [(i.status, i.result) for i in infos] == [("succeeded", n) for n in range(3)]


async def test_a_producer_leaves_scheduled_tasks_to_the_workers(
    redis_settings: RedisSettings, queue_name: str
) -> None:
    app = cron_app(Ticks())
    ArqQueueService(app, redis_settings, queue_name=queue_name)
    async with app:
        assert isinstance(app.scheduler, ArqScheduler)  # no in-process timers
        assert app.services.scheduler is app.scheduler
    assert isinstance(app.scheduler, ArqScheduler)
