"""The typed Python HTTP client module (sync and async, over httpx, msgspec types)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pikku_core import FunctionMeta, Pikku
from pikku_core.errors import _BY_STATUS as CORE_ERRORS  # pyright: ignore[reportPrivateUsage]

from ._pyruntime import ASYNC_BASE, ERRORS, SYNC_BASE, fill, helpers_for
from ._pytypes import PyTypes, arg_name, py_identifier
from ._routes import Operation, Param, collect_operations, method_names
from ._schemas import SchemaSet, admits_null, build_schema_set, func_slug, is_raw_output

__all__ = ["python_client"]

REF_TEMPLATE = "#/$defs/{name}"
_RESERVED = frozenset(
    {
        "Any",
        "ApiError",
        "AsyncClient",
        "AsyncIterator",
        "AsyncRPC",
        "Client",
        "CookieError",
        "CookieJar",
        "DefaultCookiePolicy",
        "FileContent",
        "Iterator",
        "Literal",
        "Mapping",
        "Problem",
        "RPC",
        "Self",
        "SimpleCookie",
        "TypeAlias",
        "cast",
        "datetime",
        "decimal",
        "httpx",
        "msgspec",
        "quote",
        "uuid",
    }
)
_CLIENT_ATTRS = frozenset(
    {
        "aclose",
        "base_url",
        "clear_session",
        "close",
        "cookies",
        "rpc",
        "self",
        "send",
        "stream_lines",
        "token",
    }
)


@dataclass(slots=True)
class _Call:
    """One generated method: an HTTP route or an RPC function."""

    name: str
    meta: FunctionMeta[Any]
    method: str
    path: str
    path_params: list[Param]
    query: list[Param]
    body_fields: list[Param]
    scalar_body: Any
    multipart: bool
    response: str
    output: Any


def _doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', "'''").strip()


def _rpc_calls(app: Pikku, schemas: SchemaSet) -> list[_Call]:
    calls: list[_Call] = []
    metas = [m for m in app.functions if m.expose]
    names = method_names([py_identifier(func_slug(m)) for m in metas], _CLIENT_ATTRS)
    for name, meta in zip(names, metas, strict=True):
        in_schema = schemas.input(meta)
        props, required = schemas.object_fields(in_schema)
        fields = [Param(n, s, n in required) for n, s in props.items()]
        scalar = in_schema if in_schema is not None and not props else None
        kind = (
            "raw" if is_raw_output(meta) else ("json" if meta.output_type is not None else "empty")
        )
        if meta.is_stream:
            kind = "list"
        calls.append(
            _Call(
                name,
                meta,
                "POST",
                f"/rpc/{meta.key}",
                [],
                [],
                fields,
                scalar,
                False,
                kind,
                schemas.output(meta),
            )
        )
    return calls


def _http_calls(ops: list[Operation], schemas: SchemaSet) -> list[_Call]:
    names = method_names([op.operation_id for op in ops], _CLIENT_ATTRS)
    calls: list[_Call] = []
    for name, op in zip(names, ops, strict=True):
        scalar = op.body if op.body is not None and not schemas.is_object(op.body) else None
        calls.append(
            _Call(
                name,
                op.meta,
                op.method,
                op.path,
                op.path_params,
                op.query_params,
                op.body_fields,
                scalar,
                op.multipart,
                op.response,
                op.output,
            )
        )
    return calls


class _Writer:
    def __init__(self, types: PyTypes) -> None:
        self.types = types

    def _arg(self, param: Param, used: set[str]) -> tuple[str, str]:
        ident = arg_name(param.name, used)
        tp = (
            "FileContent"
            if param.schema.get("format") == "binary"
            else self.types.type_of(param.schema)
        )
        if param.required:
            return ident, f"{ident}: {tp}"
        return ident, f"{ident}: {tp} | msgspec.UnsetType = msgspec.UNSET"

    def method(self, call: _Call, is_async: bool, owner: str) -> str:
        params = [*call.path_params, *call.query, *call.body_fields]
        args: list[str] = []
        idents: dict[str, str] = {}
        used: set[str] = set()
        for p in sorted(params, key=lambda p: not p.required):
            ident, decl = self._arg(p, used)
            idents[p.name] = ident
            args.append(decl)
        if call.scalar_body is not None:
            args.append(f"data: {self.types.type_of(call.scalar_body)}")
        out_tp = self.types.type_of(call.output) if call.output is not None else "Any"
        ret = {"json": out_tp, "empty": "None", "raw": "bytes", "list": f"list[{out_tp}]"}.get(
            call.response, f"{'AsyncIterator' if is_async else 'Iterator'}[{out_tp}]"
        )
        sig = ", *, " + ", ".join(args) if args else ""
        d = "async def" if is_async else "def"
        aw = "await " if is_async else ""
        meta = call.meta
        summary = _doc(meta.title or meta.name)
        lines = [f"    {d} {call.name}(self{sig}) -> {ret}:"]
        doc = f'"""{summary} (``{call.method} {call.path}``).'
        if meta.description:
            doc += "\n\n        " + _doc(meta.description).replace("\n", "\n        ")
        lines.append(f'        {doc}\n        """')
        path = self._path(call, idents)

        def mapping(items: list[Param]) -> str:
            return "{" + ", ".join(f"{json.dumps(p.name)}: {idents[p.name]}" for p in items) + "}"

        send: list[str] = [json.dumps(call.method), path]
        if call.query:
            send.append(f"params=_query({mapping(call.query)})")
        if call.multipart:
            files = sorted(p.name for p in call.body_fields if p.schema.get("format") == "binary")
            fs = "frozenset({" + ", ".join(json.dumps(f) for f in files) + "})"
            send.append(f"multipart=_multipart({mapping(call.body_fields)}, {fs})")
        elif call.scalar_body is not None:
            send.append("body=msgspec.to_builtins(data)")
        elif call.body_fields or (call.method in ("POST", "PUT", "PATCH") and params):
            send.append(f"body=_fields({mapping(call.body_fields)})")
        elif owner == "rpc":
            send.append("body=None")
        target = "self._client" if owner == "rpc" else "self"
        joined = ", ".join(send)
        if call.response == "sse":
            lines.append(
                f"        {'async ' if is_async else ''}for line in {target}.stream_lines({joined}):"
            )
            lines.append("            event = parser.feed(line)")
            lines.append("            if event is not None:")
            lines.append(f"                yield {self._decode('_event_data(event)', out_tp)}")
            lines.insert(2, "        parser = _SSE()")
            return "\n".join(lines)
        if call.response == "empty":
            lines.append(f"        {aw}{target}.send({joined})")
            return "\n".join(lines)
        lines.append(f"        response = {aw}{target}.send({joined})")
        if call.response == "raw":
            lines.append("        return response.content")
        elif call.response == "list":
            lines.append(f"        return {self._decode('response.content', f'list[{out_tp}]')}")
        else:
            if admits_null(call.output):
                # None comes back as 204 No Content.
                lines.append("        if response.status_code == 204:")
                lines.append("            return None")
            lines.append(f"        return {self._decode('response.content', out_tp)}")
        return "\n".join(lines)

    @staticmethod
    def _decode(source: str, tp: str) -> str:
        if tp == "Any":
            return f"msgspec.json.decode({source})"
        return f"msgspec.json.decode({source}, type={tp})"

    @staticmethod
    def _path(call: _Call, idents: dict[str, str]) -> str:
        parts: list[str] = []
        rest = call.path
        for p in call.path_params:
            before, _, rest = rest.partition("{" + p.name + "}")
            if before:
                parts.append(json.dumps(before))
            parts.append(f"_segment({idents[p.name]})")
        if rest:
            parts.append(json.dumps(rest))
        return " + ".join(parts) if parts else '""'


