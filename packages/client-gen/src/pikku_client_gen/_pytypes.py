"""JSON Schema to Python source: type expressions and msgspec Struct definitions."""

from __future__ import annotations

import json
import keyword
from typing import Any

from ._schemas import JSONSchema, SchemaSet, as_dict, as_list, identifier

__all__ = ["PyTypes", "arg_name", "py_identifier"]

_STRING_FORMATS = {
    "date-time": "datetime.datetime",
    "date": "datetime.date",
    "time": "datetime.time",
    "duration": "datetime.timedelta",
    "uuid": "uuid.UUID",
    "decimal": "decimal.Decimal",
    "binary": "bytes",
}
_SCALARS = {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def py_identifier(name: str) -> str:
    """A valid, non-keyword Python identifier for a JSON name."""
    ident = identifier(name)
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident):
        ident = f"{ident}_"
    return ident


def arg_name(name: str, used: set[str]) -> str:
    """A keyword-argument name for a field: an identifier, not ``self``, not private, unique."""
    ident = py_identifier(name).lstrip("_") or "arg"
    if ident[0].isdigit():
        ident = f"f{ident}"
    while ident in used or ident == "self":
        ident = f"{ident}_"
    used.add(ident)
    return ident


def _union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    if "Any" in unique:
        return "Any"
    return " | ".join(unique) if unique else "Any"


def _literal(values: list[Any]) -> str:
    return "Literal[" + ", ".join(json.dumps(v) if v is not None else "None" for v in values) + "]"


