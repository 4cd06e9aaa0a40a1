"""One Litestar route handler per pikku HTTP wiring, with everything precomputed."""

from __future__ import annotations

import re
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile as LitestarUploadFile
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Method, Scope
from pikku_core import (
    BadRequestError,
    Emit,
    HTTPWire,
    HTTPWiring,
    NotFoundError,
    PayloadTooLargeError,
    Pikku,
    PikkuError,
    Pipeline,
    UnprocessableContentError,
    UnsupportedMediaTypeError,
    UploadFile,
    Wire,
    decode_error,
    error_for_status,
)

from ._inputs import InputShape, query_values
from ._responses import EventStream, problem, render

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_QUERY_FIELDS = 1000
MAX_QUERY_LENGTH = 64 * 1024

_BARE_PARAM = re.compile(r"\{(\w+)\}")
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_JSON_TYPES = ("application/json", "")


def litestar_path(route: str) -> str:
    """Rewrite a pikku route to Litestar syntax: a bare ``{name}`` is a ``{name:str}``."""
    return _BARE_PARAM.sub(r"{\1:str}", route)


class _Lazy(Mapping[str, str]):
    """A mapping built on first use (most calls never read headers or cookies)."""

    __slots__ = ("_build", "_data")

    def __init__(self, build: Callable[[], Mapping[str, str]]) -> None:
        self._build = build
        self._data: Mapping[str, str] | None = None

    def _get(self) -> Mapping[str, str]:
        data = self._data
        if data is None:
            data = self._data = self._build()
        return data

    def __getitem__(self, key: str) -> str:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _http_wire(
    method: str, request: Request[Any, Any, Any], query: Mapping[str, list[str]]
) -> HTTPWire:
    scope = request.scope
    headers = _Lazy(lambda: _headers(scope))
    return HTTPWire(method, scope["path"], headers, _Lazy(lambda: request.cookies), query)


def _query_pairs(scope: Scope) -> list[tuple[str, str]]:
    raw: bytes = scope["query_string"]
    if len(raw) > MAX_QUERY_LENGTH:
        raise error_for_status(414, f"query string longer than {MAX_QUERY_LENGTH} bytes")
    try:
        return parse_qsl(
            raw.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS
        )
    except ValueError:
        raise BadRequestError(f"more than {MAX_QUERY_FIELDS} query fields") from None


