"""JSON Schemas of an app's functions, with named types shared as components."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

import msgspec
from pikku_core import FunctionMeta, Response
from pikku_core._func import schema_hook

__all__ = [
    "GenerationError",
    "SchemaSet",
    "admits_null",
    "as_dict",
    "as_list",
    "build_schema_set",
    "func_slug",
    "is_raw_output",
]

JSONSchema = dict[str, Any]


class GenerationError(Exception):
    """An app cannot be described (an unsupported type, a clash of generated names)."""


def as_dict(value: Any) -> dict[str, Any] | None:
    """``value`` as a JSON object, or None when it is something else."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def as_list(value: Any) -> list[Any]:
    """``value`` as a JSON array (empty when it is something else)."""
    return cast(list[Any], value) if isinstance(value, list) else []


def admits_null(schema: JSONSchema | None) -> bool:
    """Whether a schema accepts ``null`` (an output that may be None, answered with 204)."""
    if schema is None:
        return False
    if not schema or schema.get("type") == "null":
        return True
    options = [as_dict(o) for o in as_list(schema.get("anyOf") or schema.get("oneOf"))]
    return any(o is not None and admits_null(o) for o in options)


def func_slug(meta: FunctionMeta[Any]) -> str:
    """A file-name and identifier friendly form of a function key (``name@2`` -> ``name_v2``)."""
    return meta.key.replace("@", "_v")


def is_raw_output(meta: FunctionMeta[Any]) -> bool:
    """Whether the function returns a raw `pikku_core.Response` (no JSON schema)."""
    tp = meta.output_type
    return isinstance(tp, type) and issubclass(tp, Response)


class SchemaSet:
    """The input and output schemas of a set of functions, sharing one components table.

    Attributes:
        components: Named schemas (Structs, dataclasses, TypedDicts, enums), referenced
            from the per-function schemas with ``$ref`` built from the reference template.
        ref_prefix: The prefix of every ``$ref`` (e.g. ``#/components/schemas/``).
    """

    def __init__(
        self,
        components: dict[str, JSONSchema],
        inputs: dict[str, JSONSchema | None],
        outputs: dict[str, JSONSchema | None],
        ref_prefix: str,
    ) -> None:
        self.components = components
        self._inputs = inputs
        self._outputs = outputs
        self.ref_prefix = ref_prefix

    def input(self, meta: FunctionMeta[Any]) -> JSONSchema | None:
        """The input schema of a function, or None when it takes no input."""
        return self._inputs[meta.key]

    def output(self, meta: FunctionMeta[Any]) -> JSONSchema | None:
        """The output (stream item) schema, or None for no output or a raw response."""
        return self._outputs[meta.key]

    def ref_name(self, schema: JSONSchema) -> str | None:
        """The component name a schema refers to, if it is a plain ``$ref``."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(self.ref_prefix):
            return ref[len(self.ref_prefix) :]
        return None

    def resolve(self, schema: JSONSchema) -> JSONSchema:
        """Follow a ``$ref`` to its component (other schemas are returned as they are)."""
        seen: set[str] = set()
        while True:
            name = self.ref_name(schema)
            if name is None or name in seen or name not in self.components:
                return schema
            seen.add(name)
            schema = self.components[name]

    def object_fields(self, schema: JSONSchema | None) -> tuple[dict[str, JSONSchema], list[str]]:
        """The properties and required names of an object schema (empty for other schemas)."""
        if schema is None:
            return {}, []
        target = self.resolve(schema)
        props = target.get("properties")
        if target.get("type") != "object" or not isinstance(props, dict):
            return {}, []
        required = [str(r) for r in target.get("required", [])]  # pyright: ignore[reportUnknownVariableType]
        return dict(props), required  # pyright: ignore[reportUnknownArgumentType]

    def is_object(self, schema: JSONSchema | None) -> bool:
        """Whether a schema describes an object with named properties."""
        if schema is None:
            return False
        target = self.resolve(schema)
        return target.get("type") == "object" and isinstance(target.get("properties"), dict)


def _schema_types(meta: FunctionMeta[Any]) -> tuple[Any, Any]:
    output = None if is_raw_output(meta) else meta.output_type
    return meta.input_type, output


def build_schema_set(metas: Iterable[FunctionMeta[Any]], ref_template: str) -> SchemaSet:
    """Compute the schemas of many functions at once so named types are shared.

    Args:
        metas: The functions (duplicates by key are ignored).
        ref_template: Where components live, with ``{name}`` (msgspec's ``ref_template``).

    Returns:
        The schema set.

    Raises:
        GenerationError: A function's input or output type has no JSON Schema.
    """
    unique: dict[str, FunctionMeta[Any]] = {}
    for meta in metas:
        unique.setdefault(meta.key, meta)
    types: list[Any] = []
    slots: list[tuple[str, str]] = []
    for key, meta in unique.items():
        try:
            in_tp, out_tp = _schema_types(meta)
        except Exception as exc:  # user annotations can fail in any way when evaluated
            raise GenerationError(f"function {key!r}: cannot read its types ({exc})") from exc
        for kind, tp in (("input", in_tp), ("output", out_tp)):
            if tp is not None:
                types.append(tp)
                slots.append((key, kind))
    try:
        schemas, components = msgspec.json.schema_components(
            types, schema_hook=schema_hook, ref_template=ref_template
        )
    except (TypeError, ValueError) as exc:
        raise _explain(unique.values(), exc) from exc
    inputs: dict[str, JSONSchema | None] = dict.fromkeys(unique)
    outputs: dict[str, JSONSchema | None] = dict.fromkeys(unique)
    for (key, kind), schema in zip(slots, schemas, strict=True):
        (inputs if kind == "input" else outputs)[key] = schema
    prefix = ref_template.split("{name}", 1)[0]
    return SchemaSet(dict(sorted(components.items())), inputs, outputs, prefix)


def _explain(metas: Iterable[FunctionMeta[Any]], exc: Exception) -> GenerationError:
    for meta in metas:
        for kind, tp in zip(("input", "output"), _schema_types(meta), strict=True):  # read above
            if tp is None:
                continue
            try:
                msgspec.json.schema(tp, schema_hook=schema_hook)
            except (TypeError, ValueError) as inner:
                return GenerationError(
                    f"function {meta.key!r}: its {kind} type {tp!r} has no JSON Schema ({inner})"
                )
    return GenerationError(f"cannot build JSON Schemas: {exc}")


_IDENT_RE = re.compile(r"[^0-9A-Za-z_]")


def identifier(name: str) -> str:
    """Turn any name into a valid identifier (non-word characters become ``_``)."""
    ident = _IDENT_RE.sub("_", name)
    if not ident or ident[0].isdigit():
        ident = f"_{ident}"
    return ident
