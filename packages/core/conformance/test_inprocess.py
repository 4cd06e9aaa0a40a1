"""The conformance suite run in-process: the reference behaviour of pikku-core."""

import pytest
from pikku_conformance import ConformanceSuite, Harness, InProcessHarness


class TestInProcess(ConformanceSuite):
    @pytest.fixture
    def harness(self) -> Harness:
        return InProcessHarness()
