"""Helpers of the pikku-queue-arq tests: private Redis servers and worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import pytest
import redis
from arq.connections import RedisSettings
from arq.worker import Worker, create_worker
from pikku_queue_arq import worker_settings

HERE = Path(__file__).parent
SECRET = "queue-arq-tests-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of our own on a free port (the shared one is never touched)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def settings(self) -> RedisSettings:
        return RedisSettings(host="127.0.0.1", port=self.port, conn_retries=0)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("private redis-server did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            proc.wait(10)


class Workers:
    """Worker subprocesses (``python -m pikku_queue_arq worker worker_app:app``)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env}
        # arq logs every job: a file, not a pipe nobody drains (which would block it).
        log = tempfile.TemporaryFile()
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pikku_queue_arq", "worker", "worker_app:app", *args],
            cwd=HERE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def output(self, index: int) -> str:
        log = self.logs[index]
        log.seek(0)
        return log.read().decode(errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()


def make_workers(redis_url: str, queue_name: str, **extra: Any) -> Workers:
    env = {
        "PIKKU_TEST_REDIS_URL": redis_url,
        "PIKKU_TEST_QUEUE": queue_name,
        "PIKKU_SECRET": SECRET,
        **{k: str(v) for k, v in extra.items()},
    }
    return Workers(env)


@contextlib.asynccontextmanager
async def running_worker(app: Any, queue_name: str, **overrides: Any) -> AsyncIterator[Worker]:
    """An arq worker for ``app`` running in this event loop."""
    settings = {"poll_delay": 0.005, "handle_signals": False, **overrides}
    worker = create_worker(worker_settings(app, queue_name=queue_name, **settings))
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def drain(app: Any, queue_name: str) -> Worker:
    """Run a burst worker until the queue is empty."""
    settings = {"poll_delay": 0.005, "handle_signals": False, "burst": True}
    worker = create_worker(worker_settings(app, queue_name=queue_name, **settings))
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker
