"""The ``pikku-mcp`` command: ``pikku-mcp stdio module:app``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pikku_core import Pikku

from ._stdio import SESSION_ENV, run_stdio

__all__ = ["load_app", "main"]


def load_app(path: str) -> Pikku:
    """Import ``module:attribute`` (current directory on ``sys.path``) and return the app.

    Raises:
        SystemExit: The path is malformed, the module or attribute is missing, or the
            object is not a `Pikku` app.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"pikku-mcp: expected APP as module:attribute, got {path!r}")
    sys.dont_write_bytecode = True
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"pikku-mcp: cannot import {module_name!r}: {exc}") from None
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"pikku-mcp: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, Pikku):
        raise SystemExit(f"pikku-mcp: {path!r} is a {type(obj).__name__}, not a Pikku app")
    return obj


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
