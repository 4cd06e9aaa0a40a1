"""A small books app exercising what the generators must describe.

Path parameters (typed and bare), query inputs (GET/DELETE), JSON bodies (POST/PATCH),
multipart uploads, 204, raw responses, SSE, sessions (cookie and bearer), permissions,
a registered and declared error, an RPC-exposed function, an MCP tool and a channel.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from pikku_core import (
    ConflictError,
    NotFoundError,
    Pikku,
    Response,
    UploadFile,
    Wire,
    auth_bearer,
    auth_cookie,
    pikku_func,
    pikku_sessionless_func,
)

SECRET = "client-gen-test-secret-0123456789abcdef"


class Genre(enum.Enum):
    """A book's genre."""

    FICTION = "fiction"
    SCIENCE = "science"


class Paper(msgspec.Struct, tag="paper"):
    """A printed book."""

    pages: int


class Ebook(msgspec.Struct, tag="ebook"):
    """An electronic book."""

    size_kb: int


class Book(msgspec.Struct):
    """A book in the catalogue.

    Its key is ``book_id``, not ``id``: a channel reply merges a dict result with the
    message envelope, whose ``id`` is the request id.
    """

    book_id: int
    title: str
    genre: Genre = Genre.FICTION
    tags: list[str] = []
    published: datetime.date | None = None
    edition: Paper | Ebook | None = None


class CreateBook(msgspec.Struct):
    """Input of `create_book`."""

    title: str
    genre: Genre = Genre.FICTION
    tags: list[str] = []
    published: datetime.date | None = None
    edition: Paper | Ebook | None = None


class BookQuery(msgspec.Struct):
    """Filters of `list_books`."""

    genre: Genre | None = None
    limit: int = 10


class BookId(msgspec.Struct):
    """A book id (path parameter)."""

    book_id: int


class Rename(msgspec.Struct):
    """Input of `rename_book`."""

    book_id: int
    title: str


class Cover(msgspec.Struct):
    """Input of `upload_cover`: a file and a caption."""

    book_id: int
    cover: UploadFile
    caption: str = ""


class CoverInfo(msgspec.Struct):
    """What `upload_cover` received."""

    book_id: int
    filename: str | None
    size: int
    caption: str


class Login(msgspec.Struct):
    """Input of `login`."""

    user: str
    role: Literal["reader", "admin"] = "reader"


class Me(msgspec.Struct):
    """The caller."""

    user: str
    role: str


class Search(msgspec.Struct):
    """Input of `search` (a bare string path parameter)."""

    term: str


class Countdown(msgspec.Struct):
    """Input of `countdown`."""

    start: int


class AddInput(msgspec.Struct):
    """Input of `add`."""

    a: int
    b: int


class BookLocked(Exception):
    """A user error registered with status 423."""


@dataclass
class Store:
    """Singleton services: an in-memory catalogue."""

    books: dict[int, Book] = field(default_factory=dict[int, Book])


def _store() -> Store:
    store = Store()
    store.books[1] = Book(book_id=1, title="Dune", tags=["classic"], edition=Paper(pages=412))
    store.books[2] = Book(book_id=2, title="Cosmos", genre=Genre.SCIENCE)
    return store


async def is_admin(services: Any, data: Any, wire: Wire[Any]) -> bool:
    """The caller is an admin."""
    return bool(wire.session and wire.session.get("role") == "admin")


@pikku_sessionless_func(title="Log in", tags=["session"])
async def login(services: Store, data: Login, wire: Wire[Any]) -> Me:
    """Start a session (cookie, and a bearer token in ``X-Session-Token``)."""
    wire.set_session({"user": data.user, "role": data.role})
    return Me(user=data.user, role=data.role)


@pikku_sessionless_func(tags=["session"])
async def logout(services: Store, data: None, wire: Wire[Any]) -> None:
    """End the session."""
    wire.clear_session()


@pikku_func(tags=["session"])
async def whoami(services: Store, data: None, wire: Wire[Any]) -> Me:
    """Who is calling."""
    return Me(user=wire.session["user"], role=wire.session["role"])


@pikku_sessionless_func(title="List books", tags=["books"])
async def list_books(services: Store, data: BookQuery, wire: Wire[Any]) -> list[Book]:
    """List books, optionally of one genre."""
    books = [b for b in services.books.values() if data.genre in (None, b.genre)]
    return books[: data.limit]


@pikku_func(title="Create a book", tags=["books"])
async def create_book(services: Store, data: CreateBook, wire: Wire[Any]) -> Book:
    """Add a book (needs a session)."""
    book = Book(book_id=max(services.books, default=0) + 1, **msgspec.structs.asdict(data))
    services.books[book.book_id] = book
    await services.event_hub.publish("books", msgspec.to_builtins(book))
    return book


