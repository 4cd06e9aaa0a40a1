"""The TypeScript client: types, a fetch client and WebSocket channel clients."""

from __future__ import annotations

import json
import re
from typing import Any

from pikku_core import ChannelAction, FunctionMeta, Pikku

from ._routes import Operation, Param, collect_operations
from ._schemas import (
    JSONSchema,
    SchemaSet,
    as_dict,
    as_list,
    build_schema_set,
    func_slug,
    identifier,
)
from ._tsruntime import TS_CHANNEL_RUNTIME, TS_HTTP_RUNTIME, TS_RESERVED

__all__ = ["typescript_client"]

_TS_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_TS_KEYWORDS = frozenset(
    {
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "import",
        "in",
        "instanceof",
        "new",
        "null",
        "return",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "constructor",
    }
)
_BASE_MEMBERS = frozenset(
    {
        "baseUrl",
        "token",
        "cookies",
        "clearSession",
        "request",
        "json",
        "empty",
        "events",
        "headers",
        "fetchImpl",
        "credentials",
        "keepSession",
        "client",
        "connect",
        "close",
        "subscribe",
        "route",
    }
)


def _key(name: str) -> str:
    return name if _TS_IDENT.match(name) else json.dumps(name)


def _member(name: str, used: set[str]) -> str:
    ident = identifier(name)
    while ident in _TS_KEYWORDS or ident in _BASE_MEMBERS or ident in used:
        ident = f"{ident}_"
    used.add(ident)
    return ident


