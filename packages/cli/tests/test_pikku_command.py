"""The `pikku` command in real subprocesses: info, run, app loading, gen, serve, signals, TTY."""

from __future__ import annotations

import json
import os
import pty
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import HERE, clean_env, pikku, python

APP = "cli_app:app"


def test_help_lists_every_command(tmp_path: Path) -> None:
    proc = pikku("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for command in ("info", "run", "versions", "serve", "gen"):
        assert f"    {command} " in proc.stdout
    for sub in (["info"], ["run"], ["versions"], ["serve"], ["gen"]):
        sub_help = pikku(*sub, "--help", cwd=tmp_path)
        assert sub_help.returncode == 0, sub
        assert sub_help.stdout.startswith(f"usage: pikku {sub[0]}")
    version = pikku("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout) == (0, "pikku-cli 0.1.0\n")
    bare = pikku(cwd=tmp_path)
    assert bare.returncode == 2
    assert "error: the following arguments are required: COMMAND" in bare.stderr


def test_info_text() -> None:
    proc = pikku("info", APP, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("books: 10 functions\n")
    assert "get_book  unversioned  [no auth]  Get a book\n  cli         books get\n" in out
    assert "whoami  unversioned  [auth]\n  cli         whoami\n" in out
    assert "count  unversioned  [no auth, stream]\n" in out


def test_info_json_lists_wirings_permissions_and_services(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(
        """\
import msgspec
from dataclasses import dataclass
from pikku_core import Pikku, pikku_func

@dataclass
class Services:
    db: object
    mailer: object

class Order(msgspec.Struct):
    order_id: str

async def is_admin(services, data, wire) -> bool:
    return True

async def owns(services, data, wire) -> bool:
    return True

async def audit(services, wire, next):
    return await next()

@pikku_func(version=2, permissions={"admin": is_admin, "owner": [owns, is_admin]},
            middleware=[audit], tags=["orders"])
async def get_order(services, data: Order, wire) -> Order:
    await services.db.get(data.order_id)
    return data

app = Pikku(name="shop", services=lambda: Services(db=None, mailer=None))
app.wire_http("get", "/orders/{order_id}", get_order)
app.wire_queue("orders", get_order)
app.wire_cli("orders get", get_order)
app.wire_mcp_tool("get_order", get_order)
app.wire_scheduler("nightly", "0 3 * * *", get_order)
"""
    )
    proc = pikku("info", "shop:app", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["app"] == "shop"
    (fn,) = info["functions"]
    assert (fn["key"], fn["version"], fn["auth"]) == ("get_order@2", 2, True)
    assert fn["permissions"] == {"admin": ["is_admin"], "owner": ["owns", "is_admin"]}
    assert fn["middleware"] == ["audit"]
    assert fn["services"] == ["db"]
    assert fn["tags"] == ["orders"]
    assert fn["wirings"] == {
        "http": ["GET /orders/{order_id}"],
        "queue": ["orders (max 3 attempts)"],
        "scheduler": ["nightly (0 3 * * *)  [no auth]"],
        "cli": ["orders get"],
        "mcp": ["tool get_order"],
    }
    assert len(fn["contract_hash"]) == 64
    text = pikku("info", "shop:app", cwd=tmp_path).stdout
    assert "  permission  owner: owns & is_admin\n" in text
    assert "  services    db\n" in text
    assert not (tmp_path / "__pycache__").exists(), "pikku must not write bytecode"


def test_run_command_and_factory() -> None:
    proc = pikku("run", "cli_app:create_app", "books", "get", "b1", "--limit", "2", cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["limit"] == 2
    usage = pikku("run", APP, "books", "get", cwd=HERE)
    assert usage.returncode == 2
    assert usage.stderr.startswith(f"usage: pikku run {APP} books get")


def test_masked_error_logs_one_line_without_traceback() -> None:
    proc = pikku("run", APP, "crash", cwd=HERE)
    assert proc.returncode == 1
    assert "hunter2" not in proc.stderr
    assert "Traceback" not in proc.stderr
    log, error = proc.stderr.splitlines()
    assert log.startswith("ERROR pikku: unhandled RuntimeError in crash (error_id=")
    error_id = log.removeprefix("ERROR pikku: unhandled RuntimeError in crash (error_id=")[:-1]
    assert error == f"Error (InternalServerError): Internal server error (error id {error_id})"
    debug = pikku("run", APP, "crash", cwd=HERE, env=clean_env(PIKKU_TRACEBACK="1"))
    assert "Traceback" in debug.stderr, "PIKKU_TRACEBACK=1 keeps tracebacks for debugging"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cli_app", "error: APP must be 'module:attribute' (e.g. myapp.main:app), got 'cli_app'\n"),
        ("no_such_module:app", "error: cannot import module 'no_such_module'"),
        ("cli_app:nope", "error: 'cli_app' has no attribute 'nope'\n"),
        ("cli_app:SECRET", "error: cli_app:SECRET is a str, not a pikku_core.Pikku app\n"),
        ("broken:app", "error: importing 'broken' failed: ZeroDivisionError: division by zero"),
    ],
)
def test_bad_app_is_a_usage_error(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    (tmp_path / "cli_app.py").write_text((HERE / "cli_app.py").read_text())
    proc = pikku("info", spec, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message)
    assert "Traceback" not in proc.stderr


BLOCK = "import sys\nfor m in sys.argv[1].split(','):\n    sys.modules[m] = None\n"
MAIN = "from pikku_cli import main\nsys.exit(main(sys.argv[2:]))\n"


def test_gen_without_client_gen_names_the_extra() -> None:
    proc = python(BLOCK + MAIN, "pikku_client_gen", "gen", "openapi", APP, "--out", "x", cwd=HERE)
    assert proc.returncode == 1
    assert proc.stderr == (
        "error: `pikku gen` needs pikku-client-gen: pip install 'pikku-cli[gen]'\n"
    )


def test_gen_writes_files_with_progress(tmp_path: Path) -> None:
    (tmp_path / "cli_app.py").write_text((HERE / "cli_app.py").read_text())
    proc = pikku("gen", "json-schema", APP, "--out", "out/schemas-dir", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"generating json-schema for {APP} into out/schemas-dir/"
    written = [line.removeprefix("  wrote ") for line in lines[1:-1]]
    assert written and all((tmp_path / p).is_file() for p in written)
    assert lines[-1] == f"{len(written)} files"
    bad = pikku("gen", "cobol", APP, "--out", "o", cwd=tmp_path)
    assert bad.returncode == 2
    assert "argument TARGET: invalid choice: 'cobol'" in bad.stderr


def test_serve_without_transport_names_the_install_command() -> None:
    proc = python(BLOCK + MAIN, "pikku_http_litestar,pikku_ws", "serve", APP, cwd=HERE)
    assert proc.returncode == 1
    assert (
        proc.stderr
        == f"no transport to serve {APP} with: pip install pikku-http-litestar uvicorn\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVED_APP = """\
import msgspec
from pikku_core import Pikku, pikku_sessionless_func

class Job(msgspec.Struct):
    n: int

@pikku_sessionless_func
async def work(services, data: Job, wire) -> int:
    return data.n * 2

@pikku_sessionless_func
async def enqueue(services, data: Job, wire) -> str:
    return await services.queue.add("work", {"n": data.n}, job_id=f"job-{data.n}")

@pikku_sessionless_func
async def status(services, data: Job, wire) -> str:
    return (await services.queue.get_job("work", f"job-{data.n}")).status

app = Pikku(name="served")
app.wire_queue("work", work)
app.wire_http("post", "/enqueue", enqueue)
app.wire_http("post", "/status", status)
"""


def _job_status(base: str, client: httpx.Client, n: int) -> str:
    assert client.post(f"{base}/enqueue", json={"n": n}).status_code == 200
    for _ in range(50):
        state = client.post(f"{base}/status", json={"n": n}).json()
        if state == "succeeded":
            break
        time.sleep(0.05)
    return state


@pytest.mark.parametrize("workers", [True, False])
def test_serve_runs_http_and_in_process_workers(tmp_path: Path, workers: bool) -> None:
    (tmp_path / "served.py").write_text(SERVED_APP)
    port = _free_port()
    args = [sys.executable, "-m", "pikku_cli", "serve", "served:app", "--port", str(port)]
    if not workers:
        args.append("--no-workers")
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.post(f"{base}/status", json={"n": 0})
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.1)
            assert _job_status(base, client, 7) == ("succeeded" if workers else "queued")
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    text = err.decode()
    assert "serving served:app\n" in text
    assert f"  HTTP      {base}  (2 routes)\n" in text
    if workers:
        assert "  queues    1 wired, in-process workers\n" in text
    else:
        assert "  queues    1 wired, off (--no-workers)\n" in text
    assert "Traceback" not in text


def _terminal_sigint() -> None:
    # A shell starts background jobs (`cmd &`, as CI may run us) with SIGINT ignored, and
    # a child inherits that: Python then keeps ignoring Ctrl-C, as POSIX asks. The command
    # under test runs as if started from a terminal, where Ctrl-C is delivered.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_without_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pikku_cli", "run", APP, "sleep"],
        cwd=HERE,
        env=clean_env(),
        preexec_fn=_terminal_sigint,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline() == "sleeping\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert out == ""
    assert err == "Interrupted\n"


def _on_tty(*args: str, **env: str) -> str:
    """Run ``python -m pikku_cli`` with stdout and stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pikku_cli", *args],
        cwd=HERE,
        env=clean_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=30)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_terminal_gets_pretty_json_and_colours() -> None:
    out = _on_tty("run", APP, "books", "create", "--title", "T", "--author", "A")
    assert out == "created b1: T by A\n"
    out = _on_tty("run", APP, "whoami", "--json-errors")
    assert json.loads(out)["name"] == "UnauthorizedError"
    out = _on_tty("run", APP, "books", "get", "b1")
    assert out.startswith('{\n  "book_id": "b1",\n  "limit": 10,\n')
    out = _on_tty("run", APP, "books", "get", "missing")
    assert out == "\x1b[31;1mError\x1b[0m (NotFoundError): book missing not found\n"
    out = _on_tty("run", APP, "books", "get", "missing", NO_COLOR="1")
    assert out == "Error (NotFoundError): book missing not found\n"


RELOADED_APP = """\
from pikku_core import Pikku, pikku_sessionless_func

@pikku_sessionless_func
async def hello(services, data: None, wire) -> str:
    return "{greeting}"

app = Pikku(name="reloaded")
app.wire_http("get", "/hello", hello)
"""


def _get_until(
    client: httpx.Client, url: str, expected: str, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.get(url).json() == expected:
                return
        except httpx.TransportError:
            pass
        assert proc.poll() is None, "server exited"
        assert time.monotonic() < deadline, f"never served {expected!r}"
        time.sleep(0.2)


def test_serve_reload_picks_up_edits(tmp_path: Path) -> None:
    module = tmp_path / "reloaded.py"
    module.write_text(RELOADED_APP.format(greeting="hi"))
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pikku_cli",
            "serve",
            "reloaded:app",
            "--port",
            str(port),
            "--reload",
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/hello"
    try:
        with httpx.Client(timeout=5) as client:
            _get_until(client, url, "hi", proc)
            module.write_text(RELOADED_APP.format(greeting="hello again"))
            _get_until(client, url, "hello again", proc)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert f"reloading on changes under {tmp_path}" in err.decode()
    assert not (tmp_path / "__pycache__").exists()


def test_reader_going_away_ends_the_stream_quietly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pikku_cli", "run", APP, "count", "1000000"],
        cwd=HERE,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b'{"n":0}\n'
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 1
    assert err == b""


def test_types_without_a_json_schema_are_named(tmp_path: Path) -> None:
    (tmp_path / "weird.py").write_text(
        "from pikku_core import Pikku, pikku_sessionless_func\n\n"
        "@pikku_sessionless_func\n"
        "async def odd(services, data: complex, wire) -> None:\n"
        "    return None\n\n"
        "app = Pikku()\napp.wire_http('post', '/odd', odd)\n"
    )
    info = pikku("info", "weird:app", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["functions"][0]["contract_hash"] is None
    init = pikku("versions", "init", "weird:app", cwd=tmp_path)
    assert init.returncode == 1
    assert init.stderr.startswith("error: function 'odd': cannot build its JSON schema (")
    assert not (tmp_path / "pikku.versions.json").exists()
    gen = pikku("gen", "json-schema", "weird:app", "--out", "o", cwd=tmp_path)
    assert gen.returncode == 1
    assert gen.stderr.splitlines()[-1].startswith("error: generating json-schema failed: ")
    assert "Traceback" not in init.stderr + gen.stderr
