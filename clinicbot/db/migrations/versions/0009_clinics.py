"""Many clinics on one deployment (issue #16).

- ``clinics``: one row per clinic; row 1 is the default clinic, whose services and secrets
  still come from the environment (its secret columns stay empty), so an existing single-clinic
  database simply becomes clinic 1.
- ``clinic_id`` on every clinic-owned table, default 1 (every existing row belongs to the
  default clinic), indexed, referencing ``clinics``. SQLite cannot ``ADD COLUMN`` with both a
  REFERENCES clause and a default, and rebuilding the tables would lose their triggers: the
  column is added plainly, then its definition in the schema text gains the REFERENCES clause
  (the documented schema edit, https://www.sqlite.org/lang_altertable.html#otheralter; every
  row holds 1, which exists, so nothing stored breaks the new constraint).
- ``message_templates`` and ``identity_checks`` are unique per clinic (each clinic edits its
  own texts; a phone's failed identity checks count per clinic). SQLite rebuilds those two
  tables (no trigger on them, no foreign key to them).
- ``appointments.gestaods_id`` stays unique across clinics: GestãoDS is one service whose
  appointment ids do not repeat between accounts (rebuilding ``appointments`` on SQLite would
  fire the ON DELETE actions of the tables that reference it).
- PostgreSQL: row-level security on those tables (forced, so the tables' owner is subject
  too; superusers never are). A transaction that set ``app.clinic_id`` (clinicbot.tenancy.scope)
  sees and writes only that clinic's rows; one that did not (migrations, Rasa's tracker store,
  jobs that walk every clinic) sees all.

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinicbot.db.checks import edit_sqlite_schema
from clinicbot.db.types import JSONType, UTCDateTime

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None

CLINIC_OWNED_TABLES = (
    "conversations",
    "conversation_messages",
    "outbox_messages",
    "appointments",
    "waiting_list",
    "conversation_dashboard",
    "identity_checks",
    "patient_transactions",
    "notifications",
    "message_templates",
    "api_call_logs",
    "ab_tests",
    "ab_test_assignments",
    "ab_test_outcomes",
)
POLICY = "clinic_isolation"
# The clinic a transaction acts for, or NULL when it acts for none (sees every clinic).
_CURRENT = "NULLIF(current_setting('app.clinic_id', true), '')::integer"
_RULE = f"({_CURRENT} IS NULL OR clinic_id = {_CURRENT})"
_SQLITE_COLUMN = "clinic_id INTEGER DEFAULT 1 NOT NULL"  # as ADD COLUMN writes it
_SQLITE_REFERENCE = " REFERENCES clinics (id)"


def _timestamp(name: str) -> sa.Column:
    return sa.Column(
        name, UTCDateTime(), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
    )


_WHAT = "clinic_id column definition"  # named in the error when the edit finds nothing

# Unique constraints that gain clinic_id: table → (old name, new name, old columns).
PER_CLINIC_UNIQUES = {
    "message_templates": (
        "uq_message_templates_key_variant_locale",
        "uq_message_templates_clinic_id_key_variant_locale",
        ["key", "variant", "locale"],
    ),
    "identity_checks": (
        "uq_identity_checks_phone_day",
        "uq_identity_checks_clinic_id_phone_day",
        ["phone", "day"],
    ),
}


def _swap_unique(postgres: bool, table: str, drop: str, create: str, columns: list[str]) -> None:
    if postgres:
        op.drop_constraint(drop, table, type_="unique")
        op.create_unique_constraint(create, table, columns)
        return
    with op.batch_alter_table(table, recreate="always") as batch:
        batch.drop_constraint(drop, type_="unique")
        batch.create_unique_constraint(create, columns)


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="America/Sao_Paulo"),
        sa.Column("gestaods_base_url", sa.String(300)),
        sa.Column("gestaods_env", sa.String(8), nullable=False, server_default="prod"),
        sa.Column("gestaods_token", sa.Text()),
        sa.Column("zapi_instance_id", sa.String(100)),
        sa.Column("zapi_instance_token", sa.Text()),
        sa.Column("zapi_client_token", sa.Text()),
        sa.Column("meta_phone_number_id", sa.String(64)),
        sa.Column("meta_access_token", sa.Text()),
        sa.Column("meta_app_secret", sa.Text()),
        sa.Column("meta_verify_token", sa.Text()),
        sa.Column("staff_token_sha256", sa.String(64)),
        sa.Column("faq", JSONType),
        sa.Column("options", JSONType),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_clinics"),
        sa.UniqueConstraint("slug", name="uq_clinics_slug"),
        sa.UniqueConstraint("zapi_instance_id", name="uq_clinics_zapi_instance_id"),
        sa.UniqueConstraint("meta_phone_number_id", name="uq_clinics_meta_phone_number_id"),
        sa.UniqueConstraint("staff_token_sha256", name="uq_clinics_staff_token_sha256"),
    )
    op.execute("INSERT INTO clinics (id, slug, name) VALUES (1, 'default', 'Default clinic')")
    if postgres:  # the next clinic added gets id 2
        op.execute("SELECT setval('clinics_id_seq', (SELECT max(id) FROM clinics))")
    for table in CLINIC_OWNED_TABLES:
        op.add_column(
            table,
            sa.Column("clinic_id", sa.Integer(), nullable=False, server_default=sa.text("1")),
        )
        op.create_index(f"ix_{table}_clinic_id", table, ["clinic_id"])
        if postgres:
            op.create_foreign_key(
                f"fk_{table}_clinic_id_clinics", table, "clinics", ["clinic_id"], ["id"]
            )
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING {_RULE} WITH CHECK {_RULE}")
        else:
            reference = _SQLITE_COLUMN + _SQLITE_REFERENCE
            edit_sqlite_schema(
                bind, table, _SQLITE_COLUMN, reference, what="clinic_id column definition"
            )
    for table, (old, new, columns) in PER_CLINIC_UNIQUES.items():
        _swap_unique(postgres, table, old, new, ["clinic_id", *columns])


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table, (old, new, columns) in PER_CLINIC_UNIQUES.items():
        if postgres:
            _swap_unique(postgres, table, new, old, columns)
            continue
        # SQLite rebuilt these tables: the reference is a table constraint now.
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(new, type_="unique")
            batch.create_unique_constraint(old, columns)
            batch.drop_index(f"ix_{table}_clinic_id")
            batch.drop_column("clinic_id")
    for table in reversed(CLINIC_OWNED_TABLES):
        if not postgres and table in PER_CLINIC_UNIQUES:
            continue
        if postgres:
            op.execute(f"DROP POLICY {POLICY} ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            op.drop_constraint(f"fk_{table}_clinic_id_clinics", table, type_="foreignkey")
        else:  # SQLite refuses to drop a column that a foreign key uses
            reference = _SQLITE_COLUMN + _SQLITE_REFERENCE
            edit_sqlite_schema(
                bind, table, reference, _SQLITE_COLUMN, what="clinic_id column definition"
            )
        op.drop_index(f"ix_{table}_clinic_id", table)
        # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the table's triggers.
        op.drop_column(table, "clinic_id")
    op.drop_table("clinics")
