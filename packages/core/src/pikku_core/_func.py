"""The function model: `pikku_func`, its metadata, input decoding and JSON Schemas."""

from __future__ import annotations

import ast
import collections.abc
import functools
import inspect
import re
import textwrap
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

import msgspec

from ._values import Response, UploadFile
from .errors import UnprocessableContentError

__all__ = [
    "FunctionMeta",
    "Middleware",
    "Permission",
    "PermissionSpec",
    "PikkuFunction",
    "dec_hook",
    "decode_error",
    "pikku_func",
    "pikku_sessionless_func",
    "schema_hook",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

Permission = Callable[[Any, Any, Any], "bool | Awaitable[bool]"]
"""A permission check: ``(services, data, wire) -> bool`` (sync or async)."""

PermissionSpec = Mapping[str, "Permission | Sequence[Permission]"]
"""Permission groups: the call passes if any group passes; a list group needs all checks."""

Middleware = Callable[[Any, Any, Callable[[], Awaitable[Any]]], Awaitable[Any]]
"""Middleware: ``async def mw(services, wire, next)``; ``await next()`` runs the rest."""

_NO_INPUT: Any = type(None)
_PATH_RE = re.compile(r" - at `(\$[^`]*)`$")
_MISSING_RE = re.compile(r"^Object missing required field `([^`]*)`")


def schema_hook(tp: type) -> dict[str, Any]:
    """Give JSON Schemas for the framework's own value types."""
    if tp is UploadFile:
        return {"type": "string", "format": "binary"}
    if issubclass(tp, Response):
        # A raw response: any media type, not JSON, so no constraint to state.
        return {"description": "A raw response body (any media type)"}
    raise NotImplementedError(f"no JSON Schema for {tp!r}")


def dec_hook(tp: type, obj: Any) -> Any:
    """Accept the framework's value types (an `UploadFile` field takes the object as is)."""
    if tp is UploadFile and isinstance(obj, UploadFile):
        return obj
    # A TypeError becomes a msgspec ValidationError (a 422 with the field's path).
    if tp is UploadFile:
        raise TypeError("Expected a file upload")
    raise TypeError(f"Expected `{getattr(tp, '__name__', tp)}`")


def decode_error(exc: msgspec.MsgspecError) -> UnprocessableContentError:
    """Turn a msgspec validation/decode error into a 422 with the JSON path in its payload."""
    text = str(exc)
    path = "$"
    match = _PATH_RE.search(text)
    if match:
        path = match.group(1)
        text = text[: match.start()]
    missing = _MISSING_RE.match(text)
    if missing:
        path = f"{path}.{missing.group(1)}"
    if isinstance(exc, msgspec.ValidationError):
        message = f"{text} at {path}"
    else:
        message = f"Malformed JSON: {text}"
    return UnprocessableContentError(message, {"path": path})


def _is_async_gen(fn: Callable[..., Any]) -> bool:
    return inspect.isasyncgenfunction(fn)


def _stream_item_type(ret: Any) -> Any:
    origin = typing.get_origin(ret)
    if origin in (
        collections.abc.AsyncIterator,
        collections.abc.AsyncGenerator,
        collections.abc.AsyncIterable,
    ):
        args = typing.get_args(ret)
        return args[0] if args else Any
    return Any


class FunctionMeta(Generic[T]):
    """Everything core knows about one pikku function, computed once.

    Attributes:
        fn: The user's function.
        name: Registered name (defaults to the Python name).
        version: Contract version, or None when unversioned.
        title: Short human title.
        description: Longer description (defaults to the docstring).
        tags: Tags used for tag middleware and docs.
        permissions: Function-level permission groups.
        middleware: Function-level middleware (innermost layer of the onion).
        auth: Whether a session is required (before wiring overrides).
        expose: Whether the function is callable over public RPC.
        errors: Declared error classes (for documentation).
        is_stream: Whether the function is an async generator (streams items).
        is_sync: Whether the function is a plain function run in a worker thread.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None,
        title: str | None,
        description: str | None,
        version: int | None,
        tags: Iterable[str] | None,
        permissions: PermissionSpec | None,
        middleware: Sequence[Middleware] | None,
        auth: bool,
        expose: bool,
        errors: Sequence[type[BaseException]] | None,
    ) -> None:
        if version is not None and (not isinstance(version, int) or version < 1):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"version must be a positive int, got {version!r}")
        self.fn = fn
        self.name: str = name or fn.__name__
        if "@" in self.name:
            raise ValueError(f"function name {self.name!r} may not contain '@'")
        self.version = version
        self.title = title
        doc = inspect.getdoc(fn)
        self.description: str | None = description or (doc.strip() if doc else None)
        self.tags: tuple[str, ...] = tuple(tags or ())
        self.permissions: PermissionSpec | None = dict(permissions) if permissions else None
        self.middleware: tuple[Middleware, ...] = tuple(middleware or ())
        self.auth = auth
        self.expose = expose
        self.errors: tuple[type[BaseException], ...] = tuple(errors or ())
        self.is_stream = _is_async_gen(fn)
        self.is_sync = not self.is_stream and not inspect.iscoroutinefunction(fn)
        params = list(inspect.signature(fn).parameters.values())
        positional = [
            p
            for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
        if len(positional) > 3:
            raise TypeError(f"{self.name}: a pikku function takes (services, data, wire)")
        self.arity = len(positional) if positional else len(params[:3])
        self._param_names = [p.name for p in params[:3]]

    @property
    def key(self) -> str:
        """``name`` or ``name@version``: the registry key."""
        return self.name if self.version is None else f"{self.name}@{self.version}"

    @functools.cached_property
    def _hints(self) -> dict[str, Any]:
        return typing.get_type_hints(self.fn, include_extras=True)

    @functools.cached_property
    def input_type(self) -> Any:
        """The declared type of ``data``; None when the function takes no input."""
        if self.arity < 2:
            return None
        tp = self._hints.get(self._param_names[1], Any)
        return None if tp is type(None) else tp

    @functools.cached_property
    def output_type(self) -> Any:
        """The declared return type (the item type for a streaming function)."""
        ret = self._hints.get("return", Any)
        if self.is_stream:
            return _stream_item_type(ret)
        return None if ret is type(None) else ret

    @functools.cached_property
    def _decoder(self) -> msgspec.json.Decoder[Any]:
        tp = self.input_type if self.input_type is not None else Any
        return msgspec.json.Decoder(tp, dec_hook=dec_hook)

    def decode_json(self, raw: bytes | str) -> Any:
        """Decode and validate raw JSON into the input type (strict)."""
        if self.input_type is None:
            if not raw.strip():
                return None
        try:
            return self._decoder.decode(raw)
        except msgspec.MsgspecError as exc:
            raise decode_error(exc) from None

    def convert(self, obj: Any, strict: bool = True) -> Any:
        """Validate builtins (or instances) into the input type.

        Args:
            obj: The data as received (dict, scalar, None, or an instance of the input type).
            strict: False converts strings to the declared types (path, query, CLI values).
        """
        tp = self.input_type
        if tp is None or tp is Any:
            return obj
        try:
            return msgspec.convert(obj, tp, strict=strict, dec_hook=dec_hook)
        except msgspec.MsgspecError as exc:
            raise decode_error(exc) from None

    @functools.cached_property
    def input_schema(self) -> dict[str, Any] | None:
        """JSON Schema of the input, or None when the function takes no input."""
        if self.input_type is None:
            return None
        return msgspec.json.schema(self.input_type, schema_hook=schema_hook)

    @functools.cached_property
    def output_schema(self) -> dict[str, Any] | None:
        """JSON Schema of the output (of each item when streaming); None for no output."""
        if self.output_type is None:
            return None
        return msgspec.json.schema(self.output_type, schema_hook=schema_hook)

    @functools.cached_property
    def input_has_uploads(self) -> bool:
        """Whether the input type holds `UploadFile` fields (they need a decode hook)."""
        schema = self.input_schema
        return schema is not None and '"format":"binary"' in msgspec.json.encode(schema).decode()

    @functools.cached_property
    def input_fields(self) -> tuple[str, ...]:
        """Top-level field names of an object input type (empty for scalars and no input)."""
        tp = self.input_type
        if tp is None:
            return ()
        try:
            info = msgspec.inspect.type_info(tp)
        except Exception:
            return ()
        fields = getattr(info, "fields", None)
        if fields is None:
            return ()
        return tuple(f.encode_name for f in fields)

    @functools.cached_property
    def contract_hash(self) -> str:
        """sha256 of the structural contract (name, input schema, output schema)."""
        from ._versions import contract_hash

        return contract_hash(self.name, self.input_schema, self.output_schema)

    @functools.cached_property
    def services_used(self) -> frozenset[str]:
        """Attributes of ``services`` the function's source reads (empty if unknown)."""
        return _services_used(self.fn, self._param_names[0] if self._param_names else None)

    def __repr__(self) -> str:
        return f"<FunctionMeta {self.key}>"


def _services_used(fn: Callable[..., Any], param: str | None) -> frozenset[str]:
    if param is None:
        return frozenset()
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    used: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == param
        ):
            used.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == param
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            used.add(node.args[1].value)
    return frozenset(used)


