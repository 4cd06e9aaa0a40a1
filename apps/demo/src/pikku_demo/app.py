"""The wiring: every function of the library on every transport, in one place.

``build_app(config)`` returns the `Pikku` app; ``app`` (built from the environment on
first access) is what ``pikku info pikku_demo.app:app`` loads.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from pikku_core import Pikku, Wire, auth_bearer, auth_cookie

from . import auth, books, loans, reading
from .config import DemoConfig
from .db import Database
from .models import Session
from .services import LibraryServices, make_audit


async def timing(services: Any, wire: Wire[Any], next: Callable[[], Awaitable[Any]]) -> Any:
    """Global middleware: HTTP responses say how long the call took."""
    started = time.perf_counter()
    try:
        return await next()
    finally:
        if wire.http is not None:
            wire.http.set_header(
                "Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            )


def _use_redis(app: Pikku, redis_url: str, queue_name: str) -> None:
    """Jobs and scheduled ticks on arq (run by `demo worker`), events through Redis."""
    from arq.connections import RedisSettings
    from pikku_queue_arq import ArqQueueService, RedisEventHub

    ArqQueueService(app, RedisSettings.from_dsn(redis_url), queue_name=queue_name)
    # Channel events cross processes: a job run by a worker reaches the web's connections.
    app.event_hub = RedisEventHub(redis_url, channel=f"{queue_name}:events")


def build_app(config: DemoConfig) -> Pikku:
    """Build the library app for ``config`` (nothing starts until the app does)."""
    app = Pikku(
        services=lambda: LibraryServices(config, Database(config.db_path)),
        wire_services={"audit": make_audit},
        session_type=Session,
        secret=config.secret(),
        config=config,
        name="pikku_demo",
    )
    # Sessions: a signed cookie for browsers and curl, a bearer token for MCP and scripts.
    app.add_middleware(
        timing,
        auth_cookie(secure=config.secure_cookies),
        auth_bearer(),
    )
    app.register_error(loans.BookUnavailableError, status=409)
    if config.redis_url:
        _use_redis(app, config.redis_url, config.queue_name)

    # ------------------------------------------------------------ HTTP
    app.wire_http("post", "/auth/login", auth.login)
    app.wire_http("post", "/auth/signup", auth.register)
    app.wire_http("post", "/auth/logout", auth.logout)
    app.wire_http("get", "/me", auth.me)
    app.wire_http("post", "/readers", auth.add_reader)
    app.wire_http("get", "/readers/{reader_id}", auth.get_reader)

    app.wire_http("get", "/books", books.list_books)
    app.wire_http("post", "/books", books.create_book)
    app.wire_http("get", "/books/{book_id}", books.get_book)  # latest: version 2
    app.wire_http("get", "/v1/books/{book_id}", books.get_book_v1)
    app.wire_http("patch", "/books/{book_id}", books.update_book)
    app.wire_http("delete", "/books/{book_id}", books.delete_book)
    app.wire_http("put", "/books/{book_id}/cover", books.upload_cover)
    app.wire_http("get", "/books/{book_id}/cover", books.get_cover)
    app.wire_http("get", "/catalogue/export", books.export_catalogue)  # SSE
    app.wire_http("get", "/stats", books.library_stats)

    app.wire_http("post", "/loans", loans.borrow_book)
    app.wire_http("get", "/loans", loans.list_loans)
    app.wire_http("post", "/loans/{loan_id}/return", loans.return_book)
    app.wire_http("post", "/loans/{loan_id}/remind", loans.remind_reader)
    app.wire_http("post", "/admin/overdue-scan", loans.run_overdue_scan)
    app.wire_http("get", "/jobs/{queue}/{job_id}", loans.job_status)
    app.wire_http("get", "/notices", loans.list_notices)

    # ------------------------------------------------------------ channel
    app.wire_channel(
        name="library",
        route="/ws",
        on_message_wiring={
            # per-action auth: anonymous connections may follow the catalogue
            "subscribe": {"func": reading.subscribe, "auth": False},
            "login": auth.login,
            "logout": auth.logout,
            "search": books.list_books,
            "list": reading.reading_list,
            "add": reading.add_reading,
            "done": reading.finish_reading,
            "remove": reading.remove_reading,
        },
        channel_middleware=[reading.stamp_events],
    )

    # ------------------------------------------------------------ queue and scheduler
    app.wire_queue(loans.NOTICE_QUEUE, loans.send_overdue_notice, max_attempts=3)
    app.wire_scheduler(loans.SCAN_TASK, "0 3 * * *", loans.scan_overdue)

    # ------------------------------------------------------------ CLI (`uv run demo ...`)
    app.wire_cli("books list", books.list_books)
    app.wire_cli("books show", books.get_book, positionals=["book_id"])
    app.wire_cli("books add", books.create_book)
    app.wire_cli("books export", books.export_catalogue)
    app.wire_cli("readers add", auth.add_reader)
    app.wire_cli("loans list", loans.list_loans)
    app.wire_cli("stats", books.library_stats)

    # ------------------------------------------------------------ MCP (at /mcp)
    app.wire_mcp_tool("search_books", books.list_books, annotations={"readOnlyHint": True})
    app.wire_mcp_tool("get_book", books.get_book, annotations={"readOnlyHint": True})
    app.wire_mcp_tool("library_stats", books.library_stats, annotations={"readOnlyHint": True})
    app.wire_mcp_tool("borrow_book", loans.borrow_book)
    app.wire_mcp_resource("library://books/{book_id}", books.get_book, mime_type="application/json")
    app.wire_mcp_resource("library://stats", books.library_stats, name="stats")
    app.wire_mcp_prompt("recommend_books", reading.recommend_books)

    # Reached by RPC only (``wire.rpc.invoke``).
    app.add_functions(loans.scan_overdue)
    return app


_app: list[Pikku] = []


def __getattr__(name: str) -> Any:
    # ``app`` is built on first use, so importing this module creates no data folder.
    if name == "app":
        if not _app:
            _app.append(build_app(DemoConfig.from_env()))
        return _app[0]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
