"""The services a function sees: singletons plus lazily built, per-call wire services."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ServicesView", "WireServiceFactory", "close_wire_services"]

WireServiceFactory = Callable[[Any, Any], Any]
"""``factory(services, wire) -> object``: builds one wire service for one call."""


class ServicesView:
    """What a function receives as ``services``.

    Attribute look-up order: a wire service created for this call (built on first access
    and closed when the call ends), the user's singleton services object, then the
    services core provides (``logger``, ``event_hub``, ``queue``, ``scheduler``). The
    user's object is never mutated.
    """

    def __init__(
        self,
        singletons: Any,
        core: Mapping[str, Any],
        factories: Mapping[str, WireServiceFactory] | None = None,
        wire: Any = None,
    ) -> None:
        d = self.__dict__
        d["_pikku_singletons"] = singletons
        d["_pikku_core"] = core
        d["_pikku_factories"] = factories
        d["_pikku_wire"] = wire
        d["_pikku_created"] = None

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        factories: Mapping[str, WireServiceFactory] | None = d["_pikku_factories"]
        if factories is not None and name in factories:
            value = factories[name](self, d["_pikku_wire"])
            created: list[Any] | None = d["_pikku_created"]
            if created is None:
                created = d["_pikku_created"] = []
            created.append(value)
            d[name] = value
            return value
        singletons = d["_pikku_singletons"]
        if singletons is not None:
            if isinstance(singletons, Mapping):
                if name in singletons:
                    return singletons[name]  # pyright: ignore[reportUnknownVariableType]
            else:
                try:
                    value = getattr(singletons, name)
                except AttributeError:
                    pass
                else:
                    if factories is None:
                        d[name] = value
                    return value
        core: Mapping[str, Any] = d["_pikku_core"]
        if name in core:
            value = core[name]
            d[name] = value
            return value
        raise AttributeError(f"no service named {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("services are read-only inside a call")

    def __repr__(self) -> str:
        return f"<services {self.__dict__['_pikku_singletons']!r}>"


async def close_wire_services(view: ServicesView) -> None:
    """Close every wire service this view created (``aclose()`` or ``close()``)."""
    created: list[Any] | None = view.__dict__["_pikku_created"]
    if not created:
        return
    view.__dict__["_pikku_created"] = None
    first_error: BaseException | None = None
    for obj in reversed(created):
        try:
            aclose = getattr(obj, "aclose", None)
            if aclose is not None:
                result = aclose()
                if inspect.isawaitable(result):
                    await result
                continue
            close = getattr(obj, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            if first_error is None:
                first_error = exc
    if first_error is not None:
        raise first_error
