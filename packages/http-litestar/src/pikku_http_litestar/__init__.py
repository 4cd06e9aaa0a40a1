"""Serve pikku functions over HTTP with Litestar.

Every ``app.wire_http(...)`` becomes a real Litestar route; errors are RFC 9457
``application/problem+json``; async-generator functions are served as server-sent events.

Example:
    ```python
    from pikku_http_litestar import create_app

    asgi_app = create_app(app)  # then: uvicorn module:asgi_app
    ```
"""

from ._app import DEFAULT_BODY_LIMIT, PikkuPlugin, create_app

__all__ = ["DEFAULT_BODY_LIMIT", "PikkuPlugin", "create_app"]