@pikku_sessionless_func(title="Get a book", tags=["books"], errors=[NotFoundError], expose=True)
async def get_book(services: Store, data: BookId, wire: Wire[Any]) -> Book:
    """One book by id."""
    book = services.books.get(data.book_id)
    if book is None:
        raise NotFoundError(f"book {data.book_id} not found", {"book_id": data.book_id})
    return book


@pikku_func(tags=["books"], permissions={"admin": is_admin}, errors=[NotFoundError])
async def rename_book(services: Store, data: Rename, wire: Wire[Any]) -> Book:
    """Rename a book (admins only)."""
    book = services.books.get(data.book_id)
    if book is None:
        raise NotFoundError(f"book {data.book_id} not found")
    renamed = msgspec.structs.replace(book, title=data.title)
    services.books[data.book_id] = renamed
    return renamed


@pikku_func(tags=["books"], errors=[BookLocked, NotFoundError])
async def delete_book(services: Store, data: BookId, wire: Wire[Any]) -> None:
    """Delete a book; book 1 is locked."""
    if data.book_id == 1:
        raise BookLocked("book 1 is locked")
    if services.books.pop(data.book_id, None) is None:
        raise NotFoundError(f"book {data.book_id} not found")


@pikku_sessionless_func(tags=["books"])
async def upload_cover(services: Store, data: Cover, wire: Wire[Any]) -> CoverInfo:
    """Upload a cover image (multipart)."""
    content = await data.cover.read()
    return CoverInfo(
        book_id=data.book_id, filename=data.cover.filename, size=len(content), caption=data.caption
    )


@pikku_sessionless_func(tags=["books"])
async def export_book(services: Store, data: BookId, wire: Wire[Any]) -> Response:
    """The book as plain text (a raw response)."""
    book = services.books.get(data.book_id)
    title = book.title if book else "?"
    return Response(title.encode(), content_type="text/plain")


@pikku_sessionless_func
async def search(services: Store, data: Search, wire: Wire[Any]) -> list[str]:
    """Titles containing a term."""
    return [b.title for b in services.books.values() if data.term.lower() in b.title.lower()]


@pikku_sessionless_func
async def countdown(services: Store, data: Countdown, wire: Wire[Any]) -> AsyncIterator[int]:
    """Stream start, start-1, ..., 1 (13 is unlucky: an error after the first item)."""
    for i in range(min(data.start, 50), 0, -1):
        if i == 12 and data.start == 13:
            raise ConflictError("unlucky 13")
        yield i


@pikku_sessionless_func
async def watch(services: Store, data: None, wire: Wire[Any]) -> None:
    """Subscribe this channel connection to the ``books`` topic (new books)."""
    assert wire.channel is not None
    await services.event_hub.subscribe("books", wire.channel)


@pikku_sessionless_func(expose=True, title="Add")
async def add(services: Store, data: AddInput, wire: Wire[Any]) -> int:
    """Add two numbers (reached over RPC only)."""
    return data.a + data.b


def create_books_app() -> Pikku:
    """Build the books app."""
    app = Pikku(services=_store, secret=SECRET)
    app.add_middleware(auth_cookie(secure=False), auth_bearer())
    app.register_error(BookLocked, status=423)
    app.wire_http("POST", "/session", login)
    app.wire_http("DELETE", "/session", logout)
    app.wire_http("GET", "/me", whoami)
    app.wire_http("GET", "/books", list_books)
    app.wire_http("POST", "/books", create_book)
    app.wire_http("GET", "/books/{book_id:int}", get_book)
    app.wire_http("PATCH", "/books/{book_id:int}", rename_book)
    app.wire_http("DELETE", "/books/{book_id:int}", delete_book)
    app.wire_http("POST", "/books/{book_id:int}/cover", upload_cover)
    app.wire_http("GET", "/books/{book_id:int}/export", export_book)
    app.wire_http("GET", "/search/{term}", search)
    app.wire_http("GET", "/countdown", countdown)
    app.add_functions(add)
    app.wire_mcp_tool(name="get_book", func=get_book)
    app.wire_mcp_tool(name="add", func=add, title="Add numbers")
    app.wire_channel(
        name="books",
        route="/ws/books",
        on_message_wiring={
            "get": get_book,
            "create": create_book,
            "login": login,
            "search": search,
            "countdown": countdown,
            "add": add,
            "watch": watch,
        },
    )
    return app
