"""Command-line options derived from a function's input type (argparse)."""

from __future__ import annotations

import argparse
import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import msgspec

__all__ = ["InputSpec", "OptionKind", "OptionSpec", "add_input_arguments"]

_SCALARS: dict[type[Any], str] = {
    msgspec.inspect.IntType: "INT",
    msgspec.inspect.FloatType: "NUMBER",
    msgspec.inspect.StrType: "TEXT",
}
# Types msgspec converts from a string in lenient mode (core does the parsing).
_STRINGLY = (
    msgspec.inspect.DateTimeType,
    msgspec.inspect.DateType,
    msgspec.inspect.TimeType,
    msgspec.inspect.TimeDeltaType,
    msgspec.inspect.UUIDType,
    msgspec.inspect.DecimalType,
)
_COLLECTIONS = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)
OptionKind = Literal["value", "flag", "list", "json"]
_PATH_HEAD = re.compile(r"^\$\.([^.\[]+)")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """How one input field appears on the command line.

    Attributes:
        key: The field's name in the input document (msgspec encode name).
        dest: The argparse destination.
        flag: What the user types: ``--book-id`` or the positional's metavar.
        kind: ``value`` (one word), ``flag`` (``--x/--no-x``), ``list`` (repeated) or
            ``json`` (a JSON document).
        positional: Whether it is a positional argument.
    """

    key: str
    dest: str
    flag: str
    kind: OptionKind = "value"
    positional: bool = False


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None


def _unwrap(t: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, str | None, bool]:
    """Strip ``Annotated`` metadata and ``| None``: (type, description, nullable)."""
    description: str | None = None
    nullable = False
    while True:
        if isinstance(t, msgspec.inspect.Metadata):
            schema = cast("dict[str, Any]", t.extra_json_schema or {})
            description = description or cast("str | None", schema.get("description"))
            t = t.type
            continue
        if isinstance(t, msgspec.inspect.UnionType):
            rest = [m for m in t.types if not isinstance(m, msgspec.inspect.NoneType)]
            if len(rest) == 1 and len(rest) != len(t.types):
                nullable = True
                t = rest[0]
                continue
        return t, description, nullable


def _scalar(t: msgspec.inspect.Type) -> str | None:
    """The metavar of a type given as one command-line word, or None if it is not one.

    Values stay strings: core converts them to the declared type (lenient mode) and
    reports a bad value as a 422 with its path, which names the option.
    """
    t, _, _ = _unwrap(t)
    for kind, metavar in _SCALARS.items():
        if isinstance(t, kind):
            return metavar
    if isinstance(t, msgspec.inspect.BoolType):
        return "BOOL"
    if isinstance(t, msgspec.inspect.LiteralType):
        return "{" + ",".join(str(v) for v in t.values) + "}"
    if isinstance(t, msgspec.inspect.EnumType):
        members: list[enum.Enum] = list(t.cls)
        return "{" + ",".join(str(m.value) for m in members) + "}"
    if isinstance(t, _STRINGLY):
        return "TEXT"
    if isinstance(t, msgspec.inspect.UnionType):
        # `int | str`: one word, core picks the member (lenient conversion).
        words = [_scalar(m) for m in t.types if not isinstance(m, msgspec.inspect.NoneType)]
        if all(words):
            return "|".join(dict.fromkeys(cast("list[str]", words)))
    return None


def _default_text(field: msgspec.inspect.Field) -> str | None:
    if field.required:
        return None
    if field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        return json.dumps(msgspec.to_builtins(value), ensure_ascii=False)
    except (TypeError, msgspec.EncodeError):
        return repr(value)


def _help(description: str | None, note: str, default: str | None, required: bool) -> str:
    parts = [description] if description else []
    if note:
        parts.append(note)
    if required:
        parts.append("(required)")
    elif default is not None:
        parts.append(f"(default: {default.replace('%', '%%')})")
    return " ".join(parts)