def _error_classes(names: dict[str, int]) -> str:
    lines: list[str] = []
    by_status: dict[int, str] = {}
    for status, cls in sorted(CORE_ERRORS.items()):
        doc = _doc((cls.__doc__ or cls.__name__).splitlines()[0])
        lines.append(f'class {cls.__name__}(ApiError):\n    """{doc}"""\n\n    status = {status}')
        by_status[status] = cls.__name__
    extra: dict[str, str] = {}
    for name, status in sorted(names.items()):
        if name in by_status.values() or name in extra:
            continue
        base = by_status.get(status, "ApiError")
        ident = py_identifier(name)
        lines.append(
            f'class {ident}({base}):\n    """The declared error ``{name}`` ({status})."""\n\n'
            f"    status = {status}"
        )
        extra[name] = ident
    table = {cls: cls for cls in by_status.values()} | extra
    lines.append(
        "_ERRORS_BY_NAME: dict[str, type[ApiError]] = {\n"
        + "".join(f"    {json.dumps(k)}: {v},\n" for k, v in sorted(table.items()))
        + "}"
    )
    lines.append(
        "_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {\n"
        + "".join(f"    {k}: {v},\n" for k, v in sorted(by_status.items()))
        + "}"
    )
    return "\n\n\n".join(lines)


