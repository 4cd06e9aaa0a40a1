"""The test-side driver of one transport, and the in-process driver core uses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pikku_core import Pikku, PikkuError, Pipeline, Wire, to_builtins

from .routes import http_route

__all__ = ["CallResult", "Capabilities", "Harness", "HarnessClient", "InProcessHarness"]


@dataclass(frozen=True)
class Capabilities:
    """What a transport can do; a suite test needing a capability that is off is skipped.

    Attributes:
        streaming: Streaming functions can be consumed item by item.
        session_persistence: A session set by one call is seen by the next call of the
            same client (cookie, connection state).
        shared_state: Calls from one harness reach one running app (so counters kept in
            its singleton services are visible across calls).
        concurrency: Many calls can be in flight at once.
        http_status: Results carry an HTTP status.
    """

    streaming: bool = True
    session_persistence: bool = True
    shared_state: bool = True
    concurrency: bool = True
    http_status: bool = False


@dataclass(frozen=True)
class CallResult:
    """The outcome of one call as the transport delivered it.

    Attributes:
        ok: Whether the call succeeded.
        value: The output in JSON-builtins form (None for no output).
        error: The error shape (``name``, ``message``, ``payload``, ``error_id``).
        status: The HTTP status, when the transport has one.
    """

    ok: bool
    value: Any = None
    error: dict[str, Any] | None = None
    status: int | None = None

    @property
    def error_name(self) -> str | None:
        """The error's name, or None on success."""
        return self.error["name"] if self.error else None


class HarnessClient(ABC):
    """One client of the transport (its own cookie jar, connection or session)."""

    @abstractmethod
    async def call(self, key: str, data: Any = None) -> CallResult:
        """Call the function with this key (see `pikku_conformance.routes`)."""

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        """Consume a streaming function, returning its items in JSON-builtins form."""
        raise NotImplementedError(f"{type(self).__name__} does not stream")

    @abstractmethod
    async def set_session(self, session: dict[str, Any] | None) -> None:
        """Give this client a session directly (token, cookie, connection state, env)."""

    async def aclose(self) -> None:
        """Release the client's resources."""
        return None


class Harness(ABC):
    """Drives one transport for the suite: start an app, make clients, stop."""

    capabilities: ClassVar[Capabilities] = Capabilities()

    @abstractmethod
    async def start(self, app: Pikku) -> None:
        """Serve ``app`` over the transport."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop serving and release everything."""

    @abstractmethod
    async def client(self) -> HarnessClient:
        """Return a new client with no session."""


class _InProcessClient(HarnessClient):
    def __init__(self, app: Pikku) -> None:
        self._app = app
        self._session: dict[str, Any] | None = None

    def _remember(self, session: Any) -> None:
        self._session = session

    def _pipeline(self, key: str) -> Pipeline:
        # The HTTP wiring's pipeline run with no transport part: it carries the wiring
        # middleware, which a bare `invoke` does not have.
        route = http_route(key)
        for wiring in self._app.http_wirings:
            if wiring.route == route:
                return wiring.pipeline
        return self._app.rpc_pipeline(self._app.resolve(key))

    async def call(self, key: str, data: Any = None) -> CallResult:
        app = self._app
        try:
            pipeline = self._pipeline(key)
            wire: Wire[Any] = Wire(app, session=self._session, on_session_change=self._remember)
            value = await pipeline.run(wire, data=data)
        except PikkuError as exc:
            return CallResult(ok=False, error=exc.to_dict(), status=exc.status_code)
        return CallResult(ok=True, value=to_builtins(value))

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        items: list[Any] = []
        async with self._app.stream(key, data, session=self._session) as iterator:
            async for item in iterator:
                items.append(to_builtins(item))
        return items

    async def set_session(self, session: dict[str, Any] | None) -> None:
        self._session = session


class InProcessHarness(Harness):
    """Calls functions through their wirings' pipelines with no transport attached.

    This is the reference behaviour of core that every transport must reproduce.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self) -> None:
        self._app: Pikku | None = None

    async def start(self, app: Pikku) -> None:
        """Start the app's services and engines."""
        await app.start()
        self._app = app

    async def stop(self) -> None:
        """Close the app."""
        if self._app is not None:
            await self._app.close()
            self._app = None

    async def client(self) -> HarnessClient:
        """Return an in-process client with no session."""
        assert self._app is not None, "harness not started"
        return _InProcessClient(self._app)
