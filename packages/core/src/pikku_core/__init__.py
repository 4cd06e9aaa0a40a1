"""pikku-core: write a typed function once, wire it to every transport.

Everything a user writes is importable from here: the `Pikku` app, the `pikku_func`
decorators, the `Wire`, every error class, the session middleware and the value types.
"""

from typing import TYPE_CHECKING, Any

from ._app import Pikku
from ._func import (
    FunctionMeta,
    Middleware,
    Permission,
    PermissionSpec,
    PikkuFunction,
    decode_error,
    pikku_func,
    pikku_sessionless_func,
)
from ._loader import AppLoadError, load_app
from ._pipeline import Emit, Pipeline
from ._services import ServicesView
from ._session import HMACSessionCodec, SessionCodec, auth_bearer, auth_cookie
from ._values import Response, UploadFile, encode_json, to_builtins
from ._wire import (
    RPC,
    ChannelWire,
    CLIWire,
    HTTPWire,
    MCPWire,
    QueueWire,
    ScheduledWire,
    SetCookie,
    SkipRun,
    Wire,
)
from ._wirings import (
    ChannelAction,
    ChannelMiddleware,
    ChannelWiring,
    CLIWiring,
    HTTPWiring,
    MCPPromptWiring,
    MCPResourceWiring,
    MCPToolWiring,
    QueueWiring,
    SchedulerWiring,
)
from .errors import (
    PROBLEM_CONTENT_TYPE,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GatewayTimeoutError,
    GoneError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    NotImplementedHTTPError,
    PayloadTooLargeError,
    PikkuError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
    UnprocessableContentError,
    UnsupportedMediaTypeError,
    URITooLongError,
    error_for_status,
)

if TYPE_CHECKING:
    from ._channel import (
        CLOSE_SLOW_CONSUMER,
        ChannelConnection,
        ChannelRequest,
        ChannelRuntime,
        ChannelTransport,
        ChannelTransportNowait,
    )
    from ._channel_middleware import ChannelMiddlewareChain, compose_channel_middleware
    from ._eventhub import EventHub, InProcessEventHub
    from ._mcp_schema import MCPToolSchemas, mcp_tool_schemas, object_root_schema
    from ._queue import InMemoryQueueService, JobInfo, JobStatus, QueueService
    from ._scheduler import CronSchedule, InProcessScheduler, ScheduledRun

__version__ = "0.1.0"

# The engines (channels, queue, scheduler) load on first use: an app that never wires
# them does not pay for importing them (`import pikku_core` stays small).
_LAZY = {
    "CLOSE_SLOW_CONSUMER": "_channel",
    "ChannelConnection": "_channel",
    "ChannelRequest": "_channel",
    "ChannelRuntime": "_channel",
    "ChannelTransport": "_channel",
    "ChannelTransportNowait": "_channel",
    "ChannelMiddlewareChain": "_channel_middleware",
    "compose_channel_middleware": "_channel_middleware",
    "EventHub": "_eventhub",
    "InProcessEventHub": "_eventhub",
    "MCPToolSchemas": "_mcp_schema",
    "mcp_tool_schemas": "_mcp_schema",
    "object_root_schema": "_mcp_schema",
    "InMemoryQueueService": "_queue",
    "JobInfo": "_queue",
    "JobStatus": "_queue",
    "QueueService": "_queue",
    "CronSchedule": "_scheduler",
    "InProcessScheduler": "_scheduler",
    "ScheduledRun": "_scheduler",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pikku_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"pikku_core.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AppLoadError",
    "CLOSE_SLOW_CONSUMER",
    "ChannelConnection",
    "ChannelMiddlewareChain",
    "ChannelRequest",
    "ChannelRuntime",
    "ChannelTransport",
    "ChannelTransportNowait",
    "EventHub",
    "InProcessEventHub",
    "compose_channel_middleware",
    "PROBLEM_CONTENT_TYPE",
    "RPC",
    "BadRequestError",
    "CLIWire",
    "CLIWiring",
    "ChannelAction",
    "ChannelMiddleware",
    "ChannelWire",
    "ChannelWiring",
    "ConflictError",
    "CronSchedule",
    "Emit",
    "ForbiddenError",
    "FunctionMeta",
    "GatewayTimeoutError",
    "GoneError",
    "HMACSessionCodec",
    "HTTPWire",
    "HTTPWiring",
    "InMemoryQueueService",
    "InProcessScheduler",
    "InternalServerError",
    "JobInfo",
    "JobStatus",
    "MCPPromptWiring",
    "MCPResourceWiring",
    "MCPToolSchemas",
    "MCPToolWiring",
    "MCPWire",
    "MethodNotAllowedError",
    "Middleware",
    "NotFoundError",
    "NotImplementedHTTPError",
    "PayloadTooLargeError",
    "Permission",
    "PermissionSpec",
    "Pikku",
    "PikkuError",
    "PikkuFunction",
    "Pipeline",
    "QueueService",
    "QueueWire",
    "QueueWiring",
    "Response",
    "ScheduledRun",
    "ScheduledWire",
    "SchedulerWiring",
    "ServiceUnavailableError",
    "ServicesView",
    "SessionCodec",
    "SetCookie",
    "SkipRun",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnprocessableContentError",
    "URITooLongError",
    "UnsupportedMediaTypeError",
    "UploadFile",
    "Wire",
    "__version__",
    "auth_bearer",
    "auth_cookie",
    "encode_json",
    "decode_error",
    "error_for_status",
    "load_app",
    "mcp_tool_schemas",
    "object_root_schema",
    "pikku_func",
    "pikku_sessionless_func",
    "to_builtins",
]