def python_client(app: Pikku, *, header: str = "") -> str:
    """Generate the typed Python client module of an app's HTTP routes and RPC functions.

    The module defines ``Client`` and ``AsyncClient`` (httpx) with one method per
    HTTP-wired function, named after it, taking the input fields as keyword arguments
    and returning the output type (msgspec Structs generated from the schemas); streams
    are iterators; errors raise typed `ApiError` subclasses carrying the problem body.
    Exposed functions are reachable as ``client.rpc.<name>(...)`` (``POST /rpc/{name}``).

    Args:
        app: The app.
        header: Comment lines placed first (the do-not-edit notice).

    Returns:
        The module source.
    """
    metas = [w.func for w in app.http_wirings] + [m for m in app.functions if m.expose]
    schemas = build_schema_set(metas, REF_TEMPLATE)
    ops = collect_operations(app, schemas)
    declared: dict[str, int] = {}
    for op in ops:
        for status, names in op.errors.items():
            for name in names:
                declared.setdefault(name, status)
    reserved = _RESERVED | set(declared) | {c.__name__ for c in CORE_ERRORS.values()}
    types = PyTypes(schemas, frozenset(reserved))
    writer = _Writer(types)
    http_calls = _http_calls(ops, schemas)
    rpc_calls = _rpc_calls(app, schemas)
    definitions = types.definitions()
    sections: list[str] = []
    if rpc_calls:
        for cls, is_async, owner in (("RPC", False, "Client"), ("AsyncRPC", True, "AsyncClient")):
            body = "\n\n".join(writer.method(c, is_async, "rpc") for c in rpc_calls)
            sections.append(
                f'class {cls}:\n    """Exposed functions over ``POST /rpc/{{name}}``."""\n\n'
                f"    def __init__(self, client: {owner}) -> None:\n"
                f"        self._client = client\n\n{body}"
            )
    title = str(getattr(app, "title", None) or "the pikku app")
    for cls, is_async, base in (("Client", False, SYNC_BASE), ("AsyncClient", True, ASYNC_BASE)):
        rpc_cls = "AsyncRPC" if is_async else "RPC"
        rpc_init = (
            f"        self.rpc = {rpc_cls}(self)\n"
            f'        """Exposed functions (``POST /rpc/{{name}}``)."""\n'
            if rpc_calls
            else ""
        )
        kind = "Asynchronous" if is_async else "Synchronous"
        source = fill(base, cls=cls, doc=f"{kind} client for {title}.", rpc_init=rpc_init)
        methods = "\n\n".join(writer.method(c, is_async, "http") for c in http_calls)
        sections.append(source.rstrip() + ("\n\n" + methods if methods else ""))
    exported = sorted(
        {"ApiError", "AsyncClient", "Client", "FileContent", "Problem"}
        | set(types.names.values())
        | {c.__name__ for c in CORE_ERRORS.values()}
        | {py_identifier(n) for n in declared}
        | ({"RPC", "AsyncRPC"} if rpc_calls else set())
    )
    all_list = "__all__ = [\n" + "".join(f"    {json.dumps(n)},\n" for n in exported) + "]"
    body = [all_list, definitions, ERRORS.strip(), _error_classes(declared), *sections]
    body.insert(4, helpers_for("\n".join(body)))
    text = "\n\n\n".join(p for p in body if p)
    parts = [
        header.rstrip(),
        f'"""Typed client for {title} (generated from its functions\' types)."""',
        _imports(text, types.modules),
        text,
    ]
    return "\n\n\n".join(p for p in parts if p) + "\n"


_IMPORTS = (
    ("collections.abc", ("AsyncIterator", "Iterator", "Mapping")),
    ("http.cookiejar", ("CookieJar", "DefaultCookiePolicy")),
    ("http.cookies", ("CookieError", "SimpleCookie")),
    ("typing", ("Any", "Literal", "Self", "TypeAlias", "cast")),
    ("urllib.parse", ("quote",)),
)


def _imports(text: str, modules: set[str]) -> str:
    """Import only what the module uses (pyright strict reports unused imports)."""
    lines = ["from __future__ import annotations", ""]
    lines += [f"import {m}" for m in sorted(modules)]
    for module, names in _IMPORTS:
        used = [n for n in names if re.search(rf"\b{n}\b", text)]
        if used:
            lines.append(f"from {module} import {', '.join(used)}")
    lines += ["", "import httpx", "import msgspec"]
    return "\n".join(lines)
