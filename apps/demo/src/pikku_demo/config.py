"""Settings of the demo, read from the environment with embedded defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
"""``apps/demo/data`` in the repository (git-ignored): the demo only runs from a checkout."""


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return port


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """Where the demo keeps its data and how it serves.

    Attributes:
        data_dir: Folder holding ``library.db``, the covers and the demo secret
            (``PIKKU_DEMO_DATA``, default ``apps/demo/data``).
        host: Interface to listen on (``PIKKU_DEMO_HOST``, default 127.0.0.1).
        port: Port for HTTP, channels and MCP (``PIKKU_DEMO_PORT``, default 8000).
        redis_url: With a Redis URL (``REDIS_URL``) queues and the scheduler run on arq
            and ``demo worker`` runs the workers; without one they run in process.
        secure_cookies: Mark the session cookie ``Secure`` (``PIKKU_DEMO_SECURE_COOKIES=1``
            behind HTTPS; the demo itself serves plain HTTP on localhost).
        queue_name: The arq queue (a Redis key) the demo's jobs go through
            (``PIKKU_DEMO_QUEUE``, default ``pikku-demo:queue``).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 8000
    redis_url: str | None = None
    secure_cookies: bool = False
    queue_name: str = "pikku-demo:queue"

    @classmethod
    def from_env(cls) -> DemoConfig:
        """Read the settings from the environment."""
        env = os.environ
        return cls(
            data_dir=Path(env.get("PIKKU_DEMO_DATA") or DEFAULT_DATA_DIR).expanduser(),
            host=env.get("PIKKU_DEMO_HOST") or "127.0.0.1",
            port=_port(env.get("PIKKU_DEMO_PORT") or "8000"),
            redis_url=env.get("REDIS_URL") or None,
            secure_cookies=env.get("PIKKU_DEMO_SECURE_COOKIES") == "1",
            queue_name=env.get("PIKKU_DEMO_QUEUE") or "pikku-demo:queue",
        )

    @property
    def db_path(self) -> Path:
        """The SQLite file."""
        return self.data_dir / "library.db"

    @property
    def covers_dir(self) -> Path:
        """Where uploaded book covers are stored."""
        return self.data_dir / "covers"

    def secret(self) -> str:
        """The signing secret: ``PIKKU_SECRET``, else one generated for this data folder.

        The generated secret is for local demo use only; it is stored next to the
        database (``secret.key``, readable by the owner only) so sessions survive restarts.
        """
        from_env = os.environ.get("PIKKU_SECRET")
        if from_env:
            return from_env
        path = self.data_dir / "secret.key"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        # Written aside then linked into place: two processes starting at once end up
        # with the same key, and nobody ever reads a half-written file.
        tmp = path.with_name(f".secret.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text().strip()
        finally:
            tmp.unlink()
        return secret
