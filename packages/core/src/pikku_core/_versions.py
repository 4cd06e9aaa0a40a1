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
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = [
    "ContractDiff",
    "FieldChange",
    "canonical_json",
    "contract_hash",
    "diff_contracts",
    "structural_schema",
]

# Annotation keywords (they document a schema but never change which values it accepts)
# and definition containers (their entries are reached through `$ref`s).
_ANNOTATIONS = frozenset(
    "title description examples example $comment $schema $id $anchor $defs definitions"
    " components readOnly writeOnly deprecated externalDocs xml".split()
)
# Keywords whose value is one schema.
_SUB_SCHEMA = frozenset(
    "additionalProperties additionalItems unevaluatedProperties unevaluatedItems not if"
    " then else contains propertyNames contentSchema".split()
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


# --------------------------------------------------------------------------- diffs

Side = Literal["input", "output"]
ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field-level difference between two contracts.

    Attributes:
        side: ``"input"`` or ``"output"``.
        path: Where the field is, ``$`` being the whole input or output
            (``$.author.name``, ``$.tags[]`` for list items).
        kind: ``"added"``, ``"removed"`` or ``"changed"``.
        detail: What changed, in words (``"optional string"``, ``"string -> integer"``).
        breaking: Whether a client built against the old contract stops working.
        reason: Why it breaks or not, in a few words.
    """

    side: Side
    path: str
    kind: ChangeKind
    detail: str
    breaking: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ContractDiff:
    """The field-level differences between an old and a new contract.

    Attributes:
        changes: Every change, input side first, each side in path order.
    """

    changes: tuple[FieldChange, ...]

    @property
    def compatible(self) -> bool:
        """Whether old clients keep working (no change is breaking)."""
        return not any(c.breaking for c in self.changes)

    @property
    def breaking(self) -> tuple[FieldChange, ...]:
        """The breaking changes."""
        return tuple(c for c in self.changes if c.breaking)


def _deref(root: dict[str, Any] | None, node: Any) -> Any:
    # Structural schemas only keep positional `$ref`s for recursive types.
    if not isinstance(node, dict) or root is None:
        return cast("Any", node)
    schema = cast("dict[str, Any]", node)
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    defs = cast("dict[str, Any]", root.get("$defs", {}))
    return defs.get(ref.rsplit("/", 1)[-1], schema)


def _types(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return set(cast("list[str]", t))
    return set()


def _describe(schema: Any, root: dict[str, Any] | None = None, depth: int = 0) -> str:
    schema = _deref(root, schema)
    if schema is None:
        return "nothing"
    if not isinstance(schema, dict) or not schema:
        return "any"
    s = cast("dict[str, Any]", schema)
    if "$ref" in s:
        return "recursive object"
    if "const" in s:
        return f"const {canonical_json(s['const'])}"
    if "enum" in s:
        return "one of " + ", ".join(canonical_json(v) for v in cast("list[Any]", s["enum"]))
    for key in ("anyOf", "oneOf"):
        if key in s and depth < 3:
            members = cast("list[Any]", s[key])
            return " | ".join(_describe(m, root, depth + 1) for m in members)
    types = sorted(_types(s))
    if types == ["array"] and depth < 3:
        return f"list of {_describe(s.get('items', {}), root, depth + 1)}"
    extras = sorted(k for k in s if k not in ("type", "items", "properties", "required"))
    text = " | ".join(types) if types else "any"
    constraints = [k for k in extras if k != "default"]
    if constraints:
        text += " (" + ", ".join(f"{k}={canonical_json(s[k])}" for k in constraints) + ")"
    return text


_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _accepts_all(old: Any, new: Any, old_root: Any, new_root: Any, depth: int = 0) -> bool:
    """Whether every value valid under ``old`` is valid under ``new`` (conservative)."""
    old, new = _deref(old_root, old), _deref(new_root, new)
    if canonical_json(old) == canonical_json(new) or new in ({}, True):
        return True
    if depth > 20 or not isinstance(old, dict) or not isinstance(new, dict):
        return False
    o, n = cast("dict[str, Any]", old), cast("dict[str, Any]", new)
    for key in ("anyOf", "oneOf"):
        if key in o:
            members = cast("list[Any]", o[key])
            return all(_accepts_all(m, n, old_root, new_root, depth + 1) for m in members)
    for key in ("anyOf", "oneOf"):
        if key in n:
            members = cast("list[Any]", n[key])
            return any(_accepts_all(o, m, old_root, new_root, depth + 1) for m in members)
    if "enum" in o or "const" in o:
        values = cast("list[Any]", o["enum"]) if "enum" in o else [o["const"]]
        return all(_value_fits(v, n) for v in values)
    if "enum" in n or "const" in n:
        return False
    o_types, n_types = _types(o), _types(n)
    if "number" in n_types:
        n_types.add("integer")
    if n_types and not (o_types and o_types <= n_types):
        return False
    for key in set(n) - {"type", "default"}:
        if key in _LOWER_BOUNDS:
            if key not in o or o[key] < n[key]:
                return False
        elif key in _UPPER_BOUNDS:
            if key not in o or o[key] > n[key]:
                return False
        elif key == "items":
            if not _accepts_all(o.get("items", {}), n[key], old_root, new_root, depth + 1):
                return False
        elif key == "required":
            if not set(cast("list[str]", n[key])) <= set(cast("list[str]", o.get(key, []))):
                return False
        elif key == "properties":
            props_o = cast("dict[str, Any]", o.get("properties", {}))
            for name, sub in cast("dict[str, Any]", n[key]).items():
                if name in props_o and not _accepts_all(
                    props_o[name], sub, old_root, new_root, depth + 1
                ):
                    return False
        elif canonical_json(o.get(key)) != canonical_json(n[key]):
            return False
    return True


def _value_fits(value: Any, schema: dict[str, Any]) -> bool:
    if "enum" in schema:
        return canonical_json(value) in {canonical_json(v) for v in schema["enum"]}
    if "const" in schema:
        return canonical_json(value) == canonical_json(schema["const"])
    types = _types(schema)
    if not types:
        return True
    kinds: dict[type[Any], str] = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        type(None): "null",
        list: "array",
        dict: "object",
    }
    kind = kinds.get(cast("type[Any]", type(value)), "")
    return kind in types or (kind == "integer" and "number" in types)


def _object(schema: Any) -> dict[str, Any] | None:
    if isinstance(schema, dict) and "properties" in schema and "$ref" not in schema:
        return cast("dict[str, Any]", schema)
    return None


class _Differ:
    def __init__(self, side: Side, old_root: Any, new_root: Any) -> None:
        self.side: Side = side
        self.old_root = old_root
        self.new_root = new_root
        self.changes: list[FieldChange] = []
        self.seen: set[tuple[str, str]] = set()

    def add(self, path: str, kind: ChangeKind, detail: str, breaking: bool, why: str) -> None:
        self.changes.append(FieldChange(self.side, path, kind, detail, breaking, why))

    def diff(self, path: str, old: Any, new: Any) -> None:
        old, new = _deref(self.old_root, old), _deref(self.new_root, new)
        if canonical_json(old) == canonical_json(new):
            return
        key = (canonical_json(old), canonical_json(new))
        if key in self.seen:  # a recursive type: its fields are being compared above
            return
        self.seen.add(key)
        try:
            self._diff(path, old, new)
        finally:
            self.seen.discard(key)

    def _diff(self, path: str, old: Any, new: Any) -> None:
        if (
            isinstance(old, dict)
            and isinstance(new, dict)
            and ("default" in old or "default" in new)
        ):
            o, n = cast("dict[str, Any]", old), cast("dict[str, Any]", new)
            if "default" in o and "default" in n:
                was, now = canonical_json(o["default"]), canonical_json(n["default"])
                if was != now:
                    self.add(path, "changed", f"default {was} -> {now}", False, "default changed")
            # A default only comes with optionality, which is compared by the parent.
            old = {k: v for k, v in o.items() if k != "default"}
            new = {k: v for k, v in n.items() if k != "default"}
            if canonical_json(old) == canonical_json(new):
                return
        o_obj, n_obj = _object(old), _object(new)
        if o_obj is not None and n_obj is not None:
            self.diff_object(path, o_obj, n_obj)
            return
        if isinstance(old, dict) and isinstance(new, dict):
            o, n = cast("dict[str, Any]", old), cast("dict[str, Any]", new)
            if _types(o) == _types(n) == {"array"} and _strip_items(o) == _strip_items(n):
                self.diff(f"{path}[]", o.get("items", {}), n.get("items", {}))
                return
            for union in ("anyOf", "oneOf"):
                if self.diff_union(path, o.get(union), n.get(union)):
                    return
        self.diff_leaf(path, old, new)

    def diff_union(self, path: str, old: Any, new: Any) -> bool:
        if not isinstance(old, list) or not isinstance(new, list):
            return False
        olds, news = cast("list[Any]", old), cast("list[Any]", new)
        if len(olds) != len(news):
            return False
        pairs = list(zip(olds, news, strict=True))
        # Pair members only when the changed ones are objects (e.g. `Book | None`).
        for o, n in pairs:
            if canonical_json(o) != canonical_json(n):
                if _object(_deref(self.old_root, o)) is None:
                    return False
                if _object(_deref(self.new_root, n)) is None:
                    return False
        for o, n in pairs:
            self.diff(path, o, n)
        return True

    def diff_leaf(self, path: str, old: Any, new: Any) -> None:
        detail = f"{_describe(old, self.old_root)} -> {_describe(new, self.new_root)}"
        if self.side == "output":
            self.add(path, "changed", detail, True, "type changed")
        elif _accepts_all(old, new, self.old_root, self.new_root):
            self.add(path, "changed", detail, False, "widened type")
        else:
            self.add(path, "changed", detail, True, "narrowed type")

    def diff_object(self, path: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        o_props = cast("dict[str, Any]", old.get("properties", {}))
        n_props = cast("dict[str, Any]", new.get("properties", {}))
        o_req = set(cast("list[str]", old.get("required", [])))
        n_req = set(cast("list[str]", new.get("required", [])))
        inp = self.side == "input"
        for name in sorted(set(o_props) | set(n_props)):
            sub = f"{path}.{name}"
            if name not in o_props:
                req = name in n_req
                what = (
                    f"{'required' if req else 'optional'} {_describe(n_props[name], self.new_root)}"
                )
                if inp:
                    why = "new required field" if req else "new optional field"
                    self.add(sub, "added", what, req, why)
                else:
                    self.add(sub, "added", what, False, "new field")
            elif name not in n_props:
                what = _describe(o_props[name], self.old_root)
                if inp:
                    self.add(sub, "removed", what, False, "old clients' value is ignored")
                else:
                    self.add(sub, "removed", what, True, "removed field")
            else:
                was, now = name in o_req, name in n_req
                if was and not now:
                    self.add(
                        sub,
                        "changed",
                        "required -> optional",
                        not inp,
                        "may now be absent" if not inp else "no longer required",
                    )
                elif now and not was:
                    self.add(
                        sub,
                        "changed",
                        "optional -> required",
                        inp,
                        "now required" if inp else "always present now",
                    )
                self.diff(sub, o_props[name], n_props[name])
        rest_o = {k: v for k, v in old.items() if k not in ("properties", "required")}
        rest_n = {k: v for k, v in new.items() if k not in ("properties", "required")}
        if canonical_json(rest_o) != canonical_json(rest_n):
            self.diff_leaf(path, rest_o, rest_n)


def _strip_items(schema: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in schema.items() if k != "items"})


def diff_contracts(
    old_input: dict[str, Any] | None,
    old_output: dict[str, Any] | None,
    new_input: dict[str, Any] | None,
    new_output: dict[str, Any] | None,
) -> ContractDiff:
    """Compare two contracts field by field and judge each change.

    All four schemas are structural (see `structural_schema`). The verdict rules: on the
    input side a new optional field or a widened type is compatible, a new required
    field, a field becoming required or a narrowed type breaks; on the output side a new
    field is compatible, a removed field, a changed type or a required field becoming
    optional breaks.

    Args:
        old_input: The recorded input schema.
        old_output: The recorded output schema.
        new_input: The current input schema.
        new_output: The current output schema.

    Returns:
        The changes, input side first.
    """
    changes: list[FieldChange] = []
    sides: tuple[tuple[Side, Any, Any], ...] = (
        ("input", old_input, new_input),
        ("output", old_output, new_output),
    )
    for side, old, new in sides:
        differ = _Differ(side, old, new)
        differ.diff("$", old, new)
        changes.extend(differ.changes)
    return ContractDiff(tuple(changes))
