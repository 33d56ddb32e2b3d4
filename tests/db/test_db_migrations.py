"""Migrations: empty → head → base on both backends, concurrent starts, models in sync."""

from __future__ import annotations

import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import make_engine
from clinicbot.db.migrate import MIGRATIONS_DIR, downgrade_to_base, upgrade_to_head
from clinicbot.db.models import Base

OUR_TABLES = set(Base.metadata.tables)
OUR_FUNCTIONS = (
    "chatbot_metrics_apply",
    "conversations_update_metrics",
    "conversation_messages_count_reply",
    "conversation_messages_record_key",
)


def _head() -> str:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def _current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _top_level_tables(engine: Engine) -> set[str]:
    """Tables, without PostgreSQL partitions (they belong to their parent)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            return set(
                connection.execute(
                    text(
                        "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                        "AND relnamespace = 'public'::regnamespace AND NOT relispartition"
                    )
                ).scalars()
            )
        return set(inspect(connection).get_table_names())


def _our_functions(engine: Engine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as connection:
        return set(
            connection.execute(
                text("SELECT proname FROM pg_proc WHERE proname = ANY(:names)"),
                {"names": list(OUR_FUNCTIONS)},
            ).scalars()
        )


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        query = (
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
            if engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        )
        return set(connection.execute(text(query)).scalars())


def test_upgrade_from_empty_to_head_and_back_to_base(empty_url: str) -> None:
    engine = make_engine(empty_url)
    # Rasa's SQLTrackerStore shares the database: its table must survive our migrations.
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, data TEXT)"))

    upgrade_to_head(empty_url)
    assert _current(engine) == _head()
    assert _top_level_tables(engine) == OUR_TABLES | {"alembic_version", "events"}
    assert _triggers(engine)
    if engine.dialect.name == "postgresql":
        assert _our_functions(engine) == set(OUR_FUNCTIONS)

    downgrade_to_base(empty_url)
    assert _current(engine) is None
    assert _top_level_tables(engine) == {"alembic_version", "events"}
    assert _triggers(engine) == set()
    assert _our_functions(engine) == set()

    upgrade_to_head(empty_url)
    assert _current(engine) == _head()
    engine.dispose()


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _parents: (
                    type_ != "table" or name in OUR_TABLES
                ),
            },
        )
        assert compare_metadata(context, Base.metadata) == []


def test_two_processes_migrating_at_once_both_succeed(empty_url: str) -> None:
    script = (
        "import sys; from clinicbot.db.migrate import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr

    engine = make_engine(empty_url)
    assert _current(engine) == _head()
    assert _top_level_tables(engine) >= OUR_TABLES
    engine.dispose()
