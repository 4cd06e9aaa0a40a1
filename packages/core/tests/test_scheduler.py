"""Cron schedules and the in-process scheduler."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import msgspec
import pytest
from anyio import wait_all_tasks_blocked
from pikku_core import (
    CronSchedule,
    InProcessScheduler,
    NotFoundError,
    Pikku,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)

pytestmark = pytest.mark.anyio


# ------------------------------------------------------------------ CronSchedule


def test_five_fields_and_aliases() -> None:
    assert CronSchedule("0 3 * * *").expression == "0 3 * * *"
    assert CronSchedule("@hourly").expression == "0 * * * *"
    assert CronSchedule("@Daily").expression == "0 0 * * *"
    assert CronSchedule("  */5   *  * * 1-5 ").expression == "*/5 * * * 1-5"


@pytest.mark.parametrize(
    "bad", ["0 3 * *", "0 0 0 * * *", "61 * * * *", "@sometimes", "", "x y z a b"]
)
def test_invalid_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="5 cron fields"):
        CronSchedule(bad)


def test_next_after() -> None:
    at = datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC)
    assert CronSchedule("*/15 * * * *").next_after(at) == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)
    assert CronSchedule("@daily").next_after(at) == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
    # crontab: day-of-month and day-of-week both restricted means either (13th or Friday)
    fri_or_13 = CronSchedule("0 0 13 * 5")
    assert fri_or_13.next_after(at) == datetime(2026, 3, 6, 0, 0, tzinfo=UTC)  # a Friday
    assert fri_or_13.next_after(datetime(2026, 3, 12, 1, tzinfo=UTC)) == datetime(
        2026, 3, 13, 0, 0, tzinfo=UTC
    )


def test_matches() -> None:
    schedule = CronSchedule("30 4 * * 1")  # Mondays 04:30
    assert schedule.matches(datetime(2026, 3, 2, 4, 30, 59, tzinfo=UTC))
    assert not schedule.matches(datetime(2026, 3, 3, 4, 30, tzinfo=UTC))


def test_missing_croniter_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "croniter", None)
    with pytest.raises(ImportError, match=r"pip install 'pikku-core\[cron\]'"):
        CronSchedule("@hourly")


async def test_app_with_a_scheduled_task_needs_croniter_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @pikku_sessionless_func
    async def tick(services: Any, data: None, wire: Wire[Any]) -> None:
        return None

    monkeypatch.setitem(sys.modules, "croniter", None)
    app = Pikku()
    app.wire_scheduler("tick", "@hourly", tick)  # inspecting an app needs no croniter
    with pytest.raises(ImportError, match=r"pip install 'pikku-core\[cron\]'"):
        await app.start()
    assert not app.started


# ------------------------------------------------------------------ InProcessScheduler


class Settings(msgspec.Struct):
    level: int


class Log:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.ran = anyio.Event()


def build_app(log: Log) -> Pikku:
    @pikku_sessionless_func
    async def report(services: Any, data: None, wire: Wire[Any]) -> str:
        assert wire.scheduled is not None
        log.runs.append(
            {
                "name": wire.scheduled.name,
                "schedule": wire.scheduled.schedule,
                "at": wire.scheduled.scheduled_at,
                "session": wire.session,
                "data": data,
            }
        )
        log.ran.set()
        return "reported"

    @pikku_sessionless_func
    async def maybe(services: Any, data: None, wire: Wire[Any]) -> None:
        assert wire.scheduled is not None
        wire.scheduled.skip("nothing to do")

    @pikku_sessionless_func
    async def broken(services: Any, data: None, wire: Wire[Any]) -> None:
        raise RuntimeError("disk on fire")

    @pikku_func
    async def as_admin(services: Any, data: Settings, wire: Wire[Any]) -> dict[str, Any]:
        return {"session": wire.session, "level": data.level}

    app = Pikku()
    app.wire_scheduler("report", "* * * * *", report)
    app.wire_scheduler("maybe", "@hourly", maybe)
    app.wire_scheduler("broken", "@daily", broken)
    app.wire_scheduler(
        "as-admin", "@weekly", as_admin, data={"level": 3}, session={"user_id": "cron"}
    )
    return app


def near_minute_clock(before: float) -> Any:
    """A clock running `before` seconds short of the next minute boundary."""
    now = datetime.now(UTC)
    boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    offset = boundary - now - timedelta(seconds=before)
    return lambda: datetime.now(UTC) + offset


async def test_scheduler_runs_a_task_on_its_tick() -> None:
    log = Log()
    app = build_app(log)
    scheduler = InProcessScheduler(app, timezone=UTC, clock=near_minute_clock(0.2))
    app.scheduler = scheduler
    async with app:
        assert scheduler.running
        with anyio.fail_after(5):
            await log.ran.wait()
            await wait_all_tasks_blocked()  # the run records its outcome
        tick = scheduler.now()
    assert not scheduler.running
    run = log.runs[0]
    assert (run["name"], run["schedule"], run["session"], run["data"]) == (
        "report",
        "* * * * *",
        None,
        None,
    )
    assert run["at"].second == 0 and run["at"].microsecond == 0
    assert abs((tick - run["at"]).total_seconds()) < 2
    assert scheduler.last_runs["report"].status == "succeeded"
    assert scheduler.last_runs["report"].result == "reported"
    assert len(log.runs) == 1


async def test_app_builds_the_in_process_scheduler_when_tasks_are_wired() -> None:
    app = build_app(Log())
    async with app:
        assert isinstance(app.scheduler, InProcessScheduler)
        assert app.scheduler.running
        assert app.services.scheduler is app.scheduler
        assert app.scheduler.next_run("maybe").minute == 0
    assert app.scheduler is None
    empty = Pikku()
    async with empty:
        assert empty.scheduler is None


async def test_trigger_skip_and_failure() -> None:
    app = build_app(Log())
    scheduler = InProcessScheduler(app)
    app.scheduler = scheduler
    async with app:
        skipped = await scheduler.trigger("maybe")
        assert skipped.status == "skipped"
        assert skipped.error is not None and skipped.error["message"] == "nothing to do"
        failed = await scheduler.trigger("broken")
        assert failed.status == "failed"
        assert failed.error is not None
        assert failed.error["name"] == "InternalServerError"
        assert "disk on fire" not in failed.error["message"]
        configured = await scheduler.trigger("as-admin")
        assert configured.status == "succeeded"
        assert configured.result == {"session": {"user_id": "cron"}, "level": 3}
        assert scheduler.last_runs["broken"] is failed
        with pytest.raises(NotFoundError):
            await scheduler.trigger("nope")
        with pytest.raises(NotFoundError):
            scheduler.next_run("nope")


def test_invalid_schedule_is_refused_when_wired() -> None:
    @pikku_sessionless_func
    async def tick(services: Any, data: None, wire: Wire[Any]) -> None:
        return None

    app = Pikku()
    with pytest.raises(ValueError, match="'every minute'"):
        app.wire_scheduler("tick", "every minute", tick)
    assert app.scheduler_wirings == []
