"""One running demo, each transport's own features: uploads, SSE, RPC, the reading-list
channel with its middleware, MCP resources and prompts, CLI commands and exit codes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from conftest import Demo
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from websockets.asyncio.client import connect

pytestmark = pytest.mark.anyio

LIBRARIAN = {"email": "libby@example.org", "password": "libby-demo"}
ADA = {"email": "ada@example.org", "password": "ada-demo"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@contextlib.asynccontextmanager
async def logged_in(demo: Demo, who: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=demo.url, timeout=10) as http:
        response = await http.post("/auth/login", json=who)
        assert response.status_code == 200, response.text
        yield http


async def first_book(http: httpx.AsyncClient, q: str) -> dict[str, Any]:
    page = (await http.get("/books", params={"q": q})).json()
    return page["items"][0]


async def test_cover_upload_and_download(demo: Demo) -> None:
    async with logged_in(demo, LIBRARIAN) as http:
        book = await first_book(http, "Dispossessed")
        files = {"cover": ("cover.png", PNG, "image/png")}
        response = await http.put(f"/books/{book['id']}/cover", files=files)
        assert response.status_code == 200, response.text
        assert response.json() == {"book_id": book["id"], "content_type": "image/png", "size": 72}
        cover = await http.get(f"/books/{book['id']}/cover")
        assert cover.status_code == 200
        assert cover.headers["content-type"] == "image/png"
        assert cover.content == PNG
        assert (await http.get(f"/books/{book['id']}")).json()["has_cover"] is True
        text = {"cover": ("cover.txt", b"hello", "text/plain")}
        refused = await http.put(f"/books/{book['id']}/cover", files=text)
        assert refused.status_code == 415
        assert refused.headers["content-type"] == "application/problem+json"


async def test_sse_export_streams_every_book(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.url, timeout=10) as http:
        total = (await http.get("/books")).json()["total"]
        async with http.stream("GET", "/catalogue/export") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            items = [
                json.loads(line.removeprefix("data: "))
                async for line in response.aiter_lines()
                if line.startswith("data: ")
            ]
        assert len(items) == total >= 4
        assert items == sorted(items, key=lambda b: b["title"])


async def test_http_errors_rpc_and_openapi(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.url, timeout=10) as http:
        bad = await http.get("/books", params={"limit": "many"})
        assert bad.status_code == 422
        assert bad.json()["payload"] == {"path": "$.limit"}
        assert (await http.post("/books", json={"title": "x", "author": "y"})).status_code == 401
        assert (await http.get("/books/nope")).json()["name"] == "NotFoundError"
        stats = await http.post("/rpc/library_stats")
        assert stats.status_code == 200 and stats.json()["books"] >= 4
        assert (await http.post("/rpc/create_book", json={})).status_code == 404
        doc = (await http.get("/openapi.json")).json()
        assert "/books/{book_id}" in doc["paths"]
        assert "Server-Timing" in (await http.get("/stats")).headers


async def test_reading_list_channel_across_two_tabs(demo: Demo) -> None:
    async with logged_in(demo, ADA) as http:
        cookie = f"pikku_session={http.cookies['pikku_session']}"
    headers = {"Cookie": cookie}
    async with (
        connect(demo.ws_url, additional_headers=headers) as tab1,
        connect(demo.ws_url, additional_headers=headers) as tab2,
    ):

        async def call(ws: Any, message: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps(message))
            with anyio.fail_after(5):
                return json.loads(await ws.recv())

        # The cookie sent with the upgrade request is the connection's session.
        assert await call(tab1, {"action": "list", "id": 1}) == {
            "action": "list",
            "id": 1,
            "items": [],
        }
        sub1 = await call(tab1, {"action": "subscribe", "topic": "reading-list"})
        sub2 = await call(tab2, {"action": "subscribe", "topic": "reading-list"})
        assert sub1 == sub2
        assert sub1["subscribed"].startswith("reading-list:")
        reply = await call(tab1, {"action": "add", "id": "a", "title": "Parable of the Sower"})
        assert reply["action"] == "add" and reply["id"] == "a"
        added = reply["item"]
        assert added["title"] == "Parable of the Sower" and added["done"] is False
        # The other tab gets the event, stamped by the channel middleware.
        with anyio.fail_after(5):
            event = json.loads(await tab2.recv())
        assert event["topic"].startswith("reading-list:")
        assert event["data"] == {"event": "added", "item": added}
        assert "sent_at" in event
        done = await call(tab2, {"action": "done", "item_id": added["id"]})
        assert done["item"]["done"] is True
        listed = await call(tab1, {"action": "list"})
        # tab1 first receives tab2's "done" event, then the reply to "list".
        if "topic" in listed:
            assert listed["data"]["event"] == "done"
            listed = json.loads(await tab1.recv())
        assert listed["items"] == [
            {"id": added["id"], "title": "Parable of the Sower", "done": True}
        ]
        # Bad input gets an error reply; the connection stays open.
        await tab1.send("{not json")
        assert "error" in json.loads(await tab1.recv())
        unknown = await call(tab1, {"action": "fly"})
        assert unknown["error"]["name"] == "NotFoundError"
        missing = await call(tab1, {"action": "done", "item_id": "nope"})
        assert missing["error"]["name"] == "NotFoundError"
        assert (await call(tab1, {"action": "logout"})) == {"action": "logout"}
        assert (await call(tab1, {"action": "list"}))["error"]["name"] == "UnauthorizedError"


async def test_mcp_resources_and_prompts(demo: Demo) -> None:
    async with (
        httpx2.AsyncClient(timeout=30) as h2,
        Client(streamable_http_client(f"{demo.url}/mcp", http_client=h2)) as mcp,
    ):
        stats = await mcp.read_resource("library://stats")
        assert json.loads(stats.contents[0].text)["books"] >= 4  # type: ignore[union-attr]
        prompt = await mcp.get_prompt("recommend_books", {"topic": "anarchism"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "anarchism" in text and "The Dispossessed" in text
        # borrow_book needs a session: without a bearer token it is an error result.
        refused = await mcp.call_tool("borrow_book", {"book_id": "x"})
        assert refused.is_error
        assert refused.structured_content is not None
        assert refused.structured_content["name"] == "UnauthorizedError"


def test_cli_commands(demo: Demo) -> None:
    done = demo.cli(
        "books", "add", "--title", "Dune", "--author", "Frank Herbert", "--year", "1965"
    )
    assert done.returncode == 0, done.stderr
    book = json.loads(done.stdout)
    assert book["title"] == "Dune" and book["year"] == 1965
    listed = demo.cli("books", "list", "--q", "dune")
    assert [b["id"] for b in json.loads(listed.stdout)["items"]] == [book["id"]]
    exported = demo.cli("books", "export")
    assert exported.returncode == 0
    assert book["id"] in [json.loads(line)["id"] for line in exported.stdout.splitlines()]
    # Validation names the option; usage errors exit 2, other errors 1.
    bad = demo.cli("books", "add", "--title", "X", "--author", "Y", "--year", "soon")
    assert bad.returncode == 2 and "--year" in bad.stderr
    missing = demo.cli("books", "show", "nope")
    assert missing.returncode == 1
    assert "Error (NotFoundError): book nope not found" in missing.stderr
    assert "Traceback" not in missing.stderr + bad.stderr


def test_cli_session_from_env(demo: Demo) -> None:
    # PIKKU_SESSION acts as someone else than the local operator (a librarian): a reader.
    from pikku_demo import DemoConfig, Session, build_app

    app = build_app(DemoConfig(data_dir=demo.data_dir))
    token = app.session_codec().encode(Session("r1", "Reader One", "reader"))
    refused = demo.cli(
        "readers",
        "add",
        "--name",
        "Eve",
        "--email",
        "e@x.org",
        "--password",
        "pw",
        PIKKU_SESSION=token,
    )
    assert refused.returncode == 1
    assert "ForbiddenError" in refused.stderr
    forged = demo.cli("stats", PIKKU_SESSION="forged.token")
    assert forged.returncode == 1 and "invalid or expired" in forged.stderr
    helped = demo.cli("--help")
    assert helped.returncode == 0
    assert "demo worker" in helped.stdout and "books" in helped.stdout


async def test_crud_and_permission_groups(demo: Demo) -> None:
    async with (
        logged_in(demo, LIBRARIAN) as libby,
        httpx.AsyncClient(base_url=demo.url, timeout=10) as newcomer,
    ):
        signup = {"name": "Cy", "email": "cy@example.org", "password": "cy-demo"}
        cy = (await newcomer.post("/auth/signup", json=signup)).json()
        assert cy["role"] == "reader"
        assert (await newcomer.post("/auth/signup", json=signup)).status_code == 409
        # OR group on get_reader: the reader themselves, or a librarian; nobody else.
        assert (await newcomer.get(f"/readers/{cy['id']}")).json()["email"] == "cy@example.org"
        assert (await libby.get(f"/readers/{cy['id']}")).status_code == 200
        libby_id = (await libby.get("/me")).json()["id"]
        assert (await newcomer.get(f"/readers/{libby_id}")).status_code == 403

        book = (await libby.post("/books", json={"title": "Tmp", "author": "A; B"})).json()
        assert book["authors"] == ["A", "B"]
        patched = await libby.patch(f"/books/{book['id']}", json={"copies": 2, "year": 2001})
        assert patched.json()["copies"] == 2 and patched.json()["year"] == 2001
        assert (await newcomer.patch(f"/books/{book['id']}", json={"copies": 9})).status_code == 403

        # Cy borrows a copy; the book cannot be removed while it is on loan.
        loan = (await newcomer.post("/loans", json={"book_id": book["id"]})).json()
        assert (await libby.delete(f"/books/{book['id']}")).status_code == 409
        assert [x["id"] for x in (await newcomer.get("/loans")).json()] == [loan["id"]]
        returned = (await newcomer.post(f"/loans/{loan['id']}/return")).json()
        assert returned["returned_at"] is not None
        assert (await libby.delete(f"/books/{book['id']}")).status_code == 204
        assert (await libby.get(f"/books/{book['id']}")).status_code == 404
