"""The versions manifest: contracts_of, check_versions, update_manifest, the file format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pikku_core import Pikku, pikku_sessionless_func
from pikku_core.versions import (
    MANIFEST_FILENAME,
    ManifestError,
    VersionConflictError,
    VersionManifest,
    check_versions,
    contracts_of,
    update_manifest,
)


class BookInput(msgspec.Struct):
    book_id: str


class BookInputNote(msgspec.Struct):
    book_id: str
    note: str = ""


class Book(msgspec.Struct):
    id: str
    title: str


@pikku_sessionless_func(name="get_book")
async def get_book_v1(services: Any, data: BookInput, wire: Any) -> Book:
    raise NotImplementedError


@pikku_sessionless_func(name="get_book", version=1)
async def get_book_v1_explicit(services: Any, data: BookInput, wire: Any) -> Book:
    raise NotImplementedError


@pikku_sessionless_func(name="get_book", version=1)
async def get_book_v1_edited(services: Any, data: BookInputNote, wire: Any) -> Book:
    raise NotImplementedError


@pikku_sessionless_func(name="get_book", version=2)
async def get_book_v2(services: Any, data: BookInputNote, wire: Any) -> Book:
    raise NotImplementedError


@pikku_sessionless_func(name="get_book", version=3)
async def get_book_v3(services: Any, data: BookInputNote, wire: Any) -> Book:
    raise NotImplementedError


@pikku_sessionless_func
async def ping(services: Any, data: None, wire: Any) -> None:
    return None


def app_with(*funcs: Any) -> Pikku:
    app = Pikku(name="books")
    app.add_functions(*funcs)
    return app


def contracts(*funcs: Any) -> Any:
    return contracts_of(app_with(*funcs).functions)


def recorded(*funcs: Any) -> VersionManifest:
    return update_manifest(VersionManifest(), contracts(*funcs))


def kinds(manifest: VersionManifest, *funcs: Any) -> list[tuple[str, str]]:
    return [(f.key, f.kind) for f in check_versions(manifest, contracts(*funcs)).findings]


def test_unversioned_functions_are_version_1() -> None:
    found = contracts(get_book_v1, ping)
    assert sorted(found) == ["get_book", "ping"]
    assert list(found["get_book"]) == [1]
    assert found["get_book"][1].hash == get_book_v1.meta.contract_hash
    # Declaring version=1 explicitly is the same contract.
    assert contracts(get_book_v1_explicit)["get_book"][1].hash == found["get_book"][1].hash


def test_manifest_file_format_is_deterministic(tmp_path: Path) -> None:
    manifest = recorded(ping, get_book_v1)
    path = tmp_path / MANIFEST_FILENAME
    manifest.write(path)
    text = path.read_text()
    assert text.endswith("}\n")
    doc = json.loads(text)
    assert doc["format"] == 1
    assert list(doc["functions"]) == ["get_book", "ping"]
    entry = doc["functions"]["get_book"]
    assert entry["latest"] == 1
    assert entry["versions"]["1"]["hash"] == get_book_v1.meta.contract_hash
    assert entry["versions"]["1"]["input"] == {
        "type": "object",
        "properties": {"book_id": {"type": "string"}},
        "required": ["book_id"],
    }
    assert doc["functions"]["ping"]["versions"]["1"]["input"] is None
    again = VersionManifest.read(path)
    assert again == manifest
    assert again.to_json() == text
    assert recorded(get_book_v1, ping).to_json() == text


def test_versions_are_written_in_numeric_order() -> None:
    manifest = VersionManifest()
    funcs: list[Any] = []
    for v in range(1, 12):
        funcs.append(pikku_sessionless_func(name="f", version=v)(ping.meta.fn))
        manifest = update_manifest(manifest, contracts(*funcs))
    doc = json.loads(manifest.to_json())
    assert list(doc["functions"]["f"]["versions"]) == [str(v) for v in range(1, 12)]
    assert doc["functions"]["f"]["latest"] == 11


def test_check_unchanged_passes() -> None:
    manifest = recorded(get_book_v1, ping)
    report = check_versions(manifest, contracts(get_book_v1, ping))
    assert report.ok
    assert report.format() == "versions check passed: 2 unchanged\n"
    assert report.format(verbose=True) == (
        "ok      get_book@1  unchanged\n"
        "ok      ping@1  unchanged\n"
        "versions check passed: 2 unchanged\n"
    )


def test_check_changed_without_bump_fails_with_diff() -> None:
    manifest = recorded(get_book_v1)
    report = check_versions(manifest, contracts(get_book_v1_edited))
    assert not report.ok
    old = get_book_v1.meta.contract_hash[:12]
    new = get_book_v1_edited.meta.contract_hash[:12]
    assert report.format().splitlines()[:4] == [
        f"CHANGED get_book@1  changed without a version bump (hash {old} -> {new})",
        "    input  + $.note: optional string  [compatible: new optional field]",
        "    verdict: old clients keep working",
        "versions check FAILED: 0 unchanged, 1 changed",
    ]


def test_new_function_and_new_version_pass_and_are_reported() -> None:
    manifest = recorded(get_book_v1)
    report = check_versions(manifest, contracts(get_book_v1, get_book_v2, ping))
    assert report.ok
    assert [(f.key, f.kind) for f in report.findings] == [
        ("get_book@1", "unchanged"),
        ("get_book@2", "new_version"),
        ("ping@1", "new_function"),
    ]
    text = report.format()
    assert "NEW     get_book@2  new version (changes since @1)\n" in text
    assert "NEW     ping@1  new function\n" in text
    assert text.endswith("versions check passed: 1 unchanged, 1 new function, 1 new version\n")


def test_update_records_new_versions_and_then_check_passes() -> None:
    manifest = recorded(get_book_v1)
    updated = update_manifest(manifest, contracts(get_book_v1, get_book_v2))
    assert sorted(updated.functions["get_book"]) == [1, 2]
    assert updated.latest("get_book") == 2
    assert sorted(manifest.functions["get_book"]) == [1], "the input manifest is not modified"
    assert kinds(updated, get_book_v1, get_book_v2) == [
        ("get_book@1", "unchanged"),
        ("get_book@2", "unchanged"),
    ]


def test_old_version_edited_is_refused() -> None:
    manifest = recorded(get_book_v1, get_book_v2)
    report = check_versions(manifest, contracts(get_book_v1_edited, get_book_v2))
    assert [(f.key, f.kind, f.latest) for f in report.findings if f.failing] == [
        ("get_book@1", "changed", False)
    ]
    assert "an old published version changed" in report.format()
    with pytest.raises(VersionConflictError, match=r"get_book@1 \(changed\)") as info:
        update_manifest(manifest, contracts(get_book_v1_edited, get_book_v2))
    assert info.value.report == report


def test_removed_version_fails() -> None:
    manifest = recorded(get_book_v1, ping)
    assert kinds(manifest, get_book_v1) == [("get_book@1", "unchanged"), ("ping@1", "removed")]
    assert (
        "REMOVED ping@1  published version is no longer in the app"
        in check_versions(manifest, contracts(get_book_v1)).format()
    )
    with pytest.raises(VersionConflictError):
        update_manifest(manifest, contracts(get_book_v1))


def test_version_gap_is_refused() -> None:
    manifest = recorded(get_book_v1)
    assert kinds(manifest, get_book_v1, get_book_v3) == [
        ("get_book@1", "unchanged"),
        ("get_book@3", "gap"),
    ]
    with pytest.raises(VersionConflictError, match="gap"):
        update_manifest(manifest, contracts(get_book_v1, get_book_v3))
    # Adding the missing version in the same update closes the gap.
    assert check_versions(manifest, contracts(get_book_v1, get_book_v2, get_book_v3)).ok


def test_colour_only_when_asked() -> None:
    manifest = recorded(get_book_v1)
    report = check_versions(manifest, contracts(get_book_v1_edited))
    assert "\x1b[" not in report.format()
    assert "\x1b[31mCHANGED" in report.format(color=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", 'expected an object with a "functions" object'),
        ('{"functions": []}', 'expected an object with a "functions" object'),
        ('{"format": 9, "functions": {}}', "unsupported format 9"),
        ('{"functions": {"f": {}}}', 'functions.f: expected a non-empty "versions" object'),
        ('{"functions": {"f": {"versions": {"x": {}}}}}', "versions.x: expected a numbered"),
        ('{"functions": {"f": {"versions": {"1": {}}}}}', 'versions.1: missing "hash"'),
    ],
)
def test_bad_manifest_is_named(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match="m.json: .*" + message.replace("(", r"\(")):
        VersionManifest.from_json(text, "m.json")


def test_missing_manifest_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="pikku versions init"):
        VersionManifest.read(tmp_path / "nope.json")


def test_function_without_json_schema_is_named() -> None:
    @pikku_sessionless_func
    async def odd(services: Any, data: complex, wire: Any) -> None:
        return None

    with pytest.raises(ValueError, match="function 'odd': cannot build its JSON schema"):
        contracts(odd)
