"""`run`: the app's wired commands as a command-line program."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import uuid
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import anyio
from pikku_core import CLIWire, CLIWiring, Pikku, PikkuError, Response, Wire

from ._options import InputSpec, add_input_arguments
from ._sessions import SessionLoader, SessionSaver, env_session
from ._term import Style, dump_json, is_tty

__all__ = ["run"]

_COMMAND = "_pikku_command"


class UsageError(Exception):
    """argparse reported bad arguments (exit code 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class ParserExit(Exception):
    """argparse wants to exit (``--help``)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that raises instead of calling `sys.exit`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _LazySubParsers)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)


class _ReaderGone(BaseException):
    """stdout's reader went away (``| head``) while a stream was printing."""


class _ConfigError(Exception):
    """The app or the environment is set up wrongly (exit code 1, no traceback)."""


class _Command:
    """One wired command; its options are added to its parser on first use."""

    __slots__ = ("_spec", "parser", "wiring")

    def __init__(self, wiring: CLIWiring, parser: argparse.ArgumentParser) -> None:
        self.wiring = wiring
        self.parser = parser
        self._spec: InputSpec | None = None

    @property
    def spec(self) -> InputSpec:
        """The command's arguments (added to its parser now if not yet)."""
        if self._spec is None:
            wiring = self.wiring
            self._spec = add_input_arguments(
                self.parser, wiring.func.input_type, wiring.positionals
            )
        return self._spec


if TYPE_CHECKING:
    _SubParsersBase = argparse._SubParsersAction[argparse.ArgumentParser]
else:  # not subscriptable at runtime
    _SubParsersBase = argparse._SubParsersAction


class _LazySubParsers(_SubParsersBase):
    """Adds a command's options only when argv selects it.

    Deriving options inspects the input type; an app with many commands pays for the
    one being run, not for all of them.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        chosen = self._name_parser_map.get(values[0]) if values else None
        command = getattr(chosen, "pikku_command", None)
        if isinstance(command, _Command):
            _ = command.spec
        super().__call__(parser, namespace, values, option_string)


def _summary(wiring: CLIWiring) -> str | None:
    meta = wiring.func
    text = wiring.description or meta.title or meta.description
    return text.strip().splitlines()[0] if text else None


def build_parser(app: Pikku, prog: str | None = None) -> tuple[Parser, list[_Command]]:
    """Build the argparse tree for the app's CLI wirings.

    Raises:
        ValueError: Two wirings use the same command, or a command is also a group.
    """
    root = Parser(prog=prog, description=f"Commands of the {app.name} app.")
    root.add_argument(
        "--json-errors", action="store_true", help="print errors as the JSON error shape"
    )
    groups: dict[tuple[str, ...], Any] = {
        (): root.add_subparsers(title="commands", metavar="COMMAND", dest="_pikku_0")
    }
    groups[()].required = True
    leaves: set[tuple[str, ...]] = set()
    children: dict[tuple[str, ...], list[str]] = {}
    for wiring in app.cli_wirings:
        parts = tuple(wiring.command.split())
        for i in range(1, len(parts)):
            names = children.setdefault(parts[:i], [])
            if parts[i] not in names:
                names.append(parts[i])
    commands: list[_Command] = []
    for wiring in app.cli_wirings:
        parts = tuple(wiring.command.split())
        if not parts:
            raise ValueError("a CLI command needs a name")
        for i in range(1, len(parts)):
            prefix = parts[:i]
            if prefix in leaves:
                raise ValueError(f"CLI command {' '.join(prefix)!r} is also a command group")
            if prefix not in groups:
                names = ", ".join(children[prefix])
                group = groups[prefix[:-1]].add_parser(
                    prefix[-1],
                    help=f"commands: {names}",
                    description=f"The {' '.join(prefix)} commands: {names}.",
                )
                groups[prefix] = group.add_subparsers(
                    title="commands", metavar="COMMAND", dest=f"_pikku_{i}"
                )
                groups[prefix].required = True
        if parts in leaves or parts in groups:
            raise ValueError(f"CLI command {wiring.command!r} is wired twice or is a group")
        leaves.add(parts)
        meta = wiring.func
        leaf = groups[parts[:-1]].add_parser(
            parts[-1],
            help=_summary(wiring),
            description=wiring.description or meta.description or meta.title,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        leaf.add_argument(
            "--json-errors",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print errors as the JSON error shape",
        )
        leaf.set_defaults(**{_COMMAND: len(commands)})
        command = _Command(wiring, leaf)
        leaf.pikku_command = command  # pyright: ignore[reportAttributeAccessIssue]
        commands.append(command)
    return root, commands


def _option_message(flag: str, message: str, payload: dict[str, Any], data: Any) -> str:
    path = payload.get("path")
    message = message.removesuffix(f" at {path}")
    if message.startswith("Object missing required field"):
        return f"missing required option {flag}"
    if message.endswith(", got `null`") and data is None:  # a whole-input `--value`
        return f"missing required option {flag}"
    if message.endswith(", got `str`") and isinstance(path, str):
        # Every command-line value is a string: show the value instead of its type.
        key = path[2:] if path.startswith("$.") else None
        raw: Any = data
        if isinstance(data, dict) and key:
            raw = cast("dict[str, Any]", data).get(key)
        if isinstance(raw, str):
            message = message.removesuffix("`str`") + repr(raw)
    return f"invalid value for {flag}: {message}"


def _print_error(
    err: TextIO, exc: PikkuError, json_errors: bool, spec: InputSpec | None, data: Any = None
) -> int:
    status = exc.status_code
    usage = status == 422
    payload = exc.payload
    flag = None
    if usage and spec is not None and isinstance(payload, dict):
        path: Any = cast("dict[str, Any]", payload).get("path")
        flag = spec.flag_for(path) if isinstance(path, str) else None
    if json_errors:
        err.write(json.dumps(exc.to_dict(), ensure_ascii=False) + "\n")
    else:
        style = Style(err)
        message = exc.message
        if flag is not None:
            message = _option_message(flag, message, cast("dict[str, Any]", payload), data)
        if status >= 500:
            message = f"{message} (error id {exc.error_id})"
        err.write(f"{style('Error', 'red', 'bold')} ({exc.name}): {message}\n")
    err.flush()
    return 2 if usage else 1


async def _execute(
    app: Pikku,
    command: _Command,
    data: Any,
    argv: Sequence[str],
    loader: SessionLoader,
    saver: SessionSaver | None,
    json_errors: bool,
) -> int:
    out, err = sys.stdout, sys.stderr
    wiring = command.wiring
    pretty = is_tty(out)

    async def emit(item: Any) -> None:
        try:
            out.write(dump_json(item, pretty=False) + "\n")
            out.flush()
        except BrokenPipeError:
            # Not an Exception: the pipeline must not mask it as a 500; its `finally`
            # still closes the generator and the wire services.
            raise _ReaderGone from None

    try:
        async with contextlib.AsyncExitStack() as stack:
            if not app.started:
                await stack.enter_async_context(app)
            try:
                session = loader(app)
            except (RuntimeError, ValueError, OSError) as exc:  # no secret, unreadable file
                raise _ConfigError(f"cannot load the session: {exc}") from None
            cli = CLIWire(wiring.command, tuple(argv))
            wire: Wire[Any] = Wire(app, session=session, cli=cli)
            if wiring.func.is_stream:
                await wiring.pipeline.run(wire, data, strict=False, emit=emit)
            else:
                result = await wiring.pipeline.run(wire, data, strict=False)
                try:
                    _print_result(out, wiring, result, pretty)
                except (BrokenPipeError, PikkuError):
                    raise
                except Exception as exc:  # unencodable output, a failing `render`
                    raise app.map_exception(exc, wiring.func) from None
            if saver is not None and wire.session_changed:
                try:
                    saver(app, wire.session)
                except (RuntimeError, ValueError, OSError) as exc:
                    raise _ConfigError(f"cannot save the session: {exc}") from None
            return 0
    except PikkuError as exc:
        return _print_error(err, exc, json_errors, command.spec, data)
    except _ConfigError as exc:
        style = Style(err)
        err.write(f"{style('Error', 'red', 'bold')}: {exc}\n")
        return 1


def _print_result(out: TextIO, wiring: CLIWiring, result: Any, pretty: bool) -> None:
    if wiring.render is not None:
        text = wiring.render(result)
        out.write(text if text.endswith("\n") or not text else text + "\n")
    elif isinstance(result, Response):
        if not isinstance(result.body, bytes):
            raise PikkuError("a streamed Response cannot be printed by the CLI")
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is None:  # a text-only stdout (redirected in-process)
            out.write(result.body.decode("utf-8", "replace"))
        else:
            buffer.write(result.body)
    elif result is not None:
        out.write(dump_json(result, pretty=pretty) + "\n")
    out.flush()


class _NoTraceback(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = ""
        return super().format(record)


@contextlib.contextmanager
def _cli_logging(app: Pikku) -> Generator[None]:
    """Send the app's log records to stderr, one line each, when nothing else is set up.

    A masked 500 is logged with its traceback; on a terminal that would show the user
    the very details the masking hides, so tracebacks only appear with
    ``PIKKU_TRACEBACK=1``. An app or script that configures logging keeps its own.
    """
    loggers = list({id(lg): lg for lg in (logging.getLogger("pikku"), app.logger)}.values())
    if logging.getLogger().handlers or any(lg.handlers for lg in loggers):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s"
    traceback = os.environ.get("PIKKU_TRACEBACK") == "1"
    handler.setFormatter(logging.Formatter(fmt) if traceback else _NoTraceback(fmt))
    for lg in loggers:
        lg.addHandler(handler)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeHandler(handler)


def run(
    app: Pikku,
    argv: Sequence[str] | None = None,
    *,
    session_loader: SessionLoader | None = None,
    session_saver: SessionSaver | None = None,
    prog: str | None = None,
) -> int:
    """Run one of the app's wired commands, synchronously.

    Parses ``argv`` against the app's CLI wirings, calls the function through its
    pipeline, prints the output (JSON, pretty on a terminal, or the wiring's
    ``render``; a streaming function prints one JSON line per item) and returns the
    exit code. A script does ``sys.exit(pikku_cli.run(app))``.

    Args:
        app: The app whose ``wire_cli`` commands to expose.
        argv: The arguments after the program name (default ``sys.argv[1:]``).
        session_loader: Where the call's session comes from (default: the
            ``PIKKU_SESSION`` token, see `env_session`).
        session_saver: Called with the new session (or None) when a command calls
            ``wire.set_session`` / ``clear_session`` and succeeds: store a token for the
            next invocation. Without it such changes last only for the call.
        prog: Program name shown in help and usage (default from ``sys.argv[0]``).

    Returns:
        0 on success, 2 for a usage or validation error (naming the option), 1 for any
        other error, 130 when interrupted (Ctrl-C).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser(app, prog)
    try:
        namespace = parser.parse_args(args)
    except ParserExit as exc:
        return exc.status
    except UsageError as exc:
        if "--json-errors" in args:
            shape = {
                "name": "UsageError",
                "message": exc.message,
                "payload": {"usage": exc.parser.format_usage().strip()},
                "error_id": uuid.uuid4().hex,
            }
            sys.stderr.write(json.dumps(shape, ensure_ascii=False) + "\n")
            return 2
        exc.parser.print_usage(sys.stderr)
        style = Style(sys.stderr)
        sys.stderr.write(f"{style('error', 'red', 'bold')}: {exc.message}\n")
        return 2
    index: int = getattr(namespace, _COMMAND)
    command = commands[index]
    data: Any = command.spec.collect(namespace)
    loader = session_loader or env_session()
    try:
        with _cli_logging(app):
            json_errors = bool(namespace.json_errors)
            return anyio.run(_execute, app, command, data, args, loader, session_saver, json_errors)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted\n")
        return 130
    except (BrokenPipeError, _ReaderGone):
        # The reader went away (`| head`); don't let the final flush complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
