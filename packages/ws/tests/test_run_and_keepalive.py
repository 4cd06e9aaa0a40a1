"""`pikku_ws.run` in a real subprocess, and keepalive pings."""

from __future__ import annotations

import json
import signal
import socket
import sys
import textwrap
from pathlib import Path

import anyio
import pikku_ws
import pytest
from websockets.asyncio.client import connect
from ws_app import create_app, eventually

pytestmark = pytest.mark.anyio

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import pikku_ws
    from ws_app import create_app
    pikku_ws.run(create_app(), "127.0.0.1", {port})
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_run_serves_until_sigterm() -> None:
    port = free_port()
    code = SCRIPT.format(tests=str(Path(__file__).parent), port=port)
    async with await anyio.open_process([sys.executable, "-c", code], stdout=None) as proc:
        try:
            ws = None
            for _ in range(200):
                try:
                    ws = await connect(f"ws://127.0.0.1:{port}/chat")
                    break
                except OSError:
                    await anyio.sleep(0.05)
            assert ws is not None, "server did not start"
            await ws.send(json.dumps({"action": "double", "value": 4}))
            assert json.loads(await ws.recv()) == {"action": "double", "result": 8}
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                async for _ in ws:
                    pass
                assert ws.close_code == 1001
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_keepalive_pings_clients() -> None:
    async with pikku_ws.serve(
        create_app(), "127.0.0.1", 0, ping_interval=0.05, ping_timeout=1
    ) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/chat", ping_interval=None) as ws:
            (conn,) = server.connections
            # The server measures latency from each ping's pong.
            await eventually(lambda: conn.latency > 0, 5)
            await ws.send(json.dumps({"action": "nothing"}))
            assert json.loads(await ws.recv()) == {"action": "nothing"}
