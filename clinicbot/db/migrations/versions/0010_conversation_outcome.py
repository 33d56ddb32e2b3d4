"""Conversation outcomes and the booking funnel's stages (issue #13).

- ``conversations.outcome``: how a conversation ended (``booked``, ``rescheduled``,
  ``cancelled``, ``waiting_list``, ``answered``, ``handoff``, ``abandoned``); NULL while it is
  open and nothing came of it yet (:mod:`clinicbot.conversations.lifecycle`).
- ``patient_transactions``: the day and the confirmation become stages of their own
  (``day_chosen_at``, ``confirmed_at``; ``slot_chosen`` is the time), and an abandoned attempt
  keeps the stage it had reached (``dropped_stage``).

Revision ID: 0010
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinicbot.db.checks import one_of, replace_check

revision = "0010"
down_revision = "0013"
branch_labels = None
depends_on = None

OUTCOMES = (
    "booked",
    "rescheduled",
    "cancelled",
    "waiting_list",
    "answered",
    "handoff",
    "abandoned",
)
STAGE_CHECK = "ck_patient_transactions_stage_current_valid"
OLD_STAGES = ("started", "identified", "slot_chosen", "booked", "abandoned")
NEW_STAGES = (*OLD_STAGES, "day_chosen", "confirmed")


def _set_stages(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    replace_check(
        op.get_bind(),
        "patient_transactions",
        STAGE_CHECK,
        one_of("stage_current", old),
        one_of("stage_current", new),
    )


def upgrade() -> None:
    # Raw SQL: the same named CHECK on both backends (SQLite accepts it in ADD COLUMN).
    op.execute(
        "ALTER TABLE conversations ADD COLUMN outcome VARCHAR(16) "
        f"CONSTRAINT ck_conversations_outcome_valid CHECK ({one_of('outcome', OUTCOMES)})"
    )
    _set_stages(OLD_STAGES, NEW_STAGES)
    op.add_column("patient_transactions", sa.Column("day_chosen_at", sa.DateTime(timezone=True)))
    op.add_column("patient_transactions", sa.Column("confirmed_at", sa.DateTime(timezone=True)))
    op.add_column("patient_transactions", sa.Column("dropped_stage", sa.String(16)))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the tables' triggers.
    for column in ("dropped_stage", "confirmed_at", "day_chosen_at"):
        op.drop_column("patient_transactions", column)
    op.execute(
        "UPDATE patient_transactions SET stage_current = 'slot_chosen' "
        "WHERE stage_current = 'confirmed'"
    )
    op.execute(
        "UPDATE patient_transactions SET stage_current = 'identified' "
        "WHERE stage_current = 'day_chosen'"
    )
    _set_stages(NEW_STAGES, OLD_STAGES)
    op.drop_column("conversations", "outcome")
