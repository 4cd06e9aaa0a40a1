"""The HTTP operations of an app, as every HTTP generator sees them."""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pikku_core import FunctionMeta, Pikku, PikkuError
from pikku_core.errors import (
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    UnprocessableContentError,
)

from ._schemas import (
    JSONSchema,
    SchemaSet,
    as_dict,
    as_list,
    func_slug,
    identifier,
    is_raw_output,
)

__all__ = ["Operation", "Param", "collect_operations", "method_names", "openapi_path"]

_PARAM_RE = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
_QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
_PATH_TYPES: dict[str, JSONSchema] = {
    "str": {"type": "string"},
    "path": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "decimal": {"type": "string", "format": "decimal"},
    "uuid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "timedelta": {"type": "string", "format": "duration"},
}

ResponseKind = Literal["json", "empty", "sse", "raw"]


@dataclass(frozen=True, slots=True)
class Param:
    """One input field sent in the path or the query string."""

    name: str
    schema: JSONSchema
    required: bool


@dataclass(slots=True)
class Operation:
    """One HTTP wiring described for generators.

    Attributes:
        meta: The wired function.
        method: Upper-case HTTP method.
        path: The OpenAPI path template (plain ``{name}`` parameters).
        operation_id: Unique id derived from the function name.
        path_params: Parameters taken from the path.
        query_params: Input fields sent as the query string.
        body: The request body schema (POST/PUT/PATCH with input), else None.
        body_fields: The object fields sent in the body (empty for a non-object input).
        multipart: Whether the body carries file fields (sent as multipart/form-data).
        form: Whether every body field is a flat value a form can carry (so the route
            also takes ``application/x-www-form-urlencoded``).
        response: How the success response is sent.
        output: The output (or stream item) schema.
        errors: Error statuses this route documents, with the error names behind them.
        auth: Whether the route needs a session.
        tags: Tags (wiring then function, de-duplicated).
    """

    meta: FunctionMeta[Any]
    method: str
    path: str
    operation_id: str
    path_params: list[Param]
    query_params: list[Param]
    body: JSONSchema | None
    body_fields: list[Param]
    multipart: bool
    form: bool
    response: ResponseKind
    output: JSONSchema | None
    errors: dict[int, list[str]]
    auth: bool
    tags: list[str] = field(default_factory=list[str])

    @property
    def input_fields(self) -> list[Param]:
        """Every named input field, in path, query, body order."""
        return [*self.path_params, *self.query_params, *self.body_fields]


def openapi_path(route: str) -> tuple[str, dict[str, JSONSchema | None]]:
    """Turn a Litestar route into an OpenAPI template and the path parameters' schemas.

    A parameter with an explicit type (``{id:int}``) gets that type's schema; a bare
    ``{name}`` gets None (the input field's own schema applies, else a string).
    """
    params: dict[str, JSONSchema | None] = {}

    def repl(match: re.Match[str]) -> str:
        name, kind = match.group(1).strip(), match.group(2)
        params[name] = (
            None if kind is None else dict(_PATH_TYPES.get(kind.strip(), {"type": "string"}))
        )
        return "{" + name + "}"

    return _PARAM_RE.sub(repl, route), params


def _has_binary(schema: JSONSchema) -> bool:
    if schema.get("format") == "binary":
        return True
    options = [as_dict(s) for s in as_list(schema.get("anyOf"))]
    return any(_has_binary(s) for s in options if s is not None)


_FLAT_TYPES = frozenset({"string", "integer", "number", "boolean"})


def _flat(schema: JSONSchema, schemas: SchemaSet, *, items: bool = True) -> bool:
    """Whether a form field can carry the value: a scalar, an enum, or a list of them."""
    target = schemas.resolve(schema)
    if "enum" in target or "const" in target:
        return True
    kind = target.get("type")
    if kind == "array" and items and "prefixItems" not in target:
        inner = as_dict(target.get("items"))
        return inner is not None and _flat(inner, schemas, items=False)
    return kind in _FLAT_TYPES and "contentEncoding" not in target


def _error_statuses(app: Pikku, meta: FunctionMeta[Any]) -> dict[int, list[str]]:
    """The statuses of a function's declared errors (registered user errors included)."""
    registered = app.error_mappings
    out: dict[int, list[str]] = {}
    for exc in meta.errors:
        status, name = 500, exc.__name__
        if issubclass(exc, PikkuError):
            status = exc.status
        else:
            mapped = next((registered[c] for c in exc.__mro__ if c in registered), None)
            if mapped is not None:
                status, name = mapped[0], mapped[1] or name
        out.setdefault(status, []).append(name)
    return out


