"""WhatsApp channels: inbound processing state on conversation_messages, and the outbox.

- ``conversation_messages``: statuses ``processing`` and ``processed`` (an inbound message is
  stored as ``received`` before the webhook is acknowledged, claimed as ``processing`` by the
  process that runs its Rasa turn, then ``processed`` or ``failed``); ``claimed_at`` (when it was
  claimed, so a turn lost in a crash can be taken over) and ``channel_data`` (what the connector
  needs to replay the message after a restart: kind, chat id, reply reference).
- ``outbox_messages``: outgoing messages waiting to be delivered (or delivered, with the
  provider's id and delivery status), written in the caller's transaction.

The status CHECK constraint is widened in place (:mod:`clinicbot.db.checks`).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clinicbot.db.checks import one_of, replace_check

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOW = sa.text("CURRENT_TIMESTAMP")
STATUS_CHECK = "ck_conversation_messages_status_valid"
OLD_STATUSES = ("received", "queued", "sent", "delivered", "read", "failed")
NEW_STATUSES = (*OLD_STATUSES, "processing", "processed")
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "read", "failed")


def _check(statuses: tuple[str, ...]) -> str:
    return one_of("status", statuses)


def _set_message_statuses(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    replace_check(op.get_bind(), "conversation_messages", STATUS_CHECK, _check(old), _check(new))


def _timestamp(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=NOW if default else None
    )


def upgrade() -> None:
    _set_message_statuses(OLD_STATUSES, NEW_STATUSES)
    op.add_column("conversation_messages", _timestamp("claimed_at"))
    op.add_column("conversation_messages", sa.Column("channel_data", JSON))
    op.create_table(
        "outbox_messages",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("options", JSON),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _timestamp("next_attempt_at", nullable=False, default=True),
        _timestamp("claimed_until"),
        sa.Column("last_error", sa.Text()),
        sa.Column("external_message_id", sa.String(128)),
        sa.Column("in_reply_to", sa.String(128)),
        sa.Column("log_message_id", sa.BigInteger()),
        _timestamp("log_created_at"),
        _timestamp("sent_at"),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
        sa.CheckConstraint(_check(OUTBOX_STATUSES), name=op.f("ck_outbox_messages_status_valid")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_messages_attempts_positive")),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_messages_dedupe_key"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    for columns in (
        ("status", "next_attempt_at"),
        ("channel", "phone", "status"),
        ("channel", "external_message_id"),
        ("in_reply_to",),
    ):
        op.create_index(f"ix_outbox_messages_{'_'.join(columns)}", "outbox_messages", columns)


def downgrade() -> None:
    op.drop_table("outbox_messages")
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the table's triggers.
    op.drop_column("conversation_messages", "channel_data")
    op.drop_column("conversation_messages", "claimed_at")
    op.execute("UPDATE conversation_messages SET status = 'received' WHERE status = 'processing'")
    op.execute("UPDATE conversation_messages SET status = 'read' WHERE status = 'processed'")
    _set_message_statuses(NEW_STATUSES, OLD_STATUSES)
