"""The conformance suite over real WebSocket connections (one action message per call)."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import msgspec
import pikku_ws
import pytest
from pikku_conformance import CallResult, Capabilities, ConformanceSuite, Harness, HarnessClient
from pikku_conformance.routes import CHANNEL_ROUTE, channel_action
from pikku_core import FunctionMeta, Pikku
from pikku_ws import ChannelCallError, PikkuChannelClient

_OBJECTS = (
    msgspec.inspect.StructType,
    msgspec.inspect.DataclassType,
    msgspec.inspect.TypedDictType,
    msgspec.inspect.DictType,
)


def reply_value(meta: FunctionMeta[Any], reply: dict[str, Any]) -> Any:
    """The function's output as the reply carries it (merged object, or ``result``)."""
    if meta.output_type is None:
        assert set(reply) == {"action"}, reply
        return None
    if isinstance(msgspec.inspect.type_info(meta.output_type), _OBJECTS):
        return {k: v for k, v in reply.items() if k != "action"}
    return reply["result"]


class WSClient(HarnessClient):
    """One channel connection; a new session means a new connection with a bearer token."""

    def __init__(self, app: Pikku, url: str) -> None:
        self._app = app
        self._url = url
        self._client: PikkuChannelClient | None = None
        self._headers: dict[str, str] = {}

    async def _connected(self) -> PikkuChannelClient:
        if self._client is None:
            self._client = PikkuChannelClient(
                self._url, reconnect=False, timeout=10, additional_headers=self._headers
            )
            await self._client.connect()
        return self._client

    async def call(self, key: str, data: Any = None) -> CallResult:
        client = await self._connected()
        meta = self._app.resolve(key)
        try:
            reply = await client.send(channel_action(key), data)
        except ChannelCallError as exc:
            return CallResult(ok=False, error=exc.error)
        return CallResult(ok=True, value=reply_value(meta, reply))

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        client = await self._connected()
        meta = self._app.resolve(key)
        return [reply_value(meta, item) async for item in client.stream(channel_action(key), data)]

    async def set_session(self, session: dict[str, Any] | None) -> None:
        await self.aclose()
        if session is None:
            self._headers = {}
        else:
            token = self._app.session_codec().encode(session)
            self._headers = {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class WSHarness(Harness):
    """Serves the app with `pikku_ws.serve` on a free port of 127.0.0.1."""

    capabilities: ClassVar[Capabilities] = Capabilities(http_status=False)

    def __init__(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        self._app: Pikku | None = None
        self._url = ""

    async def start(self, app: Pikku) -> None:
        server = await self._stack.enter_async_context(pikku_ws.serve(app, "127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        self._url = f"ws://127.0.0.1:{port}{CHANNEL_ROUTE}"
        self._app = app

    async def stop(self) -> None:
        await self._stack.aclose()

    async def client(self) -> HarnessClient:
        assert self._app is not None, "harness not started"
        return WSClient(self._app, self._url)


class TestWebSocketChannels(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return WSHarness()
