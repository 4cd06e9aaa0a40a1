"""Fixed source shared by every generated Python client module (errors, session, helpers)."""

from __future__ import annotations

import re

__all__ = ["ASYNC_BASE", "ERRORS", "SYNC_BASE", "fill", "helpers_for"]

ERRORS = '''
class Problem(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem document carrying the pikku error shape."""

    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str = ""
    name: str = ""
    message: str = ""
    payload: Any = None
    error_id: str | None = None


class ApiError(Exception):
    """An error answer from the server; ``problem`` is the body it sent."""

    status: int = 0

    def __init__(self, problem: Problem, status: int | None = None) -> None:
        self.problem = problem
        if status is not None:
            self.status = status
        elif problem.status:
            self.status = problem.status
        text = problem.message or problem.detail or problem.title
        super().__init__(f"{problem.name or type(self).__name__} ({self.status}): {text}")
'''

_HELPERS = '''
FileContent: TypeAlias = bytes | tuple[str, bytes] | tuple[str, bytes, str]
"""A file field: its bytes, ``(filename, bytes)`` or ``(filename, bytes, content_type)``."""

_NO_BODY: Any = object()


def _error(status: int, content: bytes, reason: str) -> ApiError:
    try:
        problem = msgspec.json.decode(content, type=Problem)
    except msgspec.MsgspecError:
        text = content.decode("utf-8", "replace")[:500]
        problem = Problem(status=status, title=reason, detail=text, message=text or reason)
    cls = _ERRORS_BY_NAME.get(problem.name) or _ERRORS_BY_STATUS.get(status, ApiError)
    return cls(problem, status)


def _stream_error(data: str) -> ApiError:
    try:
        problem = msgspec.json.decode(data, type=Problem)
    except msgspec.MsgspecError:
        problem = Problem(name="StreamError", message=data)
    cls = _ERRORS_BY_NAME.get(problem.name, ApiError)
    return cls(problem, problem.status or cls.status)


def _fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: msgspec.to_builtins(v) for k, v in values.items() if v is not msgspec.UNSET}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def _query(values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for key, value in _fields(values).items():
        if value is None:
            continue
        items = cast(list[Any], value) if isinstance(value, list) else [value]
        out.extend((key, _text(item)) for item in items)
    return tuple(out)


def _segment(value: Any) -> str:
    return quote(_text(msgspec.to_builtins(value)), safe="")


def _multipart(
    values: dict[str, Any], files: frozenset[str]
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    data: dict[str, str] = {}
    parts: list[tuple[str, tuple[str, bytes, str]]] = []
    for key, value in values.items():
        if value is msgspec.UNSET:
            continue
        if key in files and isinstance(value, bytes | tuple):
            file = cast(FileContent, value)
            if isinstance(file, bytes):
                parts.append((key, (key, file, "application/octet-stream")))
            elif len(file) == 2:
                parts.append((key, (file[0], file[1], "application/octet-stream")))
            else:
                parts.append((key, file))
        elif value is not None:
            data[key] = _text(msgspec.to_builtins(value))
    return data, parts


class _SSE:
    """Incremental Server-Sent Events parser: feed lines, get ``(event, data)`` pairs."""

    def __init__(self) -> None:
        self.event = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self.data:
                self.event = "message"
                return None
            done = (self.event, "\\n".join(self.data))
            self.event, self.data = "message", []
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self.data.append(value)
        elif name == "event":
            self.event = value
        return None


def _event_data(event: tuple[str, str]) -> str:
    if event[0] == "error":
        raise _stream_error(event[1])
    return event[1]


class _Session:
    """The session a client carries: a bearer token and the cookies the server set."""

    def __init__(
        self, mode: str, token: str | None, cookies: Mapping[str, str] | None
    ) -> None:
        if mode not in ("cookie", "bearer"):
            raise ValueError(f"session must be 'cookie' or 'bearer', not {mode!r}")
        self.bearer = mode == "bearer"
        self.token = token
        self.cookies: dict[str, str] = dict(cookies or {})

    def headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        headers = dict(extra)
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def update(self, response: httpx.Response) -> None:
        if self.bearer:
            token = response.headers.get("x-session-token")
            if token:
                self.token = token
            return
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                max_age = str(morsel["max-age"] or "")
                expired = max_age.lstrip("-").isdigit() and int(max_age) <= 0
                if not morsel.value or expired:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value


def _no_cookie_jar() -> CookieJar:
    # The client keeps cookies itself (also the ones marked Secure, so a session works
    # against a plain-HTTP dev server); httpx must not add a second Cookie header.
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
'''


def fill(template: str, **values: str) -> str:
    """Replace ``<<name>>`` markers (the source itself is full of braces)."""
    for key, value in values.items():
        template = template.replace(f"<<{key}>>", value)
    return template


