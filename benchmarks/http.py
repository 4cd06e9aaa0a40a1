"""HTTP benchmark: pikku-http-litestar vs a hand-written Litestar app vs FastAPI.

Run: ``uv run python benchmarks/http.py`` (``--duration 3 --connections 32``).

Each target is served by uvicorn (1 worker, uvloop + httptools) in a subprocess of this
script, on 127.0.0.1 only; a bounded asyncio load generator (fixed connections, fixed
duration, keep-alive) drives it. The targets are measured in interleaved slices
(``--rounds``) so background load on the machine hits them alike. Two routes: ``GET /books/{book_id}`` returning a small Struct and
``POST /books`` with a validated 3-field JSON body. Then the pikku server's memory:
RSS after a 10,000-request warm-up and after 100,000 more, and the peak RSS while it
receives a 10 MiB upload (raw body and multipart).
"""

import sys

# This file is named like the stdlib ``http`` package; run as a script its folder comes
# first on sys.path and would shadow it for every library imported below.
if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    del sys.path[0]

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec

# --------------------------------------------------------------------------- servers


class Book(msgspec.Struct):
    id: str
    title: str
    author: str
    year: int


class GetBookInput(msgspec.Struct):
    book_id: str


class NewBook(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    author: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    year: Annotated[int, msgspec.Meta(ge=0, le=3000)]


def pikku_app() -> Any:
    from pikku_core import Pikku, UploadFile, pikku_sessionless_func
    from pikku_http_litestar import create_app

    class Upload(msgspec.Struct):
        file: UploadFile

    class RawUpload(msgspec.Struct):
        body: bytes

    @pikku_sessionless_func
    async def get_book(services: Any, data: GetBookInput) -> Book:
        return Book(id=data.book_id, title="Dune", author="Frank Herbert", year=1965)

    @pikku_sessionless_func
    async def create_book(services: Any, data: NewBook) -> Book:
        return Book(id="b1", title=data.title, author=data.author, year=data.year)

    @pikku_sessionless_func
    async def upload(services: Any, data: Upload) -> int:
        return sum([len(chunk) async for chunk in data.file.chunks()])

    @pikku_sessionless_func
    async def upload_raw(services: Any, data: RawUpload) -> int:
        return len(data.body)

    app = Pikku()
    app.wire_http("get", "/books/{book_id}", get_book)
    app.wire_http("post", "/books", create_book)
    app.wire_http("post", "/upload", upload)
    app.wire_http("post", "/upload-raw", upload_raw)
    return create_app(app)


def raw_app() -> Any:
    from litestar import Litestar, get, post

    @get("/books/{book_id:str}")
    async def get_book(book_id: str) -> Book:
        return Book(id=book_id, title="Dune", author="Frank Herbert", year=1965)

    @post("/books", status_code=200)
    async def create_book(data: NewBook) -> Book:
        return Book(id="b1", title=data.title, author=data.author, year=data.year)

    return Litestar([get_book, create_book], openapi_config=None)


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from pydantic import BaseModel, Field

    class FBook(BaseModel):
        id: str
        title: str
        author: str
        year: int

    class FNewBook(BaseModel):
        title: str = Field(min_length=1, max_length=200)
        author: str = Field(min_length=1, max_length=200)
        year: int = Field(ge=0, le=3000)

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/books/{book_id}")
    async def get_book(book_id: str) -> FBook:
        return FBook(id=book_id, title="Dune", author="Frank Herbert", year=1965)

    @app.post("/books")
    async def create_book(data: FNewBook) -> FBook:
        return FBook(id="b1", title=data.title, author=data.author, year=data.year)

    return app


TARGETS = {"pikku": pikku_app, "litestar": raw_app, "fastapi": fastapi_app}


def serve(target: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        TARGETS[target](),
        host="127.0.0.1",
        port=port,
        workers=1,
        log_level="warning",
        access_log=False,
    )


# --------------------------------------------------------------------------- load

try:  # the load generator itself should not be the bottleneck
    import uvloop

    run_async: Any = uvloop.run
except ImportError:  # pragma: no cover - uvloop is in the root dev group
    run_async = asyncio.run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(target: str) -> Iterator[tuple[int, int]]:
    """Start a target in a subprocess; yields (port, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", target, "--port", str(port)],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{target} server did not start") from None
                time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_request(method: str, path: str, body: bytes = b"", ctype: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body or method == "POST":
        head += f"Content-Type: {ctype or 'application/json'}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def load(
    port: int, request: bytes, connections: int, duration: float | None, total: int | None
) -> dict[str, Any]:
    """Drive the server with fixed keep-alive connections for a duration or a count."""
    latencies: list[float] = []
    errors = 0
    remaining = [total if total is not None else -1]
    stop_at = time.perf_counter() + duration if duration is not None else float("inf")

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
                t0 = time.perf_counter()
                writer.write(request)
                status = await read_response(reader)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "elapsed": elapsed, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


# --------------------------------------------------------------------------- main

GET = build_request("GET", "/books/42")
POST = build_request("POST", "/books", b'{"title":"Dune","author":"Frank Herbert","year":1965}')


def run_throughput(args: argparse.Namespace) -> dict[str, dict[str, dict[str, float]]]:
    """All servers up at once, measured in interleaved slices so they share the same noise."""
    results: dict[str, dict[str, dict[str, float]]] = {t: {} for t in TARGETS}
    with contextlib.ExitStack() as stack:
        procs = {t: stack.enter_context(server(t)) for t in TARGETS}
        ports = {t: port for t, (port, _) in procs.items()}
        for port in ports.values():
            run_async(load(port, GET, args.connections, 0.5, None))  # warm-up
            run_async(load(port, POST, args.connections, 0.5, None))
        slice_s = args.duration / args.rounds
        for route, request in (("GET", GET), ("POST", POST)):
            acc: dict[str, list[dict[str, Any]]] = {t: [] for t in TARGETS}
            for _ in range(args.rounds):
                for target, port in ports.items():
                    pid = procs[target][1]
                    cpu0 = cpu_seconds(pid)
                    part = run_async(load(port, request, args.connections, slice_s, None))
                    part["cpu"] = cpu_seconds(pid) - cpu0
                    acc[target].append(part)
            for target, parts in acc.items():
                latencies = sorted(x for p in parts for x in p["latencies"])
                elapsed = sum(p["elapsed"] for p in parts)
                results[target][route] = {
                    "rps": len(latencies) / elapsed,
                    "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
                    "cpu_us": sum(p["cpu"] for p in parts) / len(latencies) * 1e6,
                    "errors": sum(p["errors"] for p in parts),
                }
    return results


def multipart(size: int) -> tuple[bytes, str]:
    boundary = "pikkubenchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def run_memory(args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    with server("pikku") as (port, pid):
        run_async(load(port, GET, args.connections, None, 5_000))
        run_async(load(port, POST, args.connections, None, 5_000))
        before = rss_kib(pid)
        run_async(load(port, GET, args.connections, None, 50_000))
        run_async(load(port, POST, args.connections, None, 50_000))
        after = rss_kib(pid)
        out["rss_after_warmup_mib"] = before / 1024
        out["rss_after_100k_mib"] = after / 1024
        out["growth_mib"] = (after - before) / 1024
        size = 10 * 1024 * 1024 - 4096  # under the 10 MiB limit with multipart framing
        for name, (body, ctype), path in (
            ("raw", (b"y" * size, "application/octet-stream"), "/upload-raw"),
            ("multipart", multipart(size), "/upload"),
        ):
            request = build_request("POST", path, body, ctype)
            base = rss_kib(pid)
            reset_peak(pid)
            result = run_async(load(port, request, 1, None, 1))
            if result["errors"]:
                raise RuntimeError(f"{name} upload failed")
            peak = rss_kib(pid, "VmHWM")
            out[f"upload_{name}_peak_increase_mib"] = (peak - base) / 1024
            del request, body
    out["upload_size_mib"] = size / 1024 / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", choices=list(TARGETS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved slices per target")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    results = run_throughput(args)
    print(
        f"{'target':<10} {'route':<5} {'req/s':>9} {'p99 ms':>8} {'CPU us/req':>10} {'errors':>6}"
    )
    for target, routes in results.items():
        for route, r in routes.items():
            print(
                f"{target:<10} {route:<5} {r['rps']:>9.0f} {r['p99_ms']:>8.2f}"
                f" {r['cpu_us']:>10.1f} {r['errors']:>6.0f}"
            )
    print()
    ratios: dict[str, float] = {}
    for route in ("GET", "POST"):
        pikku = results["pikku"][route]["rps"]
        cpu = results["pikku"][route]["cpu_us"]
        for other in ("litestar", "fastapi"):
            ratios[f"{route} pikku/{other} req/s"] = pikku / results[other][route]["rps"]
            # server CPU per request is what throughput becomes on an idle machine, and it
            # barely moves with background load, unlike wall-clock req/s
            ratios[f"{route} pikku/{other} by CPU"] = results[other][route]["cpu_us"] / cpu
    for name, value in ratios.items():
        print(f"{name:<30} {value:.2f}")
    memory: dict[str, float] = {}
    if not args.skip_memory:
        memory = run_memory(args)
        print()
        for name, value in memory.items():
            print(f"{name:<36} {value:.1f}")
    if args.json:
        print(json.dumps({"results": results, "ratios": ratios, "memory": memory}))


if __name__ == "__main__":
    main()
