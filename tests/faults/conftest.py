"""One stack for the fault tests, as production runs it: PostgreSQL and Redis (both its own, so
they can be restarted and killed), real processes, real HTTP.

Time is compressed through configuration and the stack's one clock: the outbox retries every
half second, turns are retried within seconds, uncertain bookings are checked every second,
GestãoDS requests time out after 2 s, and hours pass by moving the clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from clinicbot.stack import Stack
from tests.support.faults import FAULTS_ENV, database_of
from tests.support.servers import OwnRedis, ThrowawayPostgres
from tests.support.stack_fixtures import (  # noqa: F401  (fixtures)
    agenda,
    clock,
    patient,
    patient_factory,
    registered_cpf,
    running_stack,
    sandbox_url,
    turns,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres().create()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[OwnRedis]:
    server = OwnRedis().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, postgres: ThrowawayPostgres, redis_server: OwnRedis
) -> Iterator[Stack]:
    yield from running_stack(
        tmp_path_factory.mktemp("faults"),
        {**FAULTS_ENV, "DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url},
    )


@pytest.fixture(scope="session")
def database(stack: Stack) -> Iterator[Engine]:
    engine = database_of(stack)
    yield engine
    engine.dispose()
