"""Readers, logging in and out, and the permission checks the other modules use."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from pikku_core import (
    ConflictError,
    NotFoundError,
    UnauthorizedError,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)

from .db import check_password, hash_password, new_id
from .models import Credentials, NewReader, Reader, ReaderRef, Session
from .services import Services


class Signup(msgspec.Struct):
    name: str
    email: str
    password: str


# ---------------------------------------------------------------- permissions
# A permission is (services, data, wire) -> bool. Groups in a dict are ORed; a list
# inside a group is ANDed (see loans.borrow_book).


def is_librarian(services: Any, data: Any, wire: Wire[Session]) -> bool:
    session = wire.session
    return session is not None and session.role == "librarian"


def is_self(services: Any, data: Any, wire: Wire[Session]) -> bool:
    """The data is about the caller (``reader_id`` absent or their own)."""
    session = wire.session
    reader_id = getattr(data, "reader_id", None)
    return session is not None and reader_id in (None, session.reader_id)


def _reader(row: sqlite3.Row) -> Reader:
    return Reader(id=row["id"], name=row["name"], email=row["email"], role=row["role"])


async def find_reader(services: Services, reader_id: str) -> Reader:
    row = await services.db.one("SELECT * FROM readers WHERE id = ?", reader_id)
    if row is None:
        raise NotFoundError(f"reader {reader_id} not found")
    return _reader(row)


# ---------------------------------------------------------------- functions


@pikku_sessionless_func(title="Log in", tags=["auth"])
async def login(services: Services, data: Credentials, wire: Wire[Session]) -> Reader:
    """Check a reader's email and password and start a session."""
    row = await services.db.one("SELECT * FROM readers WHERE email = ?", data.email.lower())
    if row is None or not check_password(data.password, row["password"]):
        raise UnauthorizedError("wrong email or password")
    reader = _reader(row)
    wire.set_session(Session(reader_id=reader.id, name=reader.name, role=reader.role))
    return reader


@pikku_func(title="Log out", tags=["auth"])
async def logout(services: Services, data: None, wire: Wire[Session]) -> None:
    """End the caller's session."""
    wire.clear_session()


@pikku_func(title="Who am I", tags=["auth"])
async def me(services: Services, data: None, wire: Wire[Session]) -> Reader:
    """The reader behind the current session."""
    assert wire.session is not None
    return await find_reader(services, wire.session.reader_id)


async def _insert_reader(services: Services, data: NewReader) -> Reader:
    reader = Reader(id=new_id(), name=data.name, email=data.email.lower(), role=data.role)
    hashed = hash_password(data.password)
    try:
        await services.db.execute(
            "INSERT INTO readers (id, name, email, password, role) VALUES (?, ?, ?, ?, ?)",
            reader.id,
            reader.name,
            reader.email,
            hashed,
            reader.role,
        )
    except sqlite3.IntegrityError:
        raise ConflictError(f"a reader with email {reader.email} already exists") from None
    services.audit.record("reader.added", reader.email)
    return reader


@pikku_sessionless_func(title="Sign up", tags=["auth"])
async def register(services: Services, data: Signup, wire: Wire[Session]) -> Reader:
    """Create a reader account and log it in."""
    reader = await _insert_reader(
        services, NewReader(name=data.name, email=data.email, password=data.password)
    )
    wire.set_session(Session(reader_id=reader.id, name=reader.name, role=reader.role))
    return reader


@pikku_func(title="Add a reader", tags=["readers"], permissions={"librarian": is_librarian})
async def add_reader(services: Services, data: NewReader, wire: Wire[Session]) -> Reader:
    """Create a reader or librarian account (librarians only)."""
    return await _insert_reader(services, data)


@pikku_func(
    title="Get a reader",
    tags=["readers"],
    # OR: a librarian may read anyone, a reader only themselves.
    permissions={"librarian": is_librarian, "self": is_self},
)
async def get_reader(services: Services, data: ReaderRef, wire: Wire[Session]) -> Reader:
    """One reader's account."""
    return await find_reader(services, data.reader_id)