class _TSTypes:
    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas
        self.names: dict[str, str] = {}
        taken = set(TS_RESERVED)
        for comp in schemas.components:
            name = identifier(comp)
            while name in taken:
                name = f"{name}_"
            taken.add(name)
            self.names[comp] = name

    def type_of(self, schema: Any) -> str:
        if not isinstance(schema, dict) or not schema:
            return "unknown"
        s: JSONSchema = schema  # pyright: ignore[reportUnknownVariableType]
        comp = self.schemas.ref_name(s)
        if comp is not None:
            return self.names.get(comp, "unknown")
        for key in ("anyOf", "oneOf"):
            if isinstance(s.get(key), list):
                parts = list(dict.fromkeys(self.type_of(x) for x in s[key]))
                return "unknown" if "unknown" in parts else " | ".join(parts)
        if "const" in s:
            return json.dumps(s["const"])
        if isinstance(s.get("enum"), list):
            return " | ".join(json.dumps(v) for v in s["enum"])
        kind = s.get("type")
        if isinstance(kind, list):
            return " | ".join(self.type_of({**s, "type": k}) for k in kind)  # pyright: ignore[reportUnknownVariableType]
        if kind == "string":
            # A file field (multipart upload): a Blob (a File in browsers).
            return "Blob" if s.get("format") == "binary" else "string"
        if kind in ("integer", "number"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "array":
            prefix = s.get("prefixItems")
            if isinstance(prefix, list):
                return "[" + ", ".join(self.type_of(x) for x in prefix) + "]"  # pyright: ignore[reportUnknownVariableType]
            return f"Array<{self.type_of(s.get('items'))}>"
        if kind == "object":
            props = s.get("properties")
            if isinstance(props, dict) and props:
                return self.inline(props, set(s.get("required", [])))  # pyright: ignore[reportUnknownArgumentType]
            extra = s.get("additionalProperties")
            value = self.type_of(extra) if isinstance(extra, dict) else "unknown"
            return f"Record<string, {value}>"
        return "unknown"

    def inline(self, props: dict[str, Any], required: set[str]) -> str:
        fields = [
            f"{_key(n)}{'' if n in required else '?'}: {self.type_of(p)}" for n, p in props.items()
        ]
        return "{ " + "; ".join(fields) + " }" if fields else "Record<string, never>"

    def definitions(self) -> str:
        out: list[str] = []
        for comp, schema in self.schemas.components.items():
            name = self.names[comp]
            doc = str(schema.get("description") or schema.get("title") or comp).strip()
            doc = doc.splitlines()[0].replace("*/", "* /") if doc else comp
            props = as_dict(schema.get("properties"))
            if schema.get("type") == "object" and props is not None:
                required = set(as_list(schema.get("required")))
                lines = [f"/** {doc} */", f"export interface {name} {{"]
                for field, prop in props.items():
                    opt = "" if field in required else "?"
                    lines.append(f"  {_key(field)}{opt}: {self.type_of(prop)};")
                lines.append("}")
                out.append("\n".join(lines))
            else:
                out.append(f"/** {doc} */\nexport type {name} = {self.type_of(schema)};")
        return "\n\n".join(out)


def _input_type(types: _TSTypes, params: list[Param]) -> str:
    props = {p.name: p.schema for p in params}
    return types.inline(props, {p.name for p in params if p.required})


def _http_method(types: _TSTypes, op: Operation, name: str) -> str:
    params = op.input_fields
    scalar = op.body if op.body is not None and not op.body_fields and not op.path_params else None
    if scalar is not None and types.schemas.is_object(scalar):
        scalar = None
    arg = ""
    if params:
        optional = "" if any(p.required for p in params) else " = {}"
        arg = f"input: {_input_type(types, params)}{optional}"
    elif scalar is not None:
        arg = f"input: {types.type_of(scalar)}"
    path = json.dumps(op.path)
    for p in op.path_params:
        path = path.replace("{" + p.name + "}", f'" + segment(input[{json.dumps(p.name)}]) + "')
    path = path.replace(' + ""', "").replace('"" + ', "")
    rec = "(input as Record<string, unknown>)"
    query = (
        f"toQuery({rec}, {json.dumps([p.name for p in op.query_params])})"
        if op.query_params
        else "[]"
    )
    if scalar is not None:
        body = "input"
    elif op.multipart:
        body = f"formData({rec}, {json.dumps([p.name for p in op.body_fields])})"
    elif op.body is not None and op.body_fields:
        body = f"pick({rec}, {json.dumps([p.name for p in op.body_fields])})"
    elif op.method in ("POST", "PUT", "PATCH") and op.body is not None:
        body = "{}"
    else:
        body = "undefined"
    out = types.type_of(op.output) if op.output is not None else "unknown"
    summary = (op.meta.title or op.meta.name).replace("*/", "* /")
    doc = f"  /** {summary} (`{op.method} {op.path}`). */"
    call = f"{json.dumps(op.method)}, {path}, {query}, {body}"
    if op.response == "sse":
        return (
            f"{doc}\n  {name}({arg}): AsyncGenerator<{out}, void, undefined> {{\n"
            f"    return this.events<{out}>({call});\n  }}"
        )
    if op.response == "empty":
        return f"{doc}\n  {name}({arg}): Promise<void> {{\n    return this.empty({call});\n  }}"
    if op.response == "raw":
        return (
            f"{doc}\n  async {name}({arg}): Promise<ArrayBuffer> {{\n"
            f'    const response = await this.request({call}, "*/*");\n'
            f"    return response.arrayBuffer();\n  }}"
        )
    return f"{doc}\n  {name}({arg}): Promise<{out}> {{\n    return this.json<{out}>({call});\n  }}"


def _channel_method(types: _TSTypes, action: ChannelAction, name: str) -> str:
    meta = action.func
    schemas = types.schemas
    in_schema = schemas.input(meta)
    props, required = schemas.object_fields(in_schema)
    arg, data = "", "undefined"
    if props:
        optional = "" if required else " = {}"
        arg = f"input: {types.inline(props, set(required))}{optional}"
        data = "input as Record<string, unknown>"
    elif in_schema is not None:
        if schemas.resolve(in_schema).get("type") == "object" or not schemas.resolve(in_schema):
            arg = f"data: {types.type_of(in_schema)}"
            data = "data as Record<string, unknown>"
        else:
            arg = f"value: {types.type_of(in_schema)}"
            data = "{ value }"
    out_schema = schemas.output(meta)
    out = types.type_of(out_schema) if out_schema is not None else "void"
    is_obj = out_schema is not None and schemas.resolve(out_schema).get("type") == "object"
    convert = f"merged<{out}>(reply)" if is_obj else f"result<{out}>(reply)"
    act = json.dumps(action.action)
    doc = f"  /** {(meta.title or meta.name).replace('*/', '* /')} (action `{action.action}`). */"
    if meta.is_stream:
        return (
            f"{doc}\n  async *{name}({arg}): AsyncGenerator<{out}, void, undefined> {{\n"
            f"    for await (const reply of this.client.stream({act}, {data})) yield {convert};\n"
            f"  }}"
        )
    if out_schema is None:
        return (
            f"{doc}\n  async {name}({arg}): Promise<void> {{\n"
            f"    await this.client.send({act}, {data});\n  }}"
        )
    return (
        f"{doc}\n  async {name}({arg}): Promise<{out}> {{\n"
        f"    const reply = await this.client.send({act}, {data});\n    return {convert};\n  }}"
    )


def _rpc_method(types: _TSTypes, meta: FunctionMeta[Any], name: str) -> str:
    schemas = types.schemas
    in_schema = schemas.input(meta)
    arg, body = "", "null"
    if in_schema is not None:
        props, required = schemas.object_fields(in_schema)
        optional = " = {}" if props and not required else ""
        arg = f"input: {types.type_of(in_schema)}{optional}"
        body = "input"
    out_schema = schemas.output(meta)
    out = types.type_of(out_schema) if out_schema is not None else "unknown"
    if meta.is_stream:
        out = f"Array<{out}>"
    path = json.dumps(f"/rpc/{meta.key}")
    doc = f"  /** {(meta.title or meta.name).replace('*/', '* /')} (`POST /rpc/{meta.key}`). */"
    if out_schema is None and not meta.is_stream:
        return f'{doc}\n  {name}({arg}): Promise<void> {{\n    return this.empty("POST", {path}, [], {body});\n  }}'
    return (
        f"{doc}\n  {name}({arg}): Promise<{out}> {{\n"
        f'    return this.json<{out}>("POST", {path}, [], {body});\n  }}'
    )


def typescript_client(app: Pikku, *, header: str = "") -> str:
    """Generate the TypeScript client: types, a fetch ``Client`` and channel classes.

    No runtime dependencies: ``fetch`` and ``WebSocket`` come from the platform (a
    browser, Deno, Node 20 with ``--experimental-websocket``, or Node 22). The module
    type-checks with ``tsc --strict`` (``lib`` needs ``DOM`` and ``ES2022``).

    Args:
        app: The app.
        header: Comment lines placed first (the do-not-edit notice).

    Returns:
        The module source.
    """
    metas = [w.func for w in app.http_wirings]
    metas += [a.func for ch in app.channel_wirings for a in ch.actions.values()]
    exposed = [m for m in app.functions if m.expose]
    metas += exposed
    schemas = build_schema_set(metas, "#/$defs/{name}")
    types = _TSTypes(schemas)
    ops = collect_operations(app, schemas)
    used: set[str] = set()
    methods = [_http_method(types, op, _member(op.operation_id, used)) for op in ops]
    title = str(getattr(app, "title", None) or "the pikku app")
    client = (
        f"/** Fetch client for {title}: one method per HTTP route. */\n"
        "export class Client extends BaseClient {\n" + "\n\n".join(methods) + "\n}"
    )
    rpc_used: set[str] = set()
    rpc_methods = [_rpc_method(types, m, _member(func_slug(m), rpc_used)) for m in exposed]
    rpc = (
        "/** Exposed functions over `POST /rpc/{name}` (same options as `Client`). */\n"
        "export class RPCClient extends BaseClient {\n" + "\n\n".join(rpc_methods) + "\n}"
        if rpc_methods
        else ""
    )
    channels: list[str] = []
    taken = set(TS_RESERVED) | set(types.names.values()) | {"BaseClient"}
    for ch in app.channel_wirings:
        base = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", ch.name))
        cls = identifier(f"{base}Channel")
        while cls in taken:
            cls = f"{cls}_"
        taken.add(cls)
        member_names: set[str] = set()
        body = [
            f"  static readonly route = {json.dumps(ch.route)};",
            "  readonly client: ChannelClient;",
            "",
            "  /** `url` is the channel's full ws:// URL (see `at`). */",
            "  constructor(url: string, options: ChannelOptions = {}) {",
            "    this.client = new ChannelClient(url, options);",
            "  }",
            "",
            "  /** The channel on a server given its base URL (ws://host:port). */",
            f"  static at(baseUrl: string, options: ChannelOptions = {{}}): {cls} {{",
            f'    return new {cls}(baseUrl.replace(/\\/+$/, "") + {cls}.route, options);',
            "  }",
            "",
            "  connect(): Promise<void> {",
            "    return this.client.connect();",
            "  }",
            "",
            "  close(): void {",
            "    this.client.close();",
            "  }",
            "",
            "  subscribe<T>(topic: string, callback: (data: T) => void): () => void {",
            "    return this.client.subscribe<T>(topic, callback);",
            "  }",
        ]
        for action in ch.actions.values():
            body += ["", _channel_method(types, action, _member(action.action, member_names))]
        channels.append(
            f"/** Client of the `{ch.name}` channel (`{ch.route}`). */\n"
            f"export class {cls} {{\n" + "\n".join(body) + "\n}"
        )
    parts = [
        header.rstrip(),
        f"/* Typed client for {title} (generated from its functions' types). */",
        types.definitions(),
        TS_HTTP_RUNTIME.strip(),
        client,
        rpc,
        TS_CHANNEL_RUNTIME.strip() if channels else "",
        *channels,
    ]
    return "\n\n".join(p for p in parts if p) + "\n"
