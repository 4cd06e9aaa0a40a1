"""The library's data types: what functions take and return (and what clients see)."""

from __future__ import annotations

from typing import Literal

import msgspec
from pikku_core import UploadFile

Role = Literal["reader", "librarian"]


class Session(msgspec.Struct):
    """Who is calling: stored in the signed cookie, the bearer token or the connection."""

    reader_id: str
    name: str
    role: Role = "reader"


# ---------------------------------------------------------------- readers and auth


class Credentials(msgspec.Struct):
    email: str
    password: str


class NewReader(msgspec.Struct):
    name: str
    email: str
    password: str
    role: Role = "reader"


class Reader(msgspec.Struct):
    id: str
    name: str
    email: str
    role: Role


class ReaderRef(msgspec.Struct):
    reader_id: str


# ---------------------------------------------------------------- books


class NewBook(msgspec.Struct):
    title: str
    author: str
    year: int | None = None
    copies: int = 1


class BookPatch(msgspec.Struct):
    book_id: str
    title: str | None = None
    author: str | None = None
    year: int | None = None
    copies: int | None = None


class BookRef(msgspec.Struct):
    book_id: str


class BookV1(msgspec.Struct):
    """A book as version 1 of ``get_book`` returns it."""

    id: str
    title: str
    author: str
    year: int | None


class Book(msgspec.Struct):
    """A book in the catalogue (``get_book`` version 2 and every other function)."""

    id: str
    title: str
    authors: list[str]
    year: int | None
    copies: int
    available: int
    has_cover: bool = False


class BookSearch(msgspec.Struct):
    q: str = ""
    limit: int = 20
    offset: int = 0


class BookPage(msgspec.Struct):
    items: list[Book]
    total: int


class CoverUpload(msgspec.Struct):
    book_id: str
    cover: UploadFile


class CoverInfo(msgspec.Struct):
    book_id: str
    content_type: str
    size: int


# ---------------------------------------------------------------- loans


class BorrowRequest(msgspec.Struct):
    book_id: str
    reader_id: str | None = None
    days: int = 14


class LoanRef(msgspec.Struct):
    loan_id: str


class LoanQuery(msgspec.Struct):
    reader_id: str | None = None
    overdue: bool = False


class Loan(msgspec.Struct):
    id: str
    book_id: str
    reader_id: str
    borrowed_at: str
    due_at: str
    returned_at: str | None = None


class Notice(msgspec.Struct):
    id: str
    loan_id: str
    reader_id: str
    message: str
    sent_at: str


class JobRef(msgspec.Struct):
    queue: str
    job_id: str


class ScanResult(msgspec.Struct):
    overdue: int
    jobs: list[str]


class Stats(msgspec.Struct):
    books: int
    readers: int
    loans_open: int
    loans_overdue: int


# ---------------------------------------------------------------- reading list (channel)


class ReadingItemInput(msgspec.Struct):
    title: str


class ReadingItemRef(msgspec.Struct):
    item_id: str


class ReadingItem(msgspec.Struct):
    id: str
    title: str
    done: bool = False


class ReadingList(msgspec.Struct):
    items: list[ReadingItem]


class ReadingUpdate(msgspec.Struct):
    """A changed item, wrapped: channel replies merge results with ``action`` and ``id``."""

    item: ReadingItem


class Topic(msgspec.Struct):
    topic: Literal["books", "reading-list", "notices"] = "books"


class PromptTopic(msgspec.Struct):
    topic: str
