"""Generated Python client vs raw httpx, against the same live pikku-http-litestar server.

    uv run --package pikku-client-gen --group test python benchmarks/client_gen.py

The server (the conformance reference app) runs in its own subprocess. Both clients keep
one connection alive and make the same `POST /conformance/echo` call; the raw side posts
JSON with httpx and decodes the reply with msgspec into the same Struct shape. Rounds are
interleaved so machine noise hits both. Also prints how long generating the OpenAPI
document and the Python client takes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/http.py would shadow the standard library's `http` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import importlib.util  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402
import msgspec  # noqa: E402
from pikku_client_gen import openapi_document, python_client  # noqa: E402
from pikku_conformance.reference_app import create_reference_app  # noqa: E402

ROUNDS = 3
SLICE = 1.0

SERVER = """
import sys, uvicorn
from pikku_conformance.reference_app import create_reference_app
from pikku_http_litestar import create_app
uvicorn.run(create_app(create_reference_app()), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning", access_log=False)
"""


class EchoOutput(msgspec.Struct):
    text: str
    count: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            httpx.post(f"{url}/conformance/echo", json={"text": "x"})
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def run_for(seconds: float, call: object) -> int:
    fn = call  # a zero-argument callable
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        fn()  # type: ignore[operator]
        n += 1
    return n


def main() -> None:
    app = create_reference_app()
    t0 = time.perf_counter()
    openapi_document(app)
    t1 = time.perf_counter()
    source = python_client(create_reference_app())
    t2 = time.perf_counter()
    print(
        f"generate: openapi_document {1000 * (t1 - t0):.1f} ms, python_client {1000 * (t2 - t1):.1f} ms"
    )

    tmp = Path(tempfile.mkdtemp())
    (tmp / "bench_client.py").write_text(source)
    spec = importlib.util.spec_from_file_location("bench_client", tmp / "bench_client.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_client"] = module
    spec.loader.exec_module(module)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        wait_up(url)
        generated = module.Client(url)
        raw = httpx.Client()
        decoder = msgspec.json.Decoder(EchoOutput)

        def gen_call() -> None:
            generated.echo(text="hello", count=2)

        def raw_call() -> None:
            response = raw.post(f"{url}/conformance/echo", json={"text": "hello", "count": 2})
            response.raise_for_status()
            decoder.decode(response.content)

        run_for(0.3, gen_call)
        run_for(0.3, raw_call)
        totals = {"generated": 0, "raw": 0}
        for _ in range(ROUNDS):
            totals["generated"] += run_for(SLICE, gen_call)
            totals["raw"] += run_for(SLICE, raw_call)
        seconds = ROUNDS * SLICE
        gen_rate = totals["generated"] / seconds
        raw_rate = totals["raw"] / seconds
        print(f"generated Client.echo : {gen_rate:8.0f} calls/s")
        print(f"raw httpx + msgspec   : {raw_rate:8.0f} calls/s")
        print(f"ratio generated/raw   : {gen_rate / raw_rate:8.2f}")
        generated.close()
        raw.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
