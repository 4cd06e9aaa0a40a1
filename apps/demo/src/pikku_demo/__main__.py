"""The ``demo`` command: ``demo`` serves, ``demo worker`` runs workers, anything else is
one of the app's CLI commands (``demo books list``, ``demo --help``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

USAGE = """\
usage: demo                 serve HTTP, the channel and /mcp on one port (Ctrl-C stops)
       demo worker          run queue and scheduler workers on Redis (needs REDIS_URL)
       demo COMMAND ...     run one of the app's commands in this process:
"""


def operator_session(app: Any) -> Any:
    """The CLI's session: ``PIKKU_SESSION`` if set, else the local operator (a librarian).

    Whoever can run the command can open the database file anyway, so the local command
    line acts as a librarian unless told otherwise.
    """
    from pikku_cli import env_session

    from .models import Session

    session = env_session()(app)
    return session if session is not None else Session("operator", "local operator", "librarian")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``demo`` console script; returns the exit code."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # Ctrl-C before the server (or a command) took over
        print("demo: interrupted", file=sys.stderr)
        return 130
    except SetupError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2


class SetupError(Exception):
    """The environment asks for something the demo cannot do (reported without traceback)."""


def _main(args: list[str]) -> int:
    from .config import DemoConfig

    try:
        config = DemoConfig.from_env()
        config.secret()  # creates the data folder and its secret on first run
    except ValueError as exc:
        raise SetupError(f"bad setting: {exc} (PIKKU_DEMO_PORT must be a port number)") from None
    except OSError as exc:
        raise SetupError(
            f"cannot use the data folder (set PIKKU_DEMO_DATA to another one): {exc}"
        ) from None
    if not args or args[0] == "serve":
        from .serve import serve

        return serve(config)
    if args[0] == "worker":
        from .serve import worker

        return worker(config)
    import pikku_cli

    from .app import build_app

    if args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
    return pikku_cli.run(build_app(config), args, session_loader=operator_session, prog="demo")


if __name__ == "__main__":
    sys.exit(main())
