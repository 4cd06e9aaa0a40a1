"""MCP-specific behaviour over the SDK's in-memory client, current and legacy protocol."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import jsonschema
import mcp_types as types
import pikku_mcp
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_test_app import SECRET, create_app
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pikku_core import Pikku, Response, pikku_sessionless_func

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def app() -> AsyncIterator[Pikku]:
    app = create_app()
    async with app:
        yield app


@pytest.fixture
async def client(app: Pikku, mode: str) -> AsyncIterator[Client]:
    async with Client(pikku_mcp.create_server(app), mode=mode) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


# -- protocol ----------------------------------------------------------------------------


async def test_protocol_negotiation(client: Client, mode: str) -> None:
    if mode == "legacy":
        assert client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS
        assert client.server_info is not None
        assert client.server_info.name == "pikku"
    else:
        assert client.protocol_version in MODERN_PROTOCOL_VERSIONS
    caps = client.server_capabilities
    assert caps.tools is not None
    assert caps.resources is not None
    assert caps.prompts is not None
    assert caps.tools.list_changed is True


async def test_create_server_returns_the_low_level_server(app: Pikku) -> None:
    from mcp.server import Server

    server = pikku_mcp.create_server(app, name="books")
    assert isinstance(server, Server)
    assert server.name == "books"


# -- tools/list ----------------------------------------------------------------------------


async def test_tool_schemas_are_valid_json_schema(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"get_book", "add_note", "double", "ping", "titles", "count", "whoami"}
    for tool in tools.values():
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        assert tool.input_schema["type"] == "object"
        assert "$ref" not in tool.input_schema
        if tool.output_schema is not None:
            jsonschema.Draft202012Validator.check_schema(tool.output_schema)
            assert tool.output_schema["type"] == "object"
            assert "$ref" not in tool.output_schema


async def test_struct_input_and_output_schema(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    get_book = tools["get_book"]
    assert get_book.title == "Get Book"
    assert get_book.description == "Fetch one book by id."
    assert get_book.annotations is not None and get_book.annotations.read_only_hint is True
    assert get_book.input_schema["properties"] == {"book_id": {"type": "string"}}
    assert get_book.input_schema["required"] == ["book_id"]
    output = get_book.output_schema
    assert output is not None
    # Nested Structs stay in $defs and resolve: a real Book validates, a bad one does not.
    jsonschema.validate({"id": "1", "title": "T", "author": {"name": "A"}}, output)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "1", "title": "T", "author": {"nom": 1}}, output)


async def test_scalar_and_empty_inputs_are_wrapped(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["double"].input_schema == {
        "type": "object",
        "properties": {"value": {"type": "integer"}},
        "required": ["value"],
    }
    assert tools["double"].output_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }
    assert tools["ping"].input_schema == {"type": "object", "properties": {}}
    assert tools["ping"].output_schema is None
    titles = tools["titles"].output_schema
    assert titles is not None and titles["properties"]["result"]["type"] == "array"


# -- tools/call ----------------------------------------------------------------------------


async def test_call_returns_structured_content(client: Client) -> None:
    result = await client.call_tool("get_book", {"book_id": "1"})
    assert not result.is_error
    expected = {"id": "1", "title": "Dune", "author": {"name": "Frank Herbert"}}
    assert result.structured_content == expected
    assert json.loads(text_of(result)) == expected


async def test_non_object_output_is_wrapped(client: Client) -> None:
    result = await client.call_tool("double", {"value": 21})
    assert result.structured_content == {"result": 42}
    assert text_of(result) == "42"
    result = await client.call_tool("titles", {})
    assert result.structured_content == {"result": ["Dune"]}


async def test_none_output_has_no_content(client: Client) -> None:
    result = await client.call_tool("ping", {})
    assert not result.is_error
    assert result.content == []
    assert result.structured_content is None


async def test_domain_error_is_an_error_result(client: Client) -> None:
    result = await client.call_tool("get_book", {"book_id": "7"})
    assert result.is_error
    assert text_of(result) == "NotFoundError: book 7 not found"
    assert result.structured_content is not None
    assert result.structured_content["name"] == "NotFoundError"
    assert result.structured_content["error_id"]


async def test_masked_internal_error_never_leaks(client: Client) -> None:
    result = await client.call_tool("get_book", {"book_id": "boom"})
    assert result.is_error
    assert text_of(result).startswith("InternalServerError: ")
    dumped = result.model_dump_json()
    assert "hunter2" not in dumped
    assert "Traceback" not in dumped
    assert result.structured_content is not None and result.structured_content["error_id"]


async def test_missing_session_is_an_error_result(client: Client) -> None:
    result = await client.call_tool("whoami", {})
    assert result.is_error
    assert text_of(result) == "UnauthorizedError: Authentication required"


async def test_server_session_reaches_the_function(app: Pikku, mode: str) -> None:
    server = pikku_mcp.create_server(app, session={"user_id": "u1"})
    async with Client(server, mode=mode) as client:
        result = await client.call_tool("whoami", {})
    assert result.structured_content == {"session": {"user_id": "u1"}, "mcp": "tool", "http": False}


async def test_streaming_sends_progress_then_the_result(client: Client, mode: str) -> None:
    seen: list[tuple[float, Any]] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        assert message is not None
        seen.append((value, json.loads(message)))

    result = await client.call_tool("count", {"value": 3}, progress_callback=progress)
    assert seen == [(1, {"i": 0}), (2, {"i": 1}), (3, {"i": 2})]
    assert result.structured_content == {"result": [{"i": 0}, {"i": 1}, {"i": 2}]}


async def test_error_mid_stream_is_an_error_result(client: Client) -> None:
    seen: list[str | None] = []

    async def progress(value: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    result = await client.call_tool("count", {"value": 13}, progress_callback=progress)
    assert result.is_error
    assert text_of(result) == "NotFoundError: unlucky"
    assert len(seen) == 2


# -- bad input -----------------------------------------------------------------------------


async def test_unknown_tool_is_a_protocol_error(client: Client) -> None:
    with pytest.raises(MCPError) as info:
        await client.call_tool("no_such_tool", {})
    assert info.value.error.code == types.INVALID_PARAMS
    assert "no_such_tool" in info.value.error.message
    assert not (await client.call_tool("double", {"value": 1})).is_error


@pytest.mark.parametrize(
    ("tool", "arguments", "path"),
    [
        ("get_book", {"book_id": 7}, "$.book_id"),
        ("get_book", {}, "$.book_id"),
        ("get_book", {"book_id": ["1"]}, "$.book_id"),
        ("add_note", {"text": "x", "tags": "not-a-list"}, "$.tags"),
        ("add_note", {"text": "x" * 100_000}, "$.text"),
        ("double", {"value": "twenty"}, "$"),
        ("double", {}, "$"),
    ],
)
async def test_bad_arguments_are_error_results(
    client: Client, tool: str, arguments: dict[str, Any], path: str
) -> None:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert text_of(result).startswith("UnprocessableContentError: ")
    assert result.structured_content is not None
    assert result.structured_content["payload"] == {"path": path}
    # The server keeps serving.
    assert (await client.call_tool("double", {"value": 2})).structured_content == {"result": 4}


async def test_many_concurrent_calls(client: Client) -> None:
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        results[i] = (await client.call_tool("double", {"value": i})).structured_content

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert results == {i: {"result": 2 * i} for i in range(50)}


# -- resources -----------------------------------------------------------------------------


async def test_resource_listings(client: Client) -> None:
    fixed = (await client.list_resources()).resources
    assert [(r.uri, r.name, r.mime_type) for r in fixed] == [
        ("books://all", "catalog", "application/json")
    ]
    templates = (await client.list_resource_templates()).resource_templates
    assert [(t.uri_template, t.name, t.mime_type) for t in templates] == [
        ("books://{book_id}", "book", "text/plain"),
        ("json-books://{book_id}", "book_json", "application/json"),
    ]
    assert templates[0].description == "A book as text."


async def test_read_resource_through_a_template(client: Client) -> None:
    result = await client.read_resource("books://1")
    [content] = result.contents
    assert isinstance(content, types.TextResourceContents)
    assert content.text == "Dune by Frank Herbert"
    assert content.mime_type == "text/plain"
    assert str(content.uri) == "books://1"
    result = await client.read_resource("json-books://1")
    [content] = result.contents
    assert isinstance(content, types.TextResourceContents)
    assert json.loads(content.text)["title"] == "Dune"


async def test_read_fixed_resource(client: Client) -> None:
    [content] = (await client.read_resource("books://all")).contents
    assert isinstance(content, types.TextResourceContents)
    assert [b["id"] for b in json.loads(content.text)] == ["1"]


async def test_resource_errors_are_mapped(client: Client) -> None:
    with pytest.raises(MCPError) as info:
        await client.read_resource("books://9")
    assert info.value.error.code == types.INVALID_PARAMS
    assert info.value.error.message == "NotFoundError: book 9 not found"
    assert isinstance(info.value.error.data, dict)
    assert info.value.error.data["name"] == "NotFoundError"
    with pytest.raises(MCPError) as info:
        await client.read_resource("books://boom")
    assert info.value.error.code == types.INTERNAL_ERROR
    assert info.value.error.message.startswith("InternalServerError: ")
    assert "hunter2" not in str(info.value.error)
    with pytest.raises(MCPError) as info:
        await client.read_resource("nothing://here")
    assert info.value.error.code == types.INVALID_PARAMS
    assert "nothing://here" in info.value.error.message


# -- prompts -------------------------------------------------------------------------------


async def test_prompt_arguments_come_from_input_fields(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    summarize = prompts["summarize"]
    assert summarize.description == "Ask for a summary of a book."
    args = {a.name: a.required for a in summarize.arguments or []}
    assert args == {"book_id": True, "words": False, "tone": False}


async def test_get_prompt_with_arguments(client: Client) -> None:
    result = await client.get_prompt("summarize", {"book_id": "1", "words": "20", "tone": "fun"})
    assert [m.role for m in result.messages] == ["user", "assistant"]
    first = result.messages[0].content
    assert isinstance(first, types.TextContent)
    assert first.text == "Summarize Dune in 20 words, fun tone."


async def test_prompt_errors_are_mapped(client: Client) -> None:
    with pytest.raises(MCPError) as info:
        await client.get_prompt("summarize", {"book_id": "1", "words": "many"})
    assert info.value.error.code == types.INVALID_PARAMS
    assert info.value.error.message.startswith("UnprocessableContentError: ")
    with pytest.raises(MCPError) as info:
        await client.get_prompt("summarize", {"book_id": "9"})
    assert info.value.error.message == "NotFoundError: book 9 not found"
    with pytest.raises(MCPError) as info:
        await client.get_prompt("broken", {})
    assert info.value.error.code == types.INTERNAL_ERROR
    assert "did not return prompt messages" in info.value.error.message
    with pytest.raises(MCPError) as info:
        await client.get_prompt("nope", {})
    assert info.value.error.code == types.INVALID_PARAMS


# -- list changes --------------------------------------------------------------------------


@pikku_sessionless_func
async def late(services: Any, data: None, wire: Any) -> str:
    """Wired while the server runs."""
    return "late"


async def test_tool_list_change_is_announced_legacy(app: Pikku) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ServerNotification) and isinstance(
            message, types.ToolListChangedNotification
        ):
            changed.set()

    async with Client(
        pikku_mcp.create_server(app), mode="legacy", message_handler=on_message
    ) as client:
        assert "late" not in {t.name for t in (await client.list_tools()).tools}
        app.wire_mcp_tool("late", late)
        with anyio.fail_after(5):
            await changed.wait()
        assert "late" in {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}
        assert (await client.call_tool("late", {})).structured_content == {"result": "late"}


async def test_tool_list_change_is_announced_on_listen_streams(app: Pikku) -> None:
    async with Client(pikku_mcp.create_server(app)) as client:
        async with client.listen(tools_list_changed=True) as subscription:
            app.wire_mcp_tool("late", late)
            with anyio.fail_after(5):
                event = await subscription.__anext__()
        assert type(event).__name__ == "ToolsListChanged"
        assert "late" in {t.name for t in (await client.list_tools(cache_mode="refresh")).tools}


async def test_secret_is_only_needed_for_tokens() -> None:
    app = Pikku(secret=SECRET)
    server = pikku_mcp.create_server(app)
    async with app, Client(server) as client:
        assert (await client.list_tools()).tools == []


# -- raw and unsendable outputs ------------------------------------------------------------


@pikku_sessionless_func
async def page(services: Any, data: None, wire: Any) -> Response:
    """An HTML page."""
    return Response(b"<p>hi</p>", content_type="text/html; charset=utf-8")


@pikku_sessionless_func
async def pixel(services: Any, data: None, wire: Any) -> Response:
    """A tiny image, streamed in two chunks."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"\x89PNG"
        yield b"\r\n"

    return Response(chunks(), content_type="image/png")


@pikku_sessionless_func
async def unsendable(services: Any, data: None, wire: Any) -> Any:
    """Returns something JSON cannot carry."""
    return object()


async def test_raw_response_outputs(mode: str) -> None:
    app = Pikku()
    app.wire_mcp_tool("page", page)
    app.wire_mcp_tool("pixel", pixel)
    app.wire_mcp_tool("unsendable", unsendable)
    app.wire_mcp_resource("pages://home", page)
    async with app, Client(pikku_mcp.create_server(app), mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["page"].output_schema is None
        result = await client.call_tool("page", {})
        assert result.content == [types.TextContent(type="text", text="<p>hi</p>")]
        [image] = (await client.call_tool("pixel", {})).content
        assert isinstance(image, types.ImageContent)
        assert image.mime_type == "image/png"
        assert base64.b64decode(image.data) == b"\x89PNG\r\n"
        [content] = (await client.read_resource("pages://home")).contents
        assert isinstance(content, types.TextResourceContents)
        assert content.text == "<p>hi</p>"
        result = await client.call_tool("unsendable", {})
        assert result.is_error
        assert text_of(result) == "InternalServerError: Internal server error"
        assert (await client.call_tool("page", {})).content  # still serving
