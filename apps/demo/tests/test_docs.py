"""Every Python block of the root README and of docs/*.md runs, so the docs cannot rot.

The blocks of one file run in order, in one namespace, in a fresh interpreter whose
working directory is a temporary folder: a page reads like one script split by prose.
A traceback names the page and the line in it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)

RUNNER = """
import json, sys
blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__docs__"}
for where, source in blocks:
    exec(compile(source, where, "exec"), namespace)
"""


def python_blocks(page: Path) -> list[tuple[str, str]]:
    text = page.read_text()
    blocks: list[tuple[str, str]] = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        line = text.count("\n", 0, match.start(2))
        # Padded to its line in the Markdown file and compiled under the file's path:
        # tracebacks point into the page, and `inspect.getsource` finds the code there.
        blocks.append((str(page), "\n" * line + match.group(2)))
    return blocks


def test_every_page_is_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "functions.md", "deploying.md"} <= names
    for page in PAGES:
        assert python_blocks(page), f"{page.name} has no Python example"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(python_blocks(page))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout}\n{done.stderr}"
