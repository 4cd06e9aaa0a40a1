"""pikku-mcp: a Pikku app's functions as MCP tools, resources and prompts.

Built on the official MCP SDK's low-level server (`mcp.server.Server`), served in-process
(`mcp.Client(create_server(app))`), over stdio (`run_stdio`, ``pikku-mcp stdio module:app``)
or over streamable HTTP (`create_asgi_app`).
"""

from ._cli import load_app, main
from ._http import MCPASGIApp, create_asgi_app
from ._server import PikkuMCPServer, create_server
from ._stdio import SESSION_ENV, run_stdio, serve_stdio

__all__ = [
    "SESSION_ENV",
    "MCPASGIApp",
    "PikkuMCPServer",
    "create_asgi_app",
    "create_server",
    "load_app",
    "main",
    "run_stdio",
    "serve_stdio",
]
