"""Import an app from a ``module:attribute`` path: core's loader, re-exported."""

from __future__ import annotations

from pikku_core import AppLoadError, load_app

__all__ = ["AppLoadError", "load_app"]
