"""MCP tool calls/s: pikku-mcp against the same tool written by hand on the SDK's low-level Server.

Run: uv run --package pikku-mcp python benchmarks/mcp.py
Both servers are driven by the SDK's own `mcp.Client` over the in-memory transport, in
the same run, in small alternating batches. Prints calls/s and CPU per call for each,
and the ratios (target >= 0.90).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# This script is named mcp.py: keep its folder off the import path so `mcp` is the SDK.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import anyio  # noqa: E402
import mcp_types as types  # noqa: E402
import msgspec  # noqa: E402
import pikku_mcp  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.server import Server  # noqa: E402
from mcp.shared.exceptions import MCPError  # noqa: E402
from pikku_core import NotFoundError, Pikku, Wire, pikku_sessionless_func  # noqa: E402

CALLS = 2000
BATCH = 25


class GetBook(msgspec.Struct):
    book_id: str


class Book(msgspec.Struct):
    id: str
    title: str
    pages: int


# The raw tool gets the same fast JSON encoder pikku uses, so the ratio is pure overhead.
ENCODER = msgspec.json.Encoder()
BOOKS = {str(i): {"id": str(i), "title": f"Book {i}", "pages": 100 + i} for i in range(100)}


# -- pikku: a typed function wired as a tool -----------------------------------------------


@pikku_sessionless_func
async def get_book(services: Any, data: GetBook, wire: Wire[Any]) -> Book:
    """Fetch a book."""
    book = BOOKS.get(data.book_id)
    if book is None:
        raise NotFoundError(f"book {data.book_id} not found")
    return Book(**book)


def pikku_server() -> tuple[Pikku, Server[Any]]:
    app = Pikku()
    app.wire_mcp_tool("get_book", get_book)
    return app, pikku_mcp.create_server(app)


# -- raw: the same tool by hand on the low-level Server ------------------------------------

INPUT_SCHEMA = {
    "type": "object",
    "properties": {"book_id": {"type": "string"}},
    "required": ["book_id"],
}
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "pages": {"type": "integer"},
    },
    "required": ["id", "title", "pages"],
}
TOOLS = [
    types.Tool(
        name="get_book",
        description="Fetch a book.",
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
    )
]


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


async def raw_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def raw_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    if params.name != "get_book":
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
    book_id = (params.arguments or {}).get("book_id")
    if not isinstance(book_id, str):
        return _error("book_id must be a string")
    book = BOOKS.get(book_id)
    if book is None:
        return _error(f"book {book_id} not found")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=ENCODER.encode(book).decode())],
        structured_content=book,
    )


def raw_server() -> Server[Any]:
    return Server("raw", on_list_tools=raw_list_tools, on_call_tool=raw_call_tool)


# -- measurement ---------------------------------------------------------------------------


class Side:
    """Time and CPU spent on calls to one server, accumulated over many small batches."""

    def __init__(self, label: str, client: Client) -> None:
        self.label = label
        self.client = client
        self.calls = 0
        self.wall = 0.0
        self.cpu = 0.0

    async def batch(self, n: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            result = await self.client.call_tool("get_book", {"book_id": str(i % 100)})
            assert not result.is_error
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.calls += n

    def report(self) -> None:
        rate = self.calls / self.wall
        print(
            f"{self.label:22} {rate:8.0f} tool calls/s {self.cpu / self.calls * 1e6:8.1f} CPU us/call"
        )


async def main() -> None:
    app, pikku = pikku_server()
    raw = raw_server()
    async with app, Client(pikku) as pikku_client, Client(raw) as raw_client:
        theirs = Side("raw low-level Server", raw_client)
        ours = Side("pikku-mcp", pikku_client)
        # Warm up: tool listings cached, schema validators compiled, caches filled.
        await theirs.batch(200)
        await ours.batch(200)
        theirs.calls = ours.calls = 0
        theirs.wall = ours.wall = theirs.cpu = ours.cpu = 0.0
        # Small alternating batches: load from other jobs on this shared machine falls on
        # both sides alike. Client and server share this process (in-memory transport),
        # so CPU per call covers both ends.
        for i in range(CALLS // BATCH):
            first, second = (ours, theirs) if i % 2 else (theirs, ours)
            await first.batch(BATCH)
            await second.batch(BATCH)
    theirs.report()
    ours.report()
    wall_ratio = (ours.calls / ours.wall) / (theirs.calls / theirs.wall)
    cpu_ratio = theirs.cpu / ours.cpu
    print(f"ratio pikku/raw: {wall_ratio:.3f} calls/s, {cpu_ratio:.3f} CPU (target >= 0.90)")


if __name__ == "__main__":
    anyio.run(main)
