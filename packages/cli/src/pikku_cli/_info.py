"""``pikku info``: what an app contains, as data and as text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pikku_core import Pikku, Pipeline

__all__ = ["app_info", "format_info"]

_TRANSPORTS = ("http", "channel", "queue", "scheduler", "cli", "mcp")


def _name(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(name, str):
        return type(obj).__name__
    return name.replace("<locals>.", "")


def _names(items: Iterable[Any] | None) -> list[str]:
    return [_name(i) for i in items or ()]


def _permissions(spec: Mapping[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group, checks in (spec or {}).items():
        out[group] = [_name(checks)] if callable(checks) else _names(checks)
    return out


def _extras(pipeline: Pipeline | None) -> str:
    """What a wiring adds to its function: auth override, permissions, middleware."""
    if pipeline is None:
        return ""
    parts: list[str] = []
    if pipeline.auth is not None and pipeline.auth != pipeline.meta.auth:
        parts.append("auth" if pipeline.auth else "no auth")
    for group, checks in _permissions(pipeline.permissions).items():
        parts.append(f"permission {group}: {' & '.join(checks)}")
    if pipeline.middleware:
        parts.append(f"middleware: {', '.join(_names(pipeline.middleware))}")
    return f"  [{'; '.join(parts)}]" if parts else ""


def _wirings(app: Pikku) -> dict[int, dict[str, list[str]]]:
    """``{id(meta): {transport: [description, ...]}}`` over every wiring list."""
    found: dict[int, dict[str, list[str]]] = {}

    def add(pipeline: Pipeline | None, transport: str, text: str) -> None:
        if pipeline is not None:
            entry = found.setdefault(id(pipeline.meta), {}).setdefault(transport, [])
            entry.append(text + _extras(pipeline))

    for w in app.http_wirings:
        add(w.pipeline, "http", f"{w.method} {w.route}" + (" (sse)" if w.sse else ""))
    for c in app.channel_wirings:
        for event in ("on_connect", "on_disconnect", "on_message"):
            pipeline: Pipeline | None = getattr(c, event)
            add(pipeline, "channel", f"{c.name} {c.route} {event}")
        for action, a in c.actions.items():
            add(a.pipeline, "channel", f"{c.name} {c.route} {c.routing_key}={action}")
    for q in app.queue_wirings.values():
        add(q.pipeline, "queue", f"{q.queue} (max {q.max_attempts} attempts)")
    for s in app.scheduler_wirings:
        add(s.pipeline, "scheduler", f"{s.name} ({s.schedule})")
    for cli in app.cli_wirings:
        add(cli.pipeline, "cli", cli.command)
    for t in app.mcp_tools:
        add(t.pipeline, "mcp", f"tool {t.name}")
    for r in app.mcp_resources:
        add(r.pipeline, "mcp", f"resource {r.uri_template}")
    for p in app.mcp_prompts:
        add(p.pipeline, "mcp", f"prompt {p.name}")
    return found


def app_info(app: Pikku) -> dict[str, Any]:
    """Describe an app: functions, their wirings per transport, rules and services.

    Returns:
        A JSON-ready dict (deterministic order): ``app``, ``middleware`` (global and per
        tag), ``permissions`` (global gates) and ``functions`` (one entry per version).
    """
    wirings = _wirings(app)
    functions: list[dict[str, Any]] = []
    for meta in app.functions:
        per = wirings.get(id(meta), {})
        try:
            contract: str | None = meta.contract_hash
        except (TypeError, ValueError, NameError):  # types without a JSON schema
            contract = None
        functions.append(
            {
                "name": meta.name,
                "version": meta.version,
                "key": meta.key,
                "title": meta.title,
                "auth": meta.auth,
                "expose": meta.expose,
                "stream": meta.is_stream,
                "sync": meta.is_sync,
                "tags": list(meta.tags),
                "permissions": _permissions(meta.permissions),
                "middleware": _names(meta.middleware),
                "services": sorted(meta.services_used),
                "errors": _names(meta.errors),
                "contract_hash": contract,
                "wirings": {t: per[t] for t in _TRANSPORTS if t in per},
            }
        )
    return {
        "app": app.name,
        "middleware": {
            "global": _names(app.middleware),
            "tags": {tag: _names(m) for tag, m in sorted(app.tag_middleware.items())},
        },
        "permissions": _names(app.permissions),
        "functions": functions,
    }


def format_info(info: Mapping[str, Any], paint: Callable[[str, str], str]) -> str:
    """Render `app_info` as text, one block per function.

    Args:
        info: The result of `app_info`.
        paint: ``paint(text, style)`` (``bold``, ``dim``, ``cyan``); identity off a TTY.
    """
    functions: Sequence[dict[str, Any]] = info["functions"]
    lines = [paint(f"{info['app']}: {len(functions)} functions", "bold")]
    mw = info["middleware"]
    if mw["global"]:
        lines.append(f"global middleware: {', '.join(mw['global'])}")
    for tag, names in mw["tags"].items():
        lines.append(f"tag {tag!r} middleware: {', '.join(names)}")
    if info["permissions"]:
        lines.append(f"global permissions: {', '.join(info['permissions'])}")
    for f in functions:
        flags = [
            "auth" if f["auth"] else "no auth",
            *(["expose"] if f["expose"] else []),
            *(["stream"] if f["stream"] else []),
            *(["sync"] if f["sync"] else []),
        ]
        title = f"  {f['title']}" if f["title"] else ""
        version = f"v{f['version']}" if f["version"] is not None else "unversioned"
        lines.append("")
        lines.append(f"{paint(f['key'], 'cyan')}  {version}  [{', '.join(flags)}]{title}")
        rows: list[tuple[str, str]] = []
        for transport, entries in f["wirings"].items():
            rows.extend((transport, e) for e in entries)
        if not f["wirings"]:
            rows.append(("wired", "not wired (RPC / invoke only)"))
        for group, checks in f["permissions"].items():
            rows.append(("permission", f"{group}: {' & '.join(checks)}"))
        if f["middleware"]:
            rows.append(("middleware", ", ".join(f["middleware"])))
        if f["tags"]:
            rows.append(("tags", ", ".join(f["tags"])))
        rows.append(("services", ", ".join(f["services"]) or "-"))
        lines.extend(f"  {paint(k.ljust(10), 'dim')}  {v}" for k, v in rows)
    return "\n".join(lines) + "\n"
