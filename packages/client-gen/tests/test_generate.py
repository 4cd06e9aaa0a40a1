from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cg_books_app import create_books_app
from pikku_client_gen import TARGETS, generate, mcp_manifest

TESTS = Path(__file__).parent

_GEN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from cg_books_app import create_books_app
from pikku_conformance.reference_app import create_reference_app
from pikku_client_gen import generate
generate(create_books_app(), "all", sys.argv[1] + "/books", command="pikku gen all books")
generate(create_reference_app(), "all", sys.argv[1] + "/ref", command="pikku gen all ref")
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_all_writes_every_target(tmp_path: Path) -> None:
    written = generate(create_books_app(), "all", tmp_path / "new" / "dir")
    names = {str(p.relative_to(tmp_path / "new" / "dir")) for p in written}
    assert {"openapi.json", "client.py", "channel_client.py", "client.ts", "mcp.json"} <= names
    assert "schemas/index.json" in names
    assert all(p.exists() for p in written)


@pytest.mark.parametrize("target", [t for t in TARGETS if t != "all"])
def test_every_file_starts_with_a_do_not_edit_notice_naming_the_command(
    tmp_path: Path, target: str
) -> None:
    command = f"pikku gen {target} cg_books_app:app --out gen"
    for path in generate(create_books_app(), target, tmp_path, command=command):
        text = path.read_text()
        first = text.splitlines()[0]
        if path.suffix == ".json":
            # JSON has no comments: the notice is the first member.
            assert first == "{"
            key, value = next(iter(json.loads(text).items()))
            assert key in ("x-generated", "$comment")
            assert "DO NOT EDIT" in value and f"`{command}`" in value
        else:
            assert first.startswith(("# DO NOT EDIT", "// DO NOT EDIT"))
            assert f"`{command}`" in first


def test_output_is_deterministic_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    script = _GEN_SCRIPT.format(tests=str(TESTS))
    trees = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, timeout=120)
        trees.append(_tree(out))
    assert trees[0] == trees[1]
    assert len(trees[0]) > 20
    # And in this process, twice.
    generate(create_books_app(), "all", tmp_path / "a", command="pikku gen all books")
    generate(create_books_app(), "all", tmp_path / "b", command="pikku gen all books")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b") == _tree(tmp_path / "1" / "books")


def test_unknown_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown target 'swift'.*openapi"):
        generate(create_books_app(), "swift", tmp_path)


def test_json_schemas_one_per_function_version_with_an_index(ref_out: Path) -> None:
    schemas = ref_out / "schemas"
    index = json.loads((schemas / "index.json").read_text())
    entries = {e["key"]: e for e in index["functions"]}
    assert entries["versioned@1"]["output"] == "versioned_v1.output.json"
    assert entries["versioned@2"]["output"] == "versioned_v2.output.json"
    assert entries["nothing"]["input"] is None and entries["nothing"]["output"] is None
    assert entries["count"]["stream"] is True
    echo_in = json.loads((schemas / "echo.input.json").read_text())
    jsonschema.Draft202012Validator.check_schema(echo_in)
    validator = jsonschema.Draft202012Validator(echo_in)
    assert validator.is_valid({"text": "hi", "count": 2})
    assert not validator.is_valid({"count": 2})
    fail_in = jsonschema.Draft202012Validator(json.loads((schemas / "fail.input.json").read_text()))
    assert fail_in.is_valid({"kind": "teapot"}) and not fail_in.is_valid({"kind": "kettle"})


def test_mcp_manifest_lists_tools_with_object_input_schemas() -> None:
    manifest = mcp_manifest(create_books_app())
    tools = {t["name"]: t for t in manifest["tools"]}
    assert set(tools) == {"get_book", "add"}
    assert tools["add"]["title"] == "Add numbers"
    assert tools["get_book"]["description"] == "One book by id."
    schema = tools["get_book"]["inputSchema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.Draft202012Validator(schema).is_valid({"book_id": 1})
    assert not jsonschema.Draft202012Validator(schema).is_valid({"book_id": "x"})
    assert tools["add"]["outputSchema"]["properties"]["result"] == {"type": "integer"}


def test_mcp_manifest_of_the_reference_app(ref_out: Path) -> None:
    manifest = json.loads((ref_out / "mcp.json").read_text())
    tools = {t["name"]: t for t in manifest["tools"]}
    assert "versioned_v1" in tools and "echo" in tools
    assert tools["nothing"]["inputSchema"] == {"type": "object", "properties": {}}
    for tool in tools.values():
        assert tool["inputSchema"]["type"] == "object"
