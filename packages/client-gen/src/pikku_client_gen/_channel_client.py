"""The typed Python channel client module (one class per channel, over pikku-ws)."""

from __future__ import annotations

import json
import re

from pikku_core import ChannelAction, Pikku

from ._pytypes import PyTypes, arg_name, py_identifier
from ._routes import method_names
from ._schemas import JSONSchema, SchemaSet, build_schema_set, identifier

__all__ = ["python_channel_client"]

_RESERVED = frozenset(
    {
        "Any",
        "AsyncIterator",
        "Awaitable",
        "Callable",
        "ChannelCallError",
        "Literal",
        "PikkuChannelClient",
        "Self",
        "TypeAlias",
        "TypeVar",
        "datetime",
        "decimal",
        "msgspec",
        "uuid",
    }
)
_ATTRS = frozenset({"aclose", "at", "client", "connect", "route", "self", "subscribe"})

_HELPERS = """
_T = TypeVar("_T")


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: msgspec.to_builtins(v) for k, v in values.items() if v is not msgspec.UNSET}


def _merged(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "action"}


def _value(reply: dict[str, Any]) -> Any:
    # None replies carry only the action; non-dict outputs, and dict outputs holding a
    # reply key (action, id, error, result, done), come whole under "result".
    if "result" in reply:
        return reply["result"]
    if set(reply) <= {"action"}:
        return None
    return _merged(reply)
"""

_CLASS = '''
class <<cls>>:
    """Typed client of the ``<<name>>`` channel (``<<route>>``).

    Args:
        url: The channel's full ``ws://`` URL (see `at` to build it from a base URL).
        **options: Passed to ``pikku_ws.PikkuChannelClient`` (reconnect, timeout, headers...).
    """

    route = <<route_json>>

    def __init__(self, url: str, **options: Any) -> None:
        self.client = PikkuChannelClient(url, **options)

    @classmethod
    def at(cls, base_url: str, **options: Any) -> Self:
        """Connect to this channel's route on a server (``ws://host:port``)."""
        return cls(base_url.rstrip("/") + cls.route, **options)

    async def connect(self) -> None:
        """Open the connection."""
        await self.client.connect()

    async def aclose(self) -> None:
        """Close the connection."""
        await self.client.aclose()

    async def __aenter__(self) -> Self:
        await self.client.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.client.aclose()

    def subscribe(
        self, topic: str, callback: Callable[[_T], Awaitable[None] | None], *, as_type: type[_T]
    ) -> Callable[[], None]:
        """Call ``callback`` with each event published to ``topic``, decoded as ``as_type``.

        The server-side subscription is made by an action of the app.

        Returns:
            A function that removes the callback.
        """

        def deliver(data: Any) -> Awaitable[None] | None:
            return callback(msgspec.convert(data, type=as_type))

        return self.client.subscribe(topic, deliver)
'''


def _is_object(schemas: SchemaSet, schema: JSONSchema | None) -> bool:
    return schema is not None and schemas.resolve(schema).get("type") == "object"


def _method(types: PyTypes, schemas: SchemaSet, name: str, action: ChannelAction) -> str:
    meta = action.func
    in_schema = schemas.input(meta)
    props, required = schemas.object_fields(in_schema)
    args: list[str] = []
    values: list[str] = []
    used: set[str] = set()
    for field in sorted(props, key=lambda f: f not in required):
        ident = arg_name(field, used)
        tp = types.type_of(props[field])
        if field in required:
            args.append(f"{ident}: {tp}")
        else:
            args.append(f"{ident}: {tp} | msgspec.UnsetType = msgspec.UNSET")
        values.append(f"{json.dumps(field)}: {ident}")
    payload = "_fields({" + ", ".join(values) + "})" if values else "None"
    if in_schema is not None and not props:
        if _is_object(schemas, in_schema) or types.type_of(in_schema) == "Any":
            # A mapping input: its keys travel next to the routing key.
            args.append(f"data: {types.type_of(in_schema)}")
            payload = "dict(msgspec.to_builtins(data))"
        else:
            args.append(f"value: {types.type_of(in_schema)}")
            payload = '{"value": msgspec.to_builtins(value)}'
    out = schemas.output(meta)
    out_tp = types.type_of(out) if out is not None else "None"
    sig = ", *, " + ", ".join(args) if args else ""
    doc = (meta.title or meta.description or meta.name).strip().splitlines()[0]
    doc = doc.replace("\\", "\\\\").replace('"""', "'''")
    action_json = json.dumps(action.action)
    lines: list[str] = []
    if out is None:
        convert = ""
    elif out_tp == "Any":
        convert = "_value(reply)"
    elif _is_object(schemas, out):
        convert = f"msgspec.convert(_merged(reply), type={out_tp})"
    else:
        convert = f"msgspec.convert(_value(reply), type={out_tp})"
    if meta.is_stream:
        item = convert or "None"
        lines.append(f"    async def {name}(self{sig}) -> AsyncIterator[{out_tp}]:")
        lines.append(f'        """{doc} (streams; action ``{action.action}``)."""')
        lines.append(f"        async for reply in self.client.stream({action_json}, {payload}):")
        lines.append(f"            yield {item}")
        return "\n".join(lines)
    lines.append(f"    async def {name}(self{sig}) -> {out_tp}:")
    lines.append(f'        """{doc} (action ``{action.action}``)."""')
    if convert:
        lines.append(f"        reply = await self.client.send({action_json}, {payload})")
        lines.append(f"        return {convert}")
    else:
        lines.append(f"        await self.client.send({action_json}, {payload})")
    return "\n".join(lines)


