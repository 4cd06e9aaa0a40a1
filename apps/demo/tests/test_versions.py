"""The demo's published contracts are recorded: ``pikku versions check`` passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import demo_env

MANIFEST = Path(__file__).resolve().parents[1] / "pikku.versions.json"


def test_versions_manifest_is_current(tmp_path: Path) -> None:
    pikku = Path(sys.executable).parent / "pikku"
    done = subprocess.run(
        [pikku, "versions", "check", "pikku_demo.app:app", "--manifest", str(MANIFEST)],
        capture_output=True,
        text=True,
        env=demo_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout
    # get_book is published in two versions, both still served.
    assert '"get_book"' in MANIFEST.read_text()
    assert '"latest": 2' in MANIFEST.read_text()
