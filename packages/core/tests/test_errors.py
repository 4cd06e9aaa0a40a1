"""The error hierarchy and its RFC 9457 mapping."""

from __future__ import annotations

import builtins
import inspect

import pikku_core
import pytest
from pikku_core import errors


def _classes() -> list[type[errors.PikkuError]]:
    return [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj)
        and issubclass(obj, errors.PikkuError)
        and obj is not errors.PikkuError
    ]


def test_every_status_class_is_exported_and_shadows_no_builtin() -> None:
    expected = {400, 401, 403, 404, 405, 409, 410, 413, 414, 415, 422, 429, 500, 501, 503, 504}
    classes = _classes()
    assert {c.status for c in classes} == expected
    for cls in classes:
        assert getattr(pikku_core, cls.__name__) is cls
        assert not hasattr(builtins, cls.__name__)


def test_problem_document() -> None:
    err = errors.NotFoundError("book 7 not found", {"id": 7})
    problem = err.to_problem()
    assert problem == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "book 7 not found",
        "name": "NotFoundError",
        "message": "book 7 not found",
        "payload": {"id": 7},
        "error_id": err.error_id,
    }
    assert errors.PROBLEM_CONTENT_TYPE == "application/problem+json"


@pytest.mark.parametrize("status", [404, 413, 415, 418, 502])
def test_error_for_status(status: int) -> None:
    err = errors.error_for_status(status)
    assert err.status_code == status
    assert err.message
    assert len(err.error_id) == 32


def test_default_messages_and_unique_ids() -> None:
    a, b = errors.UnauthorizedError(), errors.UnauthorizedError()
    assert a.message == "Authentication required"
    assert a.error_id != b.error_id
    assert repr(a).startswith("UnauthorizedError(")
