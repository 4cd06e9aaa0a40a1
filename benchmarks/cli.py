"""pikku-cli vs a hand-written argparse script, side by side in one run.

Two figures, each for pikku and for the raw script, in CPU time (the machine is shared,
so wall-clock figures swing with other jobs' load):
- in-process, per invocation: parse argv, validate, call the function, print JSON
  (`pikku_cli.run(app, argv)` vs argparse + msgspec.convert + anyio.run + json);
- a whole process, start to exit (median of 5): `python -m pikku_cli run bench_app:app
  ...` vs `python bench_app.py ...` (what each command costs; imports dominate).

Both sides live in one module written to a temporary directory, so the subprocesses
import exactly what the in-process half measures.

Run: `uv run --package pikku-cli python benchmarks/cli.py`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import resource
import statistics
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


def cpu_per_call_us(fn: Callable[[], int]) -> float:
    """CPU time per call in µs (CPU, not wall clock: the machine is shared)."""
    sink = io.StringIO()
    count = 0
    start = time.process_time()
    with contextlib.redirect_stdout(sink):
        while time.process_time() - start < IN_PROCESS_SECONDS:
            for _ in range(20):
                assert fn() == 0
            count += 20
            sink.seek(0)
            sink.truncate()
    return (time.process_time() - start) / count * 1e6


def startup_cpu_ms(args: list[str], cwd: Path) -> float:
    """Median CPU time (user + system) of a whole process run, in ms."""
    samples: list[float] = []
    for _ in range(STARTUPS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(args, cwd=cwd, capture_output=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert proc.returncode == 0, proc.stderr
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        samples.append(cpu * 1000)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "bench_app.py").write_text(MODULE)
        sys.path.insert(0, tmp)
        bench = importlib.import_module("bench_app")
        argv: list[str] = bench.ARGV

        ours = cpu_per_call_us(lambda: pikku_cli.run(bench.app, argv))
        raw = cpu_per_call_us(lambda: bench.raw_main(argv))
        print(f"in-process  pikku_cli.run  : {ours:8.0f} µs CPU per call")
        print(f"in-process  raw argparse   : {raw:8.0f} µs CPU per call")
        print(f"in-process  ratio pikku/raw: {ours / raw:.2f}")

        run_ours = [sys.executable, "-m", "pikku_cli", "run", "bench_app:app", *argv]
        pikku_ms = startup_cpu_ms(run_ours, where)
        raw_ms = startup_cpu_ms([sys.executable, "bench_app.py", *argv], where)
        print(f"process     pikku run      : {pikku_ms:8.1f} ms CPU (median of {STARTUPS})")
        print(f"process     raw script     : {raw_ms:8.1f} ms CPU (median of {STARTUPS})")
        print(f"process     ratio pikku/raw: {pikku_ms / raw_ms:.2f}")


if __name__ == "__main__":
    main()
