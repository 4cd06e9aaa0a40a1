"""Stdio transport: serve the app to one MCP client over stdin/stdout."""

from __future__ import annotations

import os
from typing import Any

from mcp.server.stdio import stdio_server
from pikku_core import Pikku

from ._server import create_server

__all__ = ["SESSION_ENV", "run_stdio", "serve_stdio"]

SESSION_ENV = "PIKKU_SESSION"
"""Environment variable holding a session token for a stdio server (as for the CLI)."""


def _env_session(app: Pikku) -> Any:
    token = os.environ.get(SESSION_ENV)
    if not token:
        return None
    session = app.session_codec().decode(token)
    if session is None:
        raise RuntimeError(f"{SESSION_ENV} holds an invalid or expired session token")
    return session


async def serve_stdio(app: Pikku, *, name: str = "pikku", session: Any = None) -> None:
    """Serve the app's MCP wirings over stdin/stdout until the client disconnects.

    Args:
        app: The Pikku app; it is started here and closed at the end.
        name: The server name announced to the client.
        session: The session of every call; default: the token in ``PIKKU_SESSION``
            (from ``app.session_codec().encode(session)``), or none.
    """
    if session is None:
        session = _env_session(app)
    server = create_server(app, name, session=session)
    async with app, stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def run_stdio(app: Pikku, *, name: str = "pikku", session: Any = None) -> None:
    """Run a stdio MCP server for the app (blocking; the entry point of a script).

    Args:
        app: The Pikku app.
        name: The server name announced to the client.
        session: The session of every call; default: the token in ``PIKKU_SESSION``.

    Example:
        ```python
        if __name__ == "__main__":
            pikku_mcp.run_stdio(app)
        ```
    """
    import anyio

    anyio.run(lambda: serve_stdio(app, name=name, session=session))
