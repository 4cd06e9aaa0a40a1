"""Stdio (a real subprocess) and streamable HTTP (a live uvicorn server) transports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pikku_mcp
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_test_app import SECRET, create_app
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pikku_core import HMACSessionCodec, Pikku

pytestmark = pytest.mark.anyio

HERE = Path(__file__).parent
PIKKU_MCP = Path(sys.executable).parent / "pikku-mcp"
TOKENS = HMACSessionCodec(SECRET)


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


# -- stdio ---------------------------------------------------------------------------------


def stdio_params(*, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=str(PIKKU_MCP), args=["stdio", "mcp_test_app:app"], cwd=HERE, env=env
    )


async def test_stdio_subprocess_lists_and_calls_tools(mode: str) -> None:
    async with Client(stdio_params(), mode=mode) as client:
        expected = MODERN_PROTOCOL_VERSIONS if mode == "auto" else HANDSHAKE_PROTOCOL_VERSIONS
        assert client.protocol_version in expected
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"get_book", "double", "count"} <= names
        result = await client.call_tool("get_book", {"book_id": "1"})
        assert result.structured_content is not None
        assert result.structured_content["title"] == "Dune"
        bad = await client.call_tool("get_book", {"book_id": 1})
        assert bad.is_error
        assert (await client.call_tool("double", {"value": 4})).structured_content == {"result": 8}


async def test_stdio_session_from_environment() -> None:
    env = {"PIKKU_SESSION": TOKENS.encode({"user_id": "cli-user"})}
    async with Client(stdio_params(env=env)) as client:
        result = await client.call_tool("whoami", {})
    assert result.structured_content == {
        "session": {"user_id": "cli-user"},
        "mcp": "tool",
        "http": False,
    }


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PIKKU_MCP), *args],
        cwd=HERE,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("app_path", "message"),
    [
        ("no_colon", "APP must be 'module:attribute'"),
        ("no_such_module:app", "cannot import module 'no_such_module'"),
        ("mcp_test_app:nope", "has no attribute 'nope'"),
        ("mcp_test_app:SECRET", "is a str, not a pikku_core.Pikku app"),
    ],
)
def test_cli_rejects_bad_app_paths(app_path: str, message: str) -> None:
    done = run_cli("stdio", app_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_rejects_a_bad_session_token() -> None:
    done = run_cli("stdio", "mcp_test_app:app", env={"PIKKU_SESSION": "forged.token"})
    assert done.returncode == 1
    assert "PIKKU_SESSION holds an invalid or expired session token" in done.stderr
    assert "Traceback" not in done.stderr


# -- streamable HTTP -----------------------------------------------------------------------


class LiveServer:
    """Uvicorn on a free 127.0.0.1 port, in its own thread."""

    def __init__(self, asgi: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live() -> Iterator[LiveServer]:
    with LiveServer(
        pikku_mcp.create_asgi_app(create_app(), max_request_body_size=64 * 1024)
    ) as live:
        yield live


async def http_client(url: str, mode: str, token: str | None = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


async def test_http_protocol_negotiation_and_calls(live: LiveServer, mode: str) -> None:
    async for client in http_client(f"{live.url}/mcp", mode):
        expected = MODERN_PROTOCOL_VERSIONS if mode == "auto" else HANDSHAKE_PROTOCOL_VERSIONS
        assert client.protocol_version in expected
        result = await client.call_tool("get_book", {"book_id": "1"})
        assert result.structured_content is not None
        assert result.structured_content["title"] == "Dune"
        [content] = (await client.read_resource("books://1")).contents
        assert isinstance(content, types.TextResourceContents)
        assert content.text == "Dune by Frank Herbert"


async def test_http_bearer_session(live: LiveServer, mode: str) -> None:
    token = TOKENS.encode({"user_id": "bearer-user"})
    async for client in http_client(f"{live.url}/mcp", mode, token):
        result = await client.call_tool("whoami", {})
        assert result.structured_content == {
            "session": {"user_id": "bearer-user"},
            "mcp": "tool",
            "http": True,
        }
    async for client in http_client(f"{live.url}/mcp", mode, "forged.token"):
        result = await client.call_tool("whoami", {})
        assert result.is_error
        assert result.structured_content is not None
        assert result.structured_content["name"] == "UnauthorizedError"


async def test_http_oversized_request_is_refused_and_server_keeps_serving(
    live: LiveServer, mode: str
) -> None:
    async for client in http_client(f"{live.url}/mcp", mode):
        with pytest.raises(MCPError):
            await client.call_tool("add_note", {"text": "x" * (128 * 1024)})
    async for client in http_client(f"{live.url}/mcp", mode):
        assert (await client.call_tool("double", {"value": 5})).structured_content == {"result": 10}


async def test_http_malformed_json_rpc_keeps_serving(live: LiveServer) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient(timeout=10) as http:
        for body in (b"{not json", b"[]", b'{"jsonrpc": "2.0"}', b"\xff\xfe"):
            response = await http.post(f"{live.url}/mcp", content=body, headers=headers)
            assert 400 <= response.status_code < 500, (body, response.status_code)
            assert "Traceback" not in response.text
    async for client in http_client(f"{live.url}/mcp", "auto"):
        assert (await client.call_tool("double", {"value": 1})).structured_content == {"result": 2}


async def test_http_app_refuses_requests_before_its_lifespan() -> None:
    mcp_app = pikku_mcp.create_asgi_app(create_app())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    await mcp_app(scope, receive, send)
    assert sent[0]["status"] == 503
    assert b"lifespan" in sent[1]["body"]


async def test_http_lifespan_can_run_again() -> None:
    app = create_app()
    mcp_app = pikku_mcp.create_asgi_app(app)
    for _ in range(2):
        async with mcp_app.lifespan():
            assert app.started
        assert not app.started


async def test_http_lifespan_without_starting_the_app() -> None:
    app: Pikku = create_app()
    mcp_app = pikku_mcp.create_asgi_app(app, start_app=False)
    async with mcp_app.lifespan():
        assert not app.started


def test_mount_in_litestar_at_mcp() -> None:
    import anyio
    import litestar

    app = create_app()
    mcp_app = pikku_mcp.create_asgi_app(app)
    host = litestar.Litestar(
        [litestar.asgi("/mcp", is_mount=True, copy_scope=True)(mcp_app)],
        lifespan=[mcp_app.lifespan],
    )

    async def use(url: str) -> Any:
        async for client in http_client(url, "legacy"):
            return (await client.call_tool("double", {"value": 3})).structured_content
        return None

    with LiveServer(host) as live:
        assert anyio.run(use, f"{live.url}/mcp") == {"result": 6}