def collect_operations(app: Pikku, schemas: SchemaSet) -> list[Operation]:
    """Describe every HTTP wiring of an app, in registration order."""
    ops: list[Operation] = []
    used_ids: set[str] = set()
    global_permissions = bool(app.permissions)
    for wiring in app.http_wirings:
        meta = wiring.func
        method = wiring.method.upper()
        path, path_types = openapi_path(wiring.route)
        in_schema = schemas.input(meta)
        props, required = schemas.object_fields(in_schema)
        path_params = [
            Param(name, explicit or props.get(name) or {"type": "string"}, True)
            for name, explicit in path_types.items()
        ]
        rest = [Param(n, s, n in required) for n, s in props.items() if n not in path_types]
        query: list[Param] = []
        body: JSONSchema | None = None
        body_fields: list[Param] = []
        multipart = False
        form = False
        if method in _QUERY_METHODS:
            query = rest
        elif in_schema is not None:
            if schemas.is_object(in_schema):
                body_fields = rest
                multipart = any(_has_binary(p.schema) for p in rest)
                form = bool(rest) and not multipart and all(_flat(p.schema, schemas) for p in rest)
                body = _body_schema(in_schema, rest, bool(path_types), schemas)
            else:
                body = in_schema
        sse = bool(wiring.sse)
        if sse:
            kind: ResponseKind = "sse"
        elif is_raw_output(meta):
            kind = "raw"
        elif meta.output_type is None:
            kind = "empty"
        else:
            kind = "json"
        pipeline = wiring.pipeline
        auth = bool(pipeline.requires_session)
        errors = _error_statuses(app, meta)
        if in_schema is not None or path_types:
            errors.setdefault(UnprocessableContentError.status, []).insert(
                0, "UnprocessableContentError"
            )
        if any(explicit is not None for explicit in path_types.values()):
            # A typed path parameter that does not parse matches no route: 404.
            errors.setdefault(NotFoundError.status, []).insert(0, "NotFoundError")
        if auth:
            errors.setdefault(UnauthorizedError.status, []).insert(0, "UnauthorizedError")
        if wiring.permissions or meta.permissions or global_permissions:
            errors.setdefault(ForbiddenError.status, []).insert(0, "ForbiddenError")
        for names in errors.values():
            names[:] = list(dict.fromkeys(names))
        op_id = _unique(identifier(func_slug(meta)), method, used_ids, _bare_name(app, meta))
        ops.append(
            Operation(
                meta=meta,
                method=method,
                path=path,
                operation_id=op_id,
                path_params=path_params,
                query_params=query,
                body=body,
                body_fields=body_fields,
                multipart=multipart,
                form=form,
                response=kind,
                output=schemas.output(meta),
                errors=dict(sorted(errors.items())),
                auth=auth,
                tags=list(dict.fromkeys((*wiring.tags, *meta.tags))),
            )
        )
    return ops


def _body_schema(
    in_schema: JSONSchema, rest: Sequence[Param], has_path: bool, schemas: SchemaSet
) -> JSONSchema:
    if not has_path:
        return in_schema
    # Path fields are not repeated in the body: describe only the remaining fields.
    target = schemas.resolve(in_schema)
    body: JSONSchema = {"type": "object", "properties": {p.name: p.schema for p in rest}}
    required = [p.name for p in rest if p.required]
    if required:
        body["required"] = required
    if "title" in target:
        body["title"] = target["title"]
    return body


def _bare_name(app: Pikku, meta: FunctionMeta[Any]) -> str | None:
    """The bare name, for the latest version of a versioned function (``name`` = latest)."""
    if meta.version is None:
        return None
    try:
        latest = app.resolve(meta.name)
    except PikkuError:
        return None
    return identifier(meta.name) if latest is meta else None


def _unique(base: str, method: str, used: set[str], bare: str | None = None) -> str:
    candidates = [base, *([bare] if bare else []), f"{base}_{method.lower()}"]
    candidates += [f"{base}_{method.lower()}_{i}" for i in range(2, len(used) + 3)]
    for name in candidates:
        if name not in used:
            used.add(name)
            return name
    raise AssertionError("unreachable: a free name always exists")


def method_names(ids: Sequence[str], reserved: frozenset[str] = frozenset()) -> list[str]:
    """Python-safe method names for operation ids (keywords and reserved names get ``_``)."""
    out: list[str] = []
    for op_id in ids:
        name = op_id
        while keyword.iskeyword(name) or name in reserved or name.startswith("__"):
            name = f"{name}_"
        out.append(name)
    return out
