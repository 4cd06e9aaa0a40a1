"""With REDIS_URL: the web process enqueues on arq, ``demo worker`` runs the jobs, and
channel events cross from the worker to the web process through Redis."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import URL_RE, demo_env, serve_demo, start_demo
from websockets.asyncio.client import connect

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> None:
    # CI (.ci/run) makes sure Redis answers; a missing Redis is a failure, not a skip.
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError as exc:
        pytest.fail(f"this test needs the real Redis at 127.0.0.1:6379: {exc}")


async def test_queue_on_redis_with_a_worker(tmp_path: Path) -> None:
    require_redis()
    queue = f"pikku-demo-test:{uuid.uuid4().hex}"
    extra = {"REDIS_URL": REDIS_URL, "PIKKU_DEMO_QUEUE": queue}
    worker = start_demo(demo_env(tmp_path, **extra), "worker")
    try:
        worker.wait_for(re.compile(r"demo worker: consuming " + re.escape(queue)))
        for demo in serve_demo(tmp_path, **extra):
            assert f"arq on {REDIS_URL}" in demo.process.output
            async with (
                httpx.AsyncClient(base_url=demo.url, timeout=10) as http,
                httpx.AsyncClient(base_url=demo.url, timeout=10) as bob_http,
            ):
                login = {"email": "libby@example.org", "password": "libby-demo"}
                assert (await http.post("/auth/login", json=login)).status_code == 200
                bob = {"email": "bob@example.org", "password": "bob-demo"}
                assert (await bob_http.post("/auth/login", json=bob)).status_code == 200
                cookie = f"pikku_session={bob_http.cookies['pikku_session']}"
                async with connect(demo.ws_url, additional_headers={"Cookie": cookie}) as ws:
                    # Bob follows his notices on the web process's channel ...
                    await ws.send(json.dumps({"action": "subscribe", "topic": "notices"}))
                    assert json.loads(await ws.recv())["subscribed"].startswith("notices:")
                    [loan] = (await http.get("/loans", params={"overdue": "true"})).json()
                    job = (await http.post(f"/loans/{loan['id']}/remind")).json()
                    # ... the worker process runs the job; its event crosses Redis to him.
                    with anyio.fail_after(15):
                        event = json.loads(await ws.recv())
                assert event["topic"].startswith("notices:")
                assert event["data"]["loan_id"] == loan["id"]
                info = (await http.get(f"/jobs/{job['queue']}/{job['job_id']}")).json()
                assert info["status"] == "succeeded", info
                assert info["result"]["id"] == event["data"]["id"]
                notices = (await http.get("/notices")).json()
                assert [n["loan_id"] for n in notices] == [loan["id"]]
    finally:
        code = worker.stop()
    assert code == 0, worker.output
    assert "Traceback" not in worker.output, worker.output
    assert URL_RE.search(worker.output) is None
