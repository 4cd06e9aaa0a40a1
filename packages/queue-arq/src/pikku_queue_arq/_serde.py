"""msgspec (MessagePack) serializers for arq, replacing its default pickle.

arq stores two kinds of records: the job (function name, args, kwargs, try, enqueue
time) and the result. Our job coroutine only ever passes bytes and returns builtins, but
arq itself stores exceptions in results (``max retries exceeded``, ``job expired``, a
function it does not know): those become the pikku error shape, never a pickled object.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pikku_core.errors import InternalServerError, PikkuError


def _exception_shape(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, PikkuError):
        return exc.to_dict()
    # arq's own failures (JobExecutionFailed, CancelledError…) carry a safe text
    # ("max 3 retries exceeded"): keep it, under the generic 500 name.
    message = str(exc) or type(exc).__name__
    return InternalServerError(message).to_dict()


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, BaseException):
        return _exception_shape(obj)
    raise NotImplementedError(f"cannot store {type(obj).__name__} in a job record")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_decoder: msgspec.msgpack.Decoder[dict[str, Any]] = msgspec.msgpack.Decoder(dict[str, Any])


class JobOutcomeRecord(msgspec.Struct, omit_defaults=True):
    """What our job coroutine returns, stored by arq as the job's result."""

    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None


def serialize(record: dict[str, Any]) -> bytes:
    """Encode an arq job or result record with MessagePack."""
    return _encoder.encode(record)


def deserialize(raw: bytes) -> dict[str, Any]:
    """Decode an arq job or result record written by `serialize`."""
    return _decoder.decode(raw)
