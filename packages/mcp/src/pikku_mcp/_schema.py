"""MCP tool schemas: core's rule (`pikku_core.mcp_tool_schemas`), named for this package."""

from __future__ import annotations

from pikku_core import MCPToolSchemas as ToolSchemas
from pikku_core import mcp_tool_schemas
from pikku_core import object_root_schema as object_root

__all__ = ["ToolSchemas", "mcp_tool_schemas", "object_root"]
