"""`pikku versions init|check|update` in a real subprocess, over edited app modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import pikku

HINT = (
    "hint: a published contract is frozen; give the changed function a new `version=`"
    " (keep the old version wired) and run `pikku versions update`\n"
)

HEADER = """\
import msgspec
from pikku_core import Pikku, pikku_sessionless_func

"""

BOOK_INPUT = """\
class BookInput(msgspec.Struct):
    book_id: str

"""

BOOK = """\
class Book(msgspec.Struct):
    id: str
    title: str

"""

GET_BOOK = """\
@pikku_sessionless_func{decorator}
async def {py_name}(services, data: {input_type}, wire) -> {output_type}:
    raise NotImplementedError

"""

PING = """\
@pikku_sessionless_func
async def ping(services, data: None, wire) -> None:
    return None

"""


def get_book(
    version: int | None = None,
    input_type: str = "BookInput",
    output_type: str = "Book",
) -> str:
    decorator = "" if version is None else f'(name="get_book", version={version})'
    py_name = "get_book" if version is None else f"get_book_v{version}"
    return GET_BOOK.format(
        decorator=decorator, py_name=py_name, input_type=input_type, output_type=output_type
    )


def write_app(where: Path, *parts: str, funcs: str = "get_book, ping") -> None:
    footer = f'app = Pikku(name="books")\napp.add_functions({funcs})\n'
    (where / "books_app.py").write_text(HEADER + "".join(parts) + footer)


BASE = (BOOK_INPUT, BOOK, get_book(), PING)


def hashes_out(text: str) -> str:
    return re.sub(r"\(hash [0-9a-f]{12} -> [0-9a-f]{12}\)", "(hash H -> H)", text)


def versions(where: Path, action: str, *extra: str) -> tuple[int, str, str]:
    proc = pikku("versions", action, "books_app:app", *extra, cwd=where)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """An app whose contracts are recorded in ./pikku.versions.json."""
    write_app(tmp_path, *BASE)
    code, out, err = versions(tmp_path, "init")
    assert (code, out, err) == (0, "wrote pikku.versions.json: 2 functions, 2 versions\n", "")
    return tmp_path


def test_unchanged_passes(recorded: Path) -> None:
    assert versions(recorded, "check") == (0, "versions check passed: 2 unchanged\n", "")
    assert versions(recorded, "check", "--verbose")[1] == (
        "ok      get_book@1  unchanged\n"
        "ok      ping@1  unchanged\n"
        "versions check passed: 2 unchanged\n"
    )


def test_renamed_struct_and_new_docstring_are_not_a_change(recorded: Path) -> None:
    renamed = '''\
class GetBookRequest(msgspec.Struct):
    """Which book to get (a docstring is not part of the contract)."""

    book_id: str

'''
    write_app(recorded, renamed, BOOK, get_book(input_type="GetBookRequest"), PING)
    assert versions(recorded, "check") == (0, "versions check passed: 2 unchanged\n", "")


def test_field_added_optional_fails_without_bump_but_is_compatible(recorded: Path) -> None:
    with_note = "class BookInput(msgspec.Struct):\n    book_id: str\n    note: str = ''\n\n"
    write_app(recorded, with_note, BOOK, get_book(), PING)
    code, out, _ = versions(recorded, "check")
    assert code == 1
    assert hashes_out(out) == (
        "CHANGED get_book@1  changed without a version bump (hash H -> H)\n"
        "    input  + $.note: optional string  [compatible: new optional field]\n"
        "    verdict: old clients keep working\n"
        "versions check FAILED: 1 unchanged, 1 changed\n" + HINT
    )


def test_field_removed_breaks(recorded: Path) -> None:
    write_app(
        recorded, BOOK_INPUT, "class Book(msgspec.Struct):\n    id: str\n\n", get_book(), PING
    )
    code, out, _ = versions(recorded, "check")
    assert code == 1
    assert hashes_out(out) == (
        "CHANGED get_book@1  changed without a version bump (hash H -> H)\n"
        "    output - $.title: string  [breaks: removed field]\n"
        "    verdict: old clients break\n"
        "versions check FAILED: 1 unchanged, 1 changed\n" + HINT
    )


def test_type_changed_breaks(recorded: Path) -> None:
    write_app(
        recorded, "class BookInput(msgspec.Struct):\n    book_id: int\n\n", BOOK, get_book(), PING
    )
    code, out, _ = versions(recorded, "check")
    assert code == 1
    assert hashes_out(out) == (
        "CHANGED get_book@1  changed without a version bump (hash H -> H)\n"
        "    input  ~ $.book_id: string -> integer  [breaks: narrowed type]\n"
        "    verdict: old clients break\n"
        "versions check FAILED: 1 unchanged, 1 changed\n" + HINT
    )


BUMPED = (
    BOOK_INPUT,
    "class BookInputV2(msgspec.Struct):\n    book_id: str\n    shelf: int\n\n",
    BOOK,
    get_book(version=1),
    get_book(version=2, input_type="BookInputV2"),
    PING,
)


def test_changed_contract_fails_then_passes_after_bump_and_update(recorded: Path) -> None:
    # Changed in place: refused.
    write_app(
        recorded,
        "class BookInput(msgspec.Struct):\n    book_id: str\n    shelf: int\n\n",
        BOOK,
        get_book(),
        PING,
    )
    assert versions(recorded, "check")[0] == 1
    # Bumped correctly: version 1 kept as it was, version 2 carries the change.
    write_app(recorded, *BUMPED, funcs="get_book_v1, get_book_v2, ping")
    code, out, _ = versions(recorded, "check")
    assert code == 0
    assert out == (
        "NEW     get_book@2  new version (changes since @1)\n"
        "    input  + $.shelf: required integer  [breaks: new required field]\n"
        "    verdict: old clients break\n"
        "versions check passed: 2 unchanged, 1 new version\n"
    )
    code, out, _ = versions(recorded, "update")
    assert code == 0
    assert out.endswith("recorded get_book@2 in pikku.versions.json\n")
    assert versions(recorded, "check") == (0, "versions check passed: 3 unchanged\n", "")
    before = (recorded / "pikku.versions.json").read_bytes()
    assert versions(recorded, "update")[1].endswith("pikku.versions.json is up to date\n")
    assert (recorded / "pikku.versions.json").read_bytes() == before


def test_old_version_edited_is_refused(recorded: Path) -> None:
    write_app(recorded, *BUMPED, funcs="get_book_v1, get_book_v2, ping")
    assert versions(recorded, "update")[0] == 0
    manifest = (recorded / "pikku.versions.json").read_bytes()
    edited_v1 = get_book(version=1, output_type="BookInputV2")
    write_app(
        recorded,
        *BUMPED[:3],
        edited_v1,
        get_book(version=2, input_type="BookInputV2"),
        PING,
        funcs="get_book_v1, get_book_v2, ping",
    )
    code, out, _ = versions(recorded, "check")
    assert code == 1
    assert hashes_out(out) == (
        "CHANGED get_book@1  an old published version changed (hash H -> H)\n"
        "    output + $.book_id: required string  [compatible: new field]\n"
        "    output - $.id: string  [breaks: removed field]\n"
        "    output + $.shelf: required integer  [compatible: new field]\n"
        "    output - $.title: string  [breaks: removed field]\n"
        "    verdict: old clients break\n"
        "versions check FAILED: 2 unchanged, 1 changed\n" + HINT
    )
    code, out, _ = versions(recorded, "update")
    assert code == 1
    assert out.endswith("refused: pikku.versions.json was not changed\n")
    assert (recorded / "pikku.versions.json").read_bytes() == manifest


def test_removed_version_and_gap_fail(recorded: Path) -> None:
    write_app(
        recorded,
        BOOK_INPUT,
        BOOK,
        get_book(version=1),
        get_book(version=3),
        funcs="get_book_v1, get_book_v3",
    )
    code, out, _ = versions(recorded, "check")
    assert code == 1
    assert out == (
        "GAP     get_book@3  version gap: @2 was never recorded; add versions in order\n"
        "REMOVED ping@1  published version is no longer in the app\n"
        "versions check FAILED: 1 unchanged, 1 removed, 1 gap\n"
        "hint: clients may still call a published version (`name@N`); keep it wired\n"
        "hint: versions are recorded in order; add the missing version first\n"
    )
    assert versions(recorded, "update")[0] == 1


def test_manifest_option_and_missing_manifest(tmp_path: Path) -> None:
    write_app(tmp_path, *BASE)
    code, _, err = versions(tmp_path, "check")
    assert code == 1
    assert err == (
        "error: pikku.versions.json: no such file (create it with `pikku versions init`)\n"
    )
    custom = tmp_path / "contracts" / "v.json"
    custom.parent.mkdir()
    assert versions(tmp_path, "init", "--manifest", str(custom))[0] == 0
    assert versions(tmp_path, "check", "--manifest", str(custom))[0] == 0
    assert not (tmp_path / "pikku.versions.json").exists()


def test_init_refuses_to_overwrite_and_is_deterministic(recorded: Path) -> None:
    first = (recorded / "pikku.versions.json").read_bytes()
    code, out, err = versions(recorded, "init")
    assert (code, out) == (1, "")
    assert "already exists" in err
    assert versions(recorded, "init", "--force")[0] == 0
    assert (recorded / "pikku.versions.json").read_bytes() == first
    assert not (recorded / "__pycache__").exists(), "pikku must not write bytecode"


def test_versions_help(tmp_path: Path) -> None:
    proc = pikku("versions", "check", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "--manifest MANIFEST" in proc.stdout
    assert "default: ./pikku.versions.json" in proc.stdout