_BASE = '''
class <<cls>>:
    """<<doc>>

    Args:
        base_url: The server's URL (e.g. ``http://127.0.0.1:8000``).
        session: How the client keeps the session the server sets: ``"cookie"`` keeps
            the cookies it sets (also Secure ones, so a plain-HTTP dev server works),
            ``"bearer"`` keeps the token it returns in ``X-Session-Token``. A bearer
            token cannot be revoked by the server: call `clear_session` on logout.
        token: A bearer token to send.
        cookies: Cookies to start with.
        headers: Extra headers sent with every request.
        timeout: Request timeout in seconds.
        http_client: An ``httpx.<<http>>`` to use instead of a new one (not closed by
            `<<close>>`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: Literal["cookie", "bearer"] = "cookie",
        token: str | None = None,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        http_client: httpx.<<http>> | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http_client is None
        self._http = http_client or httpx.<<http>>(timeout=timeout, cookies=_no_cookie_jar())
        self._headers = dict(headers or {})
        self._session = _Session(session, token, cookies)
<<rpc_init>>
    @property
    def token(self) -> str | None:
        """The bearer token sent with each request."""
        return self._session.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._session.token = value

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies sent with each request (updated from ``Set-Cookie``)."""
        return self._session.cookies

    def clear_session(self) -> None:
        """Forget the bearer token and every cookie."""
        self._session.token = None
        self._session.cookies.clear()

    <<def_>> <<close>>(self) -> None:
        """Close the underlying HTTP client (if this client made it)."""
        if self._owns_http:
            <<await_>>self._http.<<close>>()

    <<def_>> __<<aenter>>__(self) -> Self:
        return self

    <<def_>> __<<aexit>>__(self, *exc_info: object) -> None:
        <<await_>>self.<<close>>()

    <<def_>> send(
        self,
        method: str,
        path: str,
        *,
        params: tuple[tuple[str, str], ...] | None = None,
        body: Any = _NO_BODY,
        multipart: tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]] | None = None,
    ) -> httpx.Response:
        """Send one request; an error status raises the matching `ApiError`."""
        headers = self._session.headers(self._headers)
        content: bytes | None = None
        if body is not _NO_BODY:
            content = msgspec.json.encode(body)
            headers["content-type"] = "application/json"
        data, files = multipart if multipart is not None else (None, None)
        response = <<await_>>self._http.request(
            method,
            self.base_url + path,
            params=params,
            content=content,
            data=data,
            files=files,
            headers=headers,
        )
        self._session.update(response)
        if response.status_code >= 400:
            raise _error(response.status_code, response.content, response.reason_phrase)
        return response

    <<def_>> stream_lines(
        self, method: str, path: str, *, params: tuple[tuple[str, str], ...] | None = None, body: Any = _NO_BODY
    ) -> <<Iter>>[str]:
        """Send one request and yield the lines of its (event-stream) body."""
        headers = self._session.headers(self._headers)
        headers["accept"] = "text/event-stream"
        content: bytes | None = None
        if body is not _NO_BODY:
            content = msgspec.json.encode(body)
            headers["content-type"] = "application/json"
        <<async_>>with self._http.stream(
            method, self.base_url + path, params=params, content=content, headers=headers
        ) as response:
            self._session.update(response)
            if response.status_code >= 400:
                raw = <<await_>>response.<<read>>()
                raise _error(response.status_code, raw, response.reason_phrase)
            <<async_>>for line in response.<<iter_lines>>():
                yield line
'''

SYNC_BASE = fill(
    _BASE,
    http="Client",
    close="close",
    def_="def",
    await_="",
    async_="",
    aenter="enter",
    aexit="exit",
    Iter="Iterator",
    read="read",
    iter_lines="iter_lines",
)

ASYNC_BASE = fill(
    _BASE,
    http="AsyncClient",
    close="aclose",
    def_="async def",
    await_="await ",
    async_="async ",
    aenter="aenter",
    aexit="aexit",
    Iter="AsyncIterator",
    read="aread",
    iter_lines="aiter_lines",
)


_NAME_RE = re.compile(r"^(?:class |def )?(\w+)")
_BLOCKS: dict[str, str] = {}
for _block in _HELPERS.strip().split("\n\n\n"):
    _match = _NAME_RE.match(_block)
    assert _match is not None
    _BLOCKS[_match.group(1)] = _block


def helpers_for(source: str) -> str:
    """The helper definitions ``source`` uses (and those they use), in a fixed order.

    Only used helpers are emitted: pyright strict reports unused private functions.
    """
    used: set[str] = set()
    pending = [source]
    while pending:
        text = pending.pop()
        for name, block in _BLOCKS.items():
            if name not in used and re.search(rf"\b{re.escape(name)}\b", text):
                used.add(name)
                pending.append(block)
    return "\n\n\n".join(block for name, block in _BLOCKS.items() if name in used)
