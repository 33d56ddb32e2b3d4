"""Rasa tracker and lock stores configured from the project's environment variables.

``endpoints.yml`` cannot branch on whether a variable is set, and Rasa's SQL tracker store wants
the URL split into dialect/host/db. These classes read ``DATABASE_URL`` / ``REDIS_URL`` through
:mod:`clinicbot.settings`, so the same ``endpoints.yml`` serves SQLite and PostgreSQL, with or
without Redis. The tracker store runs on the project's engine (:func:`make_engine`: pre-ping,
connect and statement timeouts, keepalives, SQLite's busy timeout), not Rasa's bare one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from clinicbot.db.engine import make_engine
from clinicbot.settings import get_settings


class DatabaseUrlTrackerStore(SQLTrackerStore):
    """Rasa's ``SQLTrackerStore`` on the database named by ``DATABASE_URL``."""

    engine: Engine

    def __init__(
        self,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        host: str | None = None,
        **kwargs: Any,
    ) -> None:
        database_url = get_settings().database_url
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(
            domain=domain,
            dialect=url.drivername,
            host=url.host,
            port=url.port,
            db=url.database or "",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            query=dict(url.query) or None,
            **kwargs,
        )
        # Rasa built its engine (and created its table) without pre-ping or timeouts; swap it.
        self.engine.dispose()
        self.engine = make_engine(database_url, future=False)
        self.sessionmaker = sessionmaker(bind=self.engine)


class ConfiguredLockStore(LockStore):
    """A Redis lock store when ``REDIS_URL`` is set, Rasa's in-memory one otherwise.

    Rasa instantiates a custom lock store class with ``endpoint_config=``; ``__new__`` returns the
    concrete store, so Rasa gets exactly the stock implementation it knows.
    """

    def __new__(cls, endpoint_config: EndpointConfig | None = None) -> LockStore:
        settings = get_settings()
        redis_url = settings.redis_url
        if not redis_url:
            return InMemoryLockStore()
        url = make_url(redis_url)
        return RedisLockStore(
            host=url.host or "localhost",
            port=url.port or 6379,
            db=int(url.database or 1),
            password=url.password,
            key_prefix=settings.redis_lock_prefix,
        )
