"""MCP tool schemas of a function: object-rooted input and output JSON Schemas.

MCP requires an object at the root of a tool's input and structured output. The rule
lives here so the served tool list (pikku-mcp) and generated manifests (pikku-client-gen)
are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from ._func import FunctionMeta

__all__ = ["MCPToolSchemas", "mcp_tool_schemas", "object_root_schema", "tool_schemas"]

EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class MCPToolSchemas:
    """What the MCP side of one function looks like.

    Attributes:
        input_schema: Object-rooted input schema (always present).
        wrap_input: True when the function's data is the ``value`` member of the arguments.
        output_schema: Object-rooted output schema, or None when the function returns nothing.
        wrap_output: True when the output is sent as ``{"result": value}``.
    """

    input_schema: dict[str, Any]
    wrap_input: bool
    output_schema: dict[str, Any] | None
    wrap_output: bool


def _inline_root(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace a root ``$ref`` into ``$defs`` by the referenced schema itself."""
    ref = schema.get("$ref")
    defs: dict[str, Any] = dict(schema.get("$defs") or {})
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return schema
    name = ref.removeprefix("#/$defs/")
    target = defs.get(name)
    if not isinstance(target, dict):
        return schema
    root: dict[str, Any] = {k: v for k, v in schema.items() if k not in ("$ref", "$defs")}
    root.update(target)  # pyright: ignore[reportUnknownArgumentType]
    rest = {k: v for k, v in defs.items() if k != name}
    # A recursive type still points at its own definition: keep it then.
    if ref in msgspec.json.encode([root, rest]).decode():
        rest[name] = target
    if rest:
        root["$defs"] = rest
    return root


def _accepts_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    options: list[dict[str, Any]] = schema.get("anyOf") or schema.get("oneOf") or []
    return any(option.get("type") == "null" for option in options)


def object_root_schema(schema: dict[str, Any] | None, member: str) -> tuple[dict[str, Any], bool]:
    """Return an object-rooted form of ``schema`` and whether it had to be wrapped.

    A schema whose root (after inlining a root ``$ref``) is an object is used as is;
    anything else becomes ``{"type": "object", "properties": {member: schema}}``.
    """
    if schema is None:
        return dict(EMPTY_OBJECT), False
    root = _inline_root(schema)
    if root.get("type") == "object":
        return root, False
    defs = root.pop("$defs", None)
    wrapped: dict[str, Any] = {"type": "object", "properties": {member: root}}
    if not _accepts_null(root):
        wrapped["required"] = [member]
    if defs:
        wrapped["$defs"] = defs
    return wrapped, True


def tool_schemas(
    input_schema: dict[str, Any] | None,
    output_schema: dict[str, Any] | None,
    *,
    is_stream: bool,
) -> MCPToolSchemas:
    """Build the MCP schemas of a function from its core JSON Schemas.

    Args:
        input_schema: The function's input schema (None for no input).
        output_schema: The function's output schema (of each item when streaming).
        is_stream: Whether the function streams; its final result is the list of items.
    """
    tool_input, wrap_input = object_root_schema(input_schema, "value")
    if is_stream:
        items = dict(output_schema) if output_schema is not None else {}
        defs = items.pop("$defs", None)
        array: dict[str, Any] = {"type": "array", "items": items}
        if defs:
            array["$defs"] = defs
        output_schema = array
    if output_schema is None:
        return MCPToolSchemas(tool_input, wrap_input, None, False)
    tool_output, wrap_output = object_root_schema(output_schema, "result")
    return MCPToolSchemas(tool_input, wrap_input, tool_output, wrap_output)


def mcp_tool_schemas(meta: FunctionMeta[Any]) -> MCPToolSchemas:
    """The MCP schemas of a function, as pikku-mcp serves it.

    A function returning a raw `pikku_core.Response` sends a content block, so it has no
    structured output schema.
    """
    from ._values import Response

    output = None if meta.output_type is Response else meta.output_schema
    return tool_schemas(meta.input_schema, output, is_stream=meta.is_stream)
