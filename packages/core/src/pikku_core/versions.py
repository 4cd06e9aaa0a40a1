"""The versions manifest, ``pikku.versions.json``: record, check and update contracts.

The manifest stores, per function name, the latest recorded version and, per published
version, its contract hash and its structural input and output schemas (so a later
change can be shown field by field). ``pikku versions check`` compares the app with it
(`check_versions`), ``pikku versions update`` records new functions and versions
(`update_manifest`) and never overwrites a published hash.

File format (deterministic: sorted keys, versions in numeric order, two-space indent)::

    {
      "format": 1,
      "functions": {
        "get_book": {
          "latest": 2,
          "versions": {
            "1": {"hash": "…", "input": {…}, "output": {…}},
            "2": {"hash": "…", "input": {…}, "output": {…}}
          }
        }
      }
    }
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from pikku_core._func import FunctionMeta

from pikku_core._versions import (
    ContractDiff,
    FieldChange,
    contract_hash,
    diff_contracts,
    structural_schema,
)

__all__ = [
    "MANIFEST_FILENAME",
    "Contract",
    "ContractDiff",
    "FieldChange",
    "FindingKind",
    "ManifestError",
    "VersionConflictError",
    "VersionFinding",
    "VersionManifest",
    "VersionReport",
    "check_versions",
    "contract_hash",
    "contracts_of",
    "diff_contracts",
    "structural_schema",
    "update_manifest",
]

MANIFEST_FILENAME = "pikku.versions.json"
"""Default file name of the manifest."""

_FORMAT = 1


class ManifestError(ValueError):
    """The manifest file is missing, not JSON, or not in the expected shape."""


class VersionConflictError(Exception):
    """`update_manifest` refused: a published contract changed, was removed, or a gap.

    Attributes:
        report: The check report naming every refused change.
    """

    def __init__(self, report: VersionReport) -> None:
        self.report = report
        failing = ", ".join(f"{f.key} ({f.kind})" for f in report.findings if f.failing)
        super().__init__(f"refusing to update the versions manifest: {failing}")


@dataclass(frozen=True, slots=True)
class Contract:
    """The recorded contract of one function version.

    Attributes:
        name: Function name.
        version: Version number (an unversioned function is version 1).
        hash: The contract hash (see `contract_hash`).
        input: Structural input schema, ``None`` when the function takes no data.
        output: Structural output schema, ``None`` when it returns nothing.
    """

    name: str
    version: int
    hash: str
    input: dict[str, Any] | None
    output: dict[str, Any] | None

    @classmethod
    def from_schemas(
        cls,
        name: str,
        version: int,
        input_schema: dict[str, Any] | None,
        output_schema: dict[str, Any] | None,
    ) -> Contract:
        """Build a contract from (non-structural) JSON schemas.

        Args:
            name: Function name.
            version: Version number.
            input_schema: JSON schema of the input, or ``None``.
            output_schema: JSON schema of the output, or ``None``.

        Returns:
            The contract, with structural schemas and their hash.
        """
        return cls(
            name=name,
            version=version,
            hash=contract_hash(name, input_schema, output_schema),
            input=structural_schema(input_schema),
            output=structural_schema(output_schema),
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest entry for this version: ``{"hash", "input", "output"}``."""
        return {"hash": self.hash, "input": self.input, "output": self.output}


Contracts = dict[str, dict[int, Contract]]


def contracts_of(functions: Iterable[FunctionMeta[Any]]) -> Contracts:
    """Compute the current contracts of registered functions.

    Args:
        functions: Function metadata objects (``app.functions``); each needs ``name``,
            ``version``, ``input_schema`` and ``output_schema``.

    Returns:
        ``{name: {version: Contract}}``; a function without a version is version 1.

    Raises:
        ValueError: A function's types have no JSON schema (the message names it).
    """
    out: Contracts = {}
    for meta in functions:
        version = meta.version if meta.version is not None else 1
        try:
            inp, outp = meta.input_schema, meta.output_schema
        except (TypeError, ValueError, NameError) as exc:
            raise ValueError(
                f"function {meta.key!r}: cannot build its JSON schema ({exc})"
            ) from exc
        contract = Contract.from_schemas(meta.name, version, inp, outp)
        out.setdefault(meta.name, {})[version] = contract
    return out


