"""The catalogue: book CRUD, two versions of ``get_book``, covers and a streamed export."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import anyio
from pikku_core import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    Response,
    UnsupportedMediaTypeError,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)

from .auth import is_librarian
from .db import iso, new_id, now
from .models import (
    Book,
    BookPage,
    BookPatch,
    BookRef,
    BookSearch,
    BookV1,
    CoverInfo,
    CoverUpload,
    NewBook,
    Session,
    Stats,
)
from .services import Services

BOOKS_TOPIC = "books"
"""EventHub topic: every change to the catalogue is published here."""

MAX_COVER_BYTES = 2 * 1024 * 1024
COVER_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}

_BOOK_SQL = """
SELECT b.*, b.copies - (
    SELECT count(*) FROM loans l WHERE l.book_id = b.id AND l.returned_at IS NULL
) AS available
FROM books b
"""

LIBRARIAN = {"librarian": is_librarian}


def _book(row: sqlite3.Row) -> Book:
    return Book(
        id=row["id"],
        title=row["title"],
        authors=[a.strip() for a in row["authors"].split(";") if a.strip()],
        year=row["year"],
        copies=row["copies"],
        available=row["available"],
        has_cover=row["cover_type"] is not None,
    )


async def find_book(services: Services, book_id: str) -> Book:
    row = await services.db.one(_BOOK_SQL + " WHERE b.id = ?", book_id)
    if row is None:
        raise NotFoundError(f"book {book_id} not found")
    return _book(row)


async def publish_book(services: Services, event: str, book: Book | BookRef) -> None:
    await services.event_hub.publish(BOOKS_TOPIC, {"event": event, "book": book})


@pikku_sessionless_func(title="Search books", tags=["books"])
async def list_books(services: Services, data: BookSearch, wire: Wire[Session]) -> BookPage:
    """Books whose title or author contains ``q`` (all books without it), a page at a time."""
    like = f"%{data.q}%"
    where = " WHERE b.title LIKE ? OR b.authors LIKE ?"
    rows = await services.db.all(
        _BOOK_SQL + where + " ORDER BY b.title LIMIT ? OFFSET ?",
        like,
        like,
        max(1, min(data.limit, 100)),
        max(0, data.offset),
    )
    total = await services.db.one("SELECT count(*) FROM books b" + where, like, like)
    return BookPage(items=[_book(r) for r in rows], total=total[0] if total else 0)


@pikku_sessionless_func(name="get_book", version=1, title="Get a book (v1)", tags=["books"])
async def get_book_v1(services: Services, data: BookRef, wire: Wire[Session]) -> BookV1:
    """A book with a single ``author`` string (the first contract; kept for old clients)."""
    book = await find_book(services, data.book_id)
    return BookV1(id=book.id, title=book.title, author=", ".join(book.authors), year=book.year)


@pikku_sessionless_func(
    name="get_book", version=2, title="Get a book", tags=["books"], errors=[NotFoundError]
)
async def get_book(services: Services, data: BookRef, wire: Wire[Session]) -> Book:
    """A book with its list of authors and how many copies are on the shelf."""
    return await find_book(services, data.book_id)


@pikku_func(title="Add a book", tags=["books"], permissions=LIBRARIAN)
async def create_book(services: Services, data: NewBook, wire: Wire[Session]) -> Book:
    """Add a book to the catalogue (librarians only); subscribers of ``books`` are told."""
    book_id = new_id()
    await services.db.execute(
        "INSERT INTO books (id, title, authors, year, copies) VALUES (?, ?, ?, ?, ?)",
        book_id,
        data.title,
        data.author,
        data.year,
        max(data.copies, 0),
    )
    book = await find_book(services, book_id)
    services.audit.record("book.created", book_id)
    await publish_book(services, "created", book)
    return book


@pikku_func(title="Edit a book", tags=["books"], permissions=LIBRARIAN)
async def update_book(services: Services, data: BookPatch, wire: Wire[Session]) -> Book:
    """Change a book's fields (only those given)."""
    await find_book(services, data.book_id)
    changes = {
        column: value
        for column, value in (
            ("title", data.title),
            ("authors", data.author),
            ("year", data.year),
            ("copies", data.copies),
        )
        if value is not None
    }
    if changes:
        sets = ", ".join(f"{column} = ?" for column in changes)
        await services.db.execute(
            f"UPDATE books SET {sets} WHERE id = ?", *changes.values(), data.book_id
        )
    book = await find_book(services, data.book_id)
    services.audit.record("book.updated", book.id)
    await publish_book(services, "updated", book)
    return book


