"""Booking attempts: a booking whose outcome GestãoDS did not tell is checked until known.

Revision ID: 0008
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinicbot.db.checks import one_of
from clinicbot.db.types import UTCDateTime

revision = "0008"
down_revision = "0012"
branch_labels = None
depends_on = None

STATUSES = ("posting", "uncertain", "booked", "refused", "missing", "unresolved")
TABLE = "booking_attempts"


def _timestamp(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name,
        UTCDateTime(),
        nullable=nullable,
        server_default=sa.text("CURRENT_TIMESTAMP") if default else None,
    )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False, server_default=sa.text("1")),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("cpf", sa.String(11), nullable=False),
        sa.Column("patient_name", sa.String(200)),
        _timestamp("starts_at", nullable=False),
        sa.Column("first_visit", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("status", sa.String(16), nullable=False, server_default="posting"),
        sa.Column("checks", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _timestamp("next_check_at", nullable=False),
        _timestamp("check_until", nullable=False),
        sa.Column("appointment_id", sa.Integer()),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
        _timestamp("resolved_at"),
        sa.CheckConstraint(one_of("status", STATUSES), name=op.f(f"ck_{TABLE}_status_valid")),
        sa.CheckConstraint("length(cpf) = 11", name=op.f(f"ck_{TABLE}_cpf_length")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=f"fk_{TABLE}_appointment_id_appointments",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
    )
    for columns in (("status", "next_check_at"), ("clinic_id",), ("phone",)):
        op.create_index(f"ix_{TABLE}_{'_'.join(columns)}", TABLE, list(columns))
    open_attempt = sa.text("status IN ('posting', 'uncertain')")
    op.create_index(
        "ux_booking_attempts_open_phone",
        TABLE,
        ["clinic_id", "phone"],
        unique=True,
        postgresql_where=open_attempt,
        sqlite_where=open_attempt,
    )


def downgrade() -> None:
    op.drop_table(TABLE)