@dataclass(slots=True)
class VersionManifest:
    """The parsed ``pikku.versions.json``.

    Attributes:
        functions: ``{name: {version: Contract}}`` for every published version.
    """

    functions: Contracts = field(default_factory=lambda: cast("Contracts", {}))

    def latest(self, name: str) -> int | None:
        """The highest recorded version of ``name``, or ``None`` when it is unknown."""
        versions = self.functions.get(name)
        return max(versions) if versions else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, keys in deterministic order."""
        functions: dict[str, Any] = {}
        for name in sorted(self.functions):
            versions = self.functions[name]
            functions[name] = {
                "latest": max(versions),
                "versions": {str(v): _sorted(versions[v].to_dict()) for v in sorted(versions)},
            }
        return {"format": _FORMAT, "functions": functions}

    def to_json(self) -> str:
        """The file content: two-space indented JSON with a trailing newline."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = MANIFEST_FILENAME) -> VersionManifest:
        """Parse a manifest document.

        Args:
            text: The file content.
            source: File name used in error messages.

        Returns:
            The manifest.

        Raises:
            ManifestError: The text is not a valid manifest (the message says where).
        """
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{source}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise ManifestError(f'{source}: expected an object with a "functions" object')
        root = cast("dict[str, Any]", doc)
        if not isinstance(root.get("functions"), dict):
            raise ManifestError(f'{source}: expected an object with a "functions" object')
        if root.get("format", _FORMAT) != _FORMAT:
            raise ManifestError(f"{source}: unsupported format {root.get('format')!r}")
        functions: Contracts = {}
        for name, entry in cast("dict[str, Any]", root["functions"]).items():
            where = f"{source}: functions.{name}"
            versions = (
                cast("dict[str, Any]", entry).get("versions") if isinstance(entry, dict) else None
            )
            if not isinstance(versions, dict) or not versions:
                raise ManifestError(f'{where}: expected a non-empty "versions" object')
            parsed: dict[int, Contract] = {}
            for key, rec in cast("dict[str, Any]", versions).items():
                if not key.isdigit() or not isinstance(rec, dict):
                    raise ManifestError(f"{where}.versions.{key}: expected a numbered entry")
                record = cast("dict[str, Any]", rec)
                if not isinstance(record.get("hash"), str):
                    raise ManifestError(f'{where}.versions.{key}: missing "hash"')
                parsed[int(key)] = Contract(
                    name, int(key), record["hash"], record.get("input"), record.get("output")
                )
            functions[name] = parsed
        return cls(functions)

    @classmethod
    def read(cls, path: str | Path) -> VersionManifest:
        """Read a manifest file.

        Args:
            path: The file path.

        Returns:
            The manifest.

        Raises:
            ManifestError: The file does not exist or is invalid.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ManifestError(
                f"{p}: no such file (create it with `pikku versions init`)"
            ) from None
        return cls.from_json(text, str(p))

    def write(self, path: str | Path) -> None:
        """Write the manifest (deterministic bytes for the same content)."""
        Path(path).write_text(self.to_json(), encoding="utf-8")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        d = cast("dict[str, Any]", value)
        return {k: _sorted(d[k]) for k in sorted(d)}
    if isinstance(value, list):
        return [_sorted(v) for v in cast("list[Any]", value)]
    return value


FindingKind = Literal["unchanged", "new_function", "new_version", "changed", "removed", "gap"]


@dataclass(frozen=True, slots=True)
class VersionFinding:
    """What `check_versions` found for one function version.

    Attributes:
        name: Function name.
        version: The version concerned.
        kind: ``unchanged``, ``new_function``, ``new_version`` (pass) or ``changed``,
            ``removed``, ``gap`` (fail).
        diff: For ``changed``: recorded → current; for ``new_version``: previous
            version → this one. ``None`` otherwise.
        previous: For ``new_version``: the version it is compared with.
        recorded_hash: The hash in the manifest, if any.
        current_hash: The hash of the app's contract, if present in the app.
        latest: Whether this is the latest recorded version (for ``changed``).
    """

    name: str
    version: int
    kind: FindingKind
    diff: ContractDiff | None = None
    previous: int | None = None
    recorded_hash: str | None = None
    current_hash: str | None = None
    latest: bool = True

    @property
    def key(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def failing(self) -> bool:
        """Whether this finding makes the check fail."""
        return self.kind in ("changed", "removed", "gap")


_LABELS: dict[FindingKind, str] = {
    "unchanged": "ok",
    "new_function": "NEW",
    "new_version": "NEW",
    "changed": "CHANGED",
    "removed": "REMOVED",
    "gap": "GAP",
}
_HINTS: dict[FindingKind, str] = {
    "changed": "a published contract is frozen; give the changed function a new `version=`"
    " (keep the old version wired) and run `pikku versions update`",
    "removed": "clients may still call a published version (`name@N`); keep it wired",
    "gap": "versions are recorded in order; add the missing version first",
}
_COLORS = {"CHANGED": "31", "REMOVED": "31", "GAP": "31", "NEW": "32", "ok": "2"}
_SYMBOLS = {"added": "+", "removed": "-", "changed": "~"}


@dataclass(frozen=True, slots=True)
class VersionReport:
    """The result of `check_versions`.

    Attributes:
        findings: One per function version, ordered by name then version.
    """

    findings: tuple[VersionFinding, ...]

    @property
    def ok(self) -> bool:
        """Whether the check passes (nothing changed, removed or skipped)."""
        return not any(f.failing for f in self.findings)

    def count(self, kind: FindingKind) -> int:
        """How many findings have ``kind``."""
        return sum(1 for f in self.findings if f.kind == kind)

    def format(self, *, verbose: bool = False, color: bool = False) -> str:
        """Render the report as deterministic, diffable text.

        Args:
            verbose: Also list unchanged versions one per line.
            color: Wrap labels in ANSI colours (only for a terminal).

        Returns:
            The text, ending with a newline.
        """

        def paint(text: str, code: str) -> str:
            return f"\x1b[{code}m{text}\x1b[0m" if color else text

        lines: list[str] = []
        for f in self.findings:
            if f.kind == "unchanged" and not verbose:
                continue
            label = _LABELS[f.kind]
            head = f"{paint(label.ljust(7), _COLORS[label])} {f.key}"
            lines.append(f"{head}  {_explain(f)}")
            if f.diff is not None:
                for c in f.diff.changes:
                    verdict = "breaks" if c.breaking else "compatible"
                    lines.append(
                        f"    {c.side:<6} {_SYMBOLS[c.kind]} {c.path}: {c.detail}"
                        f"  [{paint(verdict, '31' if c.breaking else '32')}: {c.reason}]"
                    )
                if not f.diff.changes:
                    lines.append("    no field-level change")
                keep = "keep working" if f.diff.compatible else "break"
                lines.append(f"    verdict: old clients {keep}")
        counts = {k: self.count(k) for k in _LABELS}
        summary = ", ".join(
            f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n or k == "unchanged"
        )
        status = paint("passed", "32") if self.ok else paint("FAILED", "31")
        lines.append(f"versions check {status}: {summary}")
        lines.extend(f"hint: {_HINTS[k]}" for k in _HINTS if counts[k])
        return "\n".join(lines) + "\n"


def _explain(f: VersionFinding) -> str:
    if f.kind == "unchanged":
        return "unchanged"
    if f.kind == "new_function":
        return "new function"
    if f.kind == "new_version":
        return f"new version (changes since @{f.previous})" if f.previous else "new version"
    if f.kind == "removed":
        return "published version is no longer in the app"
    if f.kind == "gap":
        return f"version gap: @{f.version - 1} was never recorded; add versions in order"
    rec, cur = (f.recorded_hash or "")[:12], (f.current_hash or "")[:12]
    why = "changed without a version bump" if f.latest else "an old published version changed"
    return f"{why} (hash {rec} -> {cur})"


def check_versions(manifest: VersionManifest, current: Contracts) -> VersionReport:
    """Compare the app's contracts with the manifest.

    Fails for a published version whose contract changed (latest or older), a published
    version missing from the app, and a new version that leaves a gap. New functions and
    new versions pass and are reported, a new version with its diff from the previous one.

    Args:
        manifest: The recorded manifest.
        current: The app's contracts (`contracts_of`).

    Returns:
        The report, findings ordered by name then version.
    """
    findings: list[VersionFinding] = []
    for name in sorted(set(manifest.functions) | set(current)):
        recorded = manifest.functions.get(name, {})
        now = current.get(name, {})
        known = set(recorded) | set(now)
        latest = max(recorded) if recorded else None
        for version in sorted(known):
            rec, cur = recorded.get(version), now.get(version)
            if rec is not None and cur is None:
                findings.append(VersionFinding(name, version, "removed", recorded_hash=rec.hash))
            elif rec is not None and cur is not None:
                if rec.hash == cur.hash:
                    findings.append(
                        VersionFinding(name, version, "unchanged", None, None, rec.hash, cur.hash)
                    )
                    continue
                diff = diff_contracts(rec.input, rec.output, cur.input, cur.output)
                findings.append(
                    VersionFinding(
                        name,
                        version,
                        "changed",
                        diff,
                        None,
                        rec.hash,
                        cur.hash,
                        latest=version == latest,
                    )
                )
            elif cur is not None:
                below = [v for v in known if v < version]
                if below and version - 1 not in known:
                    findings.append(VersionFinding(name, version, "gap", current_hash=cur.hash))
                elif not recorded and not below:
                    findings.append(
                        VersionFinding(name, version, "new_function", current_hash=cur.hash)
                    )
                else:
                    prev = max(below)
                    base = recorded.get(prev) or now[prev]
                    diff = diff_contracts(base.input, base.output, cur.input, cur.output)
                    findings.append(
                        VersionFinding(
                            name, version, "new_version", diff, prev, current_hash=cur.hash
                        )
                    )
    return VersionReport(tuple(findings))


def update_manifest(manifest: VersionManifest, current: Contracts) -> VersionManifest:
    """Record new functions and versions in a copy of the manifest.

    Args:
        manifest: The recorded manifest (not modified).
        current: The app's contracts (`contracts_of`).

    Returns:
        The updated manifest.

    Raises:
        VersionConflictError: A published version changed or was removed, or a new
            version leaves a gap; nothing is recorded then.
    """
    report = check_versions(manifest, current)
    if not report.ok:
        raise VersionConflictError(report)
    functions: Contracts = {name: dict(vs) for name, vs in manifest.functions.items()}
    for f in report.findings:
        if f.kind in ("new_function", "new_version"):
            functions.setdefault(f.name, {})[f.version] = current[f.name][f.version]
    return VersionManifest(functions)
