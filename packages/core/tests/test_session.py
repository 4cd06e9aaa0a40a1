"""Session tokens and the cookie / bearer session middleware."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest
from pikku_core import (
    HMACSessionCodec,
    HTTPWire,
    Pikku,
    SessionCodec,
    Wire,
    auth_bearer,
    auth_cookie,
    pikku_func,
    pikku_sessionless_func,
)

pytestmark = pytest.mark.anyio

SECRET = "0123456789abcdef-secret"


class Session(msgspec.Struct):
    user_id: str
    role: str = "user"


def test_codec_round_trip_and_protocol() -> None:
    codec = HMACSessionCodec(SECRET, session_type=Session)
    assert isinstance(codec, SessionCodec)
    token = codec.encode(Session(user_id="u1", role="admin"))
    assert codec.decode(token) == Session(user_id="u1", role="admin")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],
        lambda t: "x" + t,
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "....",
        lambda t: "%%%.###",
        lambda t: t + "." + t,
    ],
)
def test_tampered_or_garbage_tokens_give_no_session(mangle: Any) -> None:
    codec = HMACSessionCodec(SECRET)
    token = codec.encode({"user_id": "u1"})
    assert codec.decode(mangle(token)) is None


def test_other_secret_and_wrong_shape_give_no_session() -> None:
    token = HMACSessionCodec(SECRET).encode({"user_id": "u1"})
    assert HMACSessionCodec("another-secret-0123456").decode(token) is None
    wrong = HMACSessionCodec(SECRET).encode({"nope": 1})
    assert HMACSessionCodec(SECRET, session_type=Session).decode(wrong) is None


def test_expired_token_gives_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    codec = HMACSessionCodec(SECRET, max_age=10)
    token = codec.encode({"u": 1})
    assert codec.decode(token) == {"u": 1}
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 11)
    assert codec.decode(token) is None


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        HMACSessionCodec("short")


@pikku_sessionless_func
async def login(services: Any, data: Session, wire: Wire[Session]) -> None:
    wire.set_session(data)


@pikku_sessionless_func
async def logout(services: Any, data: None, wire: Wire[Session]) -> None:
    wire.clear_session()


@pikku_func
async def me(services: Any, data: None, wire: Wire[Session]) -> Session:
    assert wire.session is not None
    return wire.session


def _app(*middleware: Any) -> Pikku:
    app = Pikku(secret=SECRET, session_type=Session)
    app.add_middleware(*middleware)
    app.wire_http("POST", "/login", login)
    app.wire_http("POST", "/logout", logout)
    app.wire_http("GET", "/me", me)
    return app


def _route(app: Pikku, path: str) -> Any:
    return next(w for w in app.http_wirings if w.route == path).pipeline


async def test_cookie_login_sets_cookie_and_logout_expires_it() -> None:
    app = _app(auth_cookie(max_age=60))
    http = HTTPWire("POST", "/login")
    await _route(app, "/login").run(Wire(app, http=http), {"user_id": "u1"})
    (cookie,) = http.response_cookies
    header = cookie.header_value()
    assert header.startswith("pikku_session=")
    for attr in ("HttpOnly", "Secure", "SameSite=Lax", "Max-Age=60", "Path=/"):
        assert attr in header

    http2 = HTTPWire("GET", "/me", cookies={"pikku_session": cookie.value})
    assert await _route(app, "/me").run(Wire(app, http=http2)) == Session(user_id="u1")
    assert http2.response_cookies == []

    http3 = HTTPWire("POST", "/logout", cookies={"pikku_session": cookie.value})
    await _route(app, "/logout").run(Wire(app, http=http3))
    (expired,) = http3.response_cookies
    assert expired.value == "" and "Max-Age=0" in expired.header_value()
    await app.close()


async def test_bad_cookie_means_no_session_not_an_error() -> None:
    from pikku_core import UnauthorizedError

    app = _app(auth_cookie())
    http = HTTPWire("GET", "/me", cookies={"pikku_session": "garbage.token"})
    with pytest.raises(UnauthorizedError):
        await _route(app, "/me").run(Wire(app, http=http))
    await app.close()


async def test_bearer_token_loads_session_and_issues_new_tokens() -> None:
    app = _app(auth_bearer())
    token = app.session_codec().encode(Session(user_id="b"))
    http = HTTPWire("GET", "/me", headers={"authorization": f"Bearer {token}"})
    assert await _route(app, "/me").run(Wire(app, http=http)) == Session(user_id="b")
    login_http = HTTPWire("POST", "/login")
    await _route(app, "/login").run(Wire(app, http=login_http), {"user_id": "n"})
    ((name, issued),) = login_http.response_headers
    assert name == "X-Session-Token"
    assert app.session_codec().decode(issued) == Session(user_id="n")
    await app.close()


async def test_session_middleware_is_inert_without_http() -> None:
    app = _app(auth_cookie(), auth_bearer())
    assert await app.invoke("me", session=Session(user_id="direct")) == Session(user_id="direct")
    await app.close()


def test_missing_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIKKU_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="PIKKU_SECRET"):
        Pikku().session_codec()
    monkeypatch.setenv("PIKKU_SECRET", SECRET)
    assert Pikku().secret == SECRET
