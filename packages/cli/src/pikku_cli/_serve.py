"""``pikku serve``: every installed transport for an app, in one process."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from pikku_core import Pikku

from ._loader import load_app

__all__ = ["INSTALL_HINT", "reload_factory", "serve"]

INSTALL_HINT = "pip install pikku-http-litestar uvicorn"
"""What to install to serve HTTP (with channels and /mcp when those are installed)."""

_APP_ENV = "PIKKU_SERVE_APP"
_NO_WORKERS_ENV = "PIKKU_SERVE_NO_WORKERS"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _asgi(app: Pikku, workers: bool) -> Any:
    from pikku_http_litestar import create_app

    if not workers:
        app.embedded_workers = False
    return create_app(app)


def reload_factory() -> Any:
    """Build the ASGI app in uvicorn's reloading worker process (``--reload``)."""
    app = load_app(os.environ[_APP_ENV])
    return _asgi(app, workers=os.environ.get(_NO_WORKERS_ENV) != "1")


def _describe(app: Pikku, host: str, port: int, workers: bool) -> list[str]:
    base = f"http://{host}:{port}"
    lines = [f"HTTP      {base}  ({len(app.http_wirings)} routes)"]
    for c in app.channel_wirings:
        lines.append(f"channel   ws://{host}:{port}{c.route}  ({c.name})")
    has_mcp = app.mcp_tools or app.mcp_resources or app.mcp_prompts
    if has_mcp and _installed("pikku_mcp"):
        lines.append(f"MCP       {base}/mcp")
    elif has_mcp:
        lines.append("MCP       not served: pip install pikku-mcp")
    if _installed("pikku_client_gen"):
        lines.append(f"OpenAPI   {base}/openapi.json")
    # A queue engine or scheduler the app set up itself (arq) runs its own workers.
    off = "off (--no-workers)"
    if app.queue_service is not None:
        name = type(app.queue_service).__name__
        lines.append(f"queues    {name}: producer only, run its workers separately")
    elif app.queue_wirings:
        state = "in-process workers" if workers else off
        lines.append(f"queues    {len(app.queue_wirings)} wired, {state}")
    if app.scheduler is not None:
        lines.append(f"scheduler {type(app.scheduler).__name__}: runs with its workers")
    elif app.scheduler_wirings:
        state = "in-process" if workers else off
        lines.append(f"scheduler {len(app.scheduler_wirings)} tasks, {state}")
    return lines


def serve(
    spec: str,
    app: Pikku,
    *,
    host: str,
    port: int,
    reload: bool,
    workers: bool,
    log: Callable[[str], None],
) -> int:
    """Serve ``app`` until interrupted.

    HTTP (pikku-http-litestar on uvicorn) carries the HTTP routes, the channels and
    ``/mcp``. Without it, an app with channels is served by pikku-ws alone.

    Returns:
        The exit code: 0 after a clean shutdown, 1 when no transport is installed.
    """
    if _installed("pikku_http_litestar") and _installed("uvicorn"):
        import uvicorn

        log(f"serving {spec}")
        for line in _describe(app, host, port, workers):
            log(f"  {line}")
        if reload:
            os.environ[_APP_ENV] = spec
            os.environ[_NO_WORKERS_ENV] = "0" if workers else "1"
            log("  reloading on changes under " + os.getcwd())
            uvicorn.run(
                "pikku_cli._serve:reload_factory",
                factory=True,
                host=host,
                port=port,
                reload=True,
                reload_dirs=[os.getcwd()],
            )
        else:
            uvicorn.run(_asgi(app, workers), host=host, port=port)
        return 0
    if app.channel_wirings and _installed("pikku_ws"):
        import pikku_ws

        if reload:
            log("--reload needs uvicorn: " + INSTALL_HINT)
            return 1
        if not workers:
            app.embedded_workers = False
        log(f"serving {spec} (channels only: pikku-ws)")
        for c in app.channel_wirings:
            log(f"  channel   ws://{host}:{port}{c.route}  ({c.name})")
        try:
            pikku_ws.run(app, host=host, port=port)
        except KeyboardInterrupt:
            pass
        return 0
    log(f"no transport to serve {spec} with: {INSTALL_HINT}")
    return 1
