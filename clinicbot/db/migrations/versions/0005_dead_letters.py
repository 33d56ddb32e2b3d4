"""Dead letters: retry state of inbound turns, the outbox's retry budget, queued notifications.

- ``conversation_messages``: status ``dead`` (an inbound message whose turn kept failing, or an
  outbound one the outbox gave up on); ``attempts``, ``retry_at`` and ``last_error`` record an
  inbound turn's failed attempts and when the next one may run.
- ``outbox_messages``: status ``dead`` (given up: retry budget spent, past ``deliver_by``, or
  refused for good); ``queued_at`` (when the retry budget started: enqueue, or the last
  resend) and ``deliver_by`` (the caller's limit: after it the message is worthless).
- ``notifications``: status ``queued`` (in the outbox; ``sent`` once the provider accepted it).

``conversation_messages`` has triggers on SQLite, so its CHECK constraint is widened by editing
the schema text, as in 0004; the other two tables have none and are rebuilt in batch mode.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from clinicbot.db.checks import one_of, replace_check

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MESSAGE_CHECK = "ck_conversation_messages_status_valid"
OLD_MESSAGE_STATUSES = (
    "received",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "processing",
    "processed",
)
OLD_OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed")
OLD_NOTIFICATION_STATUSES = ("pending", "sent", "failed", "canceled")


def _set_message_statuses(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    replace_check(
        op.get_bind(),
        "conversation_messages",
        MESSAGE_CHECK,
        one_of("status", old),
        one_of("status", new),
    )


def _set_statuses(batch: BatchOperations, table: str, statuses: tuple[str, ...]) -> None:
    name = op.f(f"ck_{table}_status_valid")
    batch.drop_constraint(name, type_="check")
    batch.create_check_constraint(name, sa.text(one_of("status", statuses)))


def upgrade() -> None:
    _set_message_statuses(OLD_MESSAGE_STATUSES, (*OLD_MESSAGE_STATUSES, "dead"))
    op.add_column(
        "conversation_messages",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("conversation_messages", sa.Column("retry_at", sa.DateTime(timezone=True)))
    op.add_column("conversation_messages", sa.Column("last_error", sa.Text()))

    with op.batch_alter_table("outbox_messages") as batch:
        _set_statuses(batch, "outbox_messages", (*OLD_OUTBOX_STATUSES, "dead"))
        batch.add_column(sa.Column("deliver_by", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column(
                "queued_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
    op.execute("UPDATE outbox_messages SET queued_at = created_at")

    with op.batch_alter_table("notifications") as batch:
        _set_statuses(batch, "notifications", (*OLD_NOTIFICATION_STATUSES, "queued"))


def downgrade() -> None:
    op.execute("UPDATE notifications SET status = 'sent' WHERE status = 'queued'")
    with op.batch_alter_table("notifications") as batch:
        _set_statuses(batch, "notifications", OLD_NOTIFICATION_STATUSES)

    op.execute("UPDATE outbox_messages SET status = 'failed' WHERE status = 'dead'")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("queued_at")
        batch.drop_column("deliver_by")
        _set_statuses(batch, "outbox_messages", OLD_OUTBOX_STATUSES)

    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the table's triggers.
    op.drop_column("conversation_messages", "last_error")
    op.drop_column("conversation_messages", "retry_at")
    op.drop_column("conversation_messages", "attempts")
    op.execute("UPDATE conversation_messages SET status = 'failed' WHERE status = 'dead'")
    _set_message_statuses((*OLD_MESSAGE_STATUSES, "dead"), OLD_MESSAGE_STATUSES)
