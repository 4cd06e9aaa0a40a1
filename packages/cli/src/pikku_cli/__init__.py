"""pikku-cli: pikku functions as command-line commands, and the ``pikku`` developer command.

``app.wire_cli("books get", get_book, positionals=["book_id"])`` declares a command;
``pikku_cli.run(app)`` parses ``sys.argv`` against every wired command and returns the
exit code. The ``pikku`` console script (`main`) inspects, version-checks, serves and
generates clients for an app given as ``module:attribute``.
"""

from ._runner import run
from ._sessions import SessionLoader, SessionSaver, TokenFile, env_session

__all__ = ["SessionLoader", "SessionSaver", "TokenFile", "env_session", "main", "run"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``pikku`` developer command (the console script's entry point).

    Args:
        argv: Arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    from ._main import main as _main

    return _main(argv)
