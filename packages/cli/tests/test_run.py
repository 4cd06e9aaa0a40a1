"""`pikku_cli.run`: options from input types, output, errors and exit codes (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cli_app import Session, app
from pikku_cli import TokenFile, env_session, run
from pikku_core import Pikku, Response, UnauthorizedError, pikku_sessionless_func

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PIKKU_SESSION", "NO_COLOR", "FORCE_COLOR", "PIKKU_TRACEBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run(app, list(argv), prog="books-cli")
    out, err = capsys.readouterr()
    return code, out, err


def test_options_are_parsed_from_the_input_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(
        capsys,
        *("books", "get", "b-1", "--limit", "3", "--ratio", "0.25", "--verbose"),
        *("--kind", "ebook", "--color", "blue", "--tags", "x", "--tags", "y"),
        *("--pages", "1", "--pages", "20", "--note", "hi", "--meta", '{"a": [1]}'),
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "book_id": "b-1",
        "limit": 3,
        "ratio": 0.25,
        "verbose": True,
        "kind": "ebook",
        "color": "blue",
        "tags": ["x", "y"],
        "pages": [1, 20],
        "note": "hi",
        "meta": {"a": [1]},
    }
    assert out.count("\n") == 1, "compact JSON off a terminal"


def test_defaults_apply_and_no_flag_turns_off(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "books", "get", "b-2", "--no-verbose")
    assert code == 0
    value = json.loads(out)
    assert (value["limit"], value["verbose"], value["tags"], value["note"]) == (10, False, [], None)


def test_validation_error_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "books", "get", "b", "--limit", "0")
    assert (code, out) == (2, "")
    assert (
        err == "Error (UnprocessableContentError): invalid value for --limit: Expected `int` >= 1\n"
    )


def test_unparsable_number_names_the_option_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "books", "get", "b", "--ratio", "lots")
    assert code == 2
    assert err == (
        "Error (UnprocessableContentError): invalid value for --ratio: "
        "Expected `float`, got 'lots'\n"
    )


def test_choice_outside_literal_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "books", "get", "b", "--kind", "scroll")
    assert code == 2
    assert "invalid value for --kind: Invalid enum value 'scroll'" in err


def test_missing_required_option_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "books", "create", "--title", "Dune")
    assert (code, out) == (2, "")
    assert err == "Error (UnprocessableContentError): missing required option --author\n"


def test_missing_positional_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "books", "get")
    assert (code, out) == (2, "")
    assert err.startswith("usage: books-cli books get [-h]")
    assert err.endswith("error: the following arguments are required: BOOK_ID\n")


def test_bad_json_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "books", "get", "b", "--meta", "{nope")
    assert code == 2
    assert "error: argument --meta: invalid JSON (Expecting property name" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "error: the following arguments are required: COMMAND"),
        (["shelves"], "error: argument COMMAND: invalid choice: 'shelves'"),
        (["books"], "error: the following arguments are required: COMMAND"),
        (["books", "get", "b", "--bogus"], "error: unrecognized arguments: --bogus"),
        (["whoami", "extra"], "error: unrecognized arguments: extra"),
    ],
)
def test_bad_argv_exits_2_with_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = call(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("usage: ")
    assert message in err
    assert "Traceback" not in err


def test_pikku_error_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "books", "get", "missing")
    assert (code, out) == (1, "")
    assert err == "Error (NotFoundError): book missing not found\n"


def test_json_errors_print_the_error_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "books", "get", "missing", "--json-errors")
    assert code == 1
    shape = json.loads(err)
    assert shape["name"] == "NotFoundError"
    assert shape["message"] == "book missing not found"
    assert set(shape) == {"name", "message", "payload", "error_id"}

    code, _, err = call(capsys, "--json-errors", "books", "get", "b", "--limit", "0")
    assert code == 2
    shape = json.loads(err)
    assert (shape["name"], shape["payload"]) == ("UnprocessableContentError", {"path": "$.limit"})

    code, _, err = call(capsys, "--json-errors", "books", "get")
    assert code == 2
    shape = json.loads(err)
    assert shape["name"] == "UsageError"
    assert shape["message"] == "the following arguments are required: BOOK_ID"
    assert shape["payload"]["usage"].startswith("usage: books-cli books get")


def test_masked_error_shows_no_secret_or_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "crash")
    assert (code, out) == (1, "")
    assert "hunter2" not in err
    assert "Traceback" not in err
    # pytest configures logging here, so the app's log record goes to pytest, not stderr
    # (the one-line stderr log of a bare process is checked in test_pikku_command).
    assert err.startswith("Error (InternalServerError): Internal server error (error id ")


def test_generator_prints_one_json_line_per_item(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "count", "3")
    assert code == 0
    assert out == '{"n":0}\n{"n":1}\n{"n":2}\n'


def test_scalar_positional_validation_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "count", "many")
    assert code == 2
    assert (
        err
        == "Error (UnprocessableContentError): invalid value for VALUE: Expected `int`, got 'many'\n"
    )


def test_render_replaces_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "books", "create", "--title", "Dune", "--author", "Herbert")
    assert (code, out) == (0, "created b1: Dune by Herbert\n")


def test_none_output_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "nothing") == (0, "", "")


def test_json_input_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "raw", "--data", '{"x": [1, 2]}')
    assert (code, json.loads(out)) == (0, {"x": [1, 2]})


def test_session_from_env_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = call(capsys, "whoami")
    assert (code, err) == (1, "Error (UnauthorizedError): Authentication required\n")

    monkeypatch.setenv("PIKKU_SESSION", app.session_codec().encode({"user_id": "u1"}))
    code, out, _ = call(capsys, "whoami")
    assert (code, json.loads(out)) == (0, {"user_id": "u1", "role": "user"})

    monkeypatch.setenv("PIKKU_SESSION", "forged.token")
    code, _, err = call(capsys, "whoami")
    assert code == 1
    assert err == (
        "Error (UnauthorizedError): PIKKU_SESSION holds an invalid or expired session token\n"
    )


def test_custom_session_loader(capsys: pytest.CaptureFixture[str]) -> None:
    def loader(_: Pikku) -> Any:
        return {"user_id": "from-loader", "role": "admin"}

    assert run(app, ["whoami"], session_loader=loader) == 0
    assert json.loads(capsys.readouterr().out) == {"user_id": "from-loader", "role": "admin"}

    def refusing(_: Pikku) -> Any:
        raise UnauthorizedError("log in first with `books login`")

    assert run(app, ["whoami"], session_loader=refusing) == 1
    assert capsys.readouterr().err == "Error (UnauthorizedError): log in first with `books login`\n"


def test_other_env_var_loader(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOKS_TOKEN", app.session_codec().encode({"user_id": "u9"}))
    assert run(app, ["whoami"], session_loader=env_session("BOOKS_TOKEN")) == 0
    assert json.loads(capsys.readouterr().out)["user_id"] == "u9"


def test_session_without_secret_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIKKU_SECRET", raising=False)
    bare = Pikku(name="bare")

    @pikku_sessionless_func
    async def hello(services: Any, data: None, wire: Any) -> str:
        return "hi"

    bare.wire_cli("hello", hello)
    monkeypatch.setenv("PIKKU_SESSION", "some-token")
    assert run(bare, ["hello"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: cannot load the session: session tokens need a secret")
    assert "PIKKU_SECRET" in err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "--help")
    assert code == 0
    assert out == (SNAPSHOTS / "root_help.txt").read_text()


def test_help_snapshot_of_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "books", "get", "--help")
    assert code == 0
    assert out == (SNAPSHOTS / "books_get_help.txt").read_text()


def test_group_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "books", "--help")
    assert code == 0
    assert "get" in out and "create" in out
    assert "Get a book" in out


def test_colours_follow_force_color_and_no_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, _, err = call(capsys, "books", "get", "missing")
    assert err == "\x1b[31;1mError\x1b[0m (NotFoundError): book missing not found\n"
    monkeypatch.setenv("NO_COLOR", "1")
    _, _, err = call(capsys, "books", "get", "missing")
    assert err == "Error (NotFoundError): book missing not found\n"


class Pair(msgspec.Struct):
    left: int
    right: int


def test_wiring_mistakes_are_reported() -> None:
    @pikku_sessionless_func
    async def add(services: Any, data: Pair, wire: Any) -> int:
        return data.left + data.right

    bad = Pikku(name="bad")
    bad.wire_cli("sum", add, positionals=["middle"])
    with pytest.raises(ValueError, match=r"positionals \['middle'\] are not fields"):
        run(bad, ["sum"])

    clash = Pikku(name="clash")
    clash.wire_cli("math", add)
    clash.wire_cli("math add", add)
    with pytest.raises(ValueError, match="'math' is also a command group"):
        run(clash, ["math"])


class Camel(msgspec.Struct, rename="camel"):
    book_id: str
    page_count: int | None = None
    size: int | str = 1


def test_flags_use_python_names_and_camel_keys(capsys: pytest.CaptureFixture[str]) -> None:
    @pikku_sessionless_func
    async def camel(services: Any, data: Camel, wire: Any) -> Camel:
        return data

    camel_app = Pikku(name="camel")
    camel_app.wire_cli("camel", camel)
    assert run(camel_app, ["camel", "--book-id", "b", "--page-count", "7", "--size", "xl"]) == 0
    assert json.loads(capsys.readouterr().out) == {"bookId": "b", "pageCount": 7, "size": "xl"}
    assert run(camel_app, ["camel", "--book-id", "b", "--page-count", "many"]) == 2
    assert "invalid value for --page-count: Expected `int | null`" in capsys.readouterr().err
    assert run(camel_app, ["camel", "--help"]) == 0
    assert "--size INT|TEXT" in capsys.readouterr().out


def test_token_file_keeps_the_session_between_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tokens = TokenFile(tmp_path / "token")

    def cli(*argv: str) -> int:
        return run(app, list(argv), session_loader=tokens.load, session_saver=tokens.save)

    assert cli("whoami") == 1
    assert cli("login", "ada", "--role", "admin") == 0
    assert (tmp_path / "token").stat().st_mode & 0o777 == 0o600
    token = (tmp_path / "token").read_text().strip()
    assert app.session_codec().decode(token) == Session(user_id="ada", role="admin")
    capsys.readouterr()
    assert cli("whoami") == 0
    assert json.loads(capsys.readouterr().out) == {"user_id": "ada", "role": "admin"}
    assert cli("logout") == 0
    assert not (tmp_path / "token").exists()
    assert cli("whoami") == 1
    (tmp_path / "token").write_text("forged\n")
    capsys.readouterr()
    assert cli("whoami") == 1
    assert capsys.readouterr().err == (
        f"Error (UnauthorizedError): {tmp_path / 'token'} holds an invalid or expired session token\n"
    )


def test_failed_command_does_not_save_the_session(tmp_path: Path) -> None:
    saved: list[Any] = []
    assert (
        run(
            app,
            ["login", "x", "--role", "7", "--bogus"],
            session_saver=lambda a, s: saved.append(s),
        )
        == 2
    )
    assert saved == []
    assert run(app, ["login", "x"], session_saver=lambda a, s: saved.append(s)) == 0
    assert saved == [Session(user_id="x")]


def test_unprintable_output_and_failing_render_are_masked_500s(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @pikku_sessionless_func
    async def opaque(services: Any, data: None, wire: Any) -> Any:
        return object()

    @pikku_sessionless_func
    async def fine(services: Any, data: None, wire: Any) -> int:
        return 1

    def bad_render(value: Any) -> str:
        raise KeyError("render bug")

    out_app = Pikku(name="out")
    out_app.wire_cli("opaque", opaque)
    out_app.wire_cli("fine", fine, render=bad_render)
    for command in ("opaque", "fine"):
        assert run(out_app, [command]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("Error (InternalServerError): Internal server error (error id ")


def test_raw_response_bytes_are_written_as_they_are(capsys: pytest.CaptureFixture[str]) -> None:
    @pikku_sessionless_func
    async def csv(services: Any, data: None, wire: Any) -> Response:
        return Response(b"a,b\n1,2\n", content_type="text/csv")

    raw_app = Pikku(name="raw")
    raw_app.wire_cli("csv", csv)
    assert run(raw_app, ["csv"]) == 0
    assert capsys.readouterr().out == "a,b\n1,2\n"


def test_scalar_input_option_is_required_by_core(capsys: pytest.CaptureFixture[str]) -> None:
    @pikku_sessionless_func
    async def double(services: Any, data: int, wire: Any) -> int:
        return data * 2

    scalar_app = Pikku(name="scalar")
    scalar_app.wire_cli("double", double)
    assert run(scalar_app, ["double", "--value", "21"]) == 0
    assert capsys.readouterr().out == "42\n"
    assert run(scalar_app, ["double"]) == 2
    assert capsys.readouterr().err == (
        "Error (UnprocessableContentError): missing required option --value\n"
    )
