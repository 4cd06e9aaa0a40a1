"""A real ``demo`` process (and, with Redis, a worker) on free ports, per test module."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

URL_RE = re.compile(r"HTTP\s+(http://[\d.]+:(\d+))")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def demo_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PIKKU_SECRET")}
    env.update(PIKKU_DEMO_DATA=str(data_dir), PIKKU_DEMO_PORT="0", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class DemoProcess:
    """A running ``python -m pikku_demo ...`` whose output is collected as it comes."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list[str])

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = pattern.search(self.output)
            if match:
                return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern.pattern!r} in the output:\n{self.output}")

    def wait(self, timeout: float) -> int:
        """The exit code, once the process ended and its output is read."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self) -> int:
        """Ctrl-C, as a user would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.wait(timeout=10)
            raise AssertionError(f"did not stop on SIGINT:\n{self.output}") from None


def start_demo(env: dict[str, str], *args: str) -> DemoProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pikku_demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return DemoProcess(proc)


@dataclass
class Demo:
    url: str
    ws_url: str
    data_dir: Path
    env: dict[str, str]
    process: DemoProcess

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``demo ARGS`` (a CLI command) against the same data folder."""
        return subprocess.run(
            [sys.executable, "-m", "pikku_demo", *args],
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=60,
        )


def serve_demo(data_dir: Path, **extra: str) -> Iterator[Demo]:
    env = demo_env(data_dir, **extra)
    process = start_demo(env)
    try:
        match = process.wait_for(URL_RE)
        url = match.group(1)
        yield Demo(url, url.replace("http://", "ws://") + "/ws", data_dir, env, process)
    finally:
        code = process.stop()
    assert code == 0, process.output
    assert "demo: stopped" in process.output
    assert "Traceback" not in process.output, process.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    yield from serve_demo(tmp_path_factory.mktemp("demo-data"))
