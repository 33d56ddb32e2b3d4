"""Initial schema: the clinic's tables, with conversation_messages partitioned on PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(JSONB(), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")


def _timestamp(name: str, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=NOW if default else None
    )


def _created_updated() -> list[sa.Column]:
    return [
        _timestamp("created_at", nullable=False, default=True),
        _timestamp("updated_at", nullable=False, default=True),
    ]


def _counter(name: str, big: bool = False) -> sa.Column:
    type_ = sa.BigInteger() if big else sa.Integer()
    return sa.Column(name, type_, nullable=False, server_default=sa.text("0"))


def _flag(name: str, default: bool) -> sa.Column:
    server_default = sa.text(str(default).lower())
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=server_default)


def _text(name: str, length: int, nullable: bool = True, default: str | None = None) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=nullable, server_default=default)


def _one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}_valid"))


def _fk(
    table: str, column: str, target: str, ondelete: str = "SET NULL"
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns))


def _create_conversations() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer()),
        _text("phone", 64, nullable=False),
        _text("channel", 32, nullable=False, default="whatsapp"),
        _text("status", 16, nullable=False, default="active"),
        _timestamp("started_at", nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        _timestamp("updated_at", nullable=False, default=True),
        _timestamp("ended_at"),
        _text("last_intent", 64),
        _flag("resolved_by_bot", False),
        _flag("appointment_booked", False),
        sa.Column("satisfaction", sa.SmallInteger()),
        _counter("replies_count"),
        _counter("response_time_ms_total", big=True),
        _one_of("conversations", "status", ("active", "handed_off", "closed", "expired")),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_conversations_satisfaction_range")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    _index("conversations", "phone", "updated_at")


def _create_conversation_messages(postgres: bool) -> None:
    """On PostgreSQL: monthly RANGE partitions on created_at, so the key joins the primary key."""
    primary_key = ("id", "created_at") if postgres else ("id",)
    op.create_table(
        "conversation_messages",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Integer()),
        _text("phone", 64, nullable=False),
        _text("direction", 3, nullable=False),
        sa.Column("text", sa.Text()),
        _text("intent", 64),
        sa.Column("confidence", sa.Float()),
        sa.Column("latency_ms", sa.Integer()),
        _text("channel", 32, nullable=False, default="whatsapp"),
        _text("external_message_id", 128),
        _text("status", 16, nullable=False, default="received"),
        _timestamp("created_at", nullable=False, default=True),
        _one_of("conversation_messages", "direction", ("in", "out")),
        _one_of(
            "conversation_messages",
            "status",
            ("received", "queued", "sent", "delivered", "read", "failed"),
        ),
        _fk("conversation_messages", "conversation_id", "conversations"),
        sa.PrimaryKeyConstraint(*primary_key, name="pk_conversation_messages"),
        postgresql_partition_by="RANGE (created_at)",
    )
    if postgres:
        # Catches rows outside every monthly partition, so an insert never fails;
        # clinicbot.db.partitions moves them out when their month's partition is created.
        op.execute(
            "CREATE TABLE conversation_messages_default PARTITION OF conversation_messages DEFAULT"
        )
    _index("conversation_messages", "phone", "created_at")
    _index("conversation_messages", "conversation_id", "created_at")
    op.create_table(
        "conversation_message_keys",
        _text("channel", 32, nullable=False),
        _text("external_message_id", 128, nullable=False),
        sa.Column("message_id", BIGINT_PK, nullable=False),
        _timestamp("created_at", nullable=False),
        sa.PrimaryKeyConstraint(
            "channel", "external_message_id", name="pk_conversation_message_keys"
        ),
    )
    _index("conversation_message_keys", "created_at")


def _create_appointments() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer()),
        _text("gestaods_id", 64, nullable=False),
        _text("phone", 64, nullable=False),
        _text("cpf", 11, nullable=False),
        _text("patient_name", 200),
        _timestamp("starts_at", nullable=False),
        _timestamp("ends_at", nullable=False),
        sa.Column("appointment_date", sa.Date(), nullable=False),
        _text("status", 16, nullable=False, default="scheduled"),
        _flag("first_visit", False),
        _text("professional", 200),
        sa.Column("conversation_id", sa.Integer()),
        sa.Column("cancel_reason", sa.Text()),
        *_created_updated(),
        _one_of(
            "appointments",
            "status",
            ("scheduled", "confirmed", "canceled", "completed", "no_show", "rescheduled"),
        ),
        sa.CheckConstraint("length(cpf) = 11", name=op.f("ck_appointments_cpf_length")),
        sa.CheckConstraint("ends_at >= starts_at", name=op.f("ck_appointments_ends_after_start")),
        _fk("appointments", "conversation_id", "conversations"),
        sa.UniqueConstraint("gestaods_id", name="uq_appointments_gestaods_id"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
    )
    _index("appointments", "appointment_date", "status")
    _index("appointments", "phone", "starts_at")
    _index("appointments", "conversation_id")


def _create_waiting_list() -> None:
    op.create_table(
        "waiting_list",
        sa.Column("id", sa.Integer()),
        _text("phone", 64, nullable=False),
        _text("cpf", 11, nullable=False),
        _text("patient_name", 200),
        _text("specialty", 100),
        _text("professional", 200),
        sa.Column("preferred_date_from", sa.Date(), nullable=False),
        sa.Column("preferred_date_to", sa.Date(), nullable=False),
        _text("preferred_period", 16, nullable=False, default="any"),
        sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="2"),
        _text("status", 16, nullable=False, default="waiting"),
        _text("offered_slot_key", 200),
        _timestamp("offered_slot_starts_at"),
        _timestamp("offered_slot_ends_at"),
        _timestamp("offer_expires_at"),
        sa.Column("booked_appointment_id", sa.Integer()),
        *_created_updated(),
        _one_of("waiting_list", "status", ("waiting", "offered", "booked", "left", "expired")),
        _one_of("waiting_list", "preferred_period", ("any", "morning", "afternoon", "evening")),
        sa.CheckConstraint("length(cpf) = 11", name=op.f("ck_waiting_list_cpf_length")),
        sa.CheckConstraint(
            "preferred_date_to >= preferred_date_from", name=op.f("ck_waiting_list_date_range")
        ),
        _fk("waiting_list", "booked_appointment_id", "appointments"),
        sa.PrimaryKeyConstraint("id", name="pk_waiting_list"),
    )
    _index("waiting_list", "priority", "created_at")
    _index("waiting_list", "phone", "status")
    offered = sa.text("status = 'offered'")
    op.create_index(
        "ux_waiting_list_offered_slot",
        "waiting_list",
        ["offered_slot_key"],
        unique=True,
        postgresql_where=offered,
        sqlite_where=offered,
    )


def _create_conversation_dashboard() -> None:
    op.create_table(
        "conversation_dashboard",
        sa.Column("id", sa.Integer()),
        sa.Column("conversation_id", sa.Integer()),
        _text("phone", 64, nullable=False),
        _text("status", 16, nullable=False, default="open"),
        _text("assigned_to", 100),
        sa.Column("reason", sa.Text()),
        *_created_updated(),
        _timestamp("closed_at"),
        _one_of(
            "conversation_dashboard", "status", ("open", "waiting_human", "with_human", "closed")
        ),
        _fk("conversation_dashboard", "conversation_id", "conversations"),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_dashboard"),
    )
    _index("conversation_dashboard", "status", "created_at")
    _index("conversation_dashboard", "phone")


def _create_patient_transactions() -> None:
    op.create_table(
        "patient_transactions",
        sa.Column("id", sa.Integer()),
        _text("phone", 64, nullable=False),
        _text("cpf", 11),
        sa.Column("conversation_id", sa.Integer()),
        sa.Column("appointment_id", sa.Integer()),
        _text("stage_current", 16, nullable=False, default="started"),
        _timestamp("started_at", nullable=False),
        _timestamp("identified_at"),
        _timestamp("slot_chosen_at"),
        _timestamp("booked_at"),
        _timestamp("abandoned_at"),
        *_created_updated(),
        _one_of(
            "patient_transactions",
            "stage_current",
            ("started", "identified", "slot_chosen", "booked", "abandoned"),
        ),
        _fk("patient_transactions", "conversation_id", "conversations"),
        _fk("patient_transactions", "appointment_id", "appointments"),
        sa.PrimaryKeyConstraint("id", name="pk_patient_transactions"),
    )
    _index("patient_transactions", "stage_current", "created_at")
    _index("patient_transactions", "phone", "created_at")


def _create_chatbot_metrics() -> None:
    op.create_table(
        "chatbot_metrics",
        sa.Column("date", sa.Date(), nullable=False),
        _counter("total_conversations"),
        _counter("bot_resolved_conversations"),
        _counter("successful_appointments"),
        sa.Column("bot_resolution_rate", sa.Float()),
        _counter("responses_count"),
        _counter("response_time_ms_sum", big=True),
        sa.Column("avg_response_time_ms", sa.Float()),
        _counter("satisfaction_count"),
        _counter("satisfaction_sum"),
        sa.Column("satisfaction", sa.Float()),
        _timestamp("updated_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("date", name="pk_chatbot_metrics"),
    )


def _create_notifications() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer()),
        _text("kind", 16, nullable=False),
        _text("phone", 64, nullable=False),
        sa.Column("appointment_id", sa.Integer()),
        sa.Column("waiting_list_id", sa.Integer()),
        _text("template_key", 100),
        _timestamp("scheduled_for", nullable=False),
        _text("status", 16, nullable=False, default="pending"),
        _counter("attempts"),
        sa.Column("last_error", sa.Text()),
        _timestamp("sent_at"),
        sa.Column("payload", JSON),
        _text("dedupe_key", 200, nullable=False),
        *_created_updated(),
        _one_of(
            "notifications",
            "kind",
            ("confirmation", "reminder", "cancellation", "waitlist_offer"),
        ),
        _one_of("notifications", "status", ("pending", "sent", "failed", "canceled")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notifications_attempts_positive")),
        _fk("notifications", "appointment_id", "appointments"),
        _fk("notifications", "waiting_list_id", "waiting_list"),
        sa.UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    _index("notifications", "status", "scheduled_for")
    _index("notifications", "phone", "created_at")
    _index("notifications", "appointment_id")


def _create_message_templates() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", sa.Integer()),
        _text("key", 100, nullable=False),
        _text("variant", 50, nullable=False, default="default"),
        _text("locale", 10, nullable=False, default="pt_BR"),
        sa.Column("text", sa.Text(), nullable=False),
        _flag("active", True),
        *_created_updated(),
        sa.UniqueConstraint(
            "key", "variant", "locale", name="uq_message_templates_key_variant_locale"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_message_templates"),
    )


def _create_api_call_logs() -> None:
    op.create_table(
        "api_call_logs",
        sa.Column("id", BIGINT_PK, autoincrement=True),
        _text("service", 32, nullable=False),
        _text("method", 8, nullable=False),
        _text("path", 500, nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        _text("cpf_masked", 20),
        _timestamp("created_at", nullable=False, default=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_call_logs"),
    )
    _index("api_call_logs", "service", "created_at")


def _create_ab_tests() -> None:
    op.create_table(
        "ab_tests",
        sa.Column("id", sa.Integer()),
        _text("key", 100, nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("variants", JSON, nullable=False),
        _text("status", 16, nullable=False, default="draft"),
        _timestamp("started_at"),
        _timestamp("ended_at"),
        _timestamp("created_at", nullable=False, default=True),
        _one_of("ab_tests", "status", ("draft", "running", "stopped")),
        sa.UniqueConstraint("key", name="uq_ab_tests_key"),
        sa.PrimaryKeyConstraint("id", name="pk_ab_tests"),
    )
    op.create_table(
        "ab_test_assignments",
        sa.Column("id", sa.Integer()),
        sa.Column("test_id", sa.Integer(), nullable=False),
        _text("phone", 64, nullable=False),
        _text("variant", 50, nullable=False),
        _timestamp("assigned_at", nullable=False),
        _fk("ab_test_assignments", "test_id", "ab_tests", ondelete="CASCADE"),
        sa.UniqueConstraint("test_id", "phone", name="uq_ab_test_assignments_test_id_phone"),
        sa.PrimaryKeyConstraint("id", name="pk_ab_test_assignments"),
    )
    op.create_table(
        "ab_test_outcomes",
        sa.Column("id", sa.Integer()),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        _text("event", 50, nullable=False),
        sa.Column("value", sa.Float()),
        _timestamp("created_at", nullable=False, default=True),
        _fk("ab_test_outcomes", "test_id", "ab_tests", ondelete="CASCADE"),
        _fk("ab_test_outcomes", "assignment_id", "ab_test_assignments", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_ab_test_outcomes"),
    )
    _index("ab_test_outcomes", "test_id", "event")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _create_conversations()
    _create_conversation_messages(postgres)
    _create_appointments()
    _create_waiting_list()
    _create_conversation_dashboard()
    _create_patient_transactions()
    _create_chatbot_metrics()
    _create_notifications()
    _create_message_templates()
    _create_api_call_logs()
    _create_ab_tests()


def downgrade() -> None:
    # Dropping the partitioned parent drops every partition with it.
    for table in (
        "ab_test_outcomes",
        "ab_test_assignments",
        "ab_tests",
        "api_call_logs",
        "message_templates",
        "notifications",
        "chatbot_metrics",
        "patient_transactions",
        "conversation_dashboard",
        "waiting_list",
        "appointments",
        "conversation_message_keys",
        "conversation_messages",
        "conversations",
    ):
        op.drop_table(table)
