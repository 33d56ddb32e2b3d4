"""Notifications that wait for the patient's answer (reminders and waiting-list offers).

``awaiting_reply`` marks a sent message that asked "sim ou não?"; ``replied_at`` and ``reply``
record the answer (or that it lapsed), so a bare "sim" days later is routed to the right
appointment or offer.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(
            sa.Column(
                "awaiting_reply", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
        )
        batch.add_column(sa.Column("replied_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("reply", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("reply")
        batch.drop_column("replied_at")
        batch.drop_column("awaiting_reply")
