"""pikku-conformance: the shared suite every pikku transport adapter passes.

It holds the reference app (`create_reference_app`), the `Harness` ABC a transport's
test-side driver implements, and `ConformanceSuite`, the test class adapters subclass.
"""

from . import routes
from .harness import CallResult, Capabilities, Harness, HarnessClient, InProcessHarness
from .queue_client import QueueHarnessClient
from .reference_app import REFERENCE_SECRET, TeapotError, create_reference_app, reference_functions
from .suite import ConformanceSuite, suite_test_names

__all__ = [
    "REFERENCE_SECRET",
    "CallResult",
    "Capabilities",
    "ConformanceSuite",
    "Harness",
    "HarnessClient",
    "InProcessHarness",
    "QueueHarnessClient",
    "TeapotError",
    "create_reference_app",
    "reference_functions",
    "routes",
    "suite_test_names",
]
