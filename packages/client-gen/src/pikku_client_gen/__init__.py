"""pikku-client-gen: OpenAPI, JSON Schemas and typed clients derived from a pikku app.

Everything is computed from the app's function metadata at runtime (no build step)::

    from pikku_client_gen import generate, openapi_document

    doc = openapi_document(app)                   # OpenAPI 3.1 as a dict
    generate(app, "all", "generated/")            # every file ``pikku gen all`` writes

The same app always gives the same bytes.
"""

from ._channel_client import python_channel_client
from ._generate import TARGETS, generate, header_text
from ._jsonschema import json_schemas, mcp_manifest, mcp_tool_input_schema
from ._openapi import openapi_document
from ._python_client import python_client
from ._schemas import GenerationError
from ._typescript import typescript_client

__version__ = "0.1.0"

__all__ = [
    "TARGETS",
    "GenerationError",
    "__version__",
    "generate",
    "header_text",
    "json_schemas",
    "mcp_manifest",
    "mcp_tool_input_schema",
    "openapi_document",
    "python_channel_client",
    "python_client",
    "typescript_client",
]
