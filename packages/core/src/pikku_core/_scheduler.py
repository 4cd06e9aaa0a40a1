"""Scheduled tasks: cron schedules (evaluated by croniter) and the in-process scheduler.

`CronSchedule` parses a 5-field cron string or an ``@hourly``-style alias; the scheduler
backends (this in-process one, arq cron jobs in ``pikku_queue_arq``) share it and
`run_scheduled`, which runs one tick through the wiring's pipeline.
croniter is the ``cron`` extra: ``pip install 'pikku-core[cron]'``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ._background import BackgroundTasks
from ._values import to_builtins
from ._wire import ScheduledWire, SkipRun, Wire
from .errors import NotFoundError, PikkuError

if TYPE_CHECKING:
    from ._app import Pikku
    from ._wirings import SchedulerWiring

__all__ = [
    "CRON_ALIASES",
    "CronSchedule",
    "InProcessScheduler",
    "ScheduledRun",
    "check_schedule",
    "run_scheduled",
]

logger = logging.getLogger("pikku.scheduler")

CRON_ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The ``@name`` shorthands a schedule may use, and the 5-field string each stands for."""

_INSTALL_HINT = "scheduled tasks need croniter: pip install 'pikku-core[cron]'"


def _croniter() -> Any:
    try:
        module = importlib.import_module("croniter")
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return module.croniter


class CronSchedule:
    """A validated cron schedule.

    Args:
        schedule: Five fields (minute hour day-of-month month day-of-week, as in crontab;
            day-of-month and day-of-week match when either does) or one of `CRON_ALIASES`.

    Raises:
        ImportError: croniter is not installed (the ``cron`` extra).
        ValueError: The schedule is not a valid 5-field cron string or alias.
    """

    __slots__ = ("_croniter", "expression", "schedule")

    def __init__(self, schedule: str) -> None:
        self._croniter = _croniter()
        text = " ".join(schedule.split())
        expression = CRON_ALIASES.get(text.lower(), text)
        if len(expression.split(" ")) != 5 or not self._croniter.is_valid(expression):
            aliases = ", ".join(CRON_ALIASES)
            raise ValueError(
                f"invalid schedule {schedule!r}: expected 5 cron fields "
                f"(minute hour day-of-month month day-of-week) or one of {aliases}"
            )
        self.schedule = schedule
        self.expression: str = expression

    def next_after(self, moment: datetime) -> datetime:
        """The first time strictly after ``moment`` the schedule fires (same timezone)."""
        value: datetime = self._croniter(self.expression, moment).get_next(datetime)
        return value

    def matches(self, moment: datetime) -> bool:
        """Whether the schedule fires in the minute of ``moment``."""
        return bool(self._croniter.match(self.expression, moment))

    def fields(self) -> list[list[int | str]]:
        """The expanded fields (minute, hour, day, month, weekday with 0 = Sunday).

        Each is a sorted list of values, ``["*"]`` for any, or croniter's markers such as
        ``"l"`` (last day of the month).
        """
        expanded: list[list[int | str]] = self._croniter.expand(self.expression)[0]
        return expanded

    def __repr__(self) -> str:
        return f"CronSchedule({self.schedule!r})"


def check_schedule(schedule: str) -> None:
    """Refuse an invalid schedule when it is wired (when croniter is installed).

    Without croniter the check waits for the scheduler, which raises the `ImportError`
    naming the ``cron`` extra: an app that is only inspected (``pikku info``) need not
    install it.

    Raises:
        ValueError: The schedule is not a valid 5-field cron string or alias.
    """
    try:
        CronSchedule(schedule)
    except ImportError:
        return


@dataclass(slots=True, frozen=True)
class ScheduledRun:
    """The outcome of one run of a scheduled task.

    Attributes:
        name: The task's name.
        scheduled_at: The tick the run belongs to.
        status: ``succeeded``, ``skipped`` (the function called ``wire.scheduled.skip()``)
            or ``failed``.
        result: The output as JSON builtins (``succeeded``).
        error: The error shape (``failed``), or the skip reason as ``message``.
    """

    name: str
    scheduled_at: datetime
    status: Literal["succeeded", "skipped", "failed"]
    result: Any = None
    error: dict[str, Any] | None = None


