from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest
from cg_books_app import create_books_app
from conftest import ThreadServer
from openapi_spec_validator import validate
from pikku_client_gen import GenerationError, openapi_document
from pikku_conformance.reference_app import create_reference_app
from pikku_core import Pikku, auth_cookie, pikku_func, pikku_sessionless_func


@pytest.fixture(scope="module")
def books_doc() -> dict[str, Any]:
    return openapi_document(create_books_app())


@pytest.fixture(scope="module")
def ref_doc() -> dict[str, Any]:
    return openapi_document(create_reference_app())


def _problem_statuses(op: dict[str, Any]) -> set[int]:
    return {
        int(code)
        for code, resp in op["responses"].items()
        if code.isdigit() and "application/problem+json" in resp.get("content", {})
    }


def test_documents_are_valid_openapi_3_1(
    books_doc: dict[str, Any], ref_doc: dict[str, Any]
) -> None:
    for doc in (books_doc, ref_doc):
        assert doc["openapi"] == "3.1.0"
        validate(doc)


def test_paths_are_plain_templates_with_typed_parameters(books_doc: dict[str, Any]) -> None:
    paths = books_doc["paths"]
    assert "/books/{book_id}" in paths and "/books/{book_id:int}" not in paths
    get = paths["/books/{book_id}"]["get"]
    assert get["parameters"] == [
        {"name": "book_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    # A bare {term} takes the input field's own schema.
    search = paths["/search/{term}"]["get"]["parameters"]
    assert search == [
        {"name": "term", "in": "path", "required": True, "schema": {"type": "string"}}
    ]


def test_query_for_get_and_delete_body_for_post_and_patch(books_doc: dict[str, Any]) -> None:
    paths = books_doc["paths"]
    listing = paths["/books"]["get"]
    assert {p["name"]: (p["in"], p["required"]) for p in listing["parameters"]} == {
        "genre": ("query", False),
        "limit": ("query", False),
    }
    assert "requestBody" not in listing
    delete = paths["/books/{book_id}"]["delete"]
    assert [p["in"] for p in delete["parameters"]] == ["path"]
    assert "requestBody" not in delete
    create_body = paths["/books"]["post"]["requestBody"]["content"]
    # `edition` is a union of objects: no form can carry it, so JSON only.
    assert list(create_body) == ["application/json"]
    assert create_body["application/json"]["schema"] == {"$ref": "#/components/schemas/CreateBook"}
    login_body = paths["/session"]["post"]["requestBody"]["content"]
    assert list(login_body) == ["application/json", "application/x-www-form-urlencoded"]
    patch = paths["/books/{book_id}"]["patch"]["requestBody"]["content"]["application/json"]
    # The path field is not repeated in the body.
    assert patch["schema"]["properties"] == {"title": {"type": "string"}}
    assert patch["schema"]["required"] == ["title"]


def test_file_fields_make_a_multipart_body(books_doc: dict[str, Any]) -> None:
    body = books_doc["paths"]["/books/{book_id}/cover"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    props = body["multipart/form-data"]["schema"]["properties"]
    assert props["cover"] == {"type": "string", "format": "binary"}
    assert "book_id" not in props


def test_success_responses(books_doc: dict[str, Any]) -> None:
    paths = books_doc["paths"]
    ok = paths["/books/{book_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/Book"}
    listing = paths["/books"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listing["schema"] == {"type": "array", "items": {"$ref": "#/components/schemas/Book"}}
    assert set(paths["/session"]["delete"]["responses"]) == {"204", "default"}
    assert "content" not in paths["/session"]["delete"]["responses"]["204"]
    sse = paths["/countdown"]["get"]["responses"]["200"]["content"]
    assert list(sse) == ["text/event-stream"]
    assert sse["text/event-stream"]["x-pikku-event-schema"] == {"type": "integer"}
    message, error = sse["text/event-stream"]["schema"]["anyOf"]
    assert message["properties"]["data"]["contentSchema"] == {"type": "integer"}
    assert error["properties"]["event"] == {"const": "error"}
    raw = paths["/books/{book_id}/export"]["get"]["responses"]["200"]["content"]
    assert list(raw) == ["*/*"]


def test_error_responses_follow_auth_permissions_input_and_declared_errors(
    books_doc: dict[str, Any],
) -> None:
    paths = books_doc["paths"]
    assert _problem_statuses(paths["/books"]["get"]) == {422}  # input, sessionless
    assert _problem_statuses(paths["/me"]["get"]) == {401}  # session, no input
    assert _problem_statuses(paths["/session"]["delete"]) == set()
    assert _problem_statuses(paths["/books/{book_id}"]["patch"]) == {401, 403, 404, 422}
    # A typed path parameter that does not parse matches no route.
    assert _problem_statuses(paths["/books/{book_id}/cover"]["post"]) == {404, 422}
    delete = paths["/books/{book_id}"]["delete"]
    # BookLocked is a user exception registered with status 423 and declared in `errors`.
    assert _problem_statuses(delete) == {401, 404, 422, 423}
    assert "BookLocked" in delete["responses"]["423"]["description"]
    for item in paths.values():
        for op in item.values():
            assert op["responses"]["default"]["content"]["application/problem+json"]
    problem = books_doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) >= {"status", "name", "message"}


def test_security_schemes_and_operation_security(books_doc: dict[str, Any]) -> None:
    schemes = books_doc["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {"type": "apiKey", "in": "cookie", "name": "pikku_session"}
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    paths = books_doc["paths"]
    assert paths["/me"]["get"]["security"] == [{"cookieAuth": []}, {"bearerAuth": []}]
    assert "security" not in paths["/books"]["get"]


def test_components_are_shared_by_ref(books_doc: dict[str, Any]) -> None:
    schemas = books_doc["components"]["schemas"]
    assert {"Book", "CreateBook", "Genre", "Paper", "Ebook", "Problem"} <= set(schemas)
    text = json.dumps(books_doc["paths"])
    assert text.count('"#/components/schemas/Book"') >= 4
    edition = schemas["Book"]["properties"]["edition"]["anyOf"][0]
    assert edition["discriminator"]["propertyName"] == "type"


def test_operation_ids_titles_tags_and_descriptions(
    books_doc: dict[str, Any], ref_doc: dict[str, Any]
) -> None:
    get = books_doc["paths"]["/books/{book_id}"]["get"]
    assert get["operationId"] == "get_book"
    assert get["summary"] == "Get a book"
    assert get["description"] == "One book by id."
    assert get["tags"] == ["books"]
    assert {t["name"] for t in books_doc["tags"]} == {"books", "session"}
    ids = [op["operationId"] for item in ref_doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert {"versioned_v1", "versioned_v2", "versioned", "echo", "count"} <= set(ids)


def test_same_function_on_two_routes_gets_distinct_operation_ids() -> None:
    @pikku_sessionless_func
    async def ping(services: Any, data: None, wire: Any) -> str:
        return "pong"

    app = Pikku()
    app.wire_http("GET", "/ping", ping)
    app.wire_http("POST", "/ping", ping)
    doc = openapi_document(app)
    validate(doc)
    assert doc["paths"]["/ping"]["get"]["operationId"] == "ping"
    assert doc["paths"]["/ping"]["post"]["operationId"] == "ping_post"


class Opaque:
    """A type msgspec has no schema for."""


def test_unsupported_type_names_the_function() -> None:
    @pikku_sessionless_func
    async def weird(services: Any, data: None, wire: Any) -> Opaque:
        return Opaque()

    app = Pikku()
    app.wire_http("GET", "/weird", weird)
    with pytest.raises(GenerationError, match=r"'weird'.*output type"):
        openapi_document(app)


def test_unresolvable_annotation_names_the_function() -> None:
    @pikku_sessionless_func
    async def broken(services: Any, data: None, wire: Any) -> NoSuchType:  # type: ignore[name-defined]  # noqa: F821
        return None

    app = Pikku()
    app.wire_http("GET", "/broken", broken)
    with pytest.raises(GenerationError, match=r"'broken'.*NoSuchType"):
        openapi_document(app)


def test_http_adapter_serves_the_document(books_server: ThreadServer) -> None:
    response = httpx.get(f"{books_server.url}/openapi.json")
    assert response.status_code == 200
    served = msgspec.json.decode(response.content)
    assert served == openapi_document(create_books_app())
    assert httpx.get(f"{books_server.url}/docs").status_code == 200


def test_cookie_scheme_uses_the_app_cookie_name() -> None:
    @pikku_func
    async def me(services: Any, data: None, wire: Any) -> str:
        return "me"

    app = Pikku(secret="s" * 32)
    app.add_middleware(auth_cookie(name="sid"))
    app.wire_http("GET", "/me", me)
    doc = openapi_document(app)
    assert doc["components"]["securitySchemes"]["cookieAuth"]["name"] == "sid"


def test_an_app_without_http_wirings_has_an_empty_valid_document() -> None:
    doc = openapi_document(Pikku())
    validate(doc)
    assert doc["paths"] == {}
