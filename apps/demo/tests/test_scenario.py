"""The newcomer's tour over the real transports of one running ``demo`` process.

Log in over HTTP, create a book, receive the broadcast on the channel, borrow the book,
trigger the overdue scan and follow its queued job, call an MCP tool, run a CLI command.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from conftest import Demo
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pikku_ws import ChannelCallError, PikkuChannelClient

pytestmark = pytest.mark.anyio

LIBRARIAN = {"email": "libby@example.org", "password": "libby-demo"}
ADA = {"email": "ada@example.org", "password": "ada-demo"}
BOB = {"email": "bob@example.org", "password": "bob-demo"}


async def login(http: httpx.AsyncClient, who: dict[str, str]) -> dict[str, Any]:
    response = await http.post("/auth/login", json=who)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_job(http: httpx.AsyncClient, queue: str, job_id: str) -> dict[str, Any]:
    with anyio.fail_after(10):
        while True:
            job = (await http.get(f"/jobs/{queue}/{job_id}")).json()
            if job["status"] in ("succeeded", "failed"):
                return job
            await anyio.sleep(0.05)


async def test_tour(demo: Demo) -> None:
    events: list[dict[str, Any]] = []
    seen = {"created": anyio.Event(), "borrowed": anyio.Event()}

    def on_books(data: Any) -> None:
        events.append(data)
        if data["event"] in seen:
            seen[data["event"]].set()

    async with (
        httpx.AsyncClient(base_url=demo.url, timeout=10) as http,
        PikkuChannelClient(demo.ws_url, reconnect=False, timeout=10) as channel,
    ):
        # An anonymous connection may follow the catalogue (per-action auth=False) ...
        channel.subscribe("books", on_books)
        assert await channel.send("subscribe", {"topic": "books"}) == {
            "action": "subscribe",
            "subscribed": "books",
        }
        # ... but not act as a reader.
        with pytest.raises(ChannelCallError) as refused:
            await channel.send("add", {"title": "Dune"})
        assert refused.value.name == "UnauthorizedError"

        # Log in over HTTP: a cookie session, and `me`.
        libby = await login(http, LIBRARIAN)
        assert libby["role"] == "librarian"
        assert "pikku_session" in http.cookies
        assert (await http.get("/me")).json()["email"] == "libby@example.org"

        # Create a book; the channel receives the broadcast.
        response = await http.post(
            "/books", json={"title": "Kindred", "author": "Octavia E. Butler", "year": 1979}
        )
        assert response.status_code == 200, response.text
        book = response.json()
        assert book["authors"] == ["Octavia E. Butler"]
        assert book["available"] == 1
        with anyio.fail_after(5):
            await seen["created"].wait()
        assert events[0]["book"]["id"] == book["id"]

        # Two versions of get_book: the route serves the latest, /v1 the old contract.
        assert (await http.get(f"/books/{book['id']}")).json()["authors"] == ["Octavia E. Butler"]
        v1 = (await http.get(f"/v1/books/{book['id']}")).json()
        assert v1 == {
            "id": book["id"],
            "title": "Kindred",
            "author": "Octavia E. Butler",
            "year": 1979,
        }

        # Ada borrows it (OR group "member": her own loan AND nothing overdue).
        async with httpx.AsyncClient(base_url=demo.url, timeout=10) as ada_http:
            ada = await login(ada_http, ADA)
            response = await ada_http.post("/loans", json={"book_id": book["id"], "days": 7})
            assert response.status_code == 200, response.text
            loan = response.json()
            assert loan["reader_id"] == ada["id"]
            # Every copy is out now: the registered BookUnavailableError is a 409.
            again = await ada_http.post("/loans", json={"book_id": book["id"]})
            assert again.status_code == 409
            assert again.json()["name"] == "BookUnavailableError"
            # A reader may not list someone else's loans (neither group passes).
            others = await ada_http.get("/loans", params={"reader_id": "someone-else"})
            assert others.status_code == 403
        # Bob has an overdue loan: the AND group fails, and he is no librarian.
        async with httpx.AsyncClient(base_url=demo.url, timeout=10) as bob_http:
            await login(bob_http, BOB)
            response = await bob_http.post("/loans", json={"book_id": book["id"]})
            assert response.status_code == 403
        with anyio.fail_after(5):
            await seen["borrowed"].wait()

        # Trigger the overdue scan (what the nightly task runs); follow its queued job.
        scan = (await http.post("/admin/overdue-scan")).json()
        assert scan["overdue"] == 1
        job = await wait_for_job(http, "overdue-notices", scan["jobs"][0])
        assert job["status"] == "succeeded", job
        assert job["result"]["message"].startswith("Dear Bob Late")
        notices = (await http.get("/notices")).json()
        assert [n["id"] for n in notices] == [job["result"]["id"]]

        # MCP at /mcp: a tool, with the bearer token the login returned.
        token = (await http.post("/auth/login", json=LIBRARIAN)).headers["x-session-token"]
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as h2,
            Client(streamable_http_client(f"{demo.url}/mcp", http_client=h2)) as mcp,
        ):
            found = await mcp.call_tool("search_books", {"q": "kindred"})
            assert not found.is_error, found
            assert found.structured_content is not None
            assert [b["title"] for b in found.structured_content["items"]] == ["Kindred"]
            stats = await mcp.call_tool("library_stats", {})
            assert stats.structured_content is not None
            assert stats.structured_content["loans_open"] == 2
            tools = {t.name for t in (await mcp.list_tools()).tools}
            assert {"search_books", "get_book", "borrow_book", "library_stats"} <= tools

        # Log out: the cookie is gone and `me` needs a session again.
        assert (await http.post("/auth/logout")).status_code == 204
        assert (await http.get("/me")).status_code == 401

    # A CLI command, in its own process, sees what HTTP wrote to the same database.
    done = demo.cli("books", "show", book["id"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["available"] == 0