class PyTypes:
    """Python names and type expressions for the schemas of one `SchemaSet`.

    Args:
        schemas: The schemas.
        reserved: Names the surrounding module defines itself (components avoid them).
    """

    def __init__(self, schemas: SchemaSet, reserved: frozenset[str]) -> None:
        self.schemas = schemas
        self.names: dict[str, str] = {}
        taken = set(reserved)
        for comp in schemas.components:
            name = py_identifier(comp)
            while name in taken:
                name = f"{name}_"
            taken.add(name)
            self.names[comp] = name
        self.tags: dict[str, tuple[str, Any]] = {}
        self.modules: set[str] = set()
        for schema in schemas.components.values():
            self._find_tags(schema)

    def _find_tags(self, node: Any) -> None:
        obj = as_dict(node)
        if obj is not None:
            disc = as_dict(obj.get("discriminator"))
            mapping = as_dict(disc.get("mapping")) if disc is not None else None
            if disc is not None and mapping is not None:
                field = str(disc.get("propertyName"))
                for value, ref in mapping.items():
                    comp = self.schemas.ref_name({"$ref": ref})
                    if comp is not None:
                        self.tags[comp] = (field, self._tag_value(comp, field, value))
            for value in obj.values():
                self._find_tags(value)
        for value in as_list(node):
            self._find_tags(value)

    def _tag_value(self, comp: str, field: str, value: Any) -> Any:
        prop = self.schemas.components.get(comp, {}).get("properties", {}).get(field, {})
        enum = prop.get("enum")
        if isinstance(enum, list) and len(enum) == 1:  # pyright: ignore[reportUnknownArgumentType]
            return enum[0]  # pyright: ignore[reportUnknownVariableType]
        return value

    def type_of(self, schema: Any) -> str:
        """The Python type expression of a schema (``Any`` for what it cannot express)."""
        if not isinstance(schema, dict) or not schema:
            return "Any"
        s: JSONSchema = schema  # pyright: ignore[reportUnknownVariableType]
        comp = self.schemas.ref_name(s)
        if comp is not None:
            return self.names.get(comp, "Any")
        for key in ("anyOf", "oneOf"):
            if isinstance(s.get(key), list):
                return _union([self.type_of(x) for x in s[key]])
        if "const" in s:
            return _literal([s["const"]])
        if isinstance(s.get("enum"), list):
            return _literal(list(s["enum"]))
        kind = s.get("type")
        if isinstance(kind, list):
            return _union([self.type_of({**s, "type": k}) for k in kind])  # pyright: ignore[reportUnknownVariableType]
        if kind == "string":
            if s.get("contentEncoding") == "base64":
                return "bytes"
            tp = _STRING_FORMATS.get(str(s.get("format")), "str")
            if "." in tp:
                self.modules.add(tp.split(".", 1)[0])
            return tp
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind == "array":
            prefix = s.get("prefixItems")
            if isinstance(prefix, list):
                return "tuple[" + ", ".join(self.type_of(x) for x in prefix) + "]"  # pyright: ignore[reportUnknownVariableType]
            return f"list[{self.type_of(s.get('items'))}]"
        if kind == "object":
            extra = s.get("additionalProperties")
            value = self.type_of(extra) if isinstance(extra, dict) else "Any"
            return f"dict[str, {value}]"
        return "Any"

    def definitions(self) -> str:
        """Source defining every component: Structs first, then type aliases."""
        classes: list[str] = []
        aliases: list[tuple[str, str, set[str]]] = []
        for comp, schema in self.schemas.components.items():
            name = self.names[comp]
            if schema.get("type") == "object" and isinstance(schema.get("properties"), dict):
                classes.append(self._struct(comp, name, schema))
            else:
                deps = {self.names[c] for c in self._refs(schema) if c in self.names}
                aliases.append((name, f"{name}: TypeAlias = {self.type_of(schema)}", deps))
        return "\n\n\n".join([*classes, *_ordered(aliases)])

    def _refs(self, node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            comp = self.schemas.ref_name(node)  # pyright: ignore[reportUnknownArgumentType]
            if comp is not None:
                found.add(comp)
            for value in node.values():  # pyright: ignore[reportUnknownVariableType]
                found |= self._refs(value)
        elif isinstance(node, list):
            for value in node:  # pyright: ignore[reportUnknownVariableType]
                found |= self._refs(value)
        return found

    def _struct(self, comp: str, name: str, schema: JSONSchema) -> str:
        options = "kw_only=True"
        tag = self.tags.get(comp)
        if tag is not None:
            options += f", tag_field={json.dumps(tag[0])}, tag={json.dumps(tag[1])}"
        lines = [f"class {name}(msgspec.Struct, {options}):"]
        doc = str(schema.get("description") or schema.get("title") or comp)
        lines.append(f"    {_docstring(doc)}")
        lines.append("")
        required = set(schema.get("required", []))
        used: set[str] = set()
        for field, prop in schema["properties"].items():
            if tag is not None and field == tag[0]:
                continue
            attr = arg_name(field, used)  # the same name the client methods' keywords use
            tp = self.type_of(prop)
            rename = f"name={json.dumps(field)}" if attr != field else ""
            if field in required:
                value = f" = msgspec.field({rename})" if rename else ""
                lines.append(f"    {attr}: {tp}{value}")
                continue
            tp, default = self._default(prop, tp)
            if rename:
                default = _with_name(default, rename)
            lines.append(f"    {attr}: {tp} = {default}")
        return "\n".join(lines)

    def _default(self, prop: JSONSchema, tp: str) -> tuple[str, str]:
        if "default" not in prop:
            return f"{tp} | msgspec.UnsetType", "msgspec.UNSET"
        value = prop["default"]
        simple = tp in ("str", "int", "float", "bool", "Any") or tp.startswith("Literal[")
        simple = simple or (tp.endswith("| None") and value is None)
        simple = simple or (tp in self.names.values() and isinstance(value, str | int))
        if value is None and "None" in tp.split(" | "):
            return tp, "None"
        if simple and isinstance(value, str | int | float | bool):
            if tp == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            return tp, json.dumps(value) if not isinstance(value, bool) else repr(value)
        if value == [] and tp.startswith("list["):
            return tp, "[]"  # msgspec copies empty collection defaults per instance
        if value == {} and tp.startswith("dict["):
            return tp, "{}"
        return f"{tp} | msgspec.UnsetType", "msgspec.UNSET"


def _with_name(default: str, rename: str) -> str:
    if default.startswith("msgspec.field("):
        return default[:-1] + f", {rename})"
    return f"msgspec.field(default={default}, {rename})"


def _docstring(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    first = body.splitlines()[0] if body else "Generated type."
    return f'"""{first}"""'


def _ordered(aliases: list[tuple[str, str, set[str]]]) -> list[str]:
    pending = {name: (src, deps) for name, src, deps in aliases}
    out: list[str] = []
    while pending:
        ready = [n for n, (_, deps) in pending.items() if not (deps & pending.keys() - {n})]
        # A cycle among aliases cannot be ordered: emit the rest as they come.
        batch = ready or list(pending)
        for name in batch:
            out.append(pending.pop(name)[0])
    return out
