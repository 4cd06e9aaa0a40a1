"""Contract versioning: structural schemas, contract hashes and the versions manifest.

A function's *contract* is its name plus the structural form of its input and output
JSON schemas. "Structural" means everything a client cannot observe is removed first:
titles, descriptions, examples and component names (``$ref`` targets are inlined, and
recursive types get positional names), so renaming a Struct or editing a docstring does
not change the hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

__all__ = [
    "canonical_json",
    "contract_hash",
    "structural_schema",
]

# Annotation keywords: they document a schema but never change which values it accepts.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "example",
        "$comment",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
        "readOnly",
        "writeOnly",
        "deprecated",
        "externalDocs",
        "xml",
    }
)
# Keywords whose value is one schema.
_SUB_SCHEMA = frozenset(
    {
        "additionalProperties",
        "additionalItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "contentSchema",
    }
)
# Keywords whose value is a list of schemas.
_SCHEMA_LIST = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
# Keywords whose value maps names (part of the contract) to schemas.
_SCHEMA_MAP = frozenset({"properties", "patternProperties", "dependentSchemas"})


def canonical_json(value: Any) -> str:
    """Serialise ``value`` as canonical JSON: sorted keys, no whitespace, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Structurer:
    """Walks one root schema, inlining references and dropping annotations."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.stack: list[str] = []
        self.recursive: dict[str, str] = {}
        self.defs: dict[str, Any] = {}

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ValueError(f"cannot resolve external schema reference {ref!r}")
        node: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = cast("dict[str, Any]", node)[part]
            elif isinstance(node, list) and part.isdigit():
                node = cast("list[Any]", node)[int(part)]
            else:
                raise ValueError(f"unresolvable schema reference {ref!r}")
        return node

    def walk(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        schema = cast("dict[str, Any]", node)
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self.ref(ref)
            rest = self.walk({k: v for k, v in schema.items() if k != "$ref"})
            return target if not rest else {"allOf": [target, rest]}
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            out[key] = self.keyword(key, value)
        return out

    def ref(self, ref: str) -> Any:
        if ref in self.stack:
            name = self.recursive.setdefault(ref, f"T{len(self.recursive)}")
            return {"$ref": f"#/$defs/{name}"}
        self.stack.append(ref)
        try:
            body = self.walk(self.resolve(ref))
        finally:
            self.stack.pop()
        if ref in self.recursive:
            name = self.recursive[ref]
            self.defs[name] = body
            return {"$ref": f"#/$defs/{name}"}
        return body

    def keyword(self, key: str, value: Any) -> Any:
        if key in _SUB_SCHEMA:
            return self.walk(value)
        if key in _SCHEMA_LIST and isinstance(value, list):
            return [self.walk(v) for v in cast("list[Any]", value)]
        if key == "items":
            if isinstance(value, list):
                return [self.walk(v) for v in cast("list[Any]", value)]
            return self.walk(value)
        if key in _SCHEMA_MAP and isinstance(value, dict):
            mapping = cast("dict[str, Any]", value)
            return {k: self.walk(mapping[k]) for k in sorted(mapping)}
        if key == "required" and isinstance(value, list):
            return sorted(cast("list[str]", value))
        if key == "enum" and isinstance(value, list):
            return sorted(cast("list[Any]", value), key=canonical_json)
        if key == "discriminator" and isinstance(value, dict):
            # The mapping names components; the property name is the contract.
            disc = cast("dict[str, Any]", value)
            return {k: v for k, v in disc.items() if k != "mapping"}
        return value


def structural_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the structural form of a JSON schema.

    Titles, descriptions, examples and other annotations are dropped, every ``$ref`` is
    inlined (a recursive type keeps one ``$ref`` to a positional name such as ``T0``
    under a root ``$defs``), ``required`` and ``enum`` are sorted. Two schemas that
    accept the same documents under different type names give the same result.

    Args:
        schema: A JSON schema (as produced by msgspec), or ``None`` for "no value".

    Returns:
        The structural schema, or ``None`` when ``schema`` is ``None``.

    Raises:
        ValueError: A ``$ref`` points outside the schema or to nothing.
    """
    if schema is None:
        return None
    walker = _Structurer(schema)
    out = walker.walk(schema)
    if walker.defs:
        if not isinstance(out, dict):  # pragma: no cover - a root is always an object
            raise ValueError("schema root is not an object")
        out = {**cast("dict[str, Any]", out), "$defs": dict(sorted(walker.defs.items()))}
    return cast("dict[str, Any]", out)


def contract_hash(
    name: str, input_schema: dict[str, Any] | None, output_schema: dict[str, Any] | None
) -> str:
    """Hash a function contract.

    Args:
        name: The function name (without ``@version``).
        input_schema: The JSON schema of its input, or ``None`` when it takes none.
        output_schema: The JSON schema of its output, or ``None`` when it returns none.

    Returns:
        The hex sha256 of the canonical JSON of ``{"name", "input", "output"}`` where the
        schemas are structural (see `structural_schema`).
    """
    doc = {
        "name": name,
        "input": structural_schema(input_schema),
        "output": structural_schema(output_schema),
    }
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()
