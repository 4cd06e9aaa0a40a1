"""Where a CLI call's session comes from, and where a changed session goes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pikku_core import Pikku, UnauthorizedError

__all__ = ["SessionLoader", "SessionSaver", "TokenFile", "env_session"]

SessionLoader = Callable[[Pikku], Any]
"""Returns the session for a CLI call (or None); may raise a `PikkuError`."""

SessionSaver = Callable[[Pikku, Any], None]
"""Receives the session a command set (``None`` when it cleared it), after it succeeded."""


def env_session(var: str = "PIKKU_SESSION") -> SessionLoader:
    """A session loader reading a token from an environment variable.

    The token is decoded with the app's session codec (``app.session_codec()``, HMAC
    with the app secret); produce one with ``app.session_codec().encode(session)``.

    Args:
        var: The environment variable holding the token.

    Returns:
        The loader: no variable (or an empty one) means no session; a token that does not
        decode raises `UnauthorizedError`.
    """

    def load(app: Pikku) -> Any:
        token = os.environ.get(var, "").strip()
        if not token:
            return None
        session = app.session_codec().decode(token)
        if session is None:
            raise UnauthorizedError(f"{var} holds an invalid or expired session token")
        return session

    return load


class TokenFile:
    """Keeps a command's session in a file between invocations (a CLI's "logged in" state).

    Pass ``session_loader=tf.load, session_saver=tf.save`` to `run` (``pikku run
    --session-file PATH`` does): a command that calls ``wire.set_session`` writes the
    signed token (file mode 0600), ``clear_session`` removes the file, and the next
    invocation loads it.

    Args:
        path: The token file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, app: Pikku) -> Any:
        """The session in the file, None without a file; a bad token is a 401."""
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        session = app.session_codec().decode(token) if token else None
        if session is None:
            raise UnauthorizedError(f"{self.path} holds an invalid or expired session token")
        return session

    def save(self, app: Pikku, session: Any) -> None:
        """Store ``session`` (or remove the file for None)."""
        if session is None:
            self.path.unlink(missing_ok=True)
            return
        token = app.session_codec().encode(session)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
