"""pikku-cli vs a hand-written argparse script, side by side in one run.

Two figures, each for pikku and for the raw script:
- in-process invocations/s: parse argv, validate, call the function, print JSON
  (`pikku_cli.run(app, argv)` vs argparse + msgspec.convert + anyio.run + json);
- process start-up to exit (ms, best of 5): `python -m pikku_cli run bench_app:app ...`
  vs `python bench_app.py ...` (what a user waits for per command; imports dominate).

Both sides live in one module written to a temporary directory, so the subprocesses
import exactly what the in-process half measures.

Run: `uv run --package pikku-cli python benchmarks/cli.py`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# benchmarks/http.py would shadow the stdlib `http` module for everything imported below.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import pikku_cli  # noqa: E402

IN_PROCESS_SECONDS = 1.5
STARTUPS = 5

MODULE = """\
import argparse
import json
import sys
from typing import Any

import anyio
import msgspec
from pikku_core import Pikku, pikku_sessionless_func

ARGV = ["books", "get", "b-42", "--limit", "3", "--kind", "ebook", "--tags", "a", "--tags", "b"]


class GetBook(msgspec.Struct):
    book_id: str
    limit: int = 10
    kind: str = "paper"
    tags: list[str] = []


class Book(msgspec.Struct):
    id: str
    title: str
    limit: int
    tags: list[str]


async def _get_book(data: GetBook) -> Book:
    return Book(id=data.book_id, title=f"Book {data.book_id}", limit=data.limit, tags=data.tags)


@pikku_sessionless_func
async def get_book(services: Any, data: GetBook, wire: Any) -> Book:
    return await _get_book(data)


app = Pikku(name="bench")
app.wire_cli("books get", get_book, positionals=["book_id"])


def raw_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raw")
    sub = parser.add_subparsers(dest="group", required=True)
    books = sub.add_parser("books").add_subparsers(dest="cmd", required=True)
    get = books.add_parser("get")
    get.add_argument("book_id")
    get.add_argument("--limit", type=int, default=argparse.SUPPRESS)
    get.add_argument("--kind", default=argparse.SUPPRESS)
    get.add_argument("--tags", action="append", default=argparse.SUPPRESS)
    ns = vars(parser.parse_args(argv))
    data = msgspec.convert({k: v for k, v in ns.items() if k not in ("group", "cmd")}, GetBook)
    result = anyio.run(_get_book, data)
    sys.stdout.write(json.dumps(msgspec.to_builtins(result)) + "\\n")
    return 0


if __name__ == "__main__":
    sys.exit(raw_main(sys.argv[1:]))
"""


def per_second(fn: Callable[[], int]) -> float:
    sink = io.StringIO()
    count = 0
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink):
        while time.perf_counter() - start < IN_PROCESS_SECONDS:
            for _ in range(20):
                assert fn() == 0
            count += 20
            sink.seek(0)
            sink.truncate()
    return count / (time.perf_counter() - start)


def startup_ms(args: list[str], cwd: Path) -> float:
    best = float("inf")
    for _ in range(STARTUPS):
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        assert proc.returncode == 0, proc.stderr
        best = min(best, elapsed)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "bench_app.py").write_text(MODULE)
        sys.path.insert(0, tmp)
        bench = importlib.import_module("bench_app")
        argv: list[str] = bench.ARGV

        ours = per_second(lambda: pikku_cli.run(bench.app, argv))
        raw = per_second(lambda: bench.raw_main(argv))
        print(f"in-process  pikku_cli.run  : {ours:8.0f} calls/s")
        print(f"in-process  raw argparse   : {raw:8.0f} calls/s")
        print(f"in-process  ratio pikku/raw: {ours / raw:.2f}")

        run_ours = [sys.executable, "-m", "pikku_cli", "run", "bench_app:app", *argv]
        pikku_ms = startup_ms(run_ours, where)
        raw_ms = startup_ms([sys.executable, "bench_app.py", *argv], where)
        print(f"process     pikku run      : {pikku_ms:8.1f} ms (best of {STARTUPS})")
        print(f"process     raw script     : {raw_ms:8.1f} ms (best of {STARTUPS})")
        print(f"process     ratio pikku/raw: {pikku_ms / raw_ms:.2f}")


if __name__ == "__main__":
    main()
