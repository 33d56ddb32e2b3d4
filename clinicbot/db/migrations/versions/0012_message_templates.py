"""Editable message templates (history, cache revision), A/B test wiring, satisfaction feedback.

- ``message_templates``: ``category``, declared ``variables``, the template's own ``buttons``,
  ``version`` and ``updated_by``; every saved version is kept in ``message_template_versions``.
- ``message_template_revisions``: one counter per clinic, bumped by every edit, that processes
  poll to drop their cached templates (clinicbot/messages/cache.py).
- ``ab_tests``: the template key under test, the outcome it is judged on, the sample needed per
  variant before a winner is called, and the variant kept when it stopped;
  ``ab_test_assignments``: when the variant was last rendered for the patient and when a
  message with it was first delivered (the exposure).
- ``satisfaction_feedback``: the 1-5 rating asked after a booking, and its optional comment.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clinicbot.db.checks import one_of
from clinicbot.db.types import UTCDateTime

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
FEEDBACK_STATUSES = ("asked", "rated", "commented", "expired")


def _clinic_id() -> sa.Column:
    return sa.Column("clinic_id", sa.Integer(), nullable=False, server_default="1")


def _created_at() -> sa.Column:
    return sa.Column("created_at", UTCDateTime(), nullable=False, server_default=NOW)


def upgrade() -> None:
    op.add_column(
        "message_templates",
        sa.Column("category", sa.String(32), nullable=False, server_default="conversation"),
    )
    op.add_column("message_templates", sa.Column("variables", JSON))
    op.add_column("message_templates", sa.Column("buttons", JSON))
    op.add_column(
        "message_templates",
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.add_column("message_templates", sa.Column("updated_by", sa.String(100)))

    op.create_table(
        "message_template_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        _clinic_id(),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("variant", sa.String(50), nullable=False, server_default="default"),
        sa.Column("locale", sa.String(10), nullable=False, server_default="pt_BR"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", JSON),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("edited_by", sa.String(100)),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_message_template_versions"),
        sa.UniqueConstraint(
            "clinic_id",
            "key",
            "variant",
            "locale",
            "version",
            name="uq_message_template_versions_version",
        ),
    )
    op.create_table(
        "message_template_revisions",
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stamp", sa.String(32), nullable=False, server_default=""),
        sa.Column("updated_at", UTCDateTime(), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("clinic_id", name="pk_message_template_revisions"),
    )

    op.add_column("ab_tests", sa.Column("template_key", sa.String(100)))
    op.add_column("ab_tests", sa.Column("metric", sa.String(32)))
    op.add_column("ab_tests", sa.Column("min_sample", sa.Integer()))
    op.add_column("ab_tests", sa.Column("winner", sa.String(50)))
    op.create_index("ix_ab_tests_template_key_status", "ab_tests", ["template_key", "status"])
    op.add_column("ab_test_assignments", sa.Column("rendered_at", UTCDateTime()))
    op.add_column("ab_test_assignments", sa.Column("rendered_excerpt", sa.String(200)))
    op.add_column("ab_test_assignments", sa.Column("exposed_at", UTCDateTime()))

    op.create_table(
        "satisfaction_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        _clinic_id(),
        sa.Column("phone", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.Integer()),
        sa.Column("appointment_id", sa.Integer()),
        sa.Column("status", sa.String(16), nullable=False, server_default="asked"),
        sa.Column("rating", sa.SmallInteger()),
        sa.Column("comment", sa.Text()),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("rated_at", UTCDateTime()),
        sa.Column("prompt_outbox_id", sa.BigInteger()),
        sa.Column("answer_message_id", sa.String(128)),
        _created_at(),
        sa.CheckConstraint(
            one_of("status", FEEDBACK_STATUSES), name=op.f("ck_satisfaction_feedback_status_valid")
        ),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_satisfaction_feedback_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_satisfaction_feedback_conversation_id_conversations",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name="fk_satisfaction_feedback_appointment_id_appointments",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_satisfaction_feedback"),
    )
    op.create_index(
        "ix_satisfaction_feedback_phone_asked_at", "satisfaction_feedback", ["phone", "asked_at"]
    )
    op.create_index(
        "ix_satisfaction_feedback_clinic_id_created_at",
        "satisfaction_feedback",
        ["clinic_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("satisfaction_feedback")
    # Plain DROP COLUMN (SQLite >= 3.35): no batch rebuild needed for these tables.
    for column in ("exposed_at", "rendered_excerpt", "rendered_at"):
        op.drop_column("ab_test_assignments", column)
    op.drop_index("ix_ab_tests_template_key_status", table_name="ab_tests")
    for column in ("winner", "min_sample", "metric", "template_key"):
        op.drop_column("ab_tests", column)
    op.drop_table("message_template_revisions")
    op.drop_table("message_template_versions")
    for column in ("updated_by", "version", "buttons", "variables", "category"):
        op.drop_column("message_templates", column)
