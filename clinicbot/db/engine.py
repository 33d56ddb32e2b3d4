"""Engines and sessions for a database URL (PostgreSQL in production, SQLite embedded).

Every engine of the project, Rasa's tracker store's included (:mod:`clinicbot.rasa.stores`),
comes from :func:`make_engine`, so none waits forever on a database that went away: PostgreSQL
connections are pinged before use (a restarted server's dead connections are replaced instead
of failing the next query), give up connecting after ``DATABASE_CONNECT_TIMEOUT_SECONDS``,
cancel statements running longer than ``DATABASE_STATEMENT_TIMEOUT_SECONDS`` and send TCP
keepalives (a server that vanished is noticed in about a minute, not the kernel's two hours);
SQLite connections wait up to :data:`SQLITE_BUSY_TIMEOUT_MS` for the writer's lock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from clinicbot.settings import get_settings
from clinicbot.tenancy import scope as _clinic_scope  # noqa: F401  (registers the listeners)
from clinicbot.tenancy.context import current_clinic_id

SQLITE_BUSY_TIMEOUT_MS = 30_000
# libpq keepalives: first probe after 30 s idle, then every 10 s; 3 unanswered = connection dead.
POSTGRESQL_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, or None (in-memory SQLite or another backend)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    # WAL lets readers (the dashboard, reports) run while the assistant writes.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def postgresql_connect_args(url: str, *, statement_timeout: bool = True) -> dict[str, Any]:
    """libpq options of every PostgreSQL connection: connect timeout, keepalives and (unless
    ``statement_timeout`` is off, or the URL sets ``options`` itself) the statement timeout."""
    settings = get_settings()
    args: dict[str, Any] = {
        "connect_timeout": max(1, math.ceil(settings.database_connect_timeout_seconds)),
        **POSTGRESQL_KEEPALIVES,
    }
    limit_ms = round(settings.database_statement_timeout_seconds * 1000)
    if statement_timeout and limit_ms > 0 and "options" not in make_url(url).query:
        args["options"] = f"-c statement_timeout={limit_ms}"
    return args


def make_engine(url: str, *, future: bool = True, statement_timeout: bool = True) -> Engine:
    """A 2.0-style engine (``future=False`` for Rasa's 1.x-style code) with the timeouts above.

    SQLite gets foreign keys, WAL and a busy timeout on every connection. ``statement_timeout``
    off is for migrations and maintenance, whose statements may rightly wait and run long.
    """
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A pool of open connections, as SQLAlchemy 2.0 does for files (1.4 opens and closes one
        # per session, and each opening runs the PRAGMAs below: a fifth of rasa's CPU under
        # load, bench/e2e_report.md). Connections move between threads, one at a time.
        engine = create_engine(
            url,
            future=future,
            poolclass=QueuePool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
    elif make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, future=future)
    else:
        engine = create_engine(
            url,
            future=future,
            pool_pre_ping=True,
            connect_args=postgresql_connect_args(url, statement_timeout=statement_timeout),
        )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
    return engine


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine for ``DATABASE_URL``."""
    return make_engine(get_settings().database_url)


# Objects stay usable after the block commits: callers often return what they just saved.
_sessions = sessionmaker(future=True, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session committed when the block ends, rolled back if it raises.

    Inside :func:`clinicbot.tenancy.context.acting_for` it acts for that clinic only
    (:mod:`clinicbot.tenancy.scope`).
    """
    session = _sessions(bind=engine or get_engine())
    clinic_id = current_clinic_id()
    if clinic_id is not None:
        session.info["clinic_id"] = clinic_id
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
