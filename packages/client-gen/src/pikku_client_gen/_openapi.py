"""The OpenAPI 3.1 document of an app's HTTP wirings."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pikku_core import Pikku
from pikku_core.errors import PROBLEM_CONTENT_TYPE

from ._routes import Operation, Param, collect_operations
from ._schemas import JSONSchema, SchemaSet, admits_null, build_schema_set

__all__ = ["PROBLEM_SCHEMA", "openapi_document", "problem_component_name", "session_cookie_name"]

REF_TEMPLATE = "#/components/schemas/{name}"

PROBLEM_SCHEMA: JSONSchema = {
    "title": "Problem",
    "description": (
        "An RFC 9457 problem document carrying the pikku error shape "
        "(name, message, payload, error_id)."
    ),
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "name": {"type": "string"},
        "message": {"type": "string"},
        "payload": {},
        "error_id": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail", "name", "message"],
}


ERROR_SHAPE_SCHEMA: JSONSchema = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "message": {"type": "string"},
        "payload": {},
        "error_id": {"type": "string"},
    },
    "required": ["name", "message"],
}
"""The transport-neutral error shape (an SSE ``event: error`` carries it)."""


def problem_component_name(schemas: SchemaSet) -> str:
    """The component name of the problem schema (``Problem`` unless the app uses it)."""
    name = "Problem"
    while name in schemas.components:
        name = f"Pikku{name}"
    return name


def session_cookie_name(app: Pikku) -> str:
    """The session cookie name of the app's `auth_cookie` middleware (or the default)."""
    for mw in getattr(app, "_middleware", ()):
        name = getattr(mw, "cookie_name", None)
        if isinstance(name, str) and name:
            return name
    return "pikku_session"


def _param(param: Param, where: str) -> JSONSchema:
    return {"name": param.name, "in": where, "required": param.required, "schema": param.schema}


def _problem_response(names: list[str], status: int, ref: str) -> JSONSchema:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "description": f"{phrase}: {', '.join(names)}",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": ref}}},
    }


def _sse_event_schema(item: JSONSchema) -> JSONSchema:
    """One server-sent event, as OpenAPI 3.2 describes them (``event``, ``data``...)."""

    def event(name: JSONSchema, data: JSONSchema) -> JSONSchema:
        return {
            "type": "object",
            "properties": {
                "event": name,
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": data,
                },
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
            "required": ["data"],
        }

    return {
        "anyOf": [
            event({"const": "message"}, item),
            event({"const": "error"}, ERROR_SHAPE_SCHEMA),
        ]
    }


def _success(op: Operation) -> tuple[str, JSONSchema]:
    if op.response == "empty":
        return "204", {"description": "No content"}
    if op.response == "sse":
        item = op.output if op.output is not None else {}
        media: JSONSchema = {"schema": _sse_event_schema(item), "x-pikku-event-schema": item}
        return "200", {
            "description": "Server-sent events: each `data:` line is one JSON item; "
            "an error mid-stream is one `event: error` carrying the error shape",
            "content": {"text/event-stream": media},
        }
    if op.response == "raw":
        return "200", {"description": "Raw response body", "content": {"*/*": {"schema": {}}}}
    schema = op.output if op.output is not None else {}
    return "200", {"description": "Success", "content": {"application/json": {"schema": schema}}}


def _no_content(op: Operation) -> JSONSchema | None:
    # A function typed to return None sometimes answers 204 when it does.
    if op.response == "json" and admits_null(op.output):
        return {"description": "No content (the function returned None)"}
    return None


def _operation(op: Operation, problem_ref: str) -> JSONSchema:
    meta = op.meta
    out: JSONSchema = {"operationId": op.operation_id, "summary": meta.title or meta.name}
    if meta.description:
        out["description"] = meta.description
    if op.tags:
        out["tags"] = op.tags
    params = [_param(p, "path") for p in op.path_params]
    params += [_param(p, "query") for p in op.query_params]
    if params:
        out["parameters"] = params
    if op.body is not None:
        if op.multipart:
            content: JSONSchema = {"multipart/form-data": {"schema": op.body}}
        else:
            content = {"application/json": {"schema": op.body}}
            if op.form:
                content["application/x-www-form-urlencoded"] = {"schema": op.body}
        out["requestBody"] = {"required": True, "content": content}
    status, success = _success(op)
    responses: JSONSchema = {status: success}
    empty = _no_content(op)
    if empty is not None:
        responses["204"] = empty
    for code, names in op.errors.items():
        responses[str(code)] = _problem_response(names, code, problem_ref)
    # Any other error (from nested RPC calls, middleware, a masked 500) has the same shape.
    responses["default"] = {
        "description": "Any other error",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": problem_ref}}},
    }
    out["responses"] = responses
    if op.auth:
        out["security"] = [{"cookieAuth": []}, {"bearerAuth": []}]
    if meta.version is not None:
        out["x-pikku-version"] = meta.version
    return out


def openapi_document(
    app: Pikku,
    *,
    title: str | None = None,
    version: str | None = None,
    description: str | None = None,
    servers: list[str] | None = None,
) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document of every HTTP wiring of an app.

    Paths use plain ``{name}`` templates (a typed route parameter such as ``{id:int}``
    becomes the parameter's schema); GET, HEAD and DELETE send non-path fields as query
    parameters, POST, PUT and PATCH as a JSON body (also form-urlencoded when every field
    is flat; multipart instead when it has file fields).
    Responses: 200 with the output schema, 204 for no output, ``text/event-stream`` for
    streams (each event described as OpenAPI 3.2 does: ``event``, ``data``), RFC 9457
    problem documents for 422, 401, 403 and declared errors, and a ``default`` problem
    response for any other error (nested RPC calls can raise anything).

    Args:
        app: The app.
        title: ``info.title`` (default: the app's ``title`` attribute, else "pikku API").
        version: ``info.version`` (default: the app's ``version`` attribute, else "0.1.0").
        description: ``info.description``.
        servers: Server URLs to list.

    Returns:
        The document as JSON-compatible builtins; the same app gives an equal document.
    """
    schemas = build_schema_set((w.func for w in app.http_wirings), REF_TEMPLATE)
    ops = collect_operations(app, schemas)
    problem = problem_component_name(schemas)
    problem_ref = REF_TEMPLATE.format(name=problem)
    paths: dict[str, JSONSchema] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, problem_ref)
    info: JSONSchema = {
        "title": title or str(getattr(app, "title", None) or "pikku API"),
        "version": version or str(getattr(app, "version", None) or "0.1.0"),
    }
    if description:
        info["description"] = description
    doc: dict[str, Any] = {"openapi": "3.1.0", "info": info}
    if servers:
        doc["servers"] = [{"url": url} for url in servers]
    doc["paths"] = paths
    components: JSONSchema = {"schemas": {**schemas.components, problem: PROBLEM_SCHEMA}}
    components["schemas"] = dict(sorted(components["schemas"].items()))
    components["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": session_cookie_name(app)},
    }
    doc["components"] = components
    tags = sorted({t for op in ops for t in op.tags})
    if tags:
        doc["tags"] = [{"name": t} for t in tags]
    return doc
