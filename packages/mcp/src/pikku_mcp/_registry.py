"""The MCP view of an app's wirings: tools, resources and prompts, built once per change."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from mcp import types
from mcp.shared.uri_template import UriTemplate
from pikku_core import (
    MCPPromptWiring,
    MCPResourceWiring,
    MCPToolWiring,
    Pikku,
    Pipeline,
    encode_json,
    to_builtins,
)

from ._changes import ChangeBus
from ._schema import ToolSchemas, mcp_tool_schemas, object_root

__all__ = ["Prompt", "Registry", "Resource", "Snapshot", "Tool", "content_of"]


def content_of(value: Any) -> str:
    """The JSON text of a value (what text content carries)."""
    return encode_json(value).decode()


class Tool:
    """One wired tool, with everything a call needs precomputed."""

    __slots__ = ("is_stream", "name", "pipeline", "schemas", "tool")

    def __init__(self, wiring: MCPToolWiring) -> None:
        meta = wiring.func
        self.name = wiring.name
        self.pipeline: Pipeline = wiring.pipeline
        self.is_stream = meta.is_stream
        self.schemas: ToolSchemas = mcp_tool_schemas(meta)
        annotations = (
            types.ToolAnnotations.model_validate(dict(wiring.annotations))
            if wiring.annotations
            else None
        )
        self.tool = types.Tool(
            name=wiring.name,
            title=wiring.title,
            description=wiring.description,
            input_schema=self.schemas.input_schema,
            output_schema=self.schemas.output_schema,
            annotations=annotations,
        )

    def result(self, value: Any) -> types.CallToolResult:
        """The successful result of a call that returned ``value``."""
        if self.schemas.output_schema is None:
            if value is None:
                return types.CallToolResult(content=[])
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=content_of(value))]
            )
        structured: Any = to_builtins(value)
        if self.schemas.wrap_output:
            structured = {"result": structured}
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=content_of(value))],
            structured_content=structured,
        )


class Resource:
    """One wired resource (a fixed URI, or a URI template whose variables fill the input)."""

    __slots__ = ("description", "mime_type", "name", "pipeline", "template", "uri", "wrap_input")

    def __init__(self, wiring: MCPResourceWiring) -> None:
        meta = wiring.func
        self.uri = wiring.uri_template
        self.name = wiring.name or meta.name
        self.description = wiring.description
        self.pipeline: Pipeline = wiring.pipeline
        self.template = (
            UriTemplate.parse(wiring.uri_template)
            if UriTemplate.is_template(wiring.uri_template)
            else None
        )
        self.wrap_input = object_root(meta.input_schema, "value")[1]
        output = meta.output_type
        self.mime_type = wiring.mime_type or (
            "text/plain"
            if output is str
            else "application/octet-stream"
            if output is bytes
            else None
        )

    def input_from(self, variables: Mapping[str, Any]) -> Any:
        """The function's data from the URI's variables."""
        if self.pipeline.meta.input_type is None:
            return None
        if self.wrap_input:
            return next(iter(variables.values()), None)
        return dict(variables)

    def listing(self) -> types.Resource:
        """The ``resources/list`` entry of a fixed URI."""
        mime = self.mime_type or "application/json"
        return types.Resource(
            uri=self.uri, name=self.name, description=self.description, mime_type=mime
        )

    def template_listing(self) -> types.ResourceTemplate:
        """The ``resources/templates/list`` entry of a URI template."""
        mime = self.mime_type or "application/json"
        return types.ResourceTemplate(
            uri_template=self.uri, name=self.name, description=self.description, mime_type=mime
        )


class Prompt:
    """One wired prompt; its input fields are the prompt's string arguments."""

    __slots__ = ("description", "name", "pipeline", "prompt", "wrap_input")

    def __init__(self, wiring: MCPPromptWiring) -> None:
        meta = wiring.func
        self.name = wiring.name
        self.description = wiring.description
        self.pipeline: Pipeline = wiring.pipeline
        schema, self.wrap_input = object_root(meta.input_schema, "value")
        required: set[str] = set(schema.get("required") or ())
        properties: dict[str, dict[str, Any]] = schema.get("properties") or {}
        arguments = [
            types.PromptArgument(
                name=field, description=spec.get("description"), required=field in required
            )
            for field, spec in properties.items()
        ]
        self.prompt = types.Prompt(
            name=wiring.name, title=meta.title, description=wiring.description, arguments=arguments
        )


class Snapshot:
    """The MCP objects of one generation of the app's wirings."""

    def __init__(self, app: Pikku) -> None:
        self.tools = {w.name: Tool(w) for w in app.mcp_tools}
        resources = [Resource(w) for w in app.mcp_resources]
        self.resources = {r.uri: r for r in resources if r.template is None}
        self.templates = [r for r in resources if r.template is not None]
        self.prompts = {w.name: Prompt(w) for w in app.mcp_prompts}

    def find_resource(self, uri: str) -> tuple[Resource, Mapping[str, Any]] | None:
        """The resource serving ``uri`` and the variables read from it."""
        fixed = self.resources.get(uri)
        if fixed is not None:
            return fixed, {}
        for resource in self.templates:
            assert resource.template is not None
            variables = resource.template.match(uri)
            if variables is not None:
                return resource, variables
        return None


class Registry:
    """Keeps the `Snapshot` in step with the app's MCP wirings."""

    def __init__(self, app: Pikku, bus: ChangeBus) -> None:
        self._app = app
        self._counts = (-1, -1, -1)
        self._snapshot: Snapshot | None = None
        # The app outlives many servers (one per test client, say): hold the bus weakly
        # and stop listening once it is gone.
        bus_ref = weakref.ref(bus)

        def on_wiring(wiring: Any) -> None:
            live = bus_ref()
            if live is None:
                remove()
            elif isinstance(wiring, MCPToolWiring):
                live.announce("tool")
            elif isinstance(wiring, MCPResourceWiring):
                live.announce("resource")
            elif isinstance(wiring, MCPPromptWiring):
                live.announce("prompt")

        remove = app.on_wiring(on_wiring)

    def _counts_now(self) -> tuple[int, int, int]:
        app = self._app
        return len(app.mcp_tools), len(app.mcp_resources), len(app.mcp_prompts)

    def current(self) -> Snapshot:
        """The snapshot for the app's wirings as they are now."""
        counts = self._counts_now()
        snapshot = self._snapshot
        if snapshot is None or counts != self._counts:
            snapshot = self._snapshot = Snapshot(self._app)
            self._counts = counts
        return snapshot

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        """A tool's input schema (the SDK checks ``Mcp-Param-*`` headers with it)."""
        tool = self.current().tools.get(name)
        return None if tool is None else tool.schemas.input_schema
