"""Every clinic-owned table of the migrated schema is isolated, found from the schema itself: a
``clinic_id`` that references ``clinics`` and, on PostgreSQL, forced row-level security with the
clinic policy. A new table with a ``clinic_id`` and no isolation fails here.

Also migration 0016's own changes: the GestãoDS id and A/B test names unique per clinic, and
existing rows kept (the default clinic's) with SQLite's schema intact."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import alembic_config, migration_connection, upgrade_to_head
from clinicbot.db.models import Appointment, Base
from clinicbot.settings import Settings
from clinicbot.tenancy.registry import NewClinic, add_clinic
from clinicbot.tenancy.scope import clinic_owned_models
from tests.db import factories

NOT_CLINIC_OWNED = {"clinics", "chatbot_metrics", "backup_runs", "conversation_message_keys"}


def _clinic_tables(engine: Engine) -> set[str]:
    """Tables of the migrated database with a ``clinic_id`` column (partitions left out)."""
    inspector = inspect(engine)
    tables = {
        name
        for name in inspector.get_table_names()
        if any(column["name"] == "clinic_id" for column in inspector.get_columns(name))
    }
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            partitions = set(
                connection.execute(
                    text("SELECT relname FROM pg_class WHERE relispartition")
                ).scalars()
            )
        tables -= partitions
    return tables


def test_every_table_with_a_clinic_id_references_the_clinics(engine: Engine) -> None:
    tables = _clinic_tables(engine)
    assert tables == {model.__tablename__ for model in clinic_owned_models()}
    assert tables.isdisjoint(NOT_CLINIC_OWNED) and len(tables) >= 24
    inspector = inspect(engine)
    unreferenced = sorted(
        table
        for table in tables
        if not any(
            key["referred_table"] == "clinics" and key["constrained_columns"] == ["clinic_id"]
            for key in inspector.get_foreign_keys(table)
        )
    )
    assert unreferenced == []
    # And nothing else is left unclassified: a table without clinic_id is installation-wide.
    assert set(Base.metadata.tables) - tables == NOT_CLINIC_OWNED


def test_every_table_with_a_clinic_id_has_forced_row_level_security(
    engine: Engine, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    with engine.connect() as connection:
        secured = dict(
            connection.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity "
                    "AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname "
                    "AND p.policyname = 'clinic_isolation' AND p.qual LIKE '%app.clinic_id%' "
                    "AND p.with_check LIKE '%app.clinic_id%') "
                    "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
                    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
                )
            ).all()
        )
    tables = _clinic_tables(engine)
    assert sorted(table for table in tables if not secured.get(table)) == []
    assert not any(secured[table] for table in NOT_CLINIC_OWNED)


def test_a_gestaods_id_is_unique_per_clinic(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        other, _ = add_clinic(session, NewClinic(slug="sul", name="Sul"), settings)
    with session_scope(engine) as session:
        for clinic_id in (1, other):
            session.add(factories.appointment(clinic_id=clinic_id, gestaods_id="777"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factories.appointment(clinic_id=other, gestaods_id="777"))
    with session_scope(engine) as session:
        assert session.query(Appointment).filter_by(gestaods_id="777").count() == 2


def test_an_ab_test_name_is_unique_per_clinic(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        other, _ = add_clinic(session, NewClinic(slug="sul", name="Sul"), settings)
    with session_scope(engine) as session:
        for clinic_id in (1, other):
            session.add(factories.ab_test(clinic_id=clinic_id, key="saudacao"))
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(factories.ab_test(clinic_id=other, key="saudacao"))


def test_existing_rows_stay_the_default_clinics(empty_url: str, backend: str) -> None:
    """A database at 0008 with rows in the newly referenced tables migrates with them."""
    engine = make_engine(empty_url)
    with migration_connection(engine, empty_url) as connection:
        command.upgrade(alembic_config(connection), "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alerts (clinic_id, condition, summary, opened_at) "
                "VALUES (1, 'backup', 'x', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text("INSERT INTO message_template_revisions (clinic_id, revision) VALUES (1, 3)")
        )
        connection.execute(
            text(
                "INSERT INTO appointments (gestaods_id, phone, cpf, starts_at, ends_at, "
                "appointment_date) VALUES ('g1', '5531988887777', '39053344705', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_DATE)"
            )
        )
    upgrade_to_head(empty_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT clinic_id FROM alerts")).scalars().all() == [1]
        assert connection.execute(
            text("SELECT revision FROM message_template_revisions")
        ).scalars().all() == [3]
        assert connection.execute(
            text("SELECT clinic_id, gestaods_id FROM appointments")
        ).all() == [(1, "g1")]
        if backend == "sqlite":
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    engine.dispose()
