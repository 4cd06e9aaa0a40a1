"""The ``pikku-mcp`` command: ``pikku-mcp stdio module:app``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pikku_core import AppLoadError, Pikku
from pikku_core import load_app as core_load_app

from ._stdio import SESSION_ENV, run_stdio

__all__ = ["load_app", "main"]


def load_app(path: str) -> Pikku:
    """Import ``module:attribute`` with core's loader and return the app.

    Raises:
        SystemExit: The path is malformed, the module or attribute is missing, or the
            object is not a `Pikku` app.
    """
    try:
        return core_load_app(path)
    except AppLoadError as exc:
        raise SystemExit(f"pikku-mcp: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pikku-mcp``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="pikku-mcp", description="Serve a Pikku app over MCP.")
    commands = parser.add_subparsers(dest="command", required=True)
    stdio = commands.add_parser(
        "stdio",
        help="serve over stdin/stdout",
        description=f"Serve over stdin/stdout. A session token in ${SESSION_ENV} is every call's session.",
    )
    stdio.add_argument("app", metavar="APP", help="the app as module:attribute")
    stdio.add_argument("--name", default="pikku", help="server name announced to clients")
    args = parser.parse_args(argv)
    app = load_app(args.app)
    try:
        run_stdio(app, name=args.name)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"pikku-mcp: {exc}", file=sys.stderr)
        return 1
    return 0
