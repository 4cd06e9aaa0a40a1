"""A task group for core's engines, hosted apart from the task that starts it.

The in-memory queue and the scheduler run background tasks. An app starts lazily from
inside whatever call reaches it first (a request handler's task, a child of some task
group, a cancel scope), and may be closed from another task, so their task group cannot
live in the caller's task: it lives in a host task of its own (an asyncio task, or a trio
system task), started and stopped by `BackgroundTasks`.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    import asyncio

    from anyio.abc import TaskGroup

__all__ = ["BackgroundTasks"]

logger = logging.getLogger("pikku")

_hosts: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references to tasks


def _spawn_detached(fn: Callable[[], Awaitable[None]]) -> None:
    # A fresh context: the host must not inherit the starting call's context variables.
    context = contextvars.Context()
    # asyncio is not imported here: if it is not loaded yet, this is not an asyncio loop
    # (and `import pikku_core` stays free of it).
    aio: Any = sys.modules.get("asyncio")
    try:
        if aio is None:
            raise RuntimeError("not running on asyncio")
        loop = aio.get_running_loop()
    except RuntimeError:
        trio: Any = importlib.import_module("trio")
        trio.lowlevel.spawn_system_task(fn, context=context)
        return

    async def run() -> None:
        await fn()

    task = loop.create_task(run(), context=context)
    _hosts.add(task)
    task.add_done_callback(_hosts.discard)


class BackgroundTasks:
    """A task group that outlives the task which started it, until `aclose`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tg: TaskGroup | None = None
        self._stop: anyio.Event | None = None
        self._done: anyio.Event | None = None

    @property
    def running(self) -> bool:
        """Whether the task group is up."""
        return self._tg is not None

    async def start(self) -> None:
        """Start the host task and wait until its task group accepts tasks."""
        if self._stop is not None:
            return
        ready = anyio.Event()
        stop = self._stop = anyio.Event()
        done = self._done = anyio.Event()

        async def host() -> None:
            try:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    ready.set()
                    await stop.wait()
                    tg.cancel_scope.cancel()
            except Exception:
                logger.exception("%s stopped after an unexpected error", self.name)
            finally:
                self._tg = None
                ready.set()
                done.set()

        _spawn_detached(host)
        await ready.wait()

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in the task group.

        Raises:
            RuntimeError: The task group is not running.
        """
        if self._tg is None:
            raise RuntimeError(f"{self.name} is not running")
        self._tg.start_soon(fn, *args)

    async def aclose(self) -> None:
        """Cancel every task and wait for the host to finish."""
        stop, done = self._stop, self._done
        if stop is None or done is None:
            return
        self._stop = self._done = None
        stop.set()
        await done.wait()
