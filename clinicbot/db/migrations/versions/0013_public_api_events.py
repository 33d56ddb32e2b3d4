"""Public API keys, idempotency records, CRM webhook subscriptions, events and deliveries.

- ``api_keys``: a clinic's API keys (hash only), scopes, rate limit window, last use, revocation.
- ``api_idempotency_keys``: each POST's ``Idempotency-Key``, request hash and stored response.
- ``webhook_subscriptions``: a CRM's endpoint, its signing secret and the event types it wants.
- ``integration_events``: the events outbox, written in the business change's transaction.
- ``webhook_deliveries``: one event to one subscription, retried until delivered or dead.

Every table has ``clinic_id`` (default 1, the single clinic; the foreign key to ``clinics``
comes with the many-clinics migration).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=NOW if default else None
    )


def _clinic_id() -> sa.Column:
    return sa.Column("clinic_id", sa.Integer(), nullable=False, server_default=sa.text("1"))


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0"))


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer()),
        _clinic_id(),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer()),
        _timestamp("window_started_at"),
        _counter("window_count"),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("last_used_at"),
        _timestamp("revoked_at"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    _index("api_keys", "clinic_id")

    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", sa.Integer()),
        _clinic_id(),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("response_body", sa.Text()),
        _timestamp("created_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_idempotency_keys"),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name="fk_api_idempotency_keys_api_key_id_api_keys",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "api_key_id",
            "idempotency_key",
            name="uq_api_idempotency_keys_api_key_id_idempotency_key",
        ),
    )
    _index("api_idempotency_keys", "created_at")

    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Integer()),
        _clinic_id(),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_subscriptions"),
    )
    _index("webhook_subscriptions", "clinic_id", "active")

    op.create_table(
        "integration_events",
        sa.Column("id", BIG_ID),
        _clinic_id(),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("patient_phone", sa.String(64)),
        _timestamp("created_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_integration_events"),
        sa.UniqueConstraint("event_id", name="uq_integration_events_event_id"),
    )
    _index("integration_events", "clinic_id", "created_at")
    _index("integration_events", "patient_phone")

    statuses = ", ".join(f"'{s}'" for s in ("pending", "sending", "delivered", "dead"))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG_ID),
        _clinic_id(),
        sa.Column("delivery_id", sa.String(40), nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        _counter("attempts"),
        _timestamp("next_attempt_at", nullable=False, default=True),
        _timestamp("claimed_until"),
        _timestamp("queued_at", nullable=False, default=True),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        _timestamp("delivered_at"),
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["integration_events.id"],
            name="fk_webhook_deliveries_event_id_integration_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name="fk_webhook_deliveries_subscription_id_webhook_subscriptions",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            f"status IN ({statuses})", name=op.f("ck_webhook_deliveries_status_valid")
        ),
    )
    _index("webhook_deliveries", "status", "next_attempt_at")
    _index("webhook_deliveries", "clinic_id", "id")
    _index("webhook_deliveries", "event_id")


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("integration_events")
    op.drop_table("webhook_subscriptions")
    op.drop_table("api_idempotency_keys")
    op.drop_table("api_keys")