class PikkuFunction(Generic[F]):
    """A decorated pikku function: still directly callable, with its metadata attached.

    ``await get_book(services, data, wire)`` calls the original function (no validation,
    no middleware), so unit tests need no app.
    """

    __slots__ = ("__dict__", "__pikku__", "__wrapped__", "meta")

    def __init__(self, fn: F, meta: FunctionMeta[Any]) -> None:
        self.__wrapped__ = fn
        self.meta = meta
        self.__pikku__ = meta
        functools.update_wrapper(self, fn)  # pyright: ignore[reportArgumentType]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<pikku function {self.meta.key}>"


def _make(
    fn: Callable[..., Any],
    auth: bool,
    name: str | None,
    title: str | None,
    description: str | None,
    version: int | None,
    tags: Iterable[str] | None,
    permissions: PermissionSpec | None,
    middleware: Sequence[Middleware] | None,
    expose: bool,
    errors: Sequence[type[BaseException]] | None,
) -> PikkuFunction[Any]:
    if isinstance(fn, PikkuFunction):
        raise TypeError("function is already a pikku function")
    meta: FunctionMeta[Any] = FunctionMeta(
        fn,
        name=name,
        title=title,
        description=description,
        version=version,
        tags=tags,
        permissions=permissions,
        middleware=middleware,
        auth=auth,
        expose=expose,
        errors=errors,
    )
    return PikkuFunction(fn, meta)


