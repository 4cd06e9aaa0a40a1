"""Loans, overdue notices (a queue job) and the nightly overdue scan (a scheduled task)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from pikku_core import JobInfo, NotFoundError, Wire, pikku_func, pikku_sessionless_func

from .auth import is_librarian, is_self
from .books import find_book, publish_book
from .db import iso, new_id, now
from .models import (
    BorrowRequest,
    JobRef,
    Loan,
    LoanQuery,
    LoanRef,
    Notice,
    ScanResult,
    Session,
)
from .services import Services

NOTICE_QUEUE = "overdue-notices"
SCAN_TASK = "nightly-overdue-scan"


def notices_topic(reader_id: str) -> str:
    """EventHub topic of one reader's overdue notices."""
    return f"notices:{reader_id}"


class BookUnavailableError(Exception):
    """Every copy is on loan (registered with the app as a 409)."""


def _loan(row: sqlite3.Row) -> Loan:
    return Loan(
        id=row["id"],
        book_id=row["book_id"],
        reader_id=row["reader_id"],
        borrowed_at=row["borrowed_at"],
        due_at=row["due_at"],
        returned_at=row["returned_at"],
    )


async def has_no_overdue_loans(services: Services, data: Any, wire: Wire[Session]) -> bool:
    """The caller has returned everything that is due."""
    session = wire.session
    if session is None:
        return False
    row = await services.db.one(
        "SELECT count(*) FROM loans WHERE reader_id = ? AND returned_at IS NULL AND due_at < ?",
        session.reader_id,
        iso(now()),
    )
    return row is not None and row[0] == 0


async def owns_loan(services: Services, data: LoanRef, wire: Wire[Session]) -> bool:
    session = wire.session
    row = await services.db.one("SELECT reader_id FROM loans WHERE id = ?", data.loan_id)
    return session is not None and row is not None and row[0] == session.reader_id


@pikku_func(
    title="Borrow a book",
    tags=["loans"],
    # Any group passes: a librarian lends to anyone; a reader borrows for themselves
    # (AND: the loan is theirs, and they have nothing overdue).
    permissions={"librarian": is_librarian, "member": [is_self, has_no_overdue_loans]},
    errors=[NotFoundError, BookUnavailableError],
)
async def borrow_book(services: Services, data: BorrowRequest, wire: Wire[Session]) -> Loan:
    """Lend a copy of a book for ``days`` days."""
    assert wire.session is not None
    reader_id = data.reader_id or wire.session.reader_id
    await find_book(services, data.book_id)
    borrowed = now()
    loan = Loan(
        id=new_id(),
        book_id=data.book_id,
        reader_id=reader_id,
        borrowed_at=iso(borrowed),
        due_at=iso(borrowed + timedelta(days=data.days)),
    )

    def insert(conn: sqlite3.Connection) -> bool:
        if conn.execute("SELECT 1 FROM readers WHERE id = ?", (reader_id,)).fetchone() is None:
            raise NotFoundError(f"reader {reader_id} not found")
        available = conn.execute(
            "SELECT b.copies - (SELECT count(*) FROM loans l"
            " WHERE l.book_id = b.id AND l.returned_at IS NULL) FROM books b WHERE b.id = ?",
            (data.book_id,),
        ).fetchone()[0]
        if available <= 0:
            return False
        conn.execute(
            "INSERT INTO loans (id, book_id, reader_id, borrowed_at, due_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (loan.id, loan.book_id, loan.reader_id, loan.borrowed_at, loan.due_at),
        )
        return True

    if not await services.db.run(insert):
        raise BookUnavailableError(f"every copy of book {data.book_id} is on loan")
    services.audit.record("loan.created", loan.id)
    await publish_book(services, "borrowed", await find_book(services, data.book_id))
    return loan


@pikku_func(
    title="Return a book",
    tags=["loans"],
    permissions={"librarian": is_librarian, "borrower": owns_loan},
)
async def return_book(services: Services, data: LoanRef, wire: Wire[Session]) -> Loan:
    """Mark a loan returned."""
    await services.db.execute(
        "UPDATE loans SET returned_at = ? WHERE id = ? AND returned_at IS NULL",
        iso(now()),
        data.loan_id,
    )
    row = await services.db.one("SELECT * FROM loans WHERE id = ?", data.loan_id)
    if row is None:
        raise NotFoundError(f"loan {data.loan_id} not found")
    loan = _loan(row)
    services.audit.record("loan.returned", loan.id)
    await publish_book(services, "returned", await find_book(services, loan.book_id))
    return loan


