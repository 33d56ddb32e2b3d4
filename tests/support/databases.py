"""Database fixtures shared by the suites: every database test runs on SQLite and PostgreSQL.

A suite's ``conftest.py`` imports the fixtures it uses from here.

Each test session works in throwaway databases it creates (SQLite files under pytest's tmp dir,
``clinicbot_test_<random>`` databases on the PostgreSQL server) and drops them at the end, so
it never touches another engineer's data on the shared server.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from clinicbot.db.engine import make_engine
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.models import Base
from tests.support.services import POSTGRES_URL, require_postgres

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


class Databases:
    """Creates empty databases on demand and drops them when the session ends."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._admin: Engine | None = None
        self._pg_names: list[str] = []
        self._engines: list[Engine] = []

    def _pg_admin(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine(POSTGRES_URL, future=True, isolation_level="AUTOCOMMIT")
        return self._admin

    def new_url(self, backend: str) -> str:
        name = f"clinicbot_test_{secrets.token_hex(6)}"
        if backend == "sqlite":
            return f"sqlite:///{self._directory / f'{name}.db'}"
        with self._pg_admin().connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        self._pg_names.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def new_engine(self, backend: str, migrated: bool = True) -> Engine:
        url = self.new_url(backend)
        if migrated:
            upgrade_to_head(url)
        engine = make_engine(url)
        self._engines.append(engine)
        return engine

    def drop_all(self) -> None:
        for engine in self._engines:
            engine.dispose()
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._pg_names:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self._admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    created = Databases(tmp_path_factory.mktemp("db"))
    yield created
    created.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture
def empty_url(backend: str, databases: Databases) -> str:
    """A new, empty database."""
    return databases.new_url(backend)


@pytest.fixture
def fresh_engine(backend: str, databases: Databases) -> Engine:
    """A new database migrated to head, for tests that change partitions."""
    return databases.new_engine(backend)


@pytest.fixture(scope="session")
def _shared_engines(databases: Databases) -> dict[str, Engine]:
    return {}


@pytest.fixture
def engine(
    backend: str, databases: Databases, _shared_engines: dict[str, Engine]
) -> Iterator[Engine]:
    """A migrated database shared by the session's tests, emptied after each test."""
    if backend not in _shared_engines:
        _shared_engines[backend] = databases.new_engine(backend)
    shared = _shared_engines[backend]
    yield shared
    # The default clinic (row 1 of ``clinics``, seeded by the migrations) stays.
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    tables.remove("clinics")
    with shared.begin() as connection:
        if backend == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM clinics WHERE id <> 1"))


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    """Another engine (another pool, as another process would have) on the same database."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()
