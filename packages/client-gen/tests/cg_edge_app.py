"""Awkward types for the generators: keyword and non-identifier field names, names that
clash with the generated module's own, generics, recursion, every msgspec container."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import uuid
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar

import msgspec
from pikku_core import Pikku, Wire, pikku_sessionless_func

T = TypeVar("T")


class Client(msgspec.Struct):
    """A struct named like the generated client class."""

    name: str


class Weird(msgspec.Struct):
    """Field names that are not plain identifiers."""

    klass: str = msgspec.field(name="class")
    from_date: datetime.date = msgspec.field(name="from-date")
    self_: int = msgspec.field(name="self", default=0)
    when: datetime.datetime | None = None
    ident: uuid.UUID | None = None
    price: decimal.Decimal | None = None
    raw: bytes = b""
    a_b: int = msgspec.field(name="a-b", default=1)
    a_b2: int = msgspec.field(name="a_b", default=2)
    under: int = msgspec.field(name="_under", default=3)


class Node(msgspec.Struct):
    """A recursive type."""

    label: str
    children: list[Node] = []


class Page(msgspec.Struct, Generic[T]):
    """A generic page of items."""

    items: list[T]
    total: int


class Point(NamedTuple):
    """A named tuple (an array in JSON)."""

    x: int
    y: int


class Meta(TypedDict):
    """A TypedDict."""

    key: str
    size: int


@dataclasses.dataclass
class Box:
    """A dataclass with a mutable default."""

    width: float
    labels: list[str] = dataclasses.field(default_factory=list[str])


@pikku_sessionless_func
async def weird(services: Any, data: Weird, wire: Wire[Any]) -> Weird:
    """Echo a Weird."""
    return data


@pikku_sessionless_func
async def tree(services: Any, data: Node, wire: Wire[Any]) -> Node:
    """Echo a tree."""
    return data


@pikku_sessionless_func
async def clients(services: Any, data: None, wire: Wire[Any]) -> Page[Client]:
    """A generic output whose item is named Client."""
    return Page(items=[Client(name="a")], total=1)


@pikku_sessionless_func
async def double(services: Any, data: int, wire: Wire[Any]) -> int:
    """A scalar input (JSON body) and output."""
    return data * 2


@pikku_sessionless_func
async def shapes(services: Any, data: Box, wire: Wire[Any]) -> tuple[Point, Meta]:
    """Dataclass input, tuple of NamedTuple and TypedDict output."""
    return Point(1, 2), {"key": "k", "size": len(data.labels)}


@pikku_sessionless_func
async def counts(services: Any, data: dict[str, int], wire: Wire[Any]) -> int | None:
    """A mapping input and an optional output."""
    return sum(data.values()) or None


def create_edge_app() -> Pikku:
    """Build the edge-case app."""
    app = Pikku()
    app.wire_http("POST", "/weird", weird)
    app.wire_http("POST", "/tree", tree)
    app.wire_http("GET", "/clients", clients)
    app.wire_http("POST", "/double", double)
    app.wire_http("POST", "/shapes", shapes)
    app.wire_http("POST", "/counts", counts)
    app.wire_channel(
        name="edge-cases",
        route="/ws/edge",
        on_message_wiring={"weird": weird, "double": double, "counts": counts, "tree": tree},
    )
    return app
