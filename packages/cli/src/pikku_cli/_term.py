"""Terminal output: colours only on a TTY (and never with ``NO_COLOR``), JSON printing."""

from __future__ import annotations

import json
import os
from typing import Any, TextIO

from pikku_core import encode_json

__all__ = ["Style", "dump_json", "is_tty"]

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Style:
    """Paints text for one stream: ANSI colours only when the stream is a terminal.

    ``NO_COLOR`` (any non-empty value) turns colours off; ``FORCE_COLOR`` turns them on.
    """

    def __init__(self, stream: TextIO) -> None:
        self.enabled = _wants_color(stream)

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


def is_tty(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def dump_json(value: Any, *, pretty: bool) -> str:
    """Encode an output value as JSON text (Structs, dataclasses… via msgspec)."""
    raw = encode_json(value)
    if not pretty:
        return raw.decode()
    return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
