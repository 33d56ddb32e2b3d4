"""Per-phone inbound rate limit (clinicbot/whatsapp/throttle.py).

- ``conversations.rate_bucket_full_at``: when the patient's token bucket is full again (the
  bucket's whole state; empty until the first message).
- ``conversation_messages``: status ``throttled``, an inbound message stored and acknowledged
  over the rate limit (or with the patient's turn queue full), whose turn never runs.

Revision ID: 0007
Revises: 0006
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from clinicbot.db.checks import one_of, replace_check

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATUS_CHECK = "ck_conversation_messages_status_valid"
OLD_STATUSES = (
    "received",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "processing",
    "processed",
    "dead",  # 0005
)
NEW_STATUSES = (*OLD_STATUSES, "throttled")


def _set_message_statuses(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    replace_check(
        op.get_bind(),
        "conversation_messages",
        STATUS_CHECK,
        one_of("status", old),
        one_of("status", new),
    )


def upgrade() -> None:
    _set_message_statuses(OLD_STATUSES, NEW_STATUSES)
    op.add_column("conversations", sa.Column("rate_bucket_full_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the table's triggers.
    op.drop_column("conversations", "rate_bucket_full_at")
    op.execute("UPDATE conversation_messages SET status = 'failed' WHERE status = 'throttled'")
    _set_message_statuses(NEW_STATUSES, OLD_STATUSES)
