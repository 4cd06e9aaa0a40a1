"""The conformance suite over the CLI: every call is a real `pikku run` subprocess.

argv goes in (built from the command's options), stdout / stderr / the exit code come
out; errors are read back with ``--json-errors``. Each client keeps its session in its
own token file (``pikku run --session-file``), so a session set by one command is seen
by the next, as a CLI's "logged in" state is.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from pikku_cli import TokenFile
from pikku_cli._options import InputSpec
from pikku_cli._runner import build_parser
from pikku_conformance import CallResult, Capabilities, ConformanceSuite, Harness, HarnessClient
from pikku_conformance.routes import cli_command
from pikku_core import Pikku

APP = "pikku_conformance.reference_app:create_reference_app"
"""What the subprocess imports: the same reference app the suite gives the harness."""

_TIMEOUT = 60


def _word(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def argv_for(spec: InputSpec, data: Any) -> list[str]:
    """The command-line arguments that carry ``data`` to a command with ``spec``."""
    if not spec.options or data is None:
        return []
    if spec.whole:
        option = spec.options[0]
        text = json.dumps(data) if option.kind == "json" else _word(data)
        return [text] if option.positional else [option.flag, text]
    assert isinstance(data, dict), f"object input expected, got {data!r}"
    argv: list[str] = []
    for option in spec.options:
        if option.key not in data:
            continue
        value = data[option.key]
        if option.kind == "flag" and isinstance(value, bool):
            argv.append(option.flag if value else "--no-" + option.flag[2:])
        elif option.kind == "list" and isinstance(value, list):
            for item in value:
                argv.extend([option.flag, _word(item)])
        elif option.kind == "json":
            argv.extend([option.flag, json.dumps(value)])
        else:
            argv.extend([option.flag, _word(value)])
    return argv


class CLIClient(HarnessClient):
    """Runs each call as ``python -m pikku_cli run --session-file F APP COMMAND ...``."""

    def __init__(self, app: Pikku, specs: dict[str, InputSpec]) -> None:
        self._app = app
        self._specs = specs
        self._env = {k: v for k, v in os.environ.items() if k != "PIKKU_SESSION"}
        self._dir = Path(tempfile.mkdtemp(prefix="pikku-cli-"))
        self._tokens = TokenFile(self._dir / "session")

    def _command(self, key: str) -> str:
        return cli_command(key)

    async def _run(self, key: str, data: Any) -> tuple[int, str, str]:
        command = self._command(key)
        argv = [*command.split(), *argv_for(self._specs[command], data), "--json-errors"]
        with anyio.fail_after(_TIMEOUT):
            proc = await anyio.run_process(
                [
                    *(sys.executable, "-m", "pikku_cli", "run"),
                    *("--session-file", str(self._tokens.path), APP, *argv),
                ],
                env=self._env,
                check=False,
            )
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    @staticmethod
    def _error(code: int, stderr: str) -> CallResult:
        assert code in (1, 2), f"unexpected exit code {code}: {stderr}"
        assert "Traceback" not in stderr, stderr
        lines = stderr.strip().splitlines()
        error = json.loads(lines[-1])
        assert (code == 2) == (error["name"] in ("UnprocessableContentError", "UsageError"))
        return CallResult(ok=False, error=error)

    async def call(self, key: str, data: Any = None) -> CallResult:
        """Run the command; exit 0 is a result on stdout, anything else an error."""
        code, stdout, stderr = await self._run(key, data)
        if code != 0:
            return self._error(code, stderr)
        assert stderr == "", stderr
        return CallResult(ok=True, value=json.loads(stdout) if stdout.strip() else None)

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        """Run a streaming command: one JSON line per item."""
        code, stdout, stderr = await self._run(key, data)
        assert code == 0, stderr
        return [json.loads(line) for line in stdout.splitlines()]

    async def set_session(self, session: dict[str, Any] | None) -> None:
        """Write this client's token file (or remove it)."""
        self._tokens.save(self._app, session)

    async def aclose(self) -> None:
        """Remove the client's token directory."""
        shutil.rmtree(self._dir, ignore_errors=True)


class CLIHarness(Harness):
    """Each call is its own process: sessions persist through the token file only."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        streaming=True,
        session_persistence=True,
        shared_state=False,
        # 100 interpreter start-ups at once is a load test of the machine, not of the CLI.
        concurrency=False,
        http_status=False,
    )

    def __init__(self) -> None:
        self._app: Pikku | None = None
        self._specs: dict[str, InputSpec] = {}

    async def start(self, app: Pikku) -> None:
        """Learn each command's options (the subprocess builds its own reference app)."""
        self._app = app
        _, commands = build_parser(app)
        self._specs = {c.wiring.command: c.spec for c in commands}

    async def stop(self) -> None:
        """Nothing runs between calls."""
        self._app = None

    async def client(self) -> HarnessClient:
        """A client with its own environment."""
        assert self._app is not None, "harness not started"
        return CLIClient(self._app, self._specs)


class TestCLIConformance(ConformanceSuite):
    """The whole suite, each call through a `pikku run` subprocess."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The subprocess harness."""
        return CLIHarness()