def _wire_query(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").partition(";")[0].strip().lower()
    return ""


def _is_json(content_type: str) -> bool:
    return content_type in _JSON_TYPES or content_type.endswith("+json")


async def _upload(part: LitestarUploadFile) -> UploadFile:
    """Hand a parsed multipart file to the function as a stream (it may be on disk)."""

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await part.read(64 * 1024):
                yield chunk
        finally:
            await part.close()

    return UploadFile(part.filename, part.content_type, stream=chunks(), headers=part.headers)


class HTTPEndpoint:
    """Runs one wiring: builds ``data`` from the request, calls the pipeline, renders."""

    __slots__ = (
        "has_path_params",
        "limit",
        "method",
        "pikku",
        "pipeline",
        "reads_body",
        "shape",
        "sse",
    )

    def __init__(self, pikku: Pikku, wiring: HTTPWiring, limit: int | None) -> None:
        self.pikku = pikku
        self.limit = limit
        self.pipeline: Pipeline = wiring.pipeline
        self.method = wiring.method
        self.shape = InputShape(wiring.func.input_type)
        self.reads_body = wiring.method in BODY_METHODS and self.shape.takes_input
        self.has_path_params = bool(_PARAM.search(wiring.route))
        self.sse = wiring.sse

    async def __call__(self, request: Request[Any, Any, Any]) -> ASGIApp:
        scope = request.scope
        try:
            pairs = _query_pairs(scope) if scope["query_string"] else None
        except PikkuError as err:
            return problem(err)
        http = _http_wire(self.method, request, _wire_query(pairs) if pairs else _EMPTY)
        wire: Wire[Any] = Wire(self.pikku, http=http)
        try:
            if self.reads_body and not self.has_path_params:
                content_type = _content_type(scope)
                if _is_json(content_type):
                    body = await _read_body(request, self.limit)
                    if body:
                        return await self._run(wire, http, None, body, True)
                    return await self._run(
                        wire, http, {} if self.shape.fields else None, None, True
                    )
            data, strict = await self._data(request, pairs)
            return await self._run(wire, http, data, None, strict)
        except PikkuError as err:
            return problem(err, http)

    async def _run(
        self, wire: Wire[Any], http: HTTPWire, data: Any, raw: bytes | None, strict: bool
    ) -> ASGIApp:
        if self.sse:
            pipeline = self.pipeline

            def run(emit: Emit) -> Any:
                return pipeline.run(wire, data, raw_json=raw, strict=strict, emit=emit)

            return EventStream(run, http)
        result = await self.pipeline.run(wire, data, raw_json=raw, strict=strict)
        return render(result, http)

    async def _data(
        self, request: Request[Any, Any, Any], pairs: list[tuple[str, str]] | None
    ) -> tuple[Any, bool]:
        """Merge path params with the query (GET, HEAD, DELETE) or the body (POST, PUT, PATCH).

        Returns the data and whether to validate it strictly.
        """
        shape = self.shape
        if not shape.takes_input:
            return None, False
        path: dict[str, Any] = request.scope["path_params"]
        data = shape.lenient(path) if path else {}
        if not self.reads_body:
            if pairs:
                shape.merge(data, shape.lenient(query_values(pairs, shape.sequence_fields)))
            if shape.fields is None and not data:
                return None, False
            return data, False
        content_type = _content_type(request.scope)
        if _is_json(content_type):
            body = await _read_body(request, self.limit)
            if not body:
                return data, True
            try:
                decoded = msgspec.json.decode(body)
            except msgspec.DecodeError as exc:
                raise decode_error(exc) from None
            if not data:
                return decoded, True
            if not isinstance(decoded, dict):
                raise UnprocessableContentError("expected a JSON object", {"path": "$"})
            shape.merge(data, decoded)  # pyright: ignore[reportUnknownArgumentType]
            return data, True
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await _read_form(request, shape)
            shape.merge(data, shape.lenient(form))
            return data, True
        if content_type == "application/octet-stream" and shape.bytes_field is not None:
            body = await _read_body(request, self.limit)
            if shape.bytes_field == "":
                return body, True
            shape.merge(data, {shape.bytes_field: body})
            return data, True
        raise UnsupportedMediaTypeError(f"unsupported content type {content_type!r}")


async def _read_body(request: Request[Any, Any, Any], limit: int | None) -> bytes:
    """Read the whole body straight from ASGI ``receive``, refusing it past ``limit`` (413).

    An announced Content-Length over the limit is refused before anything is read; a
    chunked body is refused as soon as the bytes received cross it.
    """
    scope = request.scope
    if limit is not None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    raise BadRequestError("invalid Content-Length header") from None
                if announced > limit:
                    raise PayloadTooLargeError(f"request body larger than {limit} bytes")
                break
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Any = await receive()
        if message["type"] != "http.request":
            raise BadRequestError("client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if limit is not None and size > limit:
                raise PayloadTooLargeError(f"request body larger than {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _read_form(request: Request[Any, Any, Any], shape: InputShape) -> dict[str, Any]:
    try:
        form = await request.form()
    except HTTPException as exc:
        raise error_for_status(exc.status_code, exc.detail) from None
    out: dict[str, Any] = {}
    for key in form:
        values: list[Any] = []
        for value in form.getall(key):
            if isinstance(value, LitestarUploadFile):
                # a `bytes` field gets the content, anything else an `UploadFile` stream
                value = await value.read() if key in shape.bytes_fields else await _upload(value)
            values.append(value)
        out[key] = values if len(values) > 1 else values[0]
    return out


class RPCEndpoint:
    """``POST /rpc/{name}``: calls an exposed function by name (``name@N`` pins a version)."""

    __slots__ = ("limit", "pikku")

    def __init__(self, pikku: Pikku, limit: int | None) -> None:
        self.pikku = pikku
        self.limit = limit

    async def __call__(self, request: Request[Any, Any, Any]) -> ASGIApp:
        scope = request.scope
        http = _http_wire("POST", request, _EMPTY)
        wire: Wire[Any] = Wire(self.pikku, http=http)
        name: str = scope["path_params"]["name"]
        try:
            try:
                meta = self.pikku.resolve(name)
            except NotFoundError:
                meta = None
            if meta is None or not meta.expose:
                raise NotFoundError(f"no exposed function named {name!r}")
            if not _is_json(_content_type(scope)):
                raise UnsupportedMediaTypeError("RPC calls take a JSON body")
            body = await _read_body(request, self.limit)
            pipeline = self.pikku.rpc_pipeline(meta)
            result = await pipeline.run(wire, None, raw_json=body or None)
            return render(result, http)
        except PikkuError as err:
            return problem(err, http)


def route_handler(path: str, method: str, endpoint: HTTPEndpoint | RPCEndpoint) -> HTTPRouteHandler:
    """Wrap an endpoint in a real Litestar route handler (Litestar matches the route)."""

    async def handle(request: Request[Any, Any, Any]) -> ASGIApp:
        return await endpoint(request)

    return HTTPRouteHandler(
        path=path,
        http_method=typing.cast(Method, method),
        include_in_schema=False,
        request_max_body_size=endpoint.limit,
        status_code=200,  # the endpoint decides; Litestar's 204 default for DELETE would refuse a body
    )(handle)
