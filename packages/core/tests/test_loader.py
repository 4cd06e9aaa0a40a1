"""`load_app`: the APP argument every command takes (module:attribute)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pikku_core import AppLoadError, Pikku, load_app

APP_MODULE = """
from pikku_core import Pikku

app = Pikku()
class Holder:
    inner = app
def factory():
    return Pikku(name="made")
not_app = 3
class NotAFactory:
    pass
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "loader_app_mod.py").write_text(APP_MODULE)
    (tmp_path / "broken_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    for name in ("loader_app_mod", "broken_mod"):
        sys.modules.pop(name, None)
    return tmp_path


def test_loads_attribute_dotted_attribute_and_factory(in_tmp: Path) -> None:
    app = load_app("loader_app_mod:app")
    assert isinstance(app, Pikku)
    assert load_app("loader_app_mod:Holder.inner") is app
    assert load_app("loader_app_mod:factory").name == "made"
    assert sys.dont_write_bytecode is True
    assert not (in_tmp / "__pycache__").exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("loader_app_mod", "APP must be 'module:attribute'"),
        (":app", "APP must be 'module:attribute'"),
        ("no_such_module_xyz:app", "cannot import module 'no_such_module_xyz'"),
        ("broken_mod:app", "importing 'broken_mod' failed"),
        ("loader_app_mod:missing", "has no attribute 'missing'"),
        ("loader_app_mod:not_app", "is a int, not a pikku_core.Pikku app"),
        ("loader_app_mod:NotAFactory", "not a pikku_core.Pikku app"),
    ],
)
def test_bad_specs_name_the_problem(in_tmp: Path, spec: str, message: str) -> None:
    with pytest.raises(AppLoadError) as info:
        load_app(spec)
    assert message in str(info.value)
