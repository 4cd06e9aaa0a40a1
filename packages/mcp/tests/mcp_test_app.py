"""A small app exercising every MCP wiring (also served by the stdio subprocess test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from pikku_core import NotFoundError, Pikku, Wire, auth_bearer, pikku_func, pikku_sessionless_func

SECRET = "mcp-test-secret-0123456789abcdef"


class Author(msgspec.Struct):
    name: str


class Book(msgspec.Struct):
    id: str
    title: str
    author: Author | None = None


class GetBook(msgspec.Struct):
    book_id: str


class Note(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(max_length=1000)]
    tags: list[str] = []


class SummaryArgs(msgspec.Struct):
    book_id: str
    words: int = 50
    tone: Literal["plain", "fun"] = "plain"


BOOKS = {"1": Book("1", "Dune", Author("Frank Herbert"))}


@pikku_sessionless_func(title="Get Book")
async def get_book(services: Any, data: GetBook, wire: Wire[Any]) -> Book:
    """Fetch one book by id."""
    if data.book_id == "boom":
        raise RuntimeError("database password hunter2 leaked")
    book = BOOKS.get(data.book_id)
    if book is None:
        raise NotFoundError(f"book {data.book_id} not found")
    return book


@pikku_sessionless_func
async def add_note(services: Any, data: Note, wire: Wire[Any]) -> dict[str, Any]:
    """Store a note."""
    return {"length": len(data.text), "tags": data.tags}


@pikku_sessionless_func
async def double(services: Any, data: int, wire: Wire[Any]) -> int:
    """Double a number."""
    return data * 2


@pikku_sessionless_func
async def ping(services: Any, data: None, wire: Wire[Any]) -> None:
    """Do nothing."""


@pikku_sessionless_func
async def titles(services: Any, data: None, wire: Wire[Any]) -> list[str]:
    """Every title."""
    return [b.title for b in BOOKS.values()]


@pikku_sessionless_func
async def count(services: Any, data: int, wire: Wire[Any]) -> AsyncIterator[dict[str, int]]:
    """Count up to ``data``; 13 fails after two items."""
    for i in range(data):
        if data == 13 and i == 2:
            raise NotFoundError("unlucky")
        yield {"i": i}


@pikku_func
async def whoami(services: Any, data: None, wire: Wire[Any]) -> dict[str, Any]:
    """The caller's session and how the call arrived."""
    return {
        "session": wire.session,
        "mcp": wire.mcp.kind if wire.mcp else None,
        "http": wire.http is not None,
    }


@pikku_sessionless_func
async def book_text(services: Any, data: GetBook, wire: Wire[Any]) -> str:
    """A book as text."""
    book = await get_book(services, data, wire)
    return f"{book.title} by {book.author.name if book.author else 'unknown'}"


@pikku_sessionless_func
async def catalog(services: Any, data: None, wire: Wire[Any]) -> list[Book]:
    """The whole catalog."""
    return list(BOOKS.values())


@pikku_sessionless_func
async def summarize(services: Any, data: SummaryArgs, wire: Wire[Any]) -> list[Any]:
    """Ask for a summary of a book."""
    if data.book_id not in BOOKS:
        raise NotFoundError(f"book {data.book_id} not found")
    return [
        f"Summarize {BOOKS[data.book_id].title} in {data.words} words, {data.tone} tone.",
        {"role": "assistant", "content": "Sure."},
    ]


@pikku_sessionless_func
async def broken_prompt(services: Any, data: None, wire: Wire[Any]) -> int:
    """Returns something that is not a list of messages."""
    return 42


def create_app() -> Pikku:
    """The test app: each function wired as a tool, resource or prompt."""
    app = Pikku(secret=SECRET)
    app.add_middleware(auth_bearer())
    app.wire_mcp_tool("get_book", get_book, annotations={"readOnlyHint": True})
    app.wire_mcp_tool("add_note", add_note)
    app.wire_mcp_tool("double", double)
    app.wire_mcp_tool("ping", ping)
    app.wire_mcp_tool("titles", titles)
    app.wire_mcp_tool("count", count)
    app.wire_mcp_tool("whoami", whoami)
    app.wire_mcp_resource("books://{book_id}", book_text, name="book")
    app.wire_mcp_resource("books://all", catalog, name="catalog")
    app.wire_mcp_resource("json-books://{book_id}", get_book, name="book_json")
    app.wire_mcp_prompt("summarize", summarize)
    app.wire_mcp_prompt("broken", broken_prompt)
    return app


app = create_app()
