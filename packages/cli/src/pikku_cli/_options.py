"""Command-line options derived from a function's input type (argparse)."""

from __future__ import annotations

import argparse
import enum
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import msgspec

__all__ = ["InputSpec", "OptionSpec", "add_input_arguments"]

_SCALARS: dict[type[Any], tuple[Callable[[str], Any], str]] = {
    msgspec.inspect.IntType: (int, "INT"),
    msgspec.inspect.FloatType: (float, "NUMBER"),
    msgspec.inspect.StrType: (str, "TEXT"),
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
_PATH_HEAD = re.compile(r"^\$\.([^.\[]+)")


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """How one input field appears on the command line.

    Attributes:
        key: The field's name in the input document (msgspec encode name).
        dest: The argparse destination.
        flag: What the user types: ``--book-id`` or the positional's metavar.
    """

    key: str
    dest: str
    flag: str


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"invalid JSON ({exc.msg} at column {exc.colno})")


def _bool_value(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r} (use true or false)")


def _choice_parser(values: Sequence[Any]) -> tuple[Callable[[str], Any], list[Any]]:
    if all(isinstance(v, str) for v in values):
        return str, list(values)
    by_text = {str(v): v for v in values}

    def parse(text: str) -> Any:
        if text in by_text:
            return by_text[text]
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r} (choose from {', '.join(map(repr, by_text))})"
        )

    return parse, list(values)


def _unwrap(t: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, str | None, bool]:
    """Strip ``Annotated`` metadata and ``| None``: (type, description, nullable)."""
    description: str | None = None
    nullable = False
    while True:
        if isinstance(t, msgspec.inspect.Metadata):
            schema = t.extra_json_schema or {}
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


def _scalar(t: msgspec.inspect.Type) -> tuple[Callable[[str], Any], str, list[Any] | None] | None:
    """Parser, metavar and choices for a single command-line value, or None if not scalar."""
    t, _, _ = _unwrap(t)
    for kind, (parser, metavar) in _SCALARS.items():
        if isinstance(t, kind):
            return parser, metavar, None
    if isinstance(t, msgspec.inspect.BoolType):
        return _bool_value, "BOOL", None
    if isinstance(t, msgspec.inspect.LiteralType):
        parser, choices = _choice_parser(t.values)
        return parser, "CHOICE", choices
    if isinstance(t, msgspec.inspect.EnumType):
        members = cast("list[enum.Enum]", list(t.cls))
        parser, choices = _choice_parser([m.value for m in members])
        return parser, "CHOICE", choices
    if isinstance(t, _STRINGLY):
        return str, "TEXT", None
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
        value = cast("Any", value.value)
    try:
        return json.dumps(msgspec.to_builtins(value), ensure_ascii=False)
    except (TypeError, msgspec.EncodeError):
        return repr(value)


def _help(description: str | None, default: str | None) -> str:
    parts = [description] if description else []
    if default is not None:
        parts.append(f"(default: {default.replace('%', '%%')})")
    return " ".join(parts)


def _add_field(
    parser: argparse.ArgumentParser,
    key: str,
    t: msgspec.inspect.Type,
    *,
    required: bool,
    positional: bool,
    help_text: str,
) -> OptionSpec:
    dest = f"in__{key}"
    flag = "--" + key.replace("_", "-")
    inner, _, _ = _unwrap(t)
    kwargs: dict[str, Any] = {"help": help_text}
    scalar = _scalar(inner)
    metavar = key.upper().replace("-", "_")
    if isinstance(inner, msgspec.inspect.BoolType) and not positional:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif scalar is not None:
        kwargs["type"], mv, choices = scalar
        kwargs["metavar"] = metavar if positional else mv
        if choices is not None:
            kwargs["choices"] = choices
            kwargs["metavar"] = None if not positional else metavar
    elif isinstance(inner, _COLLECTIONS) and _scalar(inner.item_type) is not None:
        kwargs["type"], mv, choices = cast(
            "tuple[Callable[[str], Any], str, list[Any] | None]", _scalar(inner.item_type)
        )
        if choices is not None:
            kwargs["choices"] = choices
        else:
            kwargs["metavar"] = metavar if positional else mv
        if positional:
            kwargs["nargs"] = "+" if required else "*"
        else:
            kwargs["action"] = "append"
            kwargs["help"] = (help_text + " (repeat for several)").strip()
    else:
        kwargs["type"] = _json_value
        kwargs["metavar"] = metavar if positional else "JSON"
        kwargs["help"] = (help_text + " (a JSON value)").strip()
    if positional:
        if not required and "nargs" not in kwargs:
            kwargs["nargs"] = "?"
        parser.add_argument(dest, default=argparse.SUPPRESS, **kwargs)
        return OptionSpec(key, dest, metavar)
    parser.add_argument(flag, dest=dest, required=required, default=argparse.SUPPRESS, **kwargs)
    return OptionSpec(key, dest, flag)


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
            raise ValueError(f"positionals {list(positionals)} given but the function takes no input")
        return InputSpec(())
    info = msgspec.inspect.type_info(input_type)
    fields = cast("tuple[msgspec.inspect.Field, ...] | None", getattr(info, "fields", None))
    if fields is None:
        scalar = _scalar(info) is not None
        key = "value" if scalar else "data"
        if any(p != key for p in positionals):
            raise ValueError(f"this command's only argument is {key!r}, not {list(positionals)}")
        inner, description, nullable = _unwrap(info)
        spec = _add_field(
            parser, key, inner if scalar else info,
            required=not nullable, positional=key in positionals,
            help_text=_help(description, None),
        )
        return InputSpec((spec,), whole=True)
    by_name = {f.encode_name: f for f in fields} | {f.name: f for f in fields}
    unknown = [p for p in positionals if p not in by_name]
    if unknown:
        raise ValueError(f"positionals {unknown} are not fields of {getattr(input_type, '__name__', input_type)}")
    wanted = [by_name[p] for p in positionals]
    specs = [
        _add_field(
            parser, f.encode_name, f.type, required=f.required, positional=True,
            help_text=_help(_unwrap(f.type)[1], _default_text(f)),
        )
        for f in wanted
    ]
    for f in fields:
        if f in wanted:
            continue
        specs.append(
            _add_field(
                parser, f.encode_name, f.type, required=f.required, positional=False,
                help_text=_help(_unwrap(f.type)[1], _default_text(f)),
            )
        )
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
