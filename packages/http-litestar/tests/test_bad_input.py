"""Bad input over a live socket: each gets its documented 4xx and the server stays up."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from conftest import raw_request
from pikku_core import Pikku, pikku_sessionless_func
from pikku_http_litestar import create_app

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024


class Item(msgspec.Struct):
    name: str
    qty: int


class Lookup(msgspec.Struct):
    q: str = ""


@pikku_sessionless_func
async def create_item(services: Any, data: Item) -> Item:
    return data


@pikku_sessionless_func
async def find(services: Any, data: Lookup) -> int:
    return len(data.q)


def make_app() -> Any:
    app = Pikku()
    app.wire_http("post", "/items", create_item)
    app.wire_http("get", "/find", find)
    return create_app(app, body_limit=LIMIT)


async def _still_up(client: httpx.AsyncClient) -> None:
    r = await client.post("/items", json={"name": "ok", "qty": 1})
    assert r.status_code == 200
    assert r.json() == {"name": "ok", "qty": 1}


def _problem(r: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["name"] == name
    assert body["status"] == status
    assert "Traceback" not in r.text
    return body


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"name": "a", "qty": 1', b"\xff\xfe", b'{"name": "a", "qty": 1}}', b"nul"],
)
async def test_malformed_json_is_422(serve: Any, body: bytes) -> None:
    async with serve(make_app()) as client:
        r = await client.post("/items", content=body, headers={"content-type": "application/json"})
        _problem(r, 422, "UnprocessableContentError")
        await _still_up(client)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"name": 1, "qty": 1}, "$.name"),
        ({"name": "a", "qty": "1"}, "$.qty"),
        ({"name": "a", "qty": 1.5}, "$.qty"),
        ({"name": "a"}, "$.qty"),
        ([1, 2], "$"),
        ("text", "$"),
    ],
)
async def test_wrong_types_are_422_naming_the_field(serve: Any, payload: Any, path: str) -> None:
    async with serve(make_app()) as client:
        r = await client.post("/items", json=payload)
        body = _problem(r, 422, "UnprocessableContentError")
        assert body["payload"] == {"path": path}
        await _still_up(client)


async def test_oversized_body_with_content_length_is_413(serve: Any) -> None:
    async with serve(make_app()) as client:
        r = await client.post(
            "/items", content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"}
        )
        _problem(r, 413, "PayloadTooLargeError")
        await _still_up(client)


async def test_oversized_chunked_body_is_413(serve: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * (LIMIT // 4)

    async with serve(make_app()) as client:
        r = await client.post(
            "/items", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in r.request.headers
        _problem(r, 413, "PayloadTooLargeError")
        await _still_up(client)


async def test_oversized_multipart_is_413(serve: Any) -> None:
    async with serve(make_app()) as client:
        r = await client.post("/items", files={"name": ("a.bin", b"x" * (LIMIT + 10))})
        _problem(r, 413, "PayloadTooLargeError")
        await _still_up(client)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "image/png", "application/octet-stream"]
)
async def test_wrong_content_type_is_415(serve: Any, content_type: str) -> None:
    async with serve(make_app()) as client:
        r = await client.post("/items", content=b"name=a", headers={"content-type": content_type})
        _problem(r, 415, "UnsupportedMediaTypeError")
        await _still_up(client)


async def test_broken_multipart_is_400(serve: Any) -> None:
    async with serve(make_app()) as client:
        r = await client.post(
            "/items",
            content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno end",
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert 400 <= r.status_code < 500
        assert r.headers["content-type"] == "application/problem+json"
        await _still_up(client)


async def test_huge_query_string_is_414(serve: Any) -> None:
    async with serve(make_app()) as client:
        port = client.base_url.port
        request = b"GET /find?q=" + b"x" * (70 * 1024) + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        status, body = await raw_request(port, request)
        assert status == 414
        problem = json.loads(body)
        assert problem["status"] == 414 and "query string" in problem["message"]
        r = await client.get("/find", params={"q": "x" * 1000})
        assert r.json() == 1000
        await _still_up(client)


async def test_too_many_query_fields_is_400(serve: Any) -> None:
    async with serve(make_app()) as client:
        r = await client.get("/find?" + "&".join(f"k{i}=1" for i in range(1500)))
        _problem(r, 400, "BadRequestError")
        await _still_up(client)


async def test_unknown_routes_and_methods(serve: Any) -> None:
    async with serve(make_app()) as client:
        _problem(await client.get("/nope"), 404, "NotFoundError")
        _problem(await client.get("/items/1/2/3"), 404, "NotFoundError")
        r = await client.delete("/items")
        _problem(r, 405, "MethodNotAllowedError")
        assert "POST" in r.headers["allow"]
        _problem(await client.put("/items"), 405, "MethodNotAllowedError")
        await _still_up(client)


async def test_garbage_on_the_socket_does_not_take_the_server_down(serve: Any) -> None:
    async with serve(make_app()) as client:
        status, _ = await raw_request(client.base_url.port, b"\x00\x01garbage\r\n\r\n")
        assert status == 400
        status, _ = await raw_request(client.base_url.port, b"BREW /items HTTP/1.1\r\n\r\n")
        assert status == 400
        await _still_up(client)
