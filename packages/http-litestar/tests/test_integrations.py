"""The optional siblings: /openapi.json and /docs (pikku-client-gen), /mcp (pikku-mcp)."""

from __future__ import annotations

from typing import Any

import httpx2
import msgspec
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pikku_core import Pikku, pikku_sessionless_func
from pikku_http_litestar import create_app

pytestmark = pytest.mark.anyio


class GetBook(msgspec.Struct):
    book_id: str


class Book(msgspec.Struct):
    id: str
    title: str


@pikku_sessionless_func
async def get_book(services: Any, data: GetBook) -> Book:
    return Book(id=data.book_id, title="Dune")


def make_app(*, mcp: bool) -> Pikku:
    app = Pikku()
    app.wire_http("get", "/books/{book_id}", get_book)
    if mcp:
        app.wire_mcp_tool("get_book", get_book)
    return app


async def test_openapi_json_and_docs_page(serve: Any) -> None:
    async with serve(create_app(make_app(mcp=False))) as client:
        r = await client.get("/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.1")
        assert "get" in doc["paths"]["/books/{book_id}"]
        r = await client.get("/docs")
        assert r.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in r.text
        # the app's own routes are not disturbed by the extra ones
        assert (await client.get("/books/1")).json() == {"id": "1", "title": "Dune"}


async def test_mcp_is_mounted_at_mcp_and_shares_the_lifespan(serve: Any) -> None:
    app = make_app(mcp=True)
    async with serve(create_app(app)) as client:
        url = f"http://127.0.0.1:{client.base_url.port}/mcp"
        async with (
            httpx2.AsyncClient(timeout=httpx2.Timeout(30)) as http,
            Client(streamable_http_client(url, http_client=http)) as mcp_client,
        ):
            tools = await mcp_client.list_tools()
            assert [t.name for t in tools.tools] == ["get_book"]
            result = await mcp_client.call_tool("get_book", {"book_id": "7"})
            assert result.structured_content == {"id": "7", "title": "Dune"}
        assert (await client.get("/books/2")).json()["id"] == "2"
    assert not app.started


async def test_no_mcp_route_without_mcp_wirings(serve: Any) -> None:
    async with serve(create_app(make_app(mcp=False))) as client:
        r = await client.post("/mcp", json={})
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
