"""Values that cross the function boundary: uploaded files and raw responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

__all__ = ["Response", "UploadFile", "encode_json", "to_builtins"]


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, UploadFile):
        return {"filename": obj.filename, "content_type": obj.content_type, "size": obj.size}
    raise NotImplementedError(f"cannot encode {type(obj).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_json(value: Any) -> bytes:
    """Encode a function's output (Structs, dataclasses, builtins) as JSON bytes."""
    return _encoder.encode(value)


def to_builtins(value: Any) -> Any:
    """Convert an output to JSON-compatible builtins (dicts, lists, str, numbers)."""
    return msgspec.to_builtins(value, enc_hook=_enc_hook)


class UploadFile:
    """A file received by a transport (multipart part, raw body).

    Use it as the type of an input field; a transport fills it. The content is either held
    in memory (``data``) or read from ``stream``.

    Attributes:
        filename: The client's file name, if it sent one.
        content_type: The part's media type.
    """

    __slots__ = ("_data", "_stream", "content_type", "filename", "headers")

    def __init__(
        self,
        filename: str | None,
        content_type: str = "application/octet-stream",
        data: bytes | None = None,
        stream: AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if data is None and stream is None:
            data = b""
        self.filename = filename
        self.content_type = content_type
        self.headers: Mapping[str, str] = headers or {}
        self._data = data
        self._stream = stream

    @property
    def size(self) -> int | None:
        """The size in bytes when the content is in memory, else None."""
        return len(self._data) if self._data is not None else None

    async def read(self) -> bytes:
        """Return the whole content, draining the stream on first call."""
        if self._data is None:
            assert self._stream is not None
            chunks = [chunk async for chunk in self._stream]
            self._data = b"".join(chunks)
            self._stream = None
        return self._data

    async def chunks(self) -> AsyncIterator[bytes]:
        """Iterate the content in chunks without holding it all in memory."""
        if self._data is not None:
            yield self._data
            return
        assert self._stream is not None
        stream, self._stream = self._stream, None
        async for chunk in stream:
            yield chunk

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r})"


class Response:
    """A raw response returned by a function, bypassing JSON encoding.

    Transports that have no notion of raw bodies (channels, queues) treat it as an error.

    Attributes:
        body: The bytes, or an async iterator of chunks to stream.
        content_type: The media type sent with it.
        status: The HTTP status.
        headers: Extra response headers.
    """

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        body: bytes | AsyncIterator[bytes],
        content_type: str = "application/octet-stream",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
