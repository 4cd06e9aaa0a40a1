"""The whole pikku conformance suite over real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import pytest
from litestar_harness import LitestarHarness
from pikku_conformance import ConformanceSuite, Harness


class TestLitestarConformance(ConformanceSuite):
    """Every suite test, driven over a live socket."""

    @pytest.fixture
    def harness(self) -> Harness:
        """The HTTP harness."""
        return LitestarHarness()
