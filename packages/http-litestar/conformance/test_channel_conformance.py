"""The conformance suite over channels hosted on Litestar websockets (uvicorn, real sockets).

Each call is one action message on the reference channel; a session is given to a client
by reconnecting with a bearer token (loaded by the app's middleware at connect time).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import msgspec
import pytest
from litestar_harness import LitestarHarness
from pikku_conformance import CallResult, Capabilities, ConformanceSuite, Harness, HarnessClient
from pikku_conformance.routes import CHANNEL_ROUTE, channel_action
from pikku_core import FunctionMeta, Pikku
from websockets.asyncio.client import ClientConnection, connect

_OBJECTS = (
    msgspec.inspect.StructType,
    msgspec.inspect.DataclassType,
    msgspec.inspect.TypedDictType,
    msgspec.inspect.DictType,
)


def _value(meta: FunctionMeta[Any], reply: dict[str, Any]) -> Any:
    if meta.output_type is None:
        return None
    if isinstance(msgspec.inspect.type_info(meta.output_type), _OBJECTS):
        return {k: v for k, v in reply.items() if k not in ("action", "id")}
    return reply["result"]


class ChannelClient(HarnessClient):
    def __init__(self, app: Pikku, url: str) -> None:
        self._app = app
        self._url = url
        self._ws: ClientConnection | None = None
        self._headers: dict[str, str] = {}
        self._ids = 0

    async def _ask(self, key: str, data: Any) -> list[dict[str, Any]]:
        if self._ws is None:
            self._ws = await connect(self._url, additional_headers=self._headers)
        self._ids += 1
        message = {**(data or {}), "action": channel_action(key), "id": self._ids}
        await self._ws.send(json.dumps(message))
        replies: list[dict[str, Any]] = []
        while True:
            reply = json.loads(await self._ws.recv())
            assert reply.get("id") == self._ids, reply
            replies.append(reply)
            if not self._app.resolve(key).is_stream or "error" in reply or reply.get("done"):
                return replies

    async def call(self, key: str, data: Any = None) -> CallResult:
        (reply,) = await self._ask(key, data)
        if "error" in reply:
            return CallResult(ok=False, error=reply["error"])
        return CallResult(ok=True, value=_value(self._app.resolve(key), reply))

    async def stream(self, key: str, data: Any = None) -> list[Any]:
        replies = await self._ask(key, data)
        assert replies[-1].get("done") is True, replies[-1]
        return [_value(self._app.resolve(key), r) for r in replies[:-1]]

    async def set_session(self, session: dict[str, Any] | None) -> None:
        await self.aclose()
        self._headers = {}
        if session is not None:
            token = self._app.session_codec().encode(session)
            self._headers["Authorization"] = f"Bearer {token}"

    async def aclose(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None


class LitestarChannelHarness(LitestarHarness):
    """The same live Litestar server as the HTTP harness, driven over its channel route."""

    capabilities: ClassVar[Capabilities] = Capabilities(http_status=False)

    async def client(self) -> HarnessClient:
        assert self._app is not None and self._server is not None, "harness not started"
        url = f"ws://127.0.0.1:{self._server.port}{CHANNEL_ROUTE}"
        return ChannelClient(self._app, url)


class TestLitestarChannels(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return LitestarChannelHarness()
