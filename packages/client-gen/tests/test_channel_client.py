"""The generated channel client, end to end over pikku-ws on a live socket."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from cg_books_app import create_books_app
from cg_edge_app import create_edge_app
from conftest import ThreadServer, load_module
from pikku_conformance.reference_app import create_reference_app
from pikku_core import Pikku
from pikku_ws import ChannelCallError, serve

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def ws_server(app: Pikku) -> AsyncIterator[str]:
    async with serve(app, port=0) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def _actions(cls: type) -> set[str]:
    fixed = {"route", "at", "connect", "aclose", "subscribe"}
    return {n for n in vars(cls) if not n.startswith("_") and n not in fixed}


async def test_reference_channel_every_action(ref_channel: ModuleType) -> None:
    m = ref_channel
    app = create_reference_app()
    expected = {a for ch in app.channel_wirings for a in ch.actions}
    assert _actions(m.ConformanceChannel) == expected
    async with ws_server(app) as base, m.ConformanceChannel.at(base, reconnect=False) as ch:
        out = await ch.echo(text="hi", count=2)
        assert isinstance(out, m.EchoOutput) and (out.text, out.count) == ("hi", 2)
        with pytest.raises(ChannelCallError) as bad:
            await ch.echo(text=7)  # type: ignore[arg-type]
        assert bad.value.name == "UnprocessableContentError"
        assert bad.value.payload == {"path": "$.text"}
        with pytest.raises(ChannelCallError, match="UnauthorizedError"):
            await ch.whoami()
        assert await ch.login(user_id="owner") is None
        assert (await ch.whoami())["user_id"] == "owner"
        assert await ch.perm_or() == "allowed"
        with pytest.raises(ChannelCallError, match="ForbiddenError"):
            await ch.perm_and()
        assert (await ch.rpc_whoami())["user_id"] == "owner"
        assert await ch.rpc_perm_or() == "allowed"
        with pytest.raises(ChannelCallError, match="NotFoundError") as nf:
            await ch.fail(kind="not_found")
        assert nf.value.payload == {"id": 7}
        with pytest.raises(ChannelCallError, match="ConflictError"):
            await ch.fail(kind="conflict")
        with pytest.raises(ChannelCallError, match="TeapotError"):
            await ch.fail(kind="teapot")
        with pytest.raises(ChannelCallError, match="InternalServerError") as crash:
            await ch.fail(kind="crash")
        assert "hunter2" not in str(crash.value)
        assert await ch.trace() == ["global", "tag", "wiring", "function", "function-body"]
        assert await ch.uses_resource() == "resource"
        with pytest.raises(ChannelCallError, match="ForbiddenError"):
            await ch.uses_resource_then_fails()
        assert await ch.skips_resource() == "skipped"
        stats = await ch.resource_stats()
        assert stats["created"] == stats["closed"]
        assert await ch.rpc_versioned(value=1) == {"version": 1}
        assert await ch.versioned_v1() == {"version": 1}
        assert await ch.versioned_v2() == {"version": 2}
        assert await ch.nothing() is None
        doubled = await ch.sync_double(value=4)
        assert isinstance(doubled, m.Number) and doubled.value == 8
        assert [n.value async for n in ch.count(n=3)] == [0, 1, 2]
        assert await ch.session_echo(text="s") == {"text": "s", "user_id": "owner"}
        await ch.logout()
        with pytest.raises(ChannelCallError, match="UnauthorizedError"):
            await ch.whoami()


async def test_books_channel_typed_actions_and_topics(books_channel: ModuleType) -> None:
    m = books_channel
    async with ws_server(create_books_app()) as base:
        async with (
            m.BooksChannel.at(base, reconnect=False) as watcher,
            m.BooksChannel(base + "/ws/books", reconnect=False) as ch,
        ):
            received: list[Any] = []
            done = anyio.Event()

            def on_book(book: Any) -> None:
                received.append(book)
                done.set()

            watcher.subscribe("books", on_book, as_type=m.Book)
            await watcher.watch()
            book = await ch.get(book_id=1)
            assert isinstance(book, m.Book) and isinstance(book.edition, m.Paper)
            with pytest.raises(ChannelCallError, match="NotFoundError"):
                await ch.get(book_id=50)
            with pytest.raises(ChannelCallError, match="UnauthorizedError"):
                await ch.create(title="X")
            me = await ch.login(user="ann")
            assert me == m.Me(user="ann", role="reader")
            made = await ch.create(title="X", edition=m.Ebook(size_kb=1))
            assert made.book_id == 3 and made.edition == m.Ebook(size_kb=1)
            with anyio.fail_after(5):
                await done.wait()
            assert received == [made]
            assert await ch.search(term="x") == ["X"]
            assert [i async for i in ch.countdown(start=3)] == [3, 2, 1]
            assert await ch.add(a=1, b=2) == 3


async def test_edge_channel_renamed_fields_and_optional_results(edge_out: Path) -> None:
    m = load_module(edge_out / "channel_client.py", "cg_generated_edge_channel")
    async with (
        ws_server(create_edge_app()) as base,
        m.EdgeCasesChannel.at(base, reconnect=False) as ch,
    ):
        weird = await ch.weird(class_="c", from_date=datetime.date(2021, 5, 6), self_=1)
        assert (weird.class_, weird.from_date, weird.self_) == ("c", datetime.date(2021, 5, 6), 1)
        assert await ch.double(value=4) == 8
        assert await ch.counts(data={"a": 2}) == 2
        assert await ch.counts(data={}) is None
        tree = await ch.tree(label="r", children=[m.Node(label="c")])
        assert tree.children == [m.Node(label="c")]


async def test_channel_client_against_the_litestar_websocket_route(
    ref_channel: ModuleType, ref_server: ThreadServer
) -> None:
    m = ref_channel
    base = ref_server.url.replace("http://", "ws://")
    async with m.ConformanceChannel.at(base, reconnect=False) as ch:
        assert (await ch.echo(text="over litestar")).text == "over litestar"
        await ch.login(user_id="lit")
        assert (await ch.whoami())["user_id"] == "lit"
        assert [n.value async for n in ch.count(n=2)] == [0, 1]
