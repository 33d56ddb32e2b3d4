"""Alembic migrations, run from code at every service start (``upgrade_to_head``).

Several processes (rasa, the action server, the clinic service) may start at once against the
same database, so migrating is serialised: a transaction-scoped advisory lock on PostgreSQL, an
exclusive ``flock`` on a file next to the database on SQLite. Whoever gets the lock second finds
the schema at head and does nothing.
"""

from __future__ import annotations

import argparse
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from clinicbot.db.engine import make_engine, sqlite_file
from clinicbot.db.partitions import ensure_partitions
from clinicbot.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Serialises migrations across processes (any int64 every process agrees on).
MIGRATION_LOCK_KEY = 0x636C696E_6D696772


def alembic_config(connection: Connection) -> Config:
    """Alembic configuration built in code (no alembic.ini), migrating over ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:  # in-memory SQLite: only this process can see it
        yield
        return
    with path.with_name(f"{path.name}.migrate-lock").open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


@contextmanager
def migration_connection(engine: Engine, url: str) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time can hold."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            yield connection
        return
    with _file_lock(sqlite_file(url)), engine.begin() as connection:
        yield connection


def upgrade_to_head(url: str | None = None) -> None:
    """Migrate to the newest revision, then create the coming months' message partitions."""
    url = url or get_settings().database_url
    engine = make_engine(url, statement_timeout=False)
    try:
        with migration_connection(engine, url) as connection:
            command.upgrade(alembic_config(connection), "head")
        ensure_partitions(engine)
    finally:
        engine.dispose()


def downgrade_to_base(url: str) -> None:
    """Drop everything the migrations created (tests and development only)."""
    engine = make_engine(url, statement_timeout=False)
    try:
        with migration_connection(engine, url) as connection:
            command.downgrade(alembic_config(connection), "base")
    finally:
        engine.dispose()


def _new_revision(url: str, message: str) -> None:
    engine = make_engine(url, statement_timeout=False)
    try:
        with migration_connection(engine, url) as connection:
            command.revision(alembic_config(connection), message=message, autogenerate=True)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Migrate the clinicbot database (DATABASE_URL).")
    parser.add_argument("action", nargs="?", default="upgrade", choices=("upgrade", "revision"))
    parser.add_argument("-m", "--message", help="revision: what the new migration does")
    args = parser.parse_args()
    if args.action == "upgrade":
        upgrade_to_head()
    elif not args.message:
        parser.error("revision needs -m/--message")
    else:
        _new_revision(get_settings().database_url, args.message)


if __name__ == "__main__":
    main()
