"""The newcomer's check: a fresh clone runs the README's demo command as written.

Clones the repository's committed state into a temporary folder, reads the demo command
from the first ``bash`` block of the clone's README.md, starts it in the background
(without Redis), waits until HTTP, the WebSocket channel and ``/mcp`` answer, then sends
Ctrl-C (SIGINT to the process group, as a terminal does) and checks for a clean exit.
Standard library only: ``python tests/quickstart.py`` (``nox -s quickstart``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 600  # the first `uv run` builds the clone's environment
FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
URL = re.compile(r"HTTP\s+(http://[\w.]+:\d+)")


def readme_commands(readme: Path) -> list[str]:
    """The commands of the README's first bash block (comments dropped)."""
    match = FENCE.search(readme.read_text())
    if match is None:
        raise SystemExit("quickstart: README.md has no ```bash block")
    commands = [line.split("#", 1)[0].strip() for line in match.group(1).splitlines()]
    return [c for c in commands if c]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/books?q=le+guin", timeout=5) as response:
            page = json.load(response)
    except (OSError, ValueError):
        return False
    return response.status == 200 and page["total"] >= 1


def _ws_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def channel_answers(url: str) -> bool:
    """Open the channel, send one action, read the reply (a minimal WebSocket client)."""
    host, port = url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                (
                    f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += _recv_exact(sock, 1)
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                return False
            sock.sendall(_ws_frame(json.dumps({"action": "search", "id": 1, "q": "guin"})))
            first, second = _recv_exact(sock, 2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(_recv_exact(sock, 2), "big")
            elif length == 127:
                length = int.from_bytes(_recv_exact(sock, 8), "big")
            reply = json.loads(_recv_exact(sock, length))
    except (OSError, ValueError):
        return False
    return first & 0x0F == 1 and reply.get("action") == "search" and reply.get("total", 0) >= 1


def mcp_answers(url: str) -> bool:
    """An MCP ``initialize`` request at /mcp gets the server's result."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "quickstart", "version": "1"},
        },
    }
    request = urllib.request.Request(
        f"{url}/mcp",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
    except (OSError, ValueError):
        return False
    return response.status == 200 and '"serverInfo"' in text


class Output:
    """Collects a process's output as it comes (so a full pipe never blocks it)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


def fail(message: str, output: Output | None = None) -> None:
    if output is not None:
        sys.stderr.write(output.text()[-6000:])
    raise SystemExit(f"quickstart: {message}")


def run(workdir: Path) -> None:
    clone = workdir / "pikku-py"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commands = readme_commands(clone / "README.md")
    if len(commands) != 2 or commands[1] != "uv run nox":
        fail(f"the README should start with the demo and the test command, got {commands}")
    demo = commands[0]
    print(f"quickstart: {clone}$ {demo}", flush=True)

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "PIKKU_SECRET", "VIRTUAL_ENV", "PIKKU_DEMO_DATA")
        and not k.startswith("NOX")
    }
    port = free_port()
    env["PIKKU_DEMO_PORT"] = str(port)  # the README's port may be taken on this machine
    proc = subprocess.Popen(
        shlex.split(demo),
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to be interrupted like a terminal
    )
    output = Output(proc)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = None
        while url is None:
            if proc.poll() is not None:
                fail(f"`{demo}` exited with {proc.returncode} before serving", output)
            if time.monotonic() > deadline:
                fail(f"`{demo}` printed no URL within {START_TIMEOUT} s", output)
            match = URL.search(output.text())
            url = match.group(1) if match else None
            time.sleep(0.2)
        if not url.endswith(f":{port}"):
            fail(f"the demo serves {url}, not the port it was given ({port})", output)
        print(f"quickstart: serving {url}", flush=True)
        checks = {"HTTP": http_answers, "channel": channel_answers, "MCP": mcp_answers}
        for name, check in checks.items():
            deadline = time.monotonic() + 30
            while not check(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    fail(f"{name} does not answer at {url}", output)
                time.sleep(0.2)
            print(f"quickstart: {name} answers", flush=True)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            fail("the demo did not stop within 30 s of Ctrl-C", output)
        output.join()
    text = output.text()
    if code != 0:
        fail(f"the demo exited with {code} after Ctrl-C", output)
    if "Traceback" in text:
        fail("the demo printed a traceback", output)
    if "demo: stopped" not in text:
        fail("the demo did not report a clean stop", output)
    if "try this:" not in text:
        fail("the demo did not print what to try", output)
    print("quickstart: stopped cleanly on Ctrl-C", flush=True)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="pikku-quickstart-"))
    try:
        run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
