"""The channel: a todo-style reading list per reader, and live catalogue events.

Every action here is an ordinary pikku function; the channel wiring in `app` routes each
message by its ``action``. Changes to a reading list are published to the reader's
topic, so the reader's other open tabs (other connections) see them at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from pikku_core import NotFoundError, UnauthorizedError, Wire, pikku_func, pikku_sessionless_func

from .books import BOOKS_TOPIC, list_books
from .db import new_id
from .loans import notices_topic
from .models import (
    BookSearch,
    PromptTopic,
    ReadingItem,
    ReadingItemInput,
    ReadingItemRef,
    ReadingList,
    ReadingUpdate,
    Session,
    Topic,
)
from .services import Services


class Subscribed(msgspec.Struct):
    subscribed: str


def _topic(session: Session) -> str:
    return f"reading-list:{session.reader_id}"


def _item(row: sqlite3.Row) -> ReadingItem:
    return ReadingItem(id=row["id"], title=row["title"], done=bool(row["done"]))


@pikku_func(title="Subscribe to events", tags=["channel"])
async def subscribe(services: Services, data: Topic, wire: Wire[Session]) -> Subscribed:
    """Receive ``books`` events (anyone), or your ``reading-list`` or ``notices`` (logged in).

    The channel wires this action with ``auth=False``, so anonymous connections may call
    it; the function itself asks for a session for the private topic.
    """
    if wire.channel is None:
        raise NotFoundError("subscribe is only available on a channel")
    if data.topic == "books":
        topic = BOOKS_TOPIC
    elif wire.session is None:
        raise UnauthorizedError(f"log in to follow your {data.topic}")
    elif data.topic == "notices":
        topic = notices_topic(wire.session.reader_id)
    else:
        topic = _topic(wire.session)
    await services.event_hub.subscribe(topic, wire.channel)
    return Subscribed(subscribed=topic)


async def _publish(services: Services, wire: Wire[Session], event: str, data: Any) -> None:
    assert wire.session is not None
    # The caller gets the reply; the reader's other connections get the event.
    await services.event_hub.publish(
        _topic(wire.session), {"event": event, "item": data}, exclude=wire.channel
    )


@pikku_func(title="Reading list", tags=["channel"])
async def reading_list(services: Services, data: None, wire: Wire[Session]) -> ReadingList:
    """Your reading list."""
    assert wire.session is not None
    rows = await services.db.all(
        "SELECT * FROM reading_list WHERE reader_id = ? ORDER BY rowid", wire.session.reader_id
    )
    return ReadingList(items=[_item(r) for r in rows])


@pikku_func(title="Add to reading list", tags=["channel"])
async def add_reading(
    services: Services, data: ReadingItemInput, wire: Wire[Session]
) -> ReadingUpdate:
    """Add a title to your reading list."""
    assert wire.session is not None
    item = ReadingItem(id=new_id(), title=data.title)
    await services.db.execute(
        "INSERT INTO reading_list (id, reader_id, title) VALUES (?, ?, ?)",
        item.id,
        wire.session.reader_id,
        item.title,
    )
    await _publish(services, wire, "added", item)
    return ReadingUpdate(item)


@pikku_func(title="Mark as read", tags=["channel"])
async def finish_reading(
    services: Services, data: ReadingItemRef, wire: Wire[Session]
) -> ReadingUpdate:
    """Tick an item off your reading list."""
    assert wire.session is not None
    reader_id = wire.session.reader_id
    changed = await services.db.execute(
        "UPDATE reading_list SET done = 1 WHERE id = ? AND reader_id = ?", data.item_id, reader_id
    )
    if not changed:
        raise NotFoundError(f"item {data.item_id} is not on your reading list")
    row = await services.db.one("SELECT * FROM reading_list WHERE id = ?", data.item_id)
    assert row is not None
    item = _item(row)
    await _publish(services, wire, "done", item)
    return ReadingUpdate(item)


@pikku_func(title="Remove from reading list", tags=["channel"])
async def remove_reading(services: Services, data: ReadingItemRef, wire: Wire[Session]) -> None:
    """Remove an item from your reading list."""
    assert wire.session is not None
    changed = await services.db.execute(
        "DELETE FROM reading_list WHERE id = ? AND reader_id = ?",
        data.item_id,
        wire.session.reader_id,
    )
    if not changed:
        raise NotFoundError(f"item {data.item_id} is not on your reading list")
    await _publish(services, wire, "removed", data)


async def stamp_events(services: Any, event: Any, next: Callable[[Any], Awaitable[None]]) -> None:
    """Channel middleware: every published event gets the time it was sent."""
    if isinstance(event, dict) and "topic" in event:
        stamped: dict[str, Any] = {**cast("dict[str, Any]", event)}
        stamped["sent_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        event = stamped
    await next(event)


# ---------------------------------------------------------------- MCP prompt


@pikku_sessionless_func(title="Recommend books")
async def recommend_books(services: Services, data: PromptTopic, wire: Wire[Session]) -> str:
    """A prompt asking a model to recommend books from the catalogue on a topic."""
    page = await list_books(services, BookSearch(limit=50), wire)
    lines = "\n".join(
        f"- {b.title} by {', '.join(b.authors)} ({b.available} on the shelf)" for b in page.items
    )
    return (
        f"A reader is interested in {data.topic!r}. From this catalogue, recommend up to "
        f"three books and say why in one sentence each:\n{lines}"
    )
