"""The generated Python client: pyright strict, and every route end to end on a live server."""

from __future__ import annotations

import datetime
import decimal
import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import msgspec
import pytest
from cg_edge_app import create_edge_app
from conftest import ThreadServer, load_module, serve_http

REFERENCE_METHODS = {
    "echo",
    "login",
    "logout",
    "whoami",
    "perm_or",
    "perm_and",
    "fail",
    "trace",
    "uses_resource",
    "uses_resource_then_fails",
    "skips_resource",
    "resource_stats",
    "rpc_whoami",
    "rpc_perm_or",
    "rpc_versioned",
    "versioned_v1",
    "versioned_v2",
    "versioned",
    "nothing",
    "sync_double",
    "count",
    "session_echo",
}


def _methods(cls: type) -> set[str]:
    return {
        name
        for name in vars(cls)
        if not name.startswith("_")
        and name
        not in {"token", "cookies", "clear_session", "close", "aclose", "send", "stream_lines"}
    }


def test_generated_python_modules_pass_pyright_strict(
    ref_out: Path, books_out: Path, edge_out: Path, empty_out: Path, tmp_path: Path
) -> None:
    pyright = shutil.which("pyright") or str(Path(sys.executable).parent / "pyright")
    outputs = (("ref", ref_out), ("books", books_out), ("edge", edge_out), ("empty", empty_out))
    for name, src in outputs:
        for module in ("client.py", "channel_client.py"):
            shutil.copy(src / module, tmp_path / f"{name}_{module}")
    config = {
        "typeCheckingMode": "strict",
        "pythonVersion": f"{sys.version_info.major}.{sys.version_info.minor}",
        "include": ["."],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    result = subprocess.run(
        [pyright, "--pythonpath", sys.executable, "-p", str(tmp_path / "pyrightconfig.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout


def test_client_shape(ref_client: ModuleType) -> None:
    assert _methods(ref_client.Client) == REFERENCE_METHODS
    assert _methods(ref_client.AsyncClient) == REFERENCE_METHODS
    assert issubclass(ref_client.NotFoundError, ref_client.ApiError)
    assert ref_client.EchoOutput.__struct_fields__ == ("text", "count")


def test_reference_app_every_route_sync(ref_client: ModuleType, ref_server: ThreadServer) -> None:
    m = ref_client
    called: set[str] = set()

    def mark(name: str) -> None:
        called.add(name)

    with m.Client(ref_server.url) as client:
        out = client.echo(text="hi", count=3)
        assert isinstance(out, m.EchoOutput) and (out.text, out.count) == ("hi", 3)
        assert client.echo(text="default").count == 1
        mark("echo")
        with pytest.raises(m.UnprocessableContentError) as bad:
            client.echo(text=5)  # type: ignore[arg-type]
        assert bad.value.status == 422 and bad.value.problem.payload == {"path": "$.text"}

        with pytest.raises(m.UnauthorizedError) as unauth:
            client.whoami()
        assert unauth.value.problem.name == "UnauthorizedError"
        with pytest.raises(m.UnauthorizedError):
            client.perm_or()
        client.login(user_id="u1", role="admin")
        mark("login")
        assert "pikku_session" in client.cookies
        assert client.whoami() == {"user_id": "u1", "role": "admin", "verified": False}
        mark("whoami")
        assert client.perm_or() == "allowed"
        mark("perm_or")
        with pytest.raises(m.ForbiddenError) as forbidden:
            client.perm_and()
        assert forbidden.value.status == 403
        client.login(user_id="u1", role="admin", verified=True)
        assert client.perm_and() == "allowed"
        mark("perm_and")
        assert client.rpc_whoami()["user_id"] == "u1"
        mark("rpc_whoami")
        assert client.rpc_perm_or() == "allowed"
        mark("rpc_perm_or")
        client.logout()
        mark("logout")
        assert "pikku_session" not in client.cookies
        with pytest.raises(m.UnauthorizedError):
            client.whoami()

        with pytest.raises(m.NotFoundError) as nf:
            client.fail(kind="not_found")
        assert nf.value.problem.message == "thing 7 not found"
        assert nf.value.problem.payload == {"id": 7}
        with pytest.raises(m.ConflictError):
            client.fail(kind="conflict")
        with pytest.raises(m.ApiError) as teapot:
            client.fail(kind="teapot")
        assert teapot.value.status == 418 and teapot.value.problem.name == "TeapotError"
        with pytest.raises(m.InternalServerError) as crash:
            client.fail(kind="crash")
        assert "hunter2" not in str(crash.value) and crash.value.problem.error_id
        with pytest.raises(m.UnprocessableContentError):
            client.fail(kind="kettle")  # type: ignore[arg-type]
        mark("fail")

        assert client.trace() == ["global", "tag", "wiring", "function", "function-body"]
        mark("trace")
        assert client.uses_resource() == "resource"
        mark("uses_resource")
        with pytest.raises(m.ForbiddenError):
            client.uses_resource_then_fails()
        mark("uses_resource_then_fails")
        assert client.skips_resource() == "skipped"
        mark("skips_resource")
        stats = client.resource_stats()
        assert stats["created"] == stats["closed"] == 2
        mark("resource_stats")
        assert client.rpc_versioned(value=1) == {"version": 1}
        assert client.rpc_versioned(value=0) == {"version": 2}
        mark("rpc_versioned")
        assert client.versioned_v1() == {"version": 1}
        mark("versioned_v1")
        assert client.versioned_v2() == {"version": 2}
        mark("versioned_v2")
        assert client.versioned() == {"version": 2}  # the bare name is the latest
        mark("versioned")
        assert client.nothing() is None
        mark("nothing")
        doubled = client.sync_double(value=21)
        assert isinstance(doubled, m.Number) and doubled.value == 42
        mark("sync_double")
        items = list(client.count(n=4))
        assert [i.value for i in items] == [0, 1, 2, 3] and isinstance(items[0], m.Number)
        assert list(client.count(n=0)) == []
        with pytest.raises(m.UnprocessableContentError):
            list(client.count(n="x"))  # type: ignore[arg-type]
        mark("count")
        assert client.session_echo(text="t") == {"text": "t", "user_id": None}
        mark("session_echo")
    assert called == REFERENCE_METHODS


@pytest.mark.anyio
async def test_reference_app_async_client(ref_client: ModuleType, ref_server: ThreadServer) -> None:
    m = ref_client
    async with m.AsyncClient(ref_server.url) as client:
        assert (await client.echo(text="a")).text == "a"
        await client.login(user_id="u2")
        assert (await client.whoami())["user_id"] == "u2"
        assert (await client.session_echo(text="x")) == {"text": "x", "user_id": "u2"}
        assert [n.value async for n in client.count(n=3)] == [0, 1, 2]
        with pytest.raises(m.NotFoundError):
            await client.fail(kind="not_found")
        await client.logout()
        with pytest.raises(m.UnauthorizedError):
            await client.whoami()


def test_books_client_typed_routes(books_client: ModuleType, books_server: ThreadServer) -> None:
    m = books_client
    with m.Client(books_server.url) as client:
        dune = client.get_book(book_id=1)
        assert isinstance(dune, m.Book) and dune.title == "Dune"
        assert dune.genre == "fiction" and dune.tags == ["classic"]
        assert isinstance(dune.edition, m.Paper) and dune.edition.pages == 412
        with pytest.raises(m.NotFoundError) as nf:
            client.get_book(book_id=99)
        assert nf.value.problem.payload == {"book_id": 99}

        science = client.list_books(genre="science")
        assert [b.title for b in science] == ["Cosmos"]
        assert len(client.list_books(limit=1)) == 1
        assert client.search(term="cos") == ["Cosmos"]
        assert client.search(term="dune?") == [] and client.search(term="D une") == []
        assert client.export_book(book_id=1) == b"Dune"

        with pytest.raises(m.UnauthorizedError):
            client.create_book(title="Solaris")
        me = client.login(user="ann")
        assert isinstance(me, m.Me) and me.role == "reader"
        assert client.whoami().user == "ann"
        made = client.create_book(
            title="Solaris",
            genre="science",
            published=datetime.date(1961, 6, 1),
            edition=m.Ebook(size_kb=800),
        )
        assert made.book_id == 3 and made.published == datetime.date(1961, 6, 1)
        assert client.get_book(book_id=3).edition == m.Ebook(size_kb=800)
        with pytest.raises(m.ForbiddenError):
            client.rename_book(book_id=3, title="S")
        with pytest.raises(m.BookLocked) as locked:
            client.delete_book(book_id=1)
        assert locked.value.status == 423 and locked.value.problem.message == "book 1 is locked"
        assert client.delete_book(book_id=3) is None
        with pytest.raises(m.NotFoundError):
            client.delete_book(book_id=3)
        client.logout()
        assert client.cookies == {}

        info = client.upload_cover(
            book_id=2, cover=("c.png", b"\x89PNG", "image/png"), caption="hi"
        )
        assert (info.book_id, info.filename, info.size, info.caption) == (2, "c.png", 4, "hi")
        assert client.upload_cover(book_id=2, cover=b"abc").size == 3
        assert list(client.countdown(start=3)) == [3, 2, 1]
        seen: list[int] = []
        with pytest.raises(m.ConflictError) as mid:
            for item in client.countdown(start=13):
                seen.append(item)
        assert seen == [13]  # the items before the error arrive first
        assert mid.value.problem.message == "unlucky 13" and mid.value.status == 409
        assert client.rpc.add(a=2, b=40) == 42
        assert client.rpc.get_book(book_id=2).title == "Cosmos"
        with pytest.raises(m.NotFoundError):
            client.rpc.get_book(book_id=404)


def test_bearer_session_from_x_session_token(
    books_client: ModuleType, books_server: ThreadServer
) -> None:
    m = books_client
    with m.Client(books_server.url, session="bearer") as first:
        first.login(user="root", role="admin")
        token = first.token
        assert first.cookies == {}
        assert first.whoami().user == "root"
    assert token
    with m.Client(books_server.url) as cookie_client:
        cookie_client.login(user="c")
        assert cookie_client.token is None and "pikku_session" in cookie_client.cookies
    # A new client with only the token (no cookie) is the same user.
    with m.Client(books_server.url, token=token) as second:
        assert second.cookies == {}
        assert second.whoami() == m.Me(user="root", role="admin")
        assert second.rename_book(book_id=2, title="Cosmos II").title == "Cosmos II"
        second.clear_session()
        with pytest.raises(m.UnauthorizedError):
            second.whoami()


def test_error_without_problem_body_is_still_typed(
    books_client: ModuleType, books_server: ThreadServer
) -> None:
    m = books_client
    with m.Client(books_server.url + "/nowhere") as client, pytest.raises(m.ApiError) as err:
        client.whoami()
    assert err.value.status == 404
    assert re.search(r"404", str(err.value))


def test_struct_round_trip(books_client: ModuleType) -> None:
    m = books_client
    raw = b'{"book_id":5,"title":"X","genre":"science","edition":{"type":"paper","pages":3},"extra":1}'
    book = msgspec.json.decode(raw, type=m.Book)
    assert book.edition == m.Paper(pages=3) and book.tags == []
    assert msgspec.json.decode(msgspec.json.encode(book), type=m.Book) == book


def test_edge_case_types_round_trip(edge_out: Path) -> None:
    m = load_module(edge_out / "client.py", "cg_generated_edge_client")
    # Names the module defines itself are taken: the app's `Client` struct is renamed.
    assert m.Client_.__struct_fields__ == ("name",)
    with serve_http(create_edge_app()) as server, m.Client(server.url) as client:
        weird = m.Weird(
            class_="k",
            from_date=datetime.date(2020, 1, 2),
            self_=3,
            ident=uuid.UUID(int=5),
            price=decimal.Decimal("1.50"),
            raw=b"\x00\xff",
        )
        wire = msgspec.json.decode(msgspec.json.encode(weird))
        assert wire["class"] == "k" and wire["from-date"] == "2020-01-02"
        back = client.weird(
            class_="k",
            from_date=datetime.date(2020, 1, 2),
            self_=3,
            ident=uuid.UUID(int=5),
            price=decimal.Decimal("1.50"),
            raw=b"\x00\xff",
        )
        assert back == weird
        renamed = client.weird(class_="k", from_date=datetime.date(2020, 1, 2), a_b=10, a_b_=20)
        assert (renamed.a_b, renamed.a_b_) == (10, 20)
        assert msgspec.json.decode(msgspec.json.encode(renamed))["a_b"] == 20
        assert client.weird(class_="k", from_date=datetime.date(2020, 1, 2), under=7).under == 7
        node = client.tree(label="root", children=[m.Node(label="a", children=[m.Node(label="b")])])
        assert node.children[0].children[0].label == "b"
        page = client.clients()
        assert page.total == 1 and page.items == [m.Client_(name="a")]
        assert client.double(data=21) == 42
        point, meta = client.shapes(width=1.5, labels=["x", "y"])
        assert point == (1, 2) and meta == m.Meta(key="k", size=2)
        assert client.counts(data={"a": 1, "b": 2}) == 3
        assert client.counts(data={}) is None
