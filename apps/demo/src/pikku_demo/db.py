"""SQLite storage through the standard library, run in a worker thread.

One connection per process, used by one thread at a time (a capacity limiter of one),
in WAL mode so the CLI and the server can use the same file at once. The file and its
tables are created on first use; a fresh database gets a few books and two accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS readers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reader', 'librarian'))
);
CREATE TABLE IF NOT EXISTS books (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    authors TEXT NOT NULL,
    year INTEGER,
    copies INTEGER NOT NULL,
    cover_type TEXT
);
CREATE TABLE IF NOT EXISTS loans (
    id TEXT PRIMARY KEY,
    book_id TEXT NOT NULL REFERENCES books(id),
    reader_id TEXT NOT NULL REFERENCES readers(id),
    borrowed_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    returned_at TEXT
);
CREATE TABLE IF NOT EXISTS notices (
    id TEXT PRIMARY KEY,
    loan_id TEXT NOT NULL REFERENCES loans(id),
    reader_id TEXT NOT NULL,
    message TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reading_list (
    id TEXT PRIMARY KEY,
    reader_id TEXT NOT NULL,
    title TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
"""

DEMO_ACCOUNTS = (
    ("Libby Librarian", "libby@example.org", "libby-demo", "librarian"),
    ("Ada Reader", "ada@example.org", "ada-demo", "reader"),
    ("Bob Late", "bob@example.org", "bob-demo", "reader"),
)
"""Accounts a fresh demo database starts with: (name, email, password, role)."""

_SEED_BOOKS = (
    ("The Left Hand of Darkness", "Ursula K. Le Guin", 1969, 2),
    (
        "Structure and Interpretation of Computer Programs",
        "Harold Abelson; Gerald Sussman",
        1985,
        1,
    ),
    ("The Dispossessed", "Ursula K. Le Guin", 1974, 1),
    ("Gödel, Escher, Bach", "Douglas Hofstadter", 1979, 1),
)


def now() -> datetime:
    """The current time (UTC, whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """A timestamp as stored: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def new_id() -> str:
    """A short random id."""
    return uuid.uuid4().hex[:12]


def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt hash of a password, as ``salt$hash`` (hex)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"{salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by `hash_password`."""
    salt_hex, _, _ = stored.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, salt), stored)


class Database:
    """The demo's SQLite database (created on first use).

    Args:
        path: The database file; its folder is created if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            if conn.execute("SELECT count(*) FROM readers").fetchone()[0] == 0:
                _seed(conn)
            self._conn = conn
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in a worker thread, in one transaction."""

        def call() -> T:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await anyio.to_thread.run_sync(call, limiter=self._limiter)

    async def one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        return await self.run(lambda c: c.execute(sql, params).fetchone())

    async def all(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Every row of a query."""
        return await self.run(lambda c: c.execute(sql, params).fetchall())

    async def execute(self, sql: str, *params: Any) -> int:
        """Run a statement; returns the number of rows changed."""
        return await self.run(lambda c: c.execute(sql, params).rowcount)

    def close(self) -> None:
        """Close the connection (the app does this when it stops)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _seed(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    for name, email, password, role in DEMO_ACCOUNTS:
        conn.execute(
            "INSERT INTO readers (id, name, email, password, role) VALUES (?, ?, ?, ?, ?)",
            (new_id(), name, email, hash_password(password), role),
        )
    for title, authors, year, copies in _SEED_BOOKS:
        conn.execute(
            "INSERT INTO books (id, title, authors, year, copies) VALUES (?, ?, ?, ?, ?)",
            (new_id(), title, authors, year, copies),
        )
    bob = conn.execute("SELECT id FROM readers WHERE email = 'bob@example.org'").fetchone()[0]
    book = conn.execute("SELECT id FROM books WHERE title = 'The Dispossessed'").fetchone()[0]
    borrowed = now() - timedelta(days=30)
    # Bob has an overdue loan: the nightly scan finds it, and he may not borrow more.
    conn.execute(
        "INSERT INTO loans (id, book_id, reader_id, borrowed_at, due_at) VALUES (?, ?, ?, ?, ?)",
        (new_id(), book, bob, iso(borrowed), iso(borrowed + timedelta(days=14))),
    )
    conn.execute("COMMIT")
