"""The generated TypeScript client: ``tsc --strict``, then node against live servers."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cg_books_app import create_books_app
from conftest import ThreadServer
from pikku_core import Pikku
from pikku_ws import serve

TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "target": "ES2022",
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "lib": ["ES2022", "DOM", "DOM.Iterable"],
        "skipLibCheck": True,
        "outDir": "dist",
    },
}

NODE_TEST = r"""
import { ApiError, BooksChannel, ChannelCallError, Client, RPCClient } from "./client.js";

// The test needs only these two members of Node's `process` (no @types/node).
declare const process: { argv: string[]; exit(code: number): never };

const [httpUrl, wsUrl] = process.argv.slice(2) as [string, string];

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function main(): Promise<void> {
  const client = new Client(httpUrl);
  const dune = await client.get_book({ book_id: 1 });
  check(dune.title === "Dune" && dune.edition?.type === "paper", "get_book");
  const missing = await rejects(client.get_book({ book_id: 99 }));
  check(missing instanceof ApiError && missing.status === 404, "404 is an ApiError");
  check((missing as ApiError).problem.name === "NotFoundError", "problem body");
  const science = await client.list_books({ genre: "science" });
  check(science.length === 1 && science[0]?.title === "Cosmos", "query params");
  check((await client.search({ term: "dun" })).join() === "Dune", "bare path param");
  const anonymous = await rejects(client.create_book({ title: "TS" }));
  check(anonymous instanceof ApiError && anonymous.status === 401, "401");
  const me = await client.login({ user: "ts" });
  check(me.user === "ts" && client.cookies.has("pikku_session"), "cookie session");
  check((await client.whoami()).user === "ts", "session kept");
  const made = await client.create_book({ title: "TS", edition: { type: "ebook", size_kb: 5 } });
  check(made.book_id === 3 && made.edition?.type === "ebook", "create_book");
  const locked = await rejects(client.delete_book({ book_id: 1 }));
  check(locked instanceof ApiError && locked.status === 423, "declared error");
  await client.delete_book({ book_id: made.book_id });
  const cover = new Blob([new Uint8Array([137, 80, 78, 71])], { type: "image/png" });
  const info = await client.upload_cover({ book_id: 2, cover, caption: "front" });
  check(info.size === 4 && info.caption === "front" && info.book_id === 2, "multipart upload");
  const items: number[] = [];
  for await (const n of client.countdown({ start: 3 })) items.push(n);
  check(items.join() === "3,2,1", "SSE stream");
  await client.logout();
  check(!client.cookies.has("pikku_session"), "cookie deleted on logout");
  check((await rejects(client.whoami())) instanceof ApiError, "logged out");

  const bearer = new Client(httpUrl, { session: "bearer" });
  await bearer.login({ user: "tok", role: "admin" });
  check(typeof bearer.token === "string" && bearer.cookies.size === 0, "bearer token kept");
  check((await bearer.rename_book({ book_id: 2, title: "Cosmos!" })).title === "Cosmos!", "admin");

  const rpc = new RPCClient(httpUrl);
  check((await rpc.add({ a: 2, b: 40 })) === 42, "rpc add");
  check((await rpc.get_book({ book_id: 2 })).title === "Cosmos!", "rpc get_book");
  check((await rejects(rpc.get_book({ book_id: 404 }))) instanceof ApiError, "rpc error");

  const channel = BooksChannel.at(wsUrl);
  await channel.connect();
  const cosmos = await channel.get({ book_id: 2 });
  // The channel server is a separate app instance (its own store).
  check(cosmos.title === "Cosmos" && cosmos.genre === "science", "channel action");
  const err = await rejects(channel.get({ book_id: 77 }));
  check(err instanceof ChannelCallError && err.error.name === "NotFoundError", "channel error");
  check((await channel.add({ a: 20, b: 22 })) === 42, "scalar result");
  const counted: number[] = [];
  for await (const n of channel.countdown({ start: 2 })) counted.push(n);
  check(counted.join() === "2,1", "channel stream");
  channel.close();
  console.log("node client test: ok");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
"""


class ThreadWS:
    """pikku-ws serving an app's channels from a background thread."""

    def __init__(self, app: Pikku) -> None:
        self.app = app
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self.app, port=0) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadWS:
        self._thread.start()
        assert self._ready.wait(10), "pikku-ws did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


def _project(tmp_path: Path, client_ts: Path, extra: dict[str, str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(client_ts, tmp_path / "client.ts")
    for name, text in extra.items():
        (tmp_path / name).write_text(text)
    files = ["client.ts", *extra]
    (tmp_path / "tsconfig.json").write_text(json.dumps({**TSCONFIG, "files": files}))
    (tmp_path / "package.json").write_text(json.dumps({"type": "module", "private": True}))
    return tmp_path


def _tsc(tsc: Path, project: Path, *args: str) -> None:
    result = subprocess.run(
        [str(tsc), "-p", str(project / "tsconfig.json"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_edge_and_empty_clients_pass_tsc_strict(
    tsc: Path, ref_out: Path, edge_out: Path, empty_out: Path, tmp_path: Path
) -> None:
    _tsc(tsc, _project(tmp_path / "ref", ref_out / "client.ts", {}), "--noEmit")
    _tsc(tsc, _project(tmp_path / "edge", edge_out / "client.ts", {}), "--noEmit")
    _tsc(tsc, _project(tmp_path / "empty", empty_out / "client.ts", {}), "--noEmit")


@pytest.fixture
def ws_books() -> Iterator[ThreadWS]:
    with ThreadWS(create_books_app()) as server:
        yield server


def test_node_runs_the_client_against_live_servers(
    tsc: Path, books_out: Path, tmp_path: Path, books_server: ThreadServer, ws_books: ThreadWS
) -> None:
    project = _project(tmp_path, books_out / "client.ts", {"test.ts": NODE_TEST})
    _tsc(tsc, project)
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [
            node,
            "--experimental-websocket",
            str(project / "dist" / "test.js"),
            books_server.url,
            ws_books.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node client test: ok" in result.stdout
