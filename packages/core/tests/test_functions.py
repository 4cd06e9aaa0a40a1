"""The function model: decorators, metadata, input types, registry."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import msgspec
import pytest
from pikku_core import (
    NotFoundError,
    Pikku,
    PikkuFunction,
    UnprocessableContentError,
    UploadFile,
    Wire,
    pikku_func,
    pikku_sessionless_func,
)

pytestmark = pytest.mark.anyio


class Book(msgspec.Struct):
    id: str
    title: str


class GetBook(msgspec.Struct):
    book_id: str


@dataclasses.dataclass
class DCInput:
    x: int
    y: str = "d"


class TDInput(TypedDict):
    a: int


@pikku_func(
    title="Get Book",
    description="Fetch one",
    tags=["books"],
    version=3,
    expose=True,
    errors=[NotFoundError],
)
async def get_book(services: Any, data: GetBook, wire: Wire[Any]) -> Book:
    """Docstring is not used when a description is given."""
    db = services.db
    _ = services.cache
    return Book(id=data.book_id, title=db[data.book_id])


def test_decorated_function_keeps_metadata() -> None:
    meta = get_book.meta
    assert isinstance(get_book, PikkuFunction)
    assert get_book.__pikku__ is meta
    assert meta.name == "get_book"
    assert meta.key == "get_book@3"
    assert meta.title == "Get Book"
    assert meta.description == "Fetch one"
    assert meta.tags == ("books",)
    assert meta.auth is True and meta.expose is True
    assert meta.errors == (NotFoundError,)
    assert meta.input_type is GetBook
    assert meta.output_type is Book
    assert meta.services_used == frozenset({"db", "cache"})
    assert get_book.__name__ == "get_book"


async def test_decorated_function_is_directly_callable() -> None:
    class S:
        db = {"1": "Dune"}
        cache = None

    book = await get_book(S(), GetBook(book_id="1"), None)
    assert book == Book(id="1", title="Dune")


def test_docstring_is_default_description_and_bare_decorator() -> None:
    @pikku_sessionless_func
    async def ping(services: Any, data: None, wire: Any) -> str:
        """Answer pong."""
        return "pong"

    assert ping.meta.description == "Answer pong."
    assert ping.meta.auth is False
    assert ping.meta.input_type is None
    assert ping.meta.input_schema is None
    assert ping.meta.output_schema == {"type": "string"}


def test_schemas_are_computed_once() -> None:
    schema = get_book.meta.input_schema
    assert schema is get_book.meta.input_schema
    assert schema is not None
    assert schema["$defs"]["GetBook"]["required"] == ["book_id"]
    assert get_book.meta.output_schema is not None


class Up(msgspec.Struct):
    cover: UploadFile


def test_stream_item_type_and_upload_schema() -> None:
    @pikku_sessionless_func
    async def ticks(services: Any, data: Up, wire: Any) -> AsyncIterator[int]:
        yield 1

    assert ticks.meta.is_stream
    assert ticks.meta.output_type is int
    schema = ticks.meta.input_schema
    assert schema is not None
    assert schema["$defs"]["Up"]["properties"]["cover"] == {"type": "string", "format": "binary"}


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"x": "1"}, DCInput(x=1)), ({"x": 2, "y": "z"}, DCInput(x=2, y="z"))],
)
async def test_dataclass_input_lenient(data: dict[str, Any], expected: DCInput) -> None:
    @pikku_sessionless_func
    async def f(services: Any, data: DCInput, wire: Any) -> DCInput:
        return data

    assert f.meta.convert(data, strict=False) == expected


async def test_typeddict_scalar_and_absent_inputs() -> None:
    @pikku_sessionless_func
    async def td(services: Any, data: TDInput, wire: Any) -> int:
        return data["a"]

    @pikku_sessionless_func
    async def scalar(services: Any, data: int, wire: Any) -> int:
        return data + 1

    @pikku_sessionless_func
    async def two_args(services: Any, data: int) -> int:
        return data

    @pikku_sessionless_func
    async def no_args() -> str:
        return "none"

    app = Pikku()
    app.add_functions(td, scalar, two_args, no_args)
    assert await app.invoke("td", {"a": 4}) == 4
    assert await app.invoke("scalar", 41) == 42
    assert await app.invoke("two_args", 5) == 5
    assert await app.invoke("no_args", {"ignored": True}) == "none"
    with pytest.raises(UnprocessableContentError) as info:
        await app.invoke("scalar", "x")
    assert info.value.payload == {"path": "$"}
    with pytest.raises(UnprocessableContentError) as info:
        await app.invoke("td", {})
    assert info.value.payload == {"path": "$.a"}
    await app.close()


def test_decode_json_reports_path_and_malformed() -> None:
    meta = get_book.meta
    assert meta.decode_json(b'{"book_id": "7"}') == GetBook(book_id="7")
    with pytest.raises(UnprocessableContentError) as info:
        meta.decode_json(b'{"book_id": 7}')
    assert info.value.payload == {"path": "$.book_id"}
    with pytest.raises(UnprocessableContentError) as info:
        meta.decode_json(b'{"book_id": ')
    assert info.value.message.startswith("Malformed JSON")


def test_invalid_declarations() -> None:
    with pytest.raises(ValueError, match="positive int"):
        pikku_func(version=0)(get_book.__wrapped__)
    with pytest.raises(ValueError, match="may not contain"):
        pikku_func(name="a@b")(get_book.__wrapped__)
    with pytest.raises(TypeError, match="already a pikku function"):
        pikku_func(get_book)  # type: ignore[arg-type]

    async def plain(services: Any, data: Any, wire: Any) -> None:
        return None

    with pytest.raises(TypeError, match="not a pikku function"):
        Pikku().wire_http("GET", "/x", plain)


def test_registry_duplicates_and_resolution() -> None:
    @pikku_sessionless_func(name="thing", version=1)
    async def v1(services: Any, data: None, wire: Any) -> int:
        return 1

    @pikku_sessionless_func(name="thing", version=2)
    async def v2(services: Any, data: None, wire: Any) -> int:
        return 2

    @pikku_sessionless_func(name="thing", version=2)
    async def v2_again(services: Any, data: None, wire: Any) -> int:
        return 2

    app = Pikku()
    app.add_functions(v1, v2)
    app.add_functions(v2)  # the same function twice is fine
    assert app.resolve("thing") is v2.meta
    assert app.resolve("thing@1") is v1.meta
    with pytest.raises(ValueError, match="already registered"):
        app.add_functions(v2_again)
    for bad in ("thing@3", "nope", "thing@x", "@1", ""):
        with pytest.raises(NotFoundError):
            app.resolve(bad)
    assert [m.key for m in app.functions] == ["thing@1", "thing@2"]


async def test_only_registered_functions_can_be_invoked() -> None:
    app = Pikku()
    with pytest.raises(NotFoundError):
        await app.invoke("get_book", {"book_id": "1"})


async def test_upload_field_given_a_plain_value_is_a_422() -> None:
    @pikku_sessionless_func
    async def upload(services: Any, data: Up, wire: Any) -> str:
        return "ok"

    app = Pikku()
    app.add_functions(upload)
    with pytest.raises(UnprocessableContentError) as info:
        await app.invoke("upload", {"cover": "not a file"})
    assert info.value.payload == {"path": "$.cover"}
    file = UploadFile("a.png", "image/png", data=b"x")
    assert await app.invoke("upload", {"cover": file}) == "ok"
    await app.close()
