"""pikku-demo: a small library app wired to every pikku-py transport.

`build_app` returns the `pikku_core.Pikku` app for a `DemoConfig`; `main` is the ``demo``
command (``uv run demo``).
"""

from .__main__ import main
from .app import build_app
from .config import DemoConfig
from .models import Session

__all__ = ["DemoConfig", "Session", "build_app", "main"]
