"""pikku-http-litestar over a live uvicorn socket: routing, data, responses, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import pytest
from litestar import Litestar, get
from litestar.exceptions import InternalServerException
from pikku_core import (
    NotFoundError,
    Pikku,
    Response,
    UploadFile,
    Wire,
    auth_bearer,
    auth_cookie,
    pikku_func,
    pikku_sessionless_func,
)
from pikku_http_litestar import PikkuPlugin, create_app
from pikku_http_litestar._routes import litestar_path

pytestmark = pytest.mark.anyio

SECRET = "test-secret-0123456789abcdef"


class BookQuery(msgspec.Struct):
    book_id: int
    tags: list[str] = []
    limit: int = 10


class NewBook(msgspec.Struct):
    title: str
    year: int
    shelf: str = "main"


class Upload(msgspec.Struct):
    file: UploadFile
    note: str = ""


class RawUpload(msgspec.Struct):
    body: bytes


class Count(msgspec.Struct):
    n: int
    fail_at: int = -1


class Login(msgspec.Struct):
    user_id: str


@pikku_sessionless_func
async def get_book(services: Any, data: BookQuery, wire: Wire[Any]) -> dict[str, Any]:
    return {"book_id": data.book_id, "tags": data.tags, "limit": data.limit}


@pikku_sessionless_func
async def create_book(services: Any, data: NewBook, wire: Wire[Any]) -> NewBook:
    assert wire.http is not None
    wire.http.set_status(201)
    wire.http.set_header("X-Book", data.title)
    wire.http.set_cookie("last_book", data.title)
    return data


@pikku_sessionless_func
async def put_book(services: Any, data: BookQuery, wire: Wire[Any]) -> dict[str, Any]:
    return {"book_id": data.book_id, "tags": data.tags}


@pikku_sessionless_func
async def upload(services: Any, data: Upload, wire: Wire[Any]) -> dict[str, Any]:
    content = await data.file.read()
    return {
        "filename": data.file.filename,
        "content_type": data.file.content_type,
        "size": len(content),
        "note": data.note,
    }


@pikku_sessionless_func
async def upload_raw(services: Any, data: RawUpload, wire: Wire[Any]) -> int:
    return len(data.body)


@pikku_sessionless_func
async def nothing(services: Any, data: None, wire: Wire[Any]) -> None:
    return None


@pikku_sessionless_func
async def raw_bytes(services: Any, data: None, wire: Wire[Any]) -> Response:
    return Response(b"%PDF-1.4", content_type="application/pdf", headers={"X-Raw": "1"})


@pikku_sessionless_func
async def raw_stream(services: Any, data: None, wire: Wire[Any]) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"a", b"b", b"c"):
            yield part

    return Response(chunks(), content_type="text/plain")


@pikku_sessionless_func
async def crash(services: Any, data: None, wire: Wire[Any]) -> None:
    raise RuntimeError("secret database password")


@pikku_sessionless_func
async def missing(services: Any, data: None, wire: Wire[Any]) -> None:
    raise NotFoundError("book 7 not found", {"id": 7})


@pikku_sessionless_func
async def count(services: Any, data: Count, wire: Wire[Any]) -> AsyncIterator[dict[str, int]]:
    for i in range(data.n):
        if i == data.fail_at:
            raise NotFoundError("ran out")
        yield {"i": i}


STREAM_STATE: dict[str, Any] = {}


@pikku_sessionless_func
async def forever(services: Any, data: None, wire: Wire[Any]) -> AsyncIterator[int]:
    i = 0
    try:
        while True:
            yield i
            i += 1
            await anyio.sleep(0.01)
    finally:
        STREAM_STATE["closed"].set()


@pikku_sessionless_func
async def login(services: Any, data: Login, wire: Wire[Any]) -> None:
    wire.set_session({"user_id": data.user_id})


@pikku_func
async def logout(services: Any, data: None, wire: Wire[Any]) -> None:
    wire.clear_session()


@pikku_func
async def whoami(services: Any, data: None, wire: Wire[Any]) -> Any:
    return wire.session


@pikku_sessionless_func(expose=True)
async def public_echo(services: Any, data: NewBook, wire: Wire[Any]) -> NewBook:
    return data


@pikku_sessionless_func(name="hello", version=1, expose=True)
async def hello_v1(services: Any, data: None, wire: Wire[Any]) -> int:
    return 1


@pikku_sessionless_func(name="hello", version=2, expose=True)
async def hello_v2(services: Any, data: None, wire: Wire[Any]) -> int:
    return 2


@pikku_func(expose=True)
async def private_echo(services: Any, data: None, wire: Wire[Any]) -> Any:
    return wire.session


@pikku_sessionless_func
async def hidden(services: Any, data: None, wire: Wire[Any]) -> int:
    return 0


@pikku_sessionless_func
async def group_item(services: Any, data: BookQuery, wire: Wire[Any]) -> list[str]:
    return [str(data.book_id)]


def make_app() -> Pikku:
    app = Pikku(secret=SECRET)
    app.add_middleware(auth_cookie(secure=True), auth_bearer())
    app.wire_http("get", "/books/{book_id}", get_book)
    app.wire_http("delete", "/typed/{book_id:int}", get_book)
    app.wire_http("post", "/books", create_book)
    app.wire_http("put", "/books/{book_id}", put_book)
    app.wire_http("post", "/upload", upload)
    app.wire_http("post", "/upload-raw", upload_raw)
    app.wire_http("post", "/nothing", nothing)
    app.wire_http("get", "/raw", raw_bytes)
    app.wire_http("get", "/raw-stream", raw_stream)
    app.wire_http("get", "/crash", crash)
    app.wire_http("get", "/missing", missing)
    app.wire_http("get", "/count", count)
    app.wire_http("get", "/forever", forever)
    app.wire_http("post", "/login", login)
    app.wire_http("post", "/logout", logout)
    app.wire_http("get", "/whoami", whoami)
    app.wire_http_routes(
        "/v1/shelf",
        [{"method": "get", "route": "/{book_id}", "func": group_item}],
        auth=True,
        tags=["shelf"],
    )
    app.add_functions(public_echo, private_echo, hello_v1, hello_v2, hidden)
    return app


def test_bare_params_become_str_and_typed_pass_through() -> None:
    assert litestar_path("/books/{book_id}/x/{n:int}") == "/books/{book_id:str}/x/{n:int}"


async def test_path_and_query_are_converted_leniently(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/books/42", params=[("tags", "a"), ("limit", "3")])
        assert r.status_code == 200
        assert r.json() == {"book_id": 42, "tags": ["a"], "limit": 3}
        r = await client.get("/books/42?tags=a&tags=b&unknown=1")
        assert r.json() == {"book_id": 42, "tags": ["a", "b"], "limit": 10}
        r = await client.delete("/typed/7")
        assert r.json()["book_id"] == 7


async def test_bad_path_and_query_values_are_422_with_path(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/books/abc")
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.book_id"}
        r = await client.get("/books/1?limit=many")
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.limit"}
        r = await client.get("/books/1?limit=1&limit=2")
        assert r.status_code == 422


async def test_conflicting_sources_are_422_and_equal_values_merge(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.put("/books/5", json={"book_id": 6})
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.book_id"}
        r = await client.put("/books/5", json={"book_id": 5, "tags": ["x"]})
        assert r.status_code == 200
        assert r.json() == {"book_id": 5, "tags": ["x"]}
        r = await client.get("/books/5?book_id=6")
        assert r.status_code == 422
        r = await client.get("/books/5?book_id=5")
        assert r.status_code == 200


async def test_body_methods_take_fields_from_the_body_not_the_query(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/books?year=1965", json={"title": "Dune"})
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.year"}
        r = await client.post("/books?year=1", json={"title": "Dune", "year": 1965})
        assert r.status_code == 201
        assert r.json()["year"] == 1965


async def test_json_body_is_strict(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/books", json={"title": "Dune", "year": "1965"})
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.year"}
        r = await client.post("/books", json={"title": "Dune"})
        assert r.status_code == 422
        assert r.json()["payload"] == {"path": "$.year"}
        r = await client.post(
            "/books", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        r = await client.put(
            "/books/5", content=b"[1, 2]", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422


async def test_status_headers_and_cookies_from_the_wire(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/books", json={"title": "Dune", "year": 1965})
        assert r.status_code == 201
        assert r.json() == {"title": "Dune", "year": 1965, "shelf": "main"}
        assert r.headers["x-book"] == "Dune"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("last_book=Dune")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


async def test_form_multipart_and_octet_stream(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/books", data={"title": "Dune", "year": "1965"})
        assert r.status_code == 201
        assert r.json()["year"] == 1965
        r = await client.post(
            "/upload",
            files={"file": ("notes.txt", b"hello world", "text/plain")},
            data={"note": "n"},
        )
        assert r.status_code == 200
        assert r.json() == {
            "filename": "notes.txt",
            "content_type": "text/plain",
            "size": 11,
            "note": "n",
        }
        r = await client.post(
            "/upload-raw",
            content=b"\x00\x01\x02",
            headers={"content-type": "application/octet-stream"},
        )
        assert r.json() == 3
        r = await client.post("/upload-raw", files={"body": ("b.bin", b"12345")})
        assert r.json() == 5


async def test_unsupported_content_type_is_415(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post(
            "/books", content=b"<xml/>", headers={"content-type": "application/xml"}
        )
        assert r.status_code == 415
        assert r.json()["name"] == "UnsupportedMediaTypeError"
        r = await client.post(
            "/books", content=b"abc", headers={"content-type": "application/octet-stream"}
        )
        assert r.status_code == 415


async def test_none_is_204_and_raw_responses_pass_through(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/nothing")
        assert r.status_code == 204
        assert r.content == b""
        r = await client.get("/raw")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-raw"] == "1"
        assert r.content == b"%PDF-1.4"
        r = await client.get("/raw-stream")
        assert r.text == "abc"


async def test_errors_are_problem_json_and_500_is_masked(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/missing")
        assert r.status_code == 404
        body = r.json()
        assert body["name"] == "NotFoundError"
        assert body["payload"] == {"id": 7}
        assert body["status"] == 404 and body["title"] == "Not Found"
        assert len(body["error_id"]) == 32
        r = await client.get("/crash")
        assert r.status_code == 500
        assert "password" not in r.text and "Traceback" not in r.text
        assert r.json()["name"] == "InternalServerError"


async def test_litestar_404_and_405_use_the_same_shape(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/no/such/route")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert set(r.json()) >= {"name", "message", "payload", "error_id"}
        r = await client.patch("/books/1")
        assert r.status_code == 405
        assert r.json()["name"] == "MethodNotAllowedError"


async def test_sse_streams_items_and_errors(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/count", params={"n": "3"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.text == 'data: {"i":0}\n\ndata: {"i":1}\n\ndata: {"i":2}\n\n'
        r = await client.get("/count", params={"n": "3", "fail_at": "1"})
        frames = r.text.split("\n\n")
        assert frames[0] == 'data: {"i":0}'
        assert frames[1].startswith("event: error\ndata: ")
        assert '"name":"NotFoundError"' in frames[1]
        assert frames[2:] == [""]
        r = await client.get("/count", params={"n": "x"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"


async def test_sse_client_disconnect_cancels_the_generator(serve: Any) -> None:
    STREAM_STATE["closed"] = anyio.Event()
    async with serve(create_app(make_app())) as client:
        async with client.stream("GET", "/forever") as r:
            seen = 0
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    seen += 1
                if seen == 3:
                    break
        with anyio.fail_after(5):
            await STREAM_STATE["closed"].wait()


async def test_cookie_session_round_trip(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/whoami")
        assert r.status_code == 401
        r = await client.post("/login", json={"user_id": "u1"})
        assert r.status_code == 204
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("pikku_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        r = await client.get("/whoami", headers={"cookie": f"pikku_session={token}"})
        assert r.json() == {"user_id": "u1"}
        r = await client.post("/logout", headers={"cookie": f"pikku_session={token}"})
        assert r.status_code == 204
        assert "Max-Age=0" in r.headers["set-cookie"]
        r = await client.get("/whoami", headers={"authorization": f"Bearer {token}"})
        assert r.json() == {"user_id": "u1"}
        r = await client.get("/whoami", headers={"authorization": "Bearer forged.token"})
        assert r.status_code == 401


async def test_rpc_serves_exposed_functions_only(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.post("/rpc/public_echo", json={"title": "T", "year": 1})
        assert r.json() == {"title": "T", "year": 1, "shelf": "main"}
        r = await client.post("/rpc/public_echo", json={"title": "T", "year": "1"})
        assert r.status_code == 422
        assert (await client.post("/rpc/hello")).json() == 2
        assert (await client.post("/rpc/hello@1")).json() == 1
        hidden_r = await client.post("/rpc/hidden")
        unknown_r = await client.post("/rpc/nope")
        assert hidden_r.status_code == unknown_r.status_code == 404
        assert hidden_r.json()["message"] == "no exposed function named 'hidden'"
        assert (await client.post("/rpc/private_echo")).status_code == 401
        token = make_app().session_codec().encode({"user_id": "r"})
        r = await client.post("/rpc/private_echo", headers={"authorization": f"Bearer {token}"})
        assert r.json() == {"user_id": "r"}


async def test_route_groups_share_auth(serve: Any) -> None:
    async with serve(create_app(make_app())) as client:
        r = await client.get("/v1/shelf/3")
        assert r.status_code == 401
        token = make_app().session_codec().encode({"user_id": "u"})
        r = await client.get("/v1/shelf/3", headers={"authorization": f"Bearer {token}"})
        assert r.json() == ["3"]


async def test_cors_allow_list(serve: Any) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        create_app(make_app(), cors_origins=["*"])
    asgi_app = create_app(make_app(), cors_origins=["https://app.example"])
    async with serve(asgi_app) as client:
        preflight = {"access-control-request-method": "GET"}
        r = await client.options("/books/1", headers={"origin": "https://app.example", **preflight})
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert r.headers["access-control-allow-credentials"] == "true"
        r = await client.get("/books/1", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


async def test_plugin_mounts_into_an_existing_litestar_app(serve: Any) -> None:
    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/broken")
    async def broken() -> None:
        raise RuntimeError("secret detail one")

    @get("/broken-litestar")
    async def broken_litestar() -> None:
        raise InternalServerException("secret detail two")

    handlers = [health, broken, broken_litestar]
    asgi_app = Litestar(handlers, plugins=[PikkuPlugin(make_app())], openapi_config=None)
    async with serve(asgi_app) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/books/1")).json()["book_id"] == 1
        for path in ("/broken", "/broken-litestar"):
            r = await client.get(path)
            assert r.status_code == 500
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["name"] == "InternalServerError"
            assert "secret" not in r.text


async def test_app_is_started_and_closed_by_the_lifespan(serve: Any) -> None:
    app = make_app()
    async with serve(create_app(app)) as client:
        assert app.started
        assert (await client.get("/books/1")).status_code == 200
    assert not app.started
