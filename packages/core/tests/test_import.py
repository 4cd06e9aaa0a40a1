"""`import pikku_core` stays tiny: only msgspec, anyio and the standard library."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import sys
before = set(sys.modules)
import pikku_core
new = {m.split('.')[0] for m in set(sys.modules) - before}
stdlib = set(sys.stdlib_module_names)
allowed = {'pikku_core', 'msgspec', 'anyio', 'sniffio', 'idna', 'exceptiongroup', 'typing_extensions', '_distutils_hack'}
print(sorted(m for m in new if m not in stdlib and m not in allowed and not m.startswith('_')))
"""


def test_import_pulls_in_nothing_else() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", f"unexpected third-party imports: {out}"


LAZY_PROBE = r"""
import sys
import msgspec, anyio
before = set(sys.modules)
import pikku_core
loaded = set(sys.modules) - before
heavy = {'asyncio', 'hashlib', 'hmac', 'email', 'ssl', 'socket', 'subprocess',
         'pikku_core._channel', 'pikku_core._queue', 'pikku_core._scheduler',
         'pikku_core._eventhub', 'pikku_core.versions'}
print(sorted(loaded & heavy))
pikku_core.JobInfo  # a lazy export loads on first use
print('pikku_core._queue' in sys.modules)
"""


def test_engines_and_heavy_stdlib_load_lazily() -> None:
    out = subprocess.run(
        [sys.executable, "-c", LAZY_PROBE], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]", f"imported eagerly: {out[0]}"
    assert out[1] == "True"