@pikku_func(title="Remove a book", tags=["books"], permissions=LIBRARIAN, errors=[ConflictError])
async def delete_book(services: Services, data: BookRef, wire: Wire[Session]) -> None:
    """Remove a book that nobody has on loan."""

    def delete(conn: sqlite3.Connection) -> str | None:
        if conn.execute("SELECT 1 FROM books WHERE id = ?", (data.book_id,)).fetchone() is None:
            return "missing"
        open_loans = conn.execute(
            "SELECT count(*) FROM loans WHERE book_id = ? AND returned_at IS NULL",
            (data.book_id,),
        ).fetchone()[0]
        if open_loans:
            return "on loan"
        conn.execute(
            "DELETE FROM notices WHERE loan_id IN (SELECT id FROM loans WHERE book_id = ?)",
            (data.book_id,),
        )
        conn.execute("DELETE FROM loans WHERE book_id = ?", (data.book_id,))
        conn.execute("DELETE FROM books WHERE id = ?", (data.book_id,))
        return None

    problem = await services.db.run(delete)
    if problem == "missing":
        raise NotFoundError(f"book {data.book_id} not found")
    if problem == "on loan":
        raise ConflictError(f"book {data.book_id} is on loan")
    services.audit.record("book.deleted", data.book_id)
    await publish_book(services, "deleted", BookRef(data.book_id))


@pikku_func(title="Upload a cover", tags=["books"], permissions=LIBRARIAN)
async def upload_cover(services: Services, data: CoverUpload, wire: Wire[Session]) -> CoverInfo:
    """Store a book's cover image (PNG, JPEG, WebP or GIF, at most 2 MiB)."""
    await find_book(services, data.book_id)
    content_type = data.cover.content_type.split(";")[0].strip().lower()
    if content_type not in COVER_TYPES:
        raise UnsupportedMediaTypeError(
            f"a cover must be one of {', '.join(sorted(COVER_TYPES))}, got {content_type}"
        )
    size = 0
    chunks: list[bytes] = []
    async for chunk in data.cover.chunks():
        size += len(chunk)
        if size > MAX_COVER_BYTES:
            raise PayloadTooLargeError(f"a cover may be at most {MAX_COVER_BYTES} bytes")
        chunks.append(chunk)
    covers = anyio.Path(services.config.covers_dir)
    await covers.mkdir(parents=True, exist_ok=True)
    await (covers / data.book_id).write_bytes(b"".join(chunks))
    await services.db.execute(
        "UPDATE books SET cover_type = ? WHERE id = ?", content_type, data.book_id
    )
    services.audit.record("cover.uploaded", data.book_id)
    return CoverInfo(book_id=data.book_id, content_type=content_type, size=size)


@pikku_sessionless_func(title="Get a cover", tags=["books"])
async def get_cover(services: Services, data: BookRef, wire: Wire[Session]) -> Response:
    """A book's cover image, as uploaded."""
    row = await services.db.one("SELECT cover_type FROM books WHERE id = ?", data.book_id)
    path = anyio.Path(services.config.covers_dir / data.book_id)
    if row is None or row["cover_type"] is None or not await path.exists():
        raise NotFoundError(f"book {data.book_id} has no cover")
    return Response(
        await path.read_bytes(),
        content_type=row["cover_type"],
        headers={"Cache-Control": "max-age=60"},
    )


@pikku_sessionless_func(title="Export the catalogue", tags=["books"])
async def export_catalogue(
    services: Services, data: None, wire: Wire[Session]
) -> AsyncIterator[Book]:
    """Stream every book, one at a time (SSE over HTTP, JSON lines on the CLI)."""
    offset = 0
    while True:
        rows = await services.db.all(_BOOK_SQL + " ORDER BY b.title LIMIT 50 OFFSET ?", offset)
        for row in rows:
            yield _book(row)
        if len(rows) < 50:
            return
        offset += 50


@pikku_sessionless_func(title="Library statistics", tags=["stats"], expose=True)
async def library_stats(services: Services, data: None, wire: Wire[Session]) -> Stats:
    """How many books and readers there are, and how many loans are open or overdue."""

    moment = iso(now())

    def count(conn: sqlite3.Connection) -> Stats:
        def one(sql: str, *params: str) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return Stats(
            books=one("SELECT count(*) FROM books"),
            readers=one("SELECT count(*) FROM readers"),
            loans_open=one("SELECT count(*) FROM loans WHERE returned_at IS NULL"),
            loans_overdue=one(
                "SELECT count(*) FROM loans WHERE returned_at IS NULL AND due_at < ?", moment
            ),
        )

    return await services.db.run(count)
