"""Many clinics, completed (issue #16): the tables added after 0009 join the clinics' isolation.

- ``clinic_id`` of ``booking_attempts``, ``alerts``, ``api_keys``, ``api_idempotency_keys``,
  ``webhook_subscriptions``, ``webhook_deliveries``, ``integration_events``,
  ``satisfaction_feedback``, ``message_template_versions`` and ``message_template_revisions``
  (each already has the column, NOT NULL, default 1) references ``clinics``. A row naming a
  clinic that does not exist would break the new constraint: it goes to the default clinic
  (none should exist, since clinics are disabled, never deleted), except a template revision
  counter, which is only a cache hint and is dropped. ``api_idempotency_keys`` gains the
  ``clinic_id`` index the others have.
- PostgreSQL: the same forced row-level security policy as migration 0009's tables.
- SQLite: the column's definition in the schema text gains the REFERENCES clause, as in 0009
  (https://www.sqlite.org/lang_altertable.html#otheralter: no table rebuild, so the triggers,
  indexes and rows stay).
- ``appointments.gestaods_id`` is unique per clinic, ``(clinic_id, gestaods_id)``: two clinics'
  GestãoDS accounts may number their appointments alike. So is ``ab_tests.key`` (a clinic's
  test name neither collides with nor reveals another clinic's). On SQLite the constraints'
  text is edited the same way and their automatic indexes rebuilt (``REINDEX``), so the tables
  are not rebuilt either (that would fire the ON DELETE actions of the tables referencing them
  and lose their triggers).

Revision ID: 0016
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.engine import Connection

from clinicbot.db.checks import edit_sqlite_schema

revision = "0016"
down_revision = "0008"
branch_labels = None
depends_on = None

# Table → its clinic_id column as SQLite's schema text spells it (how each was created).
CLINIC_OWNED_TABLES = {
    "booking_attempts": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "alerts": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "api_keys": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "api_idempotency_keys": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "webhook_subscriptions": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "webhook_deliveries": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "integration_events": "clinic_id INTEGER DEFAULT 1 NOT NULL",
    "satisfaction_feedback": "clinic_id INTEGER DEFAULT '1' NOT NULL",
    "message_template_versions": "clinic_id INTEGER DEFAULT '1' NOT NULL",
    "message_template_revisions": "clinic_id INTEGER NOT NULL",
}
DROPPED_WHEN_ORPHANED = ("message_template_revisions",)
NEW_INDEX = ("api_idempotency_keys", "ix_api_idempotency_keys_clinic_id")
POLICY = "clinic_isolation"  # the name and rule of migration 0009's policies
_CURRENT = "NULLIF(current_setting('app.clinic_id', true), '')::integer"
_RULE = f"({_CURRENT} IS NULL OR clinic_id = {_CURRENT})"
_REFERENCE = " REFERENCES clinics (id)"

# Unique constraints made per clinic: table → (name, columns) before and after, as SQLite's
# schema text spells the columns.
PER_CLINIC_UNIQUES = {
    "appointments": (
        ("uq_appointments_gestaods_id", "gestaods_id"),
        ("uq_appointments_clinic_id_gestaods_id", "clinic_id, gestaods_id"),
    ),
    "ab_tests": (("uq_ab_tests_key", '"key"'), ("uq_ab_tests_clinic_id_key", 'clinic_id, "key"')),
}


def _orphans_to_default_clinic(table: str) -> None:
    orphan = "clinic_id NOT IN (SELECT id FROM clinics)"
    if table in DROPPED_WHEN_ORPHANED:
        op.execute(f"DELETE FROM {table} WHERE {orphan}")
    else:
        op.execute(f"UPDATE {table} SET clinic_id = 1 WHERE {orphan}")


def _swap_unique(bind: Connection, table: str, old: tuple[str, str], new: tuple[str, str]) -> None:
    """Replace ``table``'s unique constraint ``old`` by ``new`` (name, columns)."""
    if bind.dialect.name == "postgresql":
        op.drop_constraint(old[0], table, type_="unique")
        op.create_unique_constraint(new[0], table, new[1].replace('"', "").split(", "))
        return
    edit_sqlite_schema(
        bind,
        table,
        f"CONSTRAINT {old[0]} UNIQUE ({old[1]})",
        f"CONSTRAINT {new[0]} UNIQUE ({new[1]})",
        what=f"unique constraint {old[0]}",
    )
    bind.exec_driver_sql(f"REINDEX {table}")  # the constraint's index has new columns


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table, column in CLINIC_OWNED_TABLES.items():
        _orphans_to_default_clinic(table)
        if postgres:
            op.create_foreign_key(
                f"fk_{table}_clinic_id_clinics", table, "clinics", ["clinic_id"], ["id"]
            )
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING {_RULE} WITH CHECK {_RULE}")
        else:
            edit_sqlite_schema(
                bind, table, column, column + _REFERENCE, what="clinic_id column definition"
            )
    op.create_index(NEW_INDEX[1], NEW_INDEX[0], ["clinic_id"])
    for table, (global_unique, per_clinic) in PER_CLINIC_UNIQUES.items():
        _swap_unique(bind, table, global_unique, per_clinic)


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    # Global uniqueness again: fails if two clinics now share a value (as it must).
    for table, (global_unique, per_clinic) in PER_CLINIC_UNIQUES.items():
        _swap_unique(bind, table, per_clinic, global_unique)
    op.drop_index(NEW_INDEX[1], NEW_INDEX[0])
    for table, column in reversed(CLINIC_OWNED_TABLES.items()):
        if postgres:
            op.execute(f"DROP POLICY {POLICY} ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            op.drop_constraint(f"fk_{table}_clinic_id_clinics", table, type_="foreignkey")
        else:
            edit_sqlite_schema(
                bind, table, column + _REFERENCE, column, what="clinic_id column definition"
            )