def _class_name(channel: str, taken: set[str]) -> str:
    base = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", channel))
    name = identifier(f"{base}Channel")
    while name in taken:
        name = f"{name}_"
    taken.add(name)
    return name


def python_channel_client(app: Pikku, *, header: str = "") -> str:
    """Generate typed channel clients: one class per channel, one method per action.

    Each class wraps ``pikku_ws.PikkuChannelClient``: an action's input fields are
    keyword arguments, its reply is decoded to the output type (msgspec Structs generated
    from the schemas), streaming actions are async iterators, errors raise
    ``pikku_ws.ChannelCallError`` (the error shape), and ``subscribe(topic, callback,
    as_type=T)`` decodes topic events.

    Args:
        app: The app.
        header: Comment lines placed first (the do-not-edit notice).

    Returns:
        The module source.
    """
    metas = [a.func for ch in app.channel_wirings for a in ch.actions.values()]
    schemas = build_schema_set(metas, "#/$defs/{name}")
    taken = set(_RESERVED)
    class_names = [_class_name(ch.name, taken) for ch in app.channel_wirings]
    types = PyTypes(schemas, frozenset(taken))
    classes: list[str] = []
    for cls, channel in zip(class_names, app.channel_wirings, strict=True):
        actions = list(channel.actions.values())
        names = method_names([py_identifier(a.action) for a in actions], _ATTRS)
        body = _CLASS.strip()
        for key, value in (
            ("cls", cls),
            ("name", channel.name),
            ("route", channel.route),
            ("route_json", json.dumps(channel.route)),
        ):
            body = body.replace(f"<<{key}>>", value)
        methods = [_method(types, schemas, n, a) for n, a in zip(names, actions, strict=True)]
        classes.append("\n\n".join([body, *methods]))
    definitions = types.definitions()
    exported = sorted({"ChannelCallError", *class_names, *types.names.values()})
    all_list = "__all__ = [\n" + "".join(f"    {json.dumps(n)},\n" for n in exported) + "]"
    helpers = _HELPERS.strip()
    text = "\n\n\n".join(p for p in (all_list, definitions, *classes) if p)
    used_helpers = [
        block
        for block in helpers.split("\n\n\n")
        if (block.startswith("_T") and classes)
        or re.search(rf"\b{block.split('(')[0][4:]}\(", text)
    ]
    text = "\n\n\n".join(p for p in (all_list, definitions, *used_helpers, *classes) if p)
    imports = ["from __future__ import annotations", ""]
    imports += [f"import {m}" for m in sorted(types.modules)]
    for module, names in (
        ("collections.abc", ("AsyncIterator", "Awaitable", "Callable")),
        ("typing", ("Any", "Literal", "Self", "TypeAlias", "TypeVar")),
    ):
        used = [n for n in names if re.search(rf"\b{n}\b", text)]
        if used:
            imports.append(f"from {module} import {', '.join(used)}")
    imports.append("")
    if "msgspec." in text:
        imports.append("import msgspec")
    pikku_ws = ["ChannelCallError", *(["PikkuChannelClient"] if classes else [])]
    imports.append(f"from pikku_ws import {', '.join(pikku_ws)}")
    title = str(getattr(app, "title", None) or "the pikku app")
    parts = [
        header.rstrip(),
        f'"""Typed channel clients for {title} (generated from its functions\' types)."""',
        "\n".join(imports),
        text,
    ]
    return "\n\n\n".join(p for p in parts if p) + "\n"
