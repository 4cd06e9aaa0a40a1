from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def clean_env(**extra: str) -> dict[str, str]:
    """The test process environment minus anything that changes CLI output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIKKU_SESSION", "NO_COLOR", "FORCE_COLOR", "PIKKU_TRACEBACK", "COLUMNS")
    }
    env["COLUMNS"] = "100"
    env.update(extra)
    return env


def pikku(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `pikku` command (``python -m pikku_cli``) in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "pikku_cli", *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def python(
    code: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
