"""JSON Schema files per function version, and the MCP manifest."""

from __future__ import annotations

from typing import Any

from pikku_core import FunctionMeta, Pikku, mcp_tool_schemas

from ._schemas import JSONSchema, func_slug, is_raw_output

__all__ = ["json_schemas", "mcp_manifest", "mcp_tool_input_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _file_schema(schema: JSONSchema, comment: str, title: str) -> JSONSchema:
    out: JSONSchema = {"$comment": comment} if comment else {}
    out["$schema"] = DIALECT
    out.setdefault("title", title)
    out.update(schema)
    return out


def json_schemas(app: Pikku, *, comment: str = "") -> dict[str, JSONSchema]:
    """One JSON Schema document per registered function version (input and output).

    Args:
        app: The app.
        comment: A ``$comment`` placed first in every document (the do-not-edit notice).

    Returns:
        ``{relative file name: schema}``: ``<name>[_vN].input.json``,
        ``<name>[_vN].output.json`` and ``index.json`` listing every function with its
        version, contract hash, streaming flag and file names.
    """
    files: dict[str, JSONSchema] = {}
    index: list[JSONSchema] = []
    for meta in app.functions:
        slug = func_slug(meta)
        entry: JSONSchema = {
            "name": meta.name,
            "key": meta.key,
            "version": meta.version,
            "title": meta.title,
            "description": meta.description,
            "stream": meta.is_stream,
            "contract_hash": meta.contract_hash,
            "input": None,
            "output": None,
        }
        if meta.input_schema is not None:
            name = f"{slug}.input.json"
            files[name] = _file_schema(meta.input_schema, comment, f"{meta.key} input")
            entry["input"] = name
        if meta.output_schema is not None and not is_raw_output(meta):
            name = f"{slug}.output.json"
            files[name] = _file_schema(meta.output_schema, comment, f"{meta.key} output")
            entry["output"] = name
        index.append(entry)
    head: JSONSchema = {"$comment": comment} if comment else {}
    files["index.json"] = {**head, "functions": index}
    return files


def mcp_tool_input_schema(meta: FunctionMeta[Any]) -> JSONSchema:
    """The MCP tool input schema: the input schema with an object at the root.

    A scalar (or list) input is wrapped as ``{"value": ...}``; no input is an empty object.
    """
    return mcp_tool_schemas(meta).input_schema


def mcp_manifest(app: Pikku, *, comment: str = "") -> JSONSchema:
    """A JSON manifest of the app's MCP tools, resources and prompts with their schemas.

    Args:
        app: The app.
        comment: A ``$comment`` placed first (the do-not-edit notice).

    Returns:
        ``{"tools": [...], "resources": [...], "prompts": [...]}`` as MCP lists them
        (``name``, ``title``, ``description``, ``inputSchema``, ``outputSchema``).
    """
    tools: list[JSONSchema] = []
    for tool in app.mcp_tools:
        meta = tool.func
        entry: JSONSchema = {"name": tool.name}
        title = tool.title or meta.title
        if title:
            entry["title"] = title
        description = tool.description or meta.description
        if description:
            entry["description"] = description
        schemas = mcp_tool_schemas(meta)
        entry["inputSchema"] = schemas.input_schema
        if schemas.output_schema is not None:
            entry["outputSchema"] = schemas.output_schema
        if tool.annotations:
            entry["annotations"] = dict(tool.annotations)
        tools.append(entry)
    resources: list[JSONSchema] = []
    for res in app.mcp_resources:
        item: JSONSchema = {"uriTemplate": res.uri_template, "name": res.name or res.func.name}
        if res.description or res.func.description:
            item["description"] = res.description or res.func.description
        if res.mime_type:
            item["mimeType"] = res.mime_type
        resources.append(item)
    prompts: list[JSONSchema] = []
    for prompt in app.mcp_prompts:
        props = mcp_tool_input_schema(prompt.func).get("properties", {})
        required = set(mcp_tool_input_schema(prompt.func).get("required", []))
        p: JSONSchema = {"name": prompt.name}
        if prompt.description or prompt.func.description:
            p["description"] = prompt.description or prompt.func.description
        p["arguments"] = [{"name": n, "required": n in required} for n in props]
        prompts.append(p)
    head: JSONSchema = {"$comment": comment} if comment else {}
    return {**head, "tools": tools, "resources": resources, "prompts": prompts}
