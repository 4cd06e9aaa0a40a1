"""Structural schemas, contract hashes and field-level diffs (pikku_core._versions)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec
import pytest
from pikku_core import pikku_sessionless_func
from pikku_core._versions import (
    FieldChange,
    canonical_json,
    contract_hash,
    diff_contracts,
    structural_schema,
)


def schema(tp: Any) -> dict[str, Any]:
    return msgspec.json.schema(tp)


def structural(tp: Any) -> dict[str, Any]:
    out = structural_schema(schema(tp))
    assert out is not None
    return out


# ---------------------------------------------------------------- structural schemas


class Book(msgspec.Struct):
    """A book."""

    id: str
    title: Annotated[str, msgspec.Meta(title="Title", description="The title", examples=["x"])]
    tags: list[str] = []


class Volume(msgspec.Struct):
    """Renamed, with other docs: the same contract as Book."""

    id: str
    title: str
    tags: list[str] = []


class Tree(msgspec.Struct):
    value: int
    children: list[Tree] = []


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


def test_annotations_and_names_are_stripped() -> None:
    out = structural(Book)
    assert out == {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}, "default": []},
            "title": {"type": "string"},
        },
        "required": ["id", "title"],
    }
    assert "$defs" not in canonical_json(out)
    assert "Book" not in canonical_json(out)


def test_renaming_a_struct_or_editing_docs_keeps_the_hash() -> None:
    assert contract_hash("f", schema(Book), None) == contract_hash("f", schema(Volume), None)


def test_a_field_named_title_is_kept() -> None:
    class Doc(msgspec.Struct):
        title: str
        description: str
        examples: list[int]

    props = structural(Doc)["properties"]
    assert set(props) == {"title", "description", "examples"}


def test_recursive_types_get_positional_names() -> None:
    out = structural(Tree)
    assert out["$ref"] == "#/$defs/T0"
    assert out["$defs"]["T0"]["properties"]["children"]["items"] == {"$ref": "#/$defs/T0"}
    assert structural(Tree) == structural(Node)


def test_required_and_enum_are_sorted() -> None:
    a = {"type": "object", "properties": {}, "required": ["b", "a"], "enum": [3, 1]}
    b = {"type": "object", "properties": {}, "required": ["a", "b"], "enum": [1, 3]}
    assert structural_schema(a) == structural_schema(b)


def test_shared_definitions_are_inlined_where_used() -> None:
    class Pair(msgspec.Struct):
        left: Book
        right: Book | None = None

    out = structural(Pair)
    assert out["properties"]["left"] == structural(Book)
    assert out["properties"]["right"] == {
        "anyOf": [structural(Book), {"type": "null"}],
        "default": None,
    }


def test_none_stays_none_and_bad_refs_are_named() -> None:
    assert structural_schema(None) is None
    with pytest.raises(ValueError, match="unresolvable schema reference '#/\\$defs/Missing'"):
        structural_schema({"$ref": "#/$defs/Missing"})
    with pytest.raises(ValueError, match="external"):
        structural_schema({"$ref": "other.json#/x"})


def test_contract_hash_is_sha256_of_canonical_json() -> None:
    expected = hashlib.sha256(b'{"input":{"type":"string"},"name":"f","output":null}').hexdigest()
    assert contract_hash("f", {"type": "string", "title": "T"}, None) == expected


def test_contract_hash_covers_name_input_and_output() -> None:
    base = contract_hash("f", schema(Book), schema(int))
    assert contract_hash("g", schema(Book), schema(int)) != base
    assert contract_hash("f", schema(Tree), schema(int)) != base
    assert contract_hash("f", schema(Book), schema(str)) != base


def test_function_meta_uses_contract_hash() -> None:
    @pikku_sessionless_func
    async def get_book(services: Any, data: Book, wire: Any) -> Volume:
        raise NotImplementedError

    meta = get_book.meta
    assert meta.contract_hash == contract_hash("get_book", meta.input_schema, meta.output_schema)


# ---------------------------------------------------------------- diffs


class In1(msgspec.Struct):
    book_id: str
    limit: int = 10
    kind: Literal["a", "b"] = "a"


class Out1(msgspec.Struct):
    id: str
    title: str
    subtitle: str | None = None


def changes(old_in: Any, old_out: Any, new_in: Any, new_out: Any) -> list[tuple[Any, ...]]:
    diff = diff_contracts(
        structural_schema(schema(old_in)) if old_in else None,
        structural_schema(schema(old_out)) if old_out else None,
        structural_schema(schema(new_in)) if new_in else None,
        structural_schema(schema(new_out)) if new_out else None,
    )
    return [(c.side, c.kind, c.path, c.detail, c.breaking, c.reason) for c in diff.changes]


def test_identical_contracts_have_no_changes() -> None:
    diff = diff_contracts(structural(In1), structural(Out1), structural(In1), structural(Out1))
    assert diff.changes == ()
    assert diff.compatible


def test_input_new_optional_field_is_compatible() -> None:
    class In2(msgspec.Struct):
        book_id: str
        limit: int = 10
        kind: Literal["a", "b"] = "a"
        note: str = ""

    assert changes(In1, Out1, In2, Out1) == [
        ("input", "added", "$.note", "optional string", False, "new optional field")
    ]


def test_input_new_required_field_breaks() -> None:
    class In2(msgspec.Struct):
        book_id: str
        shelf: int
        limit: int = 10
        kind: Literal["a", "b"] = "a"

    assert changes(In1, Out1, In2, Out1) == [
        ("input", "added", "$.shelf", "required integer", True, "new required field")
    ]


def test_input_narrowed_type_breaks_and_widened_type_passes() -> None:
    class Narrow(msgspec.Struct):
        book_id: str
        limit: int = 10
        kind: Literal["a"] = "a"

    class Wide(msgspec.Struct):
        book_id: str | None
        limit: float = 10
        kind: Literal["a", "b", "c"] = "a"

    assert changes(In1, Out1, Narrow, Out1) == [
        ("input", "changed", "$.kind", 'one of "a", "b" -> one of "a"', True, "narrowed type")
    ]
    wide = changes(In1, Out1, Wide, Out1)
    assert [(c[2], c[4], c[5]) for c in wide] == [
        ("$.book_id", False, "widened type"),
        ("$.kind", False, "widened type"),
        ("$.limit", False, "widened type"),
    ]


def test_input_field_becoming_required_breaks() -> None:
    class In2(msgspec.Struct):
        book_id: str
        limit: int
        kind: Literal["a", "b"] = "a"

    assert changes(In1, Out1, In2, Out1)[0] == (
        "input",
        "changed",
        "$.limit",
        "optional -> required",
        True,
        "now required",
    )


def test_input_removed_field_is_compatible() -> None:
    class In2(msgspec.Struct):
        book_id: str
        limit: int = 10

    assert changes(In1, Out1, In2, Out1) == [
        ("input", "removed", "$.kind", 'one of "a", "b"', False, "old clients' value is ignored")
    ]


def test_output_new_field_is_compatible() -> None:
    class Out2(msgspec.Struct):
        id: str
        title: str
        pages: int
        subtitle: str | None = None

    assert changes(In1, Out1, In1, Out2) == [
        ("output", "added", "$.pages", "required integer", False, "new field")
    ]


def test_output_removed_field_and_changed_type_break() -> None:
    class Out2(msgspec.Struct):
        id: int
        subtitle: str | None = None

    assert changes(In1, Out1, In1, Out2) == [
        ("output", "changed", "$.id", "string -> integer", True, "type changed"),
        ("output", "removed", "$.title", "string", True, "removed field"),
    ]


def test_output_required_becoming_optional_breaks() -> None:
    class Out2(msgspec.Struct):
        id: str
        title: str = ""
        subtitle: str | None = None

    assert changes(In1, Out1, In1, Out2) == [
        ("output", "changed", "$.title", "required -> optional", True, "may now be absent")
    ]


class Author(msgspec.Struct):
    name: str


class Author2(msgspec.Struct):
    name: str
    born: int | None = None


class WithAuthor(msgspec.Struct):
    authors: list[Author]
    main: Author | None = None


class WithAuthor2(msgspec.Struct):
    authors: list[Author2]
    main: Author2 | None = None


class T1(msgspec.Struct):
    value: int
    kids: list[T1] = []


class T2(msgspec.Struct):
    value: int
    kids: list[T2] = []
    label: str = ""


def test_nested_fields_have_dotted_paths() -> None:
    found = changes(WithAuthor, None, WithAuthor2, None)
    assert [(c[1], c[2], c[4]) for c in found] == [
        ("added", "$.authors[].born", False),
        ("added", "$.main.born", False),
    ]


def test_input_and_output_appearing_or_going() -> None:
    found = changes(None, None, In1, Out1)
    assert [(c[0], c[2], c[3], c[4]) for c in found] == [
        ("input", "$", "nothing -> object", True),
        ("output", "$", "nothing -> object", True),
    ]


def test_recursive_types_diff_without_looping() -> None:
    found = changes(None, T1, None, T2)
    assert ("output", "added", "$.label", "optional string", False, "new field") in found


def test_changed_default_is_reported_as_compatible() -> None:
    class In2(msgspec.Struct):
        book_id: str
        limit: int = 20
        kind: Literal["a", "b"] = "a"

    assert changes(In1, Out1, In2, Out1) == [
        ("input", "changed", "$.limit", "default 10 -> 20", False, "default changed")
    ]


def test_field_change_is_a_frozen_record() -> None:
    change = FieldChange("input", "$.a", "added", "optional string", False, "new optional field")
    with pytest.raises(AttributeError):
        change.path = "$.b"  # type: ignore[misc]


def test_openapi_component_refs_and_ref_siblings() -> None:
    doc = {
        "$ref": "#/components/schemas/Book",
        "components": {
            "schemas": {
                "Book": {
                    "title": "Book",
                    "type": "object",
                    "properties": {"id": {"$ref": "#/components/schemas/Id", "description": "x"}},
                    "required": ["id"],
                },
                "Id": {"type": "string", "examples": ["b1"]},
            }
        },
    }
    assert structural_schema(doc) == {
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    }

    with_sibling = {"$ref": "#/$defs/Id", "minLength": 2, "$defs": {"Id": {"type": "string"}}}
    assert structural_schema(with_sibling) == {"allOf": [{"type": "string"}, {"minLength": 2}]}
