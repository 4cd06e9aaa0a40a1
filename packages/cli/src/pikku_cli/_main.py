"""The ``pikku`` developer command: info, run, versions, serve and gen for an app."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pikku_core import Pikku

from ._loader import AppLoadError, load_app
from ._runner import Parser, ParserExit, UsageError, run
from ._sessions import TokenFile
from ._term import Style

# `pikku_core.versions`, `_info` and `_serve` are imported by the commands that use them:
# `pikku run` starts faster without them.
MANIFEST_FILENAME = "pikku.versions.json"

__all__ = ["GEN_INSTALL_HINT", "GEN_TARGETS", "main"]

GEN_INSTALL_HINT = "pip install 'pikku-cli[gen]'"
"""What to install for ``pikku gen``."""

GEN_TARGETS = (
    "openapi",
    "json-schema",
    "python-client",
    "python-channel-client",
    "typescript",
    "mcp",
    "all",
)
"""The targets of ``pikku gen`` (``all`` writes every other one)."""

_APP_HELP = "the app as module:attribute (e.g. myapp.main:app), imported from the current directory"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> Parser:
    root = Parser(
        prog="pikku",
        description="Inspect, version-check, serve and generate clients for a pikku app.",
    )
    root.add_argument("--version", action="version", version=f"pikku-cli {_version('pikku-cli')}")
    sub = root.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    sub.required = True

    info = sub.add_parser("info", help="list functions, wirings, permissions and services")
    info.add_argument("app", metavar="APP", help=_APP_HELP)
    info.add_argument("--json", action="store_true", help="print the description as JSON")

    run_p = sub.add_parser(
        "run",
        help="run one of the app's wired commands",
        description="Run a command wired with app.wire_cli (like pikku_cli.run(app)).",
    )
    run_p.add_argument(
        "--session-file",
        type=Path,
        help="keep the session in this token file between runs (default: the "
        "PIKKU_SESSION environment variable, not persisted)",
    )
    run_p.add_argument("app", metavar="APP", help=_APP_HELP)
    run_p.add_argument("args", nargs=argparse.REMAINDER, help="the command and its options")

    versions = sub.add_parser(
        "versions",
        help="record and check function contracts (pikku.versions.json)",
        description="Record published function contracts and check that none changed "
        "without a version bump.",
    )
    vsub = versions.add_subparsers(title="commands", metavar="COMMAND", dest="action")
    vsub.required = True
    helps = {
        "init": "create the manifest from the app's current contracts",
        "check": "fail when a published contract changed or was removed",
        "update": "record new functions and versions (never rewrites a published one)",
    }
    for action, text in helps.items():
        p = vsub.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("app", metavar="APP", help=_APP_HELP)
        p.add_argument(
            "--manifest",
            type=Path,
            default=Path(MANIFEST_FILENAME),
            help=f"manifest path (default: ./{MANIFEST_FILENAME})",
        )
        if action == "check":
            p.add_argument("--verbose", action="store_true", help="also list unchanged versions")
        if action == "init":
            p.add_argument("--force", action="store_true", help="overwrite an existing manifest")

    serve_p = sub.add_parser(
        "serve",
        help="serve the app over every installed transport",
        description="Serve HTTP (with channels and /mcp when installed) and run the "
        "in-process queue workers and scheduler.",
    )
    serve_p.add_argument("app", metavar="APP", help=_APP_HELP)
    serve_p.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    serve_p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve_p.add_argument("--reload", action="store_true", help="restart when files change")
    serve_p.add_argument(
        "--no-workers",
        action="store_true",
        help="do not run in-process queue workers or the scheduler",
    )

    gen = sub.add_parser(
        "gen",
        help="generate OpenAPI, JSON Schemas and clients (pikku-cli[gen])",
        description=f"Generate files from the app (needs pikku-client-gen: {GEN_INSTALL_HINT}).",
    )
    gen.add_argument("target", choices=GEN_TARGETS, metavar="TARGET", help=", ".join(GEN_TARGETS))
    gen.add_argument("app", metavar="APP", help=_APP_HELP)
    gen.add_argument("--out", type=Path, required=True, help="output directory (created)")
    return root


def _versions(args: argparse.Namespace, app: Pikku, style: Style) -> int:
    from pikku_core.versions import (
        ManifestError,
        VersionConflictError,
        VersionManifest,
        check_versions,
        contracts_of,
        update_manifest,
    )

    out = sys.stdout
    manifest_path: Path = args.manifest
    current = contracts_of(app.functions)
    color = Style(out).enabled
    paint = style
    if args.action == "init":
        if manifest_path.exists() and not args.force:
            sys.stderr.write(
                f"{paint('error', 'red', 'bold')}: {manifest_path} already exists "
                "(use `pikku versions check`, or --force to start over)\n"
            )
            return 1
        try:
            manifest = update_manifest(VersionManifest(), current)
        except VersionConflictError as exc:
            out.write(exc.report.format(color=color))
            return 1
        manifest.write(manifest_path)
        count = sum(len(v) for v in manifest.functions.values())
        out.write(f"wrote {manifest_path}: {len(manifest.functions)} functions, {count} versions\n")
        return 0
    try:
        manifest = VersionManifest.read(manifest_path)
    except ManifestError as exc:
        sys.stderr.write(f"{paint('error', 'red', 'bold')}: {exc}\n")
        return 1
    if args.action == "check":
        report = check_versions(manifest, current)
        out.write(report.format(verbose=args.verbose, color=color))
        return 0 if report.ok else 1
    try:
        updated = update_manifest(manifest, current)
    except VersionConflictError as exc:
        out.write(exc.report.format(color=color))
        out.write(f"refused: {manifest_path} was not changed\n")
        return 1
    report = check_versions(manifest, current)
    out.write(report.format(color=color))
    if updated.to_json() == manifest.to_json():
        out.write(f"{manifest_path} is up to date\n")
    else:
        updated.write(manifest_path)
        added = [f.key for f in report.findings if f.kind in ("new_function", "new_version")]
        out.write(f"recorded {', '.join(added)} in {manifest_path}\n")
    return 0


def _gen(args: argparse.Namespace, app: Pikku, log: Any, style: Style) -> int:
    if importlib.util.find_spec("pikku_client_gen") is None:
        sys.stderr.write(
            f"{style('error', 'red', 'bold')}: `pikku gen` needs pikku-client-gen: "
            f"{GEN_INSTALL_HINT}\n"
        )
        return 1
    from pikku_client_gen import GenerationError, generate

    out_dir: Path = args.out
    log(f"generating {args.target} for {args.app} into {out_dir}/")
    try:
        paths = generate(app, args.target, out_dir, command=f"pikku gen {args.target} {args.app}")
    except GenerationError as exc:
        sys.stderr.write(f"{style('error', 'red', 'bold')}: {exc}\n")
        return 1
    except (TypeError, ValueError) as exc:  # e.g. a type msgspec has no JSON schema for
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        sys.stderr.write(
            f"{style('error', 'red', 'bold')}: generating {args.target} failed: "
            f"{type(exc).__name__}: {first}\n"
        )
        return 1
    for path in paths:
        log(f"  wrote {path}")
    log(f"{len(paths)} files")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pikku`` command.

    Args:
        argv: Arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code (0 success, 1 failure such as a failed check, 2 usage error).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    err = Style(sys.stderr)
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except ParserExit as exc:
        return exc.status
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        sys.stderr.write(f"{err('error', 'red', 'bold')}: {exc.message}\n")
        return 2

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    try:
        app = load_app(args.app)
    except AppLoadError as exc:
        sys.stderr.write(f"{err('error', 'red', 'bold')}: {exc}\n")
        return 2
    try:
        if args.command == "info":
            from ._info import app_info, format_info

            info = app_info(app)
            if args.json:
                sys.stdout.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
            else:
                out = Style(sys.stdout)
                sys.stdout.write(format_info(info, lambda text, s: out(text, s)))
            return 0
        if args.command == "run":
            rest = list(args.args)
            if rest[:1] == ["--"]:
                rest = rest[1:]
            prog = f"pikku run {args.app}"
            if args.session_file is None:
                return run(app, rest, prog=prog)
            tokens = TokenFile(args.session_file)
            return run(app, rest, session_loader=tokens.load, session_saver=tokens.save, prog=prog)
        if args.command == "versions":
            return _versions(args, app, err)
        if args.command == "serve":
            from ._serve import serve

            return serve(
                args.app,
                app,
                host=args.host,
                port=args.port,
                reload=args.reload,
                workers=not args.no_workers,
                log=log,
            )
        return _gen(args, app, log, err)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        return 130
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"{err('error', 'red', 'bold')}: {exc}\n")
        return 1
