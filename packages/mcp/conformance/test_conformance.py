"""The conformance suite over MCP: the SDK's `mcp.Client`, in memory and over HTTP."""

from __future__ import annotations

import pytest
from _mcp_harness import InMemoryHarness, StreamableHTTPHarness
from pikku_conformance import ConformanceSuite, Harness


class TestInMemory(ConformanceSuite):
    """Current protocol, in process (`mcp.Client(server)`)."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The harness of this transport."""
        return InMemoryHarness()


class TestInMemoryLegacy(ConformanceSuite):
    """The ``initialize`` handshake over in-memory JSON-RPC streams."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The harness of this transport."""
        return InMemoryHarness(mode="legacy")


class TestStreamableHTTP(ConformanceSuite):
    """A live uvicorn server on 127.0.0.1, current protocol."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The harness of this transport."""
        return StreamableHTTPHarness()


class TestStreamableHTTPLegacy(ConformanceSuite):
    """A live uvicorn server on 127.0.0.1, ``initialize`` handshake and MCP sessions."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The harness of this transport."""
        return StreamableHTTPHarness(mode="legacy")
