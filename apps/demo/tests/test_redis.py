"""With REDIS_URL: the web process enqueues on arq, ``demo worker`` runs the jobs."""

from __future__ import annotations

import re
import socket
import uuid
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import URL_RE, demo_env, serve_demo, start_demo

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_running(), reason="needs Redis on 127.0.0.1:6379")
async def test_queue_on_redis_with_a_worker(tmp_path: Path) -> None:
    queue = f"pikku-demo-test:{uuid.uuid4().hex}"
    extra = {"REDIS_URL": REDIS_URL, "PIKKU_DEMO_QUEUE": queue}
    worker = start_demo(demo_env(tmp_path, **extra), "worker")
    try:
        worker.wait_for(re.compile(r"demo worker: consuming " + re.escape(queue)))
        for demo in serve_demo(tmp_path, **extra):
            assert f"arq on {REDIS_URL}" in demo.process.output
            async with httpx.AsyncClient(base_url=demo.url, timeout=10) as http:
                login = {"email": "libby@example.org", "password": "libby-demo"}
                assert (await http.post("/auth/login", json=login)).status_code == 200
                [loan] = (await http.get("/loans", params={"overdue": "true"})).json()
                job = (await http.post(f"/loans/{loan['id']}/remind")).json()
                with anyio.fail_after(15):
                    while True:
                        info = (await http.get(f"/jobs/{job['queue']}/{job['job_id']}")).json()
                        if info["status"] in ("succeeded", "failed"):
                            break
                        await anyio.sleep(0.1)
                assert info["status"] == "succeeded", info
                notices = (await http.get("/notices")).json()
                assert [n["loan_id"] for n in notices] == [loan["id"]]
    finally:
        code = worker.stop()
    assert code == 0, worker.output
    assert "Traceback" not in worker.output, worker.output
    assert URL_RE.search(worker.output) is None
