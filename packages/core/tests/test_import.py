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
