"""JSON Schemas for MCP: object-rooted tool input/output schemas and prompt arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

__all__ = ["ToolSchemas", "object_root", "tool_schemas"]

EMPTY_OBJECT: dict[str, Any] = {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolSchemas:
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


def object_root(schema: dict[str, Any] | None, member: str) -> tuple[dict[str, Any], bool]:
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
) -> ToolSchemas:
    """Build the MCP schemas of a function from its core JSON Schemas.

    Args:
        input_schema: The function's input schema (None for no input).
        output_schema: The function's output schema (of each item when streaming).
        is_stream: Whether the function streams; its final result is the list of items.
    """
    tool_input, wrap_input = object_root(input_schema, "value")
    if is_stream:
        items = dict(output_schema) if output_schema is not None else {}
        defs = items.pop("$defs", None)
        array: dict[str, Any] = {"type": "array", "items": items}
        if defs:
            array["$defs"] = defs
        output_schema = array
    if output_schema is None:
        return ToolSchemas(tool_input, wrap_input, None, False)
    tool_output, wrap_output = object_root(output_schema, "result")
    return ToolSchemas(tool_input, wrap_input, tool_output, wrap_output)