async def run_scheduled(
    app: Pikku, wiring: SchedulerWiring, scheduled_at: datetime
) -> ScheduledRun:
    """Run one tick of a scheduled task through its pipeline; never raises for a failure.

    The function gets the wiring's ``data`` and ``session`` (none unless configured).
    """
    wire: Wire[Any] = Wire(
        app,
        session=wiring.session,
        scheduled=ScheduledWire(wiring.name, wiring.schedule, scheduled_at),
    )
    try:
        result = await wiring.pipeline.run(wire, data=wiring.data)
        return ScheduledRun(wiring.name, scheduled_at, "succeeded", to_builtins(result))
    except SkipRun as exc:
        logger.info("scheduled task %s skipped: %s", wiring.name, exc.message)
        return ScheduledRun(wiring.name, scheduled_at, "skipped", error=exc.to_dict())
    except PikkuError as exc:
        logger.error(
            "scheduled task %s failed: %s (%s, error_id=%s)",
            wiring.name,
            exc.message,
            exc.name,
            exc.error_id,
        )
        return ScheduledRun(wiring.name, scheduled_at, "failed", error=exc.to_dict())
    except (TypeError, NotImplementedError) as exc:
        logger.error("scheduled task %s returned an unstorable result: %s", wiring.name, exc)
        return ScheduledRun(wiring.name, scheduled_at, "succeeded")


class InProcessScheduler:
    """The embedded scheduler: runs each wired task in this process on its cron schedule.

    It is the app's ``scheduler`` unless another is set. Each tick runs in its own task,
    so a slow run does not delay the next tick. Times are evaluated in ``timezone``.

    Args:
        app: The app whose scheduler wirings run.
        timezone: Where cron times are read (default: the system's local timezone).
        clock: Returns the current time (default: the wall clock); tests shift it.

    Raises:
        ImportError: croniter is missing (``pip install 'pikku-core[cron]'``).
        ValueError: A wired schedule is invalid.
    """

    def __init__(
        self,
        app: Pikku,
        *,
        timezone: tzinfo | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.app = app
        self.timezone: tzinfo | None = timezone or datetime.now().astimezone().tzinfo
        self._clock = clock
        self._schedules = {w.name: CronSchedule(w.schedule) for w in app.scheduler_wirings}
        self._tasks = BackgroundTasks("the scheduler")
        self.last_runs: dict[str, ScheduledRun] = {}
        """The latest finished run of each task, by name."""

    def now(self) -> datetime:
        """The current time in the scheduler's timezone."""
        if self._clock is not None:
            return self._clock().astimezone(self.timezone)
        return datetime.now(self.timezone)

    @property
    def running(self) -> bool:
        """Whether the scheduler's tasks are running."""
        return self._tasks.running

    async def start(self) -> None:
        """Start one timer per wired task."""
        if self._tasks.running:
            return
        for wiring in self.app.scheduler_wirings:
            if wiring.name not in self._schedules:
                self._schedules[wiring.name] = CronSchedule(wiring.schedule)
        await self._tasks.start()
        for wiring in self.app.scheduler_wirings:
            self._tasks.start_soon(self._timer, wiring, self._schedules[wiring.name])

    async def aclose(self) -> None:
        """Stop the timers and cancel runs in progress."""
        await self._tasks.aclose()

    def next_run(self, name: str) -> datetime:
        """When the task ``name`` fires next."""
        return self._schedule(name).next_after(self.now())

    async def trigger(self, name: str) -> ScheduledRun:
        """Run the task ``name`` now (outside its schedule) and return the outcome."""
        self._schedule(name)
        wiring = next(w for w in self.app.scheduler_wirings if w.name == name)
        return await self._run(wiring, self.now())

    def _schedule(self, name: str) -> CronSchedule:
        schedule = self._schedules.get(name)
        if schedule is None:
            raise NotFoundError(f"no scheduled task named {name!r}")
        return schedule

    async def _timer(self, wiring: SchedulerWiring, schedule: CronSchedule) -> None:
        tick = schedule.next_after(self.now())
        while True:
            delay = (tick - self.now()).total_seconds()
            if delay > 0:
                await anyio.sleep(delay)
                continue
            self._tasks.start_soon(self._run, wiring, tick)
            tick = schedule.next_after(max(tick, self.now().replace(second=0, microsecond=0)))

    async def _run(self, wiring: SchedulerWiring, scheduled_at: datetime) -> ScheduledRun:
        run = await run_scheduled(self.app, wiring, scheduled_at)
        self.last_runs[wiring.name] = run
        return run
