"""First run and bad settings: a data folder is made once; mistakes are one clear line."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from conftest import demo_env


def demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pikku_demo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_first_run_creates_the_data_folder_and_keeps_its_secret(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    first = demo(demo_env(data), "stats")
    assert first.returncode == 0, first.stderr
    assert '"books":4' in first.stdout.replace(" ", "")
    secret = data / "secret.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    key = secret.read_text()
    assert len(key.strip()) >= 32
    assert demo(demo_env(data), "stats").returncode == 0
    assert secret.read_text() == key  # generated once per data folder
    assert (data / "library.db").exists()


def test_bad_settings_are_reported_without_a_traceback(tmp_path: Path) -> None:
    bad_port = demo(demo_env(tmp_path, PIKKU_DEMO_PORT="eighty"))
    assert bad_port.returncode == 2
    assert "PIKKU_DEMO_PORT must be a port number" in bad_port.stderr
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    bad_data = demo(demo_env(blocked / "data"), "stats")
    assert bad_data.returncode == 2
    assert "cannot use the data folder" in bad_data.stderr
    worker = demo(demo_env(tmp_path), "worker")
    assert worker.returncode == 2 and "set REDIS_URL" in worker.stderr
    for done in (bad_port, bad_data, worker):
        assert "Traceback" not in done.stderr
