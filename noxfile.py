"""Every check of the pikku-py workspace: `uv run nox` runs them all.

Packages are discovered from ``packages/*/pyproject.toml``:
- ``tests-<dir>``: the package's ``tests/`` in a venv holding only that package, its
  declared dependencies (workspace siblings installed from their folders) and its
  ``test`` dependency group. Core also runs on Python 3.12 and 3.13.
- ``conformance-<dir>``: the package's ``conformance/`` (the shared suite over that
  transport), in a venv holding only core, pikku-conformance and that package.
- ``build``: each package built alone with ``--no-sources``; its wheel installed into a
  clean venv (with only the sibling wheels it declares) and imported.

Apps (``apps/*/pyproject.toml``, not published) get a ``tests-<dir>`` session too.
``quickstart`` clones the repository and runs the README's demo command (tests/quickstart.py).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "typecheck", "tests", "conformance", "build", "quickstart"]

# pyenv's shims hide the non-default interpreters; put every installed version on PATH so
# nox (and uv) find python3.12 / python3.13.
_pyenv_bins = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin")))
if _pyenv_bins:
    os.environ["PATH"] = os.pathsep.join([*_pyenv_bins, os.environ.get("PATH", "")])

_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9_.\-]+)")
_EXTRAS = re.compile(r"\[[^\]]*\]")


def _load(path: Path) -> dict[str, object]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


PACKAGES: dict[str, Path] = {}
for _pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
    _name = _load(_pyproject)["project"]["name"]  # type: ignore[index]
    PACKAGES[str(_name)] = _pyproject.parent

# Apps are tested like packages but are not type-checked, built or published.
APPS: dict[str, Path] = {}
for _pyproject in sorted(ROOT.glob("apps/*/pyproject.toml")):
    _name = _load(_pyproject)["project"]["name"]  # type: ignore[index]
    APPS[str(_name)] = _pyproject.parent

_PROJECTS = {**PACKAGES, **APPS}
_DIRS = {path.name: name for name, path in _PROJECTS.items()}


def _dep_name(spec: str) -> str:
    match = _DEP_NAME.match(spec)
    return match.group(1).lower().replace("_", "-") if match else spec


def _requirements(
    dist: str, *, groups: tuple[str, ...] = ("test",), seen: set[str] | None = None
) -> list[str]:
    """Install arguments for ``dist``: itself (editable), its sibling deps, its groups."""
    seen = set() if seen is None else seen
    if dist in seen:
        return []
    seen.add(dist)
    path = _PROJECTS[dist]
    data = _load(path / "pyproject.toml")
    project: dict[str, object] = data["project"]  # type: ignore[assignment]
    args: list[str] = ["-e", str(path)]
    specs: list[str] = list(project.get("dependencies", []))  # type: ignore[arg-type]
    group_table: dict[str, list[str]] = data.get("dependency-groups", {})  # type: ignore[assignment]
    for group in groups:
        specs.extend(s for s in group_table.get(group, []) if isinstance(s, str))
    for spec in specs:
        name = _dep_name(spec)
        if name in PACKAGES:
            args.extend(_requirements(name, groups=(), seen=seen))
            extras = _EXTRAS.search(spec)
            if extras:  # keep the extras a sibling is required with (uv merges repeats)
                args.extend(["-e", f"{PACKAGES[name]}{extras.group(0)}"])
        elif name != dist:
            args.append(spec)
    return args


def _install(session: nox.Session, dist: str, *extra: str) -> None:
    session.install(*_requirements(dist), "pytest>=8.3", "anyio>=4.4", *extra)


def _test_sessions() -> list[object]:
    params: list[object] = []
    for dist, path in _PROJECTS.items():
        if not (path / "tests").is_dir():
            continue
        pythons = ["3.11", "3.12", "3.13"] if dist == "pikku-core" else ["3.11"]
        for py in pythons:
            params.append(nox.param(path.name, py, id=f"{path.name}-{py}"))
    return params


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole workspace."""
    session.run("ruff", "check", ".", external=True)
    session.run("ruff", "format", "--check", ".", external=True)


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """pyright strict over every package's src/ (all packages installed together)."""
    args: list[str] = []
    seen: set[str] = set()
    for dist in PACKAGES:
        args.extend(_requirements(dist, seen=seen))
    session.install(*args, "pyright>=1.1.390", "pytest>=8.3")
    session.run("pyright", *[str(p / "src") for p in PACKAGES.values()])


@nox.session
@nox.parametrize(("package", "python"), _test_sessions())
def tests(session: nox.Session, package: str) -> None:
    """A package's own tests, in a venv with only what it declares."""
    dist = _DIRS[package]
    _install(session, dist)
    session.chdir(_PROJECTS[dist])
    session.run("pytest", "tests", *session.posargs)


def _conformance_params() -> list[object]:
    return [
        nox.param(path.name, id=path.name)
        for path in PACKAGES.values()
        if (path / "conformance").is_dir()
    ]


@nox.session(python="3.11")
@nox.parametrize("package", _conformance_params())
def conformance(session: nox.Session, package: str) -> None:
    """The conformance suite over one transport (core: in-process)."""
    dist = _DIRS[package]
    _install(session, dist, *_requirements("pikku-conformance", groups=()))
    session.chdir(PACKAGES[dist])
    session.run("pytest", "conformance", "-rs", *session.posargs)


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """Build every package alone (--no-sources); install each wheel in a clean venv."""
    out = Path(tempfile.mkdtemp(prefix="pikku-dist-"))
    try:
        for dist in PACKAGES:
            session.run(
                "uv",
                "build",
                "--package",
                dist,
                "--no-sources",
                "--out-dir",
                str(out),
                "--quiet",
                external=True,
            )
        for dist in PACKAGES:
            module = dist.replace("-", "_")
            venv = out / f"venv-{dist}"
            session.run("uv", "venv", "--quiet", "-p", "3.11", str(venv), external=True)
            python = str(venv / "bin" / "python")
            wheel = next(out.glob(f"{module}-*.whl"))
            session.run(
                "uv",
                "pip",
                "install",
                "--quiet",
                "-p",
                python,
                "--find-links",
                str(out),
                str(wheel),
                external=True,
            )
            session.run(
                python,
                "-c",
                f"import {module}, pathlib; "
                f"assert (pathlib.Path({module}.__file__).parent / 'py.typed').exists(); "
                f"assert {module}.__all__; print('{dist}: import ok')",
                external=True,
            )
    finally:
        shutil.rmtree(out, ignore_errors=True)


@nox.session(python=False)
def quickstart(session: nox.Session) -> None:
    """A fresh clone runs the README's demo command: HTTP, channel and /mcp answer; Ctrl-C."""
    session.run(sys.executable, str(ROOT / "tests" / "quickstart.py"), external=True)
