"""Backups and operator alerts.

- ``backup_runs``: one row per finished backup (scheduled or ``clinicbot.cli backup``): when,
  whether it worked, the archive's name, size and SHA-256, where it was uploaded, the error.
  Installation-wide (a backup is of the whole database), so no ``clinic_id``.
- ``alerts``: one row per alert raised to the clinic's staff (``clinicbot/services/alerts``);
  at most one ``open`` row per clinic and condition (a partial unique index), which is what
  de-duplicates alerts across scheduler instances. ``notices`` records which channels were
  told of the opening and of the resolution.

Revision ID: 0011
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def _timestamp(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=NOW if default else None
    )


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.Integer()),
        _timestamp("started_at", nullable=False),
        _timestamp("finished_at", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("archive", sa.String(255)),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("uploaded_to", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f("ck_backup_runs_status_valid")),
        sa.PrimaryKeyConstraint("id", name="pk_backup_runs"),
    )
    op.create_index("ix_backup_runs_finished_at", "backup_runs", ["finished_at"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer()),
        sa.Column("clinic_id", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("condition", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", JSON),
        _timestamp("opened_at", nullable=False),
        _timestamp("resolved_at"),
        sa.Column("notices", JSON),
        sa.Column("delivery_error", sa.Text()),
        _timestamp("updated_at", nullable=False, default=True),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_alerts_status_valid")),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index(
        "ix_alerts_clinic_id_condition",
        "alerts",
        ["clinic_id", "condition"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_alerts_clinic_id_opened_at", "alerts", ["clinic_id", "opened_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("backup_runs")
