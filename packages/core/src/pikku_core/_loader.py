"""Import an app from a ``module:attribute`` path (the ``APP`` argument of every command)."""

from __future__ import annotations

import importlib
import os
import sys

from ._app import Pikku

__all__ = ["AppLoadError", "load_app"]


class AppLoadError(ValueError):
    """``APP`` could not be imported or is not a pikku app (the message says why)."""


def load_app(spec: str) -> Pikku:
    """Import the app named by ``spec``.

    The current directory is put first on ``sys.path`` and no bytecode is written (no
    ``__pycache__`` left in the user's tree). The attribute may be dotted
    (``pkg.main:container.app``) and may be a zero-argument factory returning the app.

    Args:
        spec: ``module:attribute``, e.g. ``myapp.main:app``.

    Returns:
        The app.

    Raises:
        AppLoadError: Bad syntax, import failure, missing attribute, or not a `Pikku`.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AppLoadError(f"APP must be 'module:attribute' (e.g. myapp.main:app), got {spec!r}")
    sys.dont_write_bytecode = True
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppLoadError(
                f"cannot import module {module_name!r} (looked in {cwd} and sys.path)"
            ) from None
        raise AppLoadError(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
            f" (run `python -c 'import {module_name}'` for the traceback)"
        ) from None
    obj: object = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(f"{module_name!r} has no attribute {attr!r}") from None
    if not isinstance(obj, Pikku) and callable(obj) and not isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise AppLoadError(f"calling {spec} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, Pikku):
        raise AppLoadError(f"{spec} is a {type(obj).__name__}, not a pikku_core.Pikku app")
    return obj
