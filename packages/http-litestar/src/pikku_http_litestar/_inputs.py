"""Turn path, query and body values into a function's ``data`` (precomputed per input type)."""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from pikku_core import UnprocessableContentError, UploadFile

_SEQUENCE_ORIGINS: frozenset[Any] = frozenset(
    {list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set}
)


def _strip(tp: Any) -> Any:
    """Drop ``Annotated`` and ``Optional`` wrappers to see the underlying type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) == 1:
                tp = args[0]
                continue
        return tp


def _is_sequence(tp: Any) -> bool:
    tp = _strip(tp)
    return tp in _SEQUENCE_ORIGINS or typing.get_origin(tp) in _SEQUENCE_ORIGINS


def _object_fields(input_type: Any) -> dict[str, Any] | None:
    """Wire name → declared type for an object input type; None for anything else."""
    tp: Any = _strip(input_type)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return {f.encode_name: f.type for f in msgspec.structs.fields(tp)}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        cls: Any = tp
        hints = typing.get_type_hints(cls, include_extras=True)
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}
    stripped = _strip(input_type)
    if typing.is_typeddict(stripped):
        return dict(typing.get_type_hints(stripped, include_extras=True))
    return None


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is UploadFile and isinstance(obj, UploadFile):
        return obj
    raise NotImplementedError(f"expected {getattr(tp, '__name__', tp)}")


class InputShape:
    """What the adapter needs to know about one input type, computed at app build time.

    Attributes:
        takes_input: Whether the function takes data at all.
        fields: Wire name → declared type for object inputs; None for scalars and ``Any``.
        sequence_fields: Fields declared as a list/tuple/set (one query value becomes a list).
        bytes_fields: Fields declared as ``bytes`` (a multipart file part is read into them).
        bytes_field: The field an ``application/octet-stream`` body fills, if any
            (``""`` when the input type itself is ``bytes`` or `UploadFile`).
    """

    __slots__ = ("bytes_field", "bytes_fields", "fields", "sequence_fields", "takes_input")

    def __init__(self, input_type: Any) -> None:
        self.takes_input = input_type is not None
        self.fields = _object_fields(input_type) if self.takes_input else None
        fields = self.fields or {}
        self.sequence_fields = frozenset(k for k, t in fields.items() if _is_sequence(t))
        self.bytes_fields = frozenset(k for k, t in fields.items() if _strip(t) is bytes)
        self.bytes_field: str | None = None
        if _strip(input_type) in (bytes, UploadFile):
            self.bytes_field = ""
        else:
            raw = [k for k, t in fields.items() if _strip(t) in (bytes, UploadFile)]
            if len(raw) == 1:
                self.bytes_field = raw[0]

    def convert_field(self, key: str, value: Any) -> Any:
        """Leniently convert one path/query/form value to its field's declared type."""
        assert self.fields is not None
        try:
            return msgspec.convert(value, self.fields[key], strict=False, dec_hook=_dec_hook)
        except msgspec.ValidationError as exc:
            raise UnprocessableContentError(
                f"{_first_line(exc)} at $.{key}", {"path": f"$.{key}"}
            ) from None

    def lenient(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Convert string values (path, query, form) leniently; unknown keys are dropped.

        For inputs whose fields are unknown (``dict``, ``Any``) values pass through as is.
        """
        fields = self.fields
        if fields is None:
            return dict(values)
        return {k: self.convert_field(k, v) for k, v in values.items() if k in fields}

    def merge(self, target: dict[str, Any], source: Mapping[str, Any]) -> None:
        """Add ``source`` into ``target``; a key with two different values is a 422."""
        for key, value in source.items():
            if key not in target:
                target[key] = value
                continue
            current = target[key]
            if current == value:
                continue
            if self.fields is not None and key in self.fields:
                # compare after conversion: "5" from the path equals 5 from the body
                if self.convert_field(key, current) == self.convert_field(key, value):
                    continue
            raise UnprocessableContentError(
                f"conflicting values for `{key}` in the request", {"path": f"$.{key}"}
            )


def query_values(
    pairs: Sequence[tuple[str, str]], sequence_fields: frozenset[str]
) -> dict[str, Any]:
    """Group query (or form) pairs: a repeated key, or a list-typed field, gives a list."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            current = out[key]
            if isinstance(current, list):
                typing.cast(list[Any], current).append(value)
            else:
                out[key] = [current, value]
        elif key in sequence_fields:
            out[key] = [value]
        else:
            out[key] = value
    return out


def _first_line(exc: Exception) -> str:
    text = str(exc)
    marker = text.find(" - at `")
    return text[:marker] if marker >= 0 else text
