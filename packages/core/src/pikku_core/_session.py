"""Session tokens and the session middleware every transport shares."""

from __future__ import annotations

import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import msgspec

from ._wire import SameSite, Wire

__all__ = ["HMACSessionCodec", "SessionCodec", "auth_bearer", "auth_cookie"]

S = TypeVar("S")


@runtime_checkable
class SessionCodec(Protocol):
    """Turns sessions into tokens and back (plug JWT or anything else here)."""

    def encode(self, session: Any) -> str:
        """Return a token carrying the session."""
        ...

    def decode(self, token: str) -> Any | None:
        """Return the session in a token, or None if it is invalid, tampered or expired.

        Must never raise for bad input.
        """
        ...


# base64/hashlib/hmac are imported on first use: `import pikku_core` stays small.
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_STANDARD = bytes.maketrans(b"-_", b"+/")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    raw = (text + "=" * (-len(text) % 4)).encode("ascii").translate(_STANDARD)
    return binascii.a2b_base64(raw, strict_mode=True)


class _Envelope(msgspec.Struct, array_like=True):
    session: msgspec.Raw
    expires: int | None = None


class HMACSessionCodec:
    """HMAC-SHA256 signed session tokens with an optional expiry.

    A token is ``base64url(json) "." base64url(signature)``; the session is readable by
    whoever holds it (signed, not encrypted), so keep secrets out of sessions.

    Args:
        secret: The signing key (at least 16 characters).
        session_type: The type sessions are decoded as (msgspec-decodable).
        max_age: Lifetime in seconds; None means tokens do not expire.
    """

    def __init__(
        self, secret: str | bytes, *, session_type: Any = dict, max_age: int | None = None
    ) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the session secret must be at least 16 characters long")
        import hashlib
        import hmac

        self._key = key
        self._hmac_new = hmac.new
        self._compare = hmac.compare_digest
        self._digest = hashlib.sha256
        self._session_type = session_type
        self._max_age = max_age
        self._encoder = msgspec.json.Encoder()
        self._env_decoder = msgspec.json.Decoder(_Envelope)
        self._session_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(session_type)

    def _sign(self, body: bytes) -> bytes:
        return self._hmac_new(self._key, body, self._digest).digest()

    def encode(self, session: Any) -> str:
        """Return a signed token for ``session``."""
        expires = int(time.time()) + self._max_age if self._max_age is not None else None
        raw = msgspec.Raw(self._encoder.encode(session))
        body = self._encoder.encode(_Envelope(raw, expires))
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def decode(self, token: str) -> Any | None:
        """Return the session, or None for a malformed, tampered or expired token."""
        try:
            body_text, sig_text = token.split(".", 1)
            body = _unb64(body_text)
            if not self._compare(self._sign(body), _unb64(sig_text)):
                return None
            env = self._env_decoder.decode(body)
            if env.expires is not None and env.expires < time.time():
                return None
            return self._session_decoder.decode(env.session)
        except (ValueError, TypeError, binascii.Error, msgspec.MsgspecError):
            return None


Next = Callable[[], Awaitable[Any]]
SessionMiddleware = Callable[[Any, Wire[Any], Next], Awaitable[Any]]


def _codec_getter(
    secret: str | None, codec: SessionCodec | None, max_age: int | None
) -> Callable[[Wire[Any]], SessionCodec]:
    if codec is not None:
        fixed = codec
        return lambda wire: fixed
    cache: dict[int, SessionCodec] = {}

    def get(wire: Wire[Any]) -> SessionCodec:
        app = wire.app
        found = cache.get(id(app))
        if found is None:
            key = secret or app.require_secret("session tokens")
            found = HMACSessionCodec(key, session_type=app.session_type, max_age=max_age)
            cache[id(app)] = found
        return found

    return get


def auth_cookie(
    secret: str | None = None,
    name: str = "pikku_session",
    max_age: int | None = 14 * 24 * 3600,
    *,
    codec: SessionCodec | None = None,
    secure: bool = True,
    http_only: bool = True,
    same_site: SameSite = "lax",
    path: str = "/",
) -> SessionMiddleware:
    """Session middleware that keeps the session in a signed cookie.

    Before the call it loads the session from the cookie (a bad or expired cookie means
    no session); after it, ``wire.set_session`` sets the cookie and
    ``wire.clear_session`` expires it. Does nothing on calls that are not HTTP.

    Args:
        secret: Signing key; default the app's secret (``PIKKU_SECRET``).
        name: Cookie name.
        max_age: Cookie and token lifetime in seconds (None: session cookie, no expiry).
        codec: A custom `SessionCodec` (e.g. JWT) instead of the HMAC codec.
        secure: Send the cookie over HTTPS only.
        http_only: Hide the cookie from JavaScript.
        same_site: The ``SameSite`` attribute.
        path: The cookie path.
    """
    get_codec = _codec_getter(secret, codec, max_age)

    async def auth_cookie_middleware(services: Any, wire: Wire[Any], next: Next) -> Any:
        http = wire.http
        if http is None:
            return await next()
        if wire.session is None:
            token = http.cookies.get(name)
            if token:
                session = get_codec(wire).decode(token)
                if session is not None:
                    wire.load_session(session)
        result = await next()
        if wire.session_changed:
            if wire.session is None:
                http.delete_cookie(name, path=path)
            else:
                http.set_cookie(
                    name,
                    get_codec(wire).encode(wire.session),
                    max_age=max_age,
                    path=path,
                    secure=secure,
                    http_only=http_only,
                    same_site=same_site,
                )
        return result

    # Generators (OpenAPI security schemes) read the cookie name from the middleware.
    auth_cookie_middleware.__dict__["cookie_name"] = name
    return auth_cookie_middleware


def auth_bearer(
    secret: str | None = None,
    *,
    codec: SessionCodec | None = None,
    header: str = "authorization",
    max_age: int | None = None,
) -> SessionMiddleware:
    """Session middleware that reads ``Authorization: Bearer <token>``.

    A missing, malformed, tampered or expired token means no session. A session set during
    the call is returned to the client in the ``X-Session-Token`` response header (bearer
    clients keep the token themselves).

    Args:
        secret: Signing key; default the app's secret (``PIKKU_SECRET``).
        codec: A custom `SessionCodec` (e.g. JWT) instead of the HMAC codec.
        header: The request header carrying the token.
        max_age: Lifetime of tokens issued through ``X-Session-Token``.
    """
    get_codec = _codec_getter(secret, codec, max_age)
    header = header.lower()

    async def auth_bearer_middleware(services: Any, wire: Wire[Any], next: Next) -> Any:
        http = wire.http
        if http is None:
            return await next()
        if wire.session is None:
            value = http.headers.get(header)
            if value:
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token:
                    session = get_codec(wire).decode(token.strip())
                    if session is not None:
                        wire.load_session(session)
        result = await next()
        if wire.session_changed and wire.session is not None:
            http.set_header("X-Session-Token", get_codec(wire).encode(wire.session))
        return result

    return auth_bearer_middleware
