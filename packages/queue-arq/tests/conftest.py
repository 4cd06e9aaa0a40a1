from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from arq.connections import RedisSettings
from arq_testing import PrivateRedis

SHARED_REDIS = ("127.0.0.1", 6379)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_settings() -> RedisSettings:
    host, port = SHARED_REDIS
    try:
        redis.Redis(host=host, port=port, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need the real Redis at {host}:{port}: {exc}")
    return RedisSettings(host=host, port=port)


def _cleanup(client: redis.Redis, queue_name: str) -> None:
    keys = [queue_name, f"{queue_name}:health-check"]
    for pattern in (f"arq:*:{queue_name}:*", f"{queue_name}:*"):
        keys.extend(client.scan_iter(match=pattern, count=1000))
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])


@pytest.fixture
def queue_name(redis_settings: RedisSettings) -> Iterator[str]:
    """A unique arq queue name; its keys are deleted afterwards."""
    name = f"pikku-test:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis(host=redis_settings.host, port=redis_settings.port)  # type: ignore[arg-type]
    try:
        _cleanup(client, name)
    finally:
        client.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
