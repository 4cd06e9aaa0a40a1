"""Scheduled tasks as arq cron jobs: each tick runs once however many workers run."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from arq.cron import CronJob, cron
from pikku_core import CronSchedule, NotFoundError, ScheduledRun
from pikku_core._scheduler import run_scheduled

if TYPE_CHECKING:
    from pikku_core import Pikku, SchedulerWiring

__all__ = ["ArqScheduler", "cron_job_name", "cron_options"]


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

    def __init__(self, app: Pikku, *, queue_name: str) -> None:
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
