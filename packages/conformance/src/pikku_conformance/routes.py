"""How the reference app reaches each function on each transport.

A function is addressed by its key (``"echo"`` or ``"versioned@1"``); these helpers give
the route, action, queue, command or tool a harness must use for it.
"""

from __future__ import annotations

__all__ = [
    "CHANNEL_NAME",
    "CHANNEL_ROUTE",
    "cli_command",
    "channel_action",
    "http_route",
    "mcp_tool",
    "queue_name",
    "slug",
]

CHANNEL_NAME = "conformance"
"""The name of the reference app's channel."""

CHANNEL_ROUTE = "/conformance"
"""The path of the reference app's channel."""


def slug(key: str) -> str:
    """Turn a function key into a name safe for every transport (``a@1`` → ``a_v1``)."""
    return key.replace("@", "_v")


def http_route(key: str) -> str:
    """The HTTP path of a function (POST with a JSON body; GET with query for streams)."""
    return f"/conformance/{slug(key)}"


def channel_action(key: str) -> str:
    """The action name of a function on the reference channel."""
    return slug(key)


def queue_name(key: str) -> str:
    """The queue a function is wired to."""
    return f"conformance-{slug(key)}"


def cli_command(key: str) -> str:
    """The CLI command of a function."""
    return slug(key).replace("_", "-")


def mcp_tool(key: str) -> str:
    """The MCP tool name of a function."""
    return slug(key)