@overload
def pikku_func(fn: F, /) -> PikkuFunction[F]: ...
@overload
def pikku_func(
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    version: int | None = None,
    tags: Iterable[str] | None = None,
    permissions: PermissionSpec | None = None,
    middleware: Sequence[Middleware] | None = None,
    auth: bool = True,
    expose: bool = False,
    errors: Sequence[type[BaseException]] | None = None,
) -> Callable[[F], PikkuFunction[F]]: ...
def pikku_func(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    version: int | None = None,
    tags: Iterable[str] | None = None,
    permissions: PermissionSpec | None = None,
    middleware: Sequence[Middleware] | None = None,
    auth: bool = True,
    expose: bool = False,
    errors: Sequence[type[BaseException]] | None = None,
) -> Any:
    """Declare a pikku function that needs a session (unless a wiring says ``auth=False``).

    Usable bare (``@pikku_func``) or with options (``@pikku_func(title=...)``).

    Args:
        fn: The function, when used without parentheses.
        name: Registered name (default: the Python name).
        title: Short human title.
        description: Description (default: the docstring).
        version: Contract version (positive int); ``name@N`` pins it.
        tags: Tags for tag middleware and docs.
        permissions: Permission groups (any group passes; a list group needs all).
        middleware: Function middleware (innermost layer).
        auth: Whether a session is required.
        expose: Whether the function is callable over public RPC (``/rpc/{name}``).
        errors: Error classes the function may raise (for documentation).

    Returns:
        The `PikkuFunction` wrapper, or a decorator producing it.
    """

    def wrap(f: Callable[..., Any]) -> PikkuFunction[Any]:
        return _make(
            f,
            auth,
            name,
            title,
            description,
            version,
            tags,
            permissions,
            middleware,
            expose,
            errors,
        )

    return wrap(fn) if fn is not None else wrap


@overload
def pikku_sessionless_func(fn: F, /) -> PikkuFunction[F]: ...
@overload
def pikku_sessionless_func(
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    version: int | None = None,
    tags: Iterable[str] | None = None,
    permissions: PermissionSpec | None = None,
    middleware: Sequence[Middleware] | None = None,
    expose: bool = False,
    errors: Sequence[type[BaseException]] | None = None,
) -> Callable[[F], PikkuFunction[F]]: ...
def pikku_sessionless_func(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    version: int | None = None,
    tags: Iterable[str] | None = None,
    permissions: PermissionSpec | None = None,
    middleware: Sequence[Middleware] | None = None,
    expose: bool = False,
    errors: Sequence[type[BaseException]] | None = None,
) -> Any:
    """Declare a pikku function that never needs a session.

    Takes the same options as `pikku_func` except ``auth``.

    Returns:
        The `PikkuFunction` wrapper, or a decorator producing it.
    """

    def wrap(f: Callable[..., Any]) -> PikkuFunction[Any]:
        return _make(
            f,
            False,
            name,
            title,
            description,
            version,
            tags,
            permissions,
            middleware,
            expose,
            errors,
        )

    return wrap(fn) if fn is not None else wrap


def as_meta(func: Any) -> FunctionMeta[Any]:
    """Return the metadata of a pikku function (or wrap a plain function on the fly)."""
    meta = getattr(func, "__pikku__", None)
    if isinstance(meta, FunctionMeta):
        return typing.cast(FunctionMeta[Any], meta)
    if isinstance(func, FunctionMeta):
        return typing.cast(FunctionMeta[Any], func)
    if callable(func):
        raise TypeError(
            f"{getattr(func, '__name__', func)!r} is not a pikku function: "
            "decorate it with @pikku_func or @pikku_sessionless_func"
        )
    raise TypeError(f"expected a pikku function, got {type(func).__name__}")
