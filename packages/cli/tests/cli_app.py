"""The app the CLI tests drive (imported in-process and by subprocesses)."""

from __future__ import annotations

import enum
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
import msgspec
from pikku_core import NotFoundError, Pikku, Wire, pikku_func, pikku_sessionless_func

SECRET = "cli-tests-secret-0123456789abcdef"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class GetBookInput(msgspec.Struct):
    book_id: Annotated[str, msgspec.Meta(description="The book's id.")]
    limit: Annotated[int, msgspec.Meta(ge=1, description="How many at most.")] = 10
    ratio: float = 0.5
    verbose: bool = False
    kind: Literal["paper", "ebook"] = "paper"
    color: Color = Color.RED
    tags: list[str] = []
    pages: list[int] = []
    note: str | None = None
    meta: dict[str, Any] = {}


class Book(msgspec.Struct):
    id: str
    title: str


class Session(msgspec.Struct):
    user_id: str
    role: str = "user"


@pikku_sessionless_func(title="Get a book")
async def get_book(services: Any, data: GetBookInput, wire: Wire[Any]) -> dict[str, Any]:
    """Fetch one book by id.

    Prints every option it received, as JSON.
    """
    if data.book_id == "missing":
        raise NotFoundError(f"book {data.book_id} not found")
    return msgspec.to_builtins(data)


class CreateInput(msgspec.Struct):
    title: str
    author: str


@pikku_sessionless_func
async def create_book(services: Any, data: CreateInput, wire: Wire[Any]) -> Book:
    """Create a book."""
    return Book(id="b1", title=f"{data.title} by {data.author}")


@pikku_sessionless_func
async def count(services: Any, data: int, wire: Wire[Any]) -> AsyncIterator[dict[str, int]]:
    """Count up to VALUE, one line per number."""
    for i in range(data):
        yield {"n": i}


@pikku_func
async def whoami(services: Any, data: None, wire: Wire[Session]) -> Session:
    """Show the session."""
    assert wire.session is not None
    return wire.session


@pikku_sessionless_func
async def login(services: Any, data: Session, wire: Wire[Session]) -> None:
    """Start a session."""
    wire.set_session(data)


@pikku_sessionless_func
async def logout(services: Any, data: None, wire: Wire[Session]) -> None:
    """End the session."""
    wire.clear_session()


@pikku_sessionless_func
async def nothing(services: Any, data: None, wire: Wire[Any]) -> None:
    """Return nothing."""
    return None


@pikku_sessionless_func
async def crash(services: Any, data: None, wire: Wire[Any]) -> None:
    """Fail with a secret in the message."""
    raise RuntimeError("the password is hunter2")


@pikku_sessionless_func
async def sleep(services: Any, data: None, wire: Wire[Any]) -> None:
    """Sleep until interrupted."""
    sys.stderr.write("sleeping\n")
    sys.stderr.flush()
    await anyio.sleep(60)


@pikku_sessionless_func
async def raw(services: Any, data: dict[str, Any], wire: Wire[Any]) -> dict[str, Any]:
    """Echo a JSON document."""
    return data


app = Pikku(name="books", secret=SECRET, session_type=Session)
app.wire_cli("books get", get_book, positionals=["book_id"])
app.wire_cli("books create", create_book, render=lambda b: f"created {b.id}: {b.title}")
app.wire_cli("count", count, positionals=["value"])
app.wire_cli("whoami", whoami)
app.wire_cli("login", login, positionals=["user_id"])
app.wire_cli("logout", logout)
app.wire_cli("nothing", nothing)
app.wire_cli("crash", crash)
app.wire_cli("sleep", sleep)
app.wire_cli("raw", raw)


def create_app() -> Pikku:
    """A factory, for `pikku ... cli_app:create_app`."""
    return app
