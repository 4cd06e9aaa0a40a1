"""``demo`` (serve) and ``demo worker``: the long-running processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Generator
from types import FrameType
from typing import Any

from pikku_core import Pikku

from .config import DemoConfig

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _log_setup() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-8s %(name)s: %(message)s")
    logging.getLogger("mcp").setLevel(logging.WARNING)  # one line per MCP session otherwise


def banner(app: Pikku, config: DemoConfig, port: int) -> str:
    """What ``uv run demo`` prints once it listens: the URLs and two things to try."""
    base = f"http://{config.host}:{port}"
    engine = (
        f"arq on {config.redis_url} (run `uv run demo worker`)"
        if config.redis_url
        else ("in process")
    )
    return "\n".join(
        [
            "",
            "pikku demo: a small library, every function on every transport",
            f"  HTTP      {base}   (API docs: {base}/docs, OpenAPI: {base}/openapi.json)",
            f"  channel   ws://{config.host}:{port}/ws",
            f"  MCP       {base}/mcp",
            f"  queue and nightly scan: {engine}",
            f"  data      {config.data_dir}",
            "  accounts  libby@example.org / libby-demo (librarian), ada@example.org / ada-demo",
            "",
            "try this:",
            f"  curl -s '{base}/books?q=le+guin'",
            "  uv run demo books add --title Dune --author 'Frank Herbert' --year 1965",
            "",
            "Ctrl-C stops the server.",
            "",
        ]
    )


def _port_free(host: str, port: int) -> bool:
    if port == 0:
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def serve(config: DemoConfig) -> int:
    """Serve HTTP, the channel and /mcp on one port until Ctrl-C; returns the exit code."""
    import uvicorn
    from pikku_http_litestar import create_app

    from .app import build_app

    if not _port_free(config.host, config.port):
        print(
            f"demo: port {config.port} on {config.host} is in use; "
            "choose another with PIKKU_DEMO_PORT=8001",
            file=sys.stderr,
        )
        return 1
    _log_setup()
    app = build_app(config)
    asgi = create_app(app, logging_config=None)  # keep the log format set up above
    started: list[int] = []
    signalled = [0.0]

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]
                started.append(port)
                print(banner(app, config, port), flush=True)

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None]:
            # Unlike uvicorn's default, the signal is not raised again after a graceful
            # shutdown: Ctrl-C is a clean exit (code 0), not a KeyboardInterrupt.
            previous = {sig: signal.signal(sig, self.on_signal) for sig in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def on_signal(self, sig: int, frame: FrameType | None) -> None:
            # Ctrl-C reaches `uv run` and the demo alike, and uv forwards it: the copy that
            # arrives right after the first is the same keypress. A later one stops at once
            # (without the graceful shutdown of the app).
            now = time.monotonic()
            if self.should_exit and now - signalled[0] > 1.0:
                self.force_exit = True
            elif not self.should_exit:
                signalled[0] = now
                self.should_exit = True

    server = Server(
        uvicorn.Config(asgi, host=config.host, port=config.port, log_config=None, lifespan="on")
    )
    asyncio.run(server.serve())
    # `uv run` may pass the same Ctrl-C on once more while we exit: the server is
    # already down, so let it not turn a clean exit into a KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not started:
        return 1
    print("demo: stopped", flush=True)
    return 0


def worker(config: DemoConfig) -> int:
    """Run an arq worker for the queue and the nightly scan (needs ``REDIS_URL``)."""
    if not config.redis_url:
        print(
            "demo worker: set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379); without "
            "it `uv run demo` runs the queue and the scheduler in process",
            file=sys.stderr,
        )
        return 2
    from arq.worker import run_worker
    from pikku_queue_arq import worker_settings

    from .app import build_app

    _log_setup()
    app = build_app(config)
    service: Any = app.queue_service
    settings = worker_settings(app, queue_name=service.queue_name)
    print(f"demo worker: consuming {service.queue_name} on {config.redis_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(settings)
    return 0