def _add_field(
    parser: argparse.ArgumentParser,
    key: str,
    t: msgspec.inspect.Type,
    *,
    required: bool,
    positional: bool,
    description: str | None,
    default: str | None,
    name: str | None = None,
) -> OptionSpec:
    """Add one argument; ``name`` is the Python field name (``key`` the JSON one)."""
    name = name or key
    dest = f"in__{key}"
    inner, own_description, _ = _unwrap(t)
    note = ""
    kwargs: dict[str, Any] = {}
    metavar = name.upper().replace("-", "_")
    scalar = _scalar(inner)
    kind: OptionKind
    if isinstance(inner, msgspec.inspect.BoolType) and not positional:
        kind = "flag"
        kwargs["action"] = argparse.BooleanOptionalAction
    elif scalar is not None:
        kind = "value"
        kwargs["metavar"] = metavar if positional else scalar
    elif isinstance(inner, _COLLECTIONS) and _scalar(inner.item_type) is not None:
        kind = "list"
        kwargs["metavar"] = metavar if positional else _scalar(inner.item_type)
        if positional:
            kwargs["nargs"] = "+" if required else "*"
        else:
            kwargs["action"] = "append"
            note = "(repeat for several)"
    else:
        kind = "json"
        kwargs["type"] = _json_value
        kwargs["metavar"] = metavar if positional else "JSON"
        note = "(a JSON value)"
    help_text = _help(description or own_description, note, default, required and not positional)
    if positional:
        if not required and "nargs" not in kwargs:
            kwargs["nargs"] = "?"
        parser.add_argument(dest, default=argparse.SUPPRESS, help=help_text, **kwargs)
        return OptionSpec(key, dest, metavar, kind, positional=True)
    # Required options are checked by core (a 422 naming the field, mapped to the
    # option), so the rule and its error live in one place.
    flag = "--" + name.replace("_", "-")
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=help_text, **kwargs)
    return OptionSpec(key, dest, flag, kind)


def add_input_arguments(
    parser: argparse.ArgumentParser, input_type: Any, positionals: Sequence[str]
) -> InputSpec:
    """Add one argument per input field to ``parser``.

    An object input (Struct, dataclass, TypedDict, NamedTuple) gives one option per
    field (``--book-id`` for ``book_id``); a scalar input gives ``--value``; any other
    input (``dict``, ``Any``, a list) gives ``--data JSON``.

    Args:
        parser: The command's parser.
        input_type: The function's input type, or None when it takes no data.
        positionals: Field names given as positional arguments, in order.

    Returns:
        What is needed to rebuild the input from the parsed namespace.

    Raises:
        ValueError: A positional names no field of the input.
    """
    if input_type is None:
        if positionals:
            raise ValueError(f"positionals {list(positionals)} given to a command without input")
        return InputSpec(())
    info = msgspec.inspect.type_info(input_type)
    fields = cast("tuple[msgspec.inspect.Field, ...] | None", getattr(info, "fields", None))
    if fields is None:
        inner, _, nullable = _unwrap(info)
        key = "value" if _scalar(inner) is not None else "data"
        if any(p != key for p in positionals):
            raise ValueError(f"this command's only argument is {key!r}, not {list(positionals)}")
        spec = _add_field(
            parser,
            key,
            info,
            required=not nullable,
            positional=key in positionals,
            description=None,
            default=None,
        )
        return InputSpec((spec,), whole=True)
    by_name = {f.encode_name: f for f in fields} | {f.name: f for f in fields}
    unknown = [p for p in positionals if p not in by_name]
    if unknown:
        raise ValueError(f"positionals {unknown} are not fields of the input type")
    wanted = [by_name[p] for p in positionals]
    ordered = wanted + [f for f in fields if f not in wanted]
    specs = [
        _add_field(
            parser,
            f.encode_name,
            f.type,
            name=f.name,
            required=f.required,
            positional=f in wanted,
            description=None,
            default=_default_text(f),
        )
        for f in ordered
    ]
    return InputSpec(tuple(specs))


@dataclass(frozen=True, slots=True)
class InputSpec:
    """The arguments of one command and how they map back to the function's input.

    Attributes:
        options: One spec per argument.
        whole: The single argument is the whole input (a scalar or JSON input).
    """

    options: tuple[OptionSpec, ...]
    whole: bool = False

    def collect(self, namespace: argparse.Namespace) -> Any:
        """Rebuild the input document (builtins) from parsed arguments."""
        values = vars(namespace)
        if not self.options:
            return None
        if self.whole:
            return values.get(self.options[0].dest)
        return {s.key: values[s.dest] for s in self.options if s.dest in values}

    def flag_for(self, path: str) -> str | None:
        """Name the argument a validation error's JSON path (``$.book_id``) points at."""
        if self.whole:
            return self.options[0].flag if self.options else None
        match = _PATH_HEAD.match(path)
        for spec in self.options:
            if match and spec.key == match.group(1):
                return spec.flag
        return None
