"""The classifier's own prediction of an inbound message, kept when the fallback overrides it.

``conversation_messages.predicted_intent``: the intent the NLU classifier ranked first. When
Rasa's ``FallbackClassifier`` replaces it with ``nlu_fallback`` (stored in ``intent``), this is
the only trace of what the model guessed: the dashboard groups the messages curators review
under it (clinicbot/services/nlu_review.py).

Revision ID: 0015
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On PostgreSQL the partitioned parent passes the column on to every partition.
    op.add_column("conversation_messages", sa.Column("predicted_intent", sa.String(64)))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35): a batch rebuild would lose the table's triggers.
    op.drop_column("conversation_messages", "predicted_intent")