@pikku_func(
    title="List loans",
    tags=["loans"],
    permissions={"librarian": is_librarian, "self": is_self},
)
async def list_loans(services: Services, data: LoanQuery, wire: Wire[Session]) -> list[Loan]:
    """Open loans: a reader sees their own, a librarian anyone's (or everyone's)."""
    assert wire.session is not None
    reader_id = data.reader_id
    if reader_id is None and wire.session.role != "librarian":
        reader_id = wire.session.reader_id
    sql = "SELECT * FROM loans WHERE returned_at IS NULL"
    params: list[Any] = []
    if reader_id is not None:
        sql += " AND reader_id = ?"
        params.append(reader_id)
    if data.overdue:
        sql += " AND due_at < ?"
        params.append(iso(now()))
    rows = await services.db.all(sql + " ORDER BY due_at", *params)
    return [_loan(r) for r in rows]


@pikku_sessionless_func(title="Send an overdue notice", tags=["loans"])
async def send_overdue_notice(services: Services, data: LoanRef, wire: Wire[Session]) -> Notice:
    """The queue worker: write the notice a reader would be emailed."""
    row = await services.db.one(
        "SELECT l.*, b.title, r.name FROM loans l JOIN books b ON b.id = l.book_id"
        " JOIN readers r ON r.id = l.reader_id WHERE l.id = ?",
        data.loan_id,
    )
    if row is None:
        # a 4xx error: the job fails at once instead of retrying
        raise NotFoundError(f"loan {data.loan_id} not found")
    notice = Notice(
        id=new_id(),
        loan_id=row["id"],
        reader_id=row["reader_id"],
        message=f"Dear {row['name']}, {row['title']!r} was due on {row['due_at'][:10]}.",
        sent_at=iso(now()),
    )
    await services.db.execute(
        "INSERT INTO notices (id, loan_id, reader_id, message, sent_at) VALUES (?, ?, ?, ?, ?)",
        notice.id,
        notice.loan_id,
        notice.reader_id,
        notice.message,
        notice.sent_at,
    )
    services.logger.info("overdue notice %s for loan %s", notice.id, notice.loan_id)
    # The reader sees it at once if connected (with Redis, from whichever process runs it).
    await services.event_hub.publish(notices_topic(notice.reader_id), notice)
    return notice


@pikku_func(title="Remind a reader", tags=["loans"], permissions={"librarian": is_librarian})
async def remind_reader(services: Services, data: LoanRef, wire: Wire[Session]) -> JobRef:
    """Queue an overdue notice for one loan; poll it with ``GET /jobs/{queue}/{job_id}``."""
    if await services.db.one("SELECT 1 FROM loans WHERE id = ?", data.loan_id) is None:
        raise NotFoundError(f"loan {data.loan_id} not found")
    job_id = await services.queue.add(NOTICE_QUEUE, {"loan_id": data.loan_id})
    return JobRef(queue=NOTICE_QUEUE, job_id=job_id)


@pikku_sessionless_func(title="Scan for overdue loans", tags=["loans"])
async def scan_overdue(services: Services, data: None, wire: Wire[Session]) -> ScanResult:
    """Queue one notice per overdue loan (at most one per loan and day)."""
    today = now().date().isoformat()
    rows = await services.db.all(
        "SELECT id FROM loans WHERE returned_at IS NULL AND due_at < ?", iso(now())
    )
    jobs = [
        await services.queue.add(
            NOTICE_QUEUE, {"loan_id": row["id"]}, job_id=f"{row['id']}-{today}"
        )
        for row in rows
    ]
    return ScanResult(overdue=len(rows), jobs=jobs)


@pikku_func(
    title="Run the overdue scan now", tags=["loans"], permissions={"librarian": is_librarian}
)
async def run_overdue_scan(services: Services, data: None, wire: Wire[Session]) -> ScanResult:
    """What the nightly task does, on demand (librarians only)."""
    result: ScanResult = await wire.rpc.invoke("scan_overdue")
    return result


@pikku_func(title="Job status", tags=["loans"], permissions={"librarian": is_librarian})
async def job_status(services: Services, data: JobRef, wire: Wire[Session]) -> JobInfo:
    """Where a queued job is (``queued``, ``running``, ``succeeded``, ``failed``...)."""
    return await services.queue.get_job(data.queue, data.job_id)


@pikku_func(title="My notices", tags=["loans"])
async def list_notices(services: Services, data: None, wire: Wire[Session]) -> list[Notice]:
    """Overdue notices sent to the caller (a librarian sees all of them)."""
    assert wire.session is not None
    if wire.session.role == "librarian":
        rows = await services.db.all("SELECT * FROM notices ORDER BY sent_at")
    else:
        rows = await services.db.all(
            "SELECT * FROM notices WHERE reader_id = ? ORDER BY sent_at", wire.session.reader_id
        )
    return [
        Notice(
            id=r["id"],
            loan_id=r["loan_id"],
            reader_id=r["reader_id"],
            message=r["message"],
            sent_at=r["sent_at"],
        )
        for r in rows
    ]
