"""PostgreSQL connections never hang: connect and statement timeouts, keepalives, and a pool
that survives the server dropping its connections (a restart), for the project's engines and
Rasa's tracker store alike."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from clinicbot.db.engine import make_engine
from clinicbot.rasa.stores import DatabaseUrlTrackerStore
from clinicbot.settings import get_settings
from tests.support.databases import Databases
from tests.support.services import POSTGRES_URL, require_postgres

PHONE = "5531988887777"


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short timeouts, read by every engine made during the test."""
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def pg_url(databases: Databases) -> str:
    require_postgres()
    return databases.new_url("postgresql")


def _terminate_other_backends(database: str) -> int:
    """What a server restart does to a pool: every open connection to ``database`` dies."""
    admin = make_engine(POSTGRES_URL)
    try:
        with admin.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
            connection.commit()
            return int(killed)
    finally:
        admin.dispose()


def _select_one(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT 1")).scalar_one())


def test_a_long_statement_is_cancelled(timeouts: None, pg_url: str) -> None:
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "500ms"
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - started < 3
    engine.dispose()


def test_migrations_and_maintenance_may_run_long(timeouts: None, pg_url: str) -> None:
    engine = make_engine(pg_url, statement_timeout=False)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "0"
    engine.dispose()


def test_connections_send_keepalives(timeouts: None, pg_url: str) -> None:
    engine = make_engine(pg_url)
    with engine.connect() as connection:
        parameters = connection.connection.dbapi_connection.get_dsn_parameters()
    assert parameters["keepalives"] == "1" and parameters["keepalives_idle"] == "30"
    assert parameters["connect_timeout"] == "1"
    engine.dispose()


def test_connecting_to_a_server_that_never_answers_gives_up(timeouts: None) -> None:
    with socket.socket() as silent:  # accepts TCP connections (backlog), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql://postgres@127.0.0.1:{port}/test")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="timeout"):
            _select_one(engine)
        assert time.monotonic() - started < 5
        engine.dispose()


def test_the_pool_replaces_connections_the_server_dropped(timeouts: None, pg_url: str) -> None:
    engine = make_engine(pg_url)
    assert _select_one(engine) == 1  # one connection now idles in the pool
    assert _terminate_other_backends(engine.url.database) >= 1
    assert _select_one(engine) == 1  # pre-ping found it dead and connected again
    engine.dispose()


def test_rasa_tracker_store_uses_the_same_engine_settings(
    timeouts: None, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    get_settings.cache_clear()
    domain = Domain.from_dict({"intents": ["saudacao"]})
    store = DatabaseUrlTrackerStore(domain=domain)
    tracker = DialogueStateTracker.from_events(
        PHONE, [UserUttered("oi", {"name": "saudacao", "confidence": 1.0})]
    )
    asyncio.run(store.save(tracker))
    with store.engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "500ms"

    assert _terminate_other_backends(store.engine.url.database) >= 1
    again = asyncio.run(store.retrieve(PHONE))  # Rasa's own engine would fail here
    assert again is not None and again.latest_message.text == "oi"
    store.engine.dispose()
