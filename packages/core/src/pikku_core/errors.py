"""The pikku error hierarchy: one error shape for every transport.

Every error a function (or the framework) raises towards a caller is a `PikkuError`.
Each subclass carries an HTTP status; other transports use the same shape
(``{"name", "message", "payload", "error_id"}``) and HTTP sends it as RFC 9457
``application/problem+json``::

    PikkuError
    ├── BadRequestError              400
    ├── UnauthorizedError            401
    ├── ForbiddenError               403
    ├── NotFoundError                404
    ├── MethodNotAllowedError        405
    ├── ConflictError                409
    ├── GoneError                    410
    ├── PayloadTooLargeError         413
    ├── URITooLongError              414
    ├── UnsupportedMediaTypeError    415
    ├── UnprocessableContentError    422  (input validation; payload = {"path": "$.x"})
    ├── TooManyRequestsError         429
    ├── InternalServerError          500  (unknown exceptions, message masked)
    ├── NotImplementedHTTPError      501
    ├── ServiceUnavailableError      503
    └── GatewayTimeoutError          504
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any, ClassVar

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "GatewayTimeoutError",
    "GoneError",
    "InternalServerError",
    "MethodNotAllowedError",
    "NotFoundError",
    "NotImplementedHTTPError",
    "PayloadTooLargeError",
    "PikkuError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "UnprocessableContentError",
    "URITooLongError",
    "UnsupportedMediaTypeError",
    "error_for_status",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
"""The media type of an RFC 9457 problem document."""


class PikkuError(Exception):
    """Base class of every error that reaches a caller.

    Attributes:
        status: The HTTP status this error maps to (class attribute, overridable per instance).
        message: A human-readable message, safe to show to the caller.
        payload: Optional JSON-serialisable detail (e.g. ``{"path": "$.age"}``).
        error_id: A unique id for this occurrence, also written to the logs.
    """

    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Error"

    def __init__(
        self,
        message: str = "",
        payload: Any = None,
        *,
        status: int | None = None,
        name: str | None = None,
    ) -> None:
        self.message: str = message or self.default_message
        self.payload: Any = payload
        self.error_id: str = uuid.uuid4().hex
        self._status = status
        self._name = name
        super().__init__(self.message)

    @property
    def status_code(self) -> int:
        """The effective HTTP status of this error (instance override or class default)."""
        return self._status if self._status is not None else type(self).status

    @property
    def name(self) -> str:
        """The error's name in the error shape (the class name unless mapped)."""
        return self._name or type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """Return the transport-neutral error shape."""
        return {
            "name": self.name,
            "message": self.message,
            "payload": self.payload,
            "error_id": self.error_id,
        }

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document for this error."""
        status = self.status_code
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = self.name
        return {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": self.message,
            **self.to_dict(),
        }

    def __repr__(self) -> str:
        return f"{self.name}({self.message!r}, status={self.status_code})"


class BadRequestError(PikkuError):
    """The request is malformed (400)."""

    status = 400
    default_message = "Bad request"


class UnauthorizedError(PikkuError):
    """The call needs a session and none was given (401)."""

    status = 401
    default_message = "Authentication required"


class ForbiddenError(PikkuError):
    """The session may not make this call (403)."""

    status = 403
    default_message = "Permission denied"


class NotFoundError(PikkuError):
    """The thing asked for does not exist (404)."""

    status = 404
    default_message = "Not found"


class MethodNotAllowedError(PikkuError):
    """The route exists but not for this method (405)."""

    status = 405
    default_message = "Method not allowed"


class ConflictError(PikkuError):
    """The call conflicts with the current state (409)."""

    status = 409
    default_message = "Conflict"


class GoneError(PikkuError):
    """The thing asked for existed but is gone for good (410)."""

    status = 410
    default_message = "Gone"


class PayloadTooLargeError(PikkuError):
    """The request body is larger than the configured limit (413)."""

    status = 413
    default_message = "Payload too large"


class URITooLongError(PikkuError):
    """The request target (path and query) is longer than the server accepts (414)."""

    status = 414
    default_message = "URI too long"


class UnsupportedMediaTypeError(PikkuError):
    """The request body's content type is not accepted (415)."""

    status = 415
    default_message = "Unsupported media type"


class UnprocessableContentError(PikkuError):
    """The input failed validation (422); ``payload["path"]`` says where."""

    status = 422
    default_message = "Invalid input"


class TooManyRequestsError(PikkuError):
    """The caller is being rate limited (429)."""

    status = 429
    default_message = "Too many requests"


class InternalServerError(PikkuError):
    """An unexpected failure (500); the message shown to callers is generic."""

    status = 500
    default_message = "Internal server error"


class NotImplementedHTTPError(PikkuError):
    """The server does not support this call (501)."""

    status = 501
    default_message = "Not implemented"


class ServiceUnavailableError(PikkuError):
    """A dependency is unavailable; try again later (503)."""

    status = 503
    default_message = "Service unavailable"


class GatewayTimeoutError(PikkuError):
    """An upstream call timed out (504)."""

    status = 504
    default_message = "Gateway timeout"


_BY_STATUS: dict[int, type[PikkuError]] = {
    cls.status: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        ForbiddenError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        GoneError,
        PayloadTooLargeError,
        URITooLongError,
        UnsupportedMediaTypeError,
        UnprocessableContentError,
        TooManyRequestsError,
        InternalServerError,
        NotImplementedHTTPError,
        ServiceUnavailableError,
        GatewayTimeoutError,
    )
}


def error_for_status(status: int, message: str = "", payload: Any = None) -> PikkuError:
    """Build the error subclass matching an HTTP status.

    Transports use it for errors they detect themselves (unknown route, body too large).
    A status with no dedicated subclass gives a `PikkuError` carrying that status.

    Args:
        status: The HTTP status code.
        message: The message; the subclass default when empty.
        payload: Optional detail.

    Returns:
        The error instance (not raised).
    """
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, payload)
    return PikkuError(message or HTTPStatus(status).phrase, payload, status=status)
