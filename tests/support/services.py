"""The PostgreSQL and Redis servers that some tests need: skipped locally, required in CI.

On a developer's machine a test whose server is down is skipped with the reason, so the rest of
the suite still runs. In CI (``CI`` is ``true``, ``1`` or ``yes``, any case: ``.ci/run`` exports
it, as most CI systems do) the same test fails instead: a green CI run must mean that the
PostgreSQL-only and Redis paths really ran.
"""

from __future__ import annotations

import os
from functools import cache
from typing import NoReturn

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 5
POSTGRES_HINT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(.ci/run does)"
)
REDIS_HINT = "start it with `redis-server --daemonize yes` (.ci/run does)"
_TRUE = {"true", "1", "yes"}


def running_in_ci() -> bool:
    """Whether the ``CI`` environment variable says this is a CI run."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def service_unavailable(service: str, url: str, error: object, hint: str) -> NoReturn:
    """Skip the running test because ``service`` at ``url`` is unreachable; fail it in CI."""
    detail = " ".join(str(error).split())  # drivers' messages span lines
    reason = f"{service} is unreachable at {url} ({detail}); {hint}"
    if running_in_ci():
        pytest.fail(
            f"{reason}. CI={os.environ['CI']} requires {service}: its tests must run, not skip.",
            pytrace=False,
        )
    pytest.skip(reason)


@cache
def _postgres_error(url: str) -> str | None:
    """Why ``url`` cannot be reached (None when it can); tried once per session and URL."""
    engine = create_engine(
        url, future=True, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        return str(error.orig)
    finally:
        engine.dispose()
    return None


def require_postgres(url: str = POSTGRES_URL) -> None:
    """Return if the PostgreSQL server at ``url`` answers; skip (fail in CI) otherwise."""
    error = _postgres_error(url)
    if error is not None:
        service_unavailable("PostgreSQL", url, error, POSTGRES_HINT)


def require_redis(url: str) -> redis.Redis:
    """A client of the Redis server at ``url`` once it answers; skip (fail in CI) otherwise.

    The caller closes the client.
    """
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        service_unavailable("Redis", url, error, REDIS_HINT)
    return client
