from __future__ import annotations

import asyncio
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
from cg_books_app import create_books_app
from cg_edge_app import create_edge_app
from pikku_client_gen import generate
from pikku_conformance.reference_app import create_reference_app
from pikku_core import Pikku
from pikku_http_litestar import create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ThreadServer:
    """uvicorn serving an ASGI app on a free 127.0.0.1 port from a background thread.

    A thread (not the test's event loop) so synchronous clients and schemathesis can
    call it without blocking the server.
    """

    def __init__(self, asgi_app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(asgi_app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        for _ in range(1000):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started")
            threading.Event().wait(0.01)
        raise RuntimeError("uvicorn did not start in 10 s")

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


def serve_http(app: Pikku) -> ThreadServer:
    """A live HTTP server (pikku-http-litestar) for a pikku app."""
    return ThreadServer(create_app(app))


def load_module(path: Path, name: str) -> ModuleType:
    """Import a generated module from a file (registered so msgspec resolves its types)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ref_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything generated for the conformance reference app."""
    out = tmp_path_factory.mktemp("ref")
    generate(create_reference_app(), "all", out)
    return out


@pytest.fixture(scope="session")
def books_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything generated for the test books app."""
    out = tmp_path_factory.mktemp("books")
    generate(create_books_app(), "all", out)
    return out


@pytest.fixture(scope="session")
def edge_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything generated for the edge-case app."""
    out = tmp_path_factory.mktemp("edge")
    generate(create_edge_app(), "all", out)
    return out


@pytest.fixture(scope="session")
def empty_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everything generated for an app with no wirings at all."""
    out = tmp_path_factory.mktemp("empty")
    generate(Pikku(), "all", out)
    return out


@pytest.fixture(scope="session")
def ref_client(ref_out: Path) -> ModuleType:
    return load_module(ref_out / "client.py", "cg_generated_ref_client")


@pytest.fixture(scope="session")
def books_client(books_out: Path) -> ModuleType:
    return load_module(books_out / "client.py", "cg_generated_books_client")


@pytest.fixture(scope="session")
def ref_channel(ref_out: Path) -> ModuleType:
    return load_module(ref_out / "channel_client.py", "cg_generated_ref_channel")


@pytest.fixture(scope="session")
def books_channel(books_out: Path) -> ModuleType:
    return load_module(books_out / "channel_client.py", "cg_generated_books_channel")


@pytest.fixture
def ref_server() -> Iterator[ThreadServer]:
    with serve_http(create_reference_app()) as server:
        yield server


@pytest.fixture
def books_server() -> Iterator[ThreadServer]:
    with serve_http(create_books_app()) as server:
        yield server


@pytest.fixture(scope="session")
def tsc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TypeScript compiler installed with npm into a temporary directory."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("needs node and npm on PATH (capability: TypeScript toolchain)")
    where = tmp_path_factory.mktemp("typescript")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "typescript@5"],
        cwd=where,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return where / "node_modules" / ".bin" / "tsc"
