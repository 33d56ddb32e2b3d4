"""Triggers: daily chatbot_metrics, reply counters and message dedupe keys.

Each dialect gets its own implementation of the same behaviour:

- ``conversations`` insert, or update of a counted column: the conversation's contribution is
  removed from the old date's ``chatbot_metrics`` row and added to the new one (upserted), and
  the rate and averages recomputed from the exact sums.
- ``conversation_messages`` insert of an outbound row with ``latency_ms`` and a conversation:
  the conversation's ``replies_count`` and ``response_time_ms_total`` grow (which, in turn,
  updates the metrics).
- ``conversation_messages`` insert with an ``external_message_id``: its key goes into
  ``conversation_message_keys``, whose primary key rejects a second message with the same id.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTED_COLUMNS = (
    "started_on, resolved_by_bot, appointment_booked, satisfaction, "
    "replies_count, response_time_ms_total"
)
REPLY_CONDITION = (
    "NEW.direction = 'out' AND NEW.latency_ms IS NOT NULL AND NEW.conversation_id IS NOT NULL"
)


def _contribution(row: str) -> dict[str, str]:
    """What one conversation adds to each counter of its day (SQL over OLD or NEW)."""
    return {
        "total_conversations": "1",
        "bot_resolved_conversations": f"CAST({row}.resolved_by_bot AS INTEGER)",
        "successful_appointments": f"CAST({row}.appointment_booked AS INTEGER)",
        "responses_count": f"{row}.replies_count",
        "response_time_ms_sum": f"{row}.response_time_ms_total",
        "satisfaction_count": f"CAST({row}.satisfaction IS NOT NULL AS INTEGER)",
        "satisfaction_sum": f"COALESCE({row}.satisfaction, 0)",
    }


def _ratios(value: dict[str, str], real: str) -> dict[str, str]:
    """SQL for the rate and averages, given SQL for the counters' values."""

    def ratio(numerator: str, denominator: str) -> str:
        return f"CAST({value[numerator]} AS {real}) / NULLIF({value[denominator]}, 0)"

    return {
        "bot_resolution_rate": ratio("bot_resolved_conversations", "total_conversations"),
        "avg_response_time_ms": ratio("response_time_ms_sum", "responses_count"),
        "satisfaction": ratio("satisfaction_sum", "satisfaction_count"),
    }


def _assignments(values: dict[str, str]) -> str:
    return ", ".join(f"{column} = {value}" for column, value in values.items())


COUNTERS = tuple(_contribution("NEW"))
_PG_INSERTED = {column: f"p_sign * p_{column}" for column in COUNTERS}
_PG_MERGED = {column: f"m.{column} + EXCLUDED.{column}" for column in COUNTERS}

POSTGRES_UPGRADE = [
    f"""
    CREATE FUNCTION chatbot_metrics_apply(
        p_date date, p_sign integer, {", ".join(f"p_{column} bigint" for column in COUNTERS)}
    ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO chatbot_metrics AS m (
            date, {", ".join(COUNTERS)}, {", ".join(_ratios(_PG_INSERTED, "float8"))}
        ) VALUES (
            p_date, {", ".join(_PG_INSERTED.values())},
            {", ".join(_ratios(_PG_INSERTED, "float8").values())}
        )
        ON CONFLICT (date) DO UPDATE SET
            {_assignments(_PG_MERGED)},
            {_assignments(_ratios(_PG_MERGED, "float8"))},
            updated_at = CURRENT_TIMESTAMP
    $$
    """,
    f"""
    CREATE FUNCTION conversations_update_metrics() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            PERFORM chatbot_metrics_apply(OLD.started_on, -1,
                {", ".join(_contribution("OLD").values())});
        END IF;
        PERFORM chatbot_metrics_apply(NEW.started_on, 1,
            {", ".join(_contribution("NEW").values())});
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER trg_conversations_metrics
    AFTER INSERT OR UPDATE OF {COUNTED_COLUMNS} ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_update_metrics()
    """,
    """
    CREATE FUNCTION conversation_messages_count_reply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE conversations
        SET replies_count = replies_count + 1,
            response_time_ms_total = response_time_ms_total + NEW.latency_ms
        WHERE id = NEW.conversation_id;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE TRIGGER trg_conversation_messages_replies
    AFTER INSERT ON conversation_messages
    FOR EACH ROW WHEN ({REPLY_CONDITION})
    EXECUTE FUNCTION conversation_messages_count_reply()
    """,
    """
    CREATE FUNCTION conversation_messages_record_key() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO conversation_message_keys (channel, external_message_id, message_id, created_at)
        VALUES (NEW.channel, NEW.external_message_id, NEW.id, NEW.created_at);
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER trg_conversation_messages_key
    BEFORE INSERT ON conversation_messages
    FOR EACH ROW WHEN (NEW.external_message_id IS NOT NULL)
    EXECUTE FUNCTION conversation_messages_record_key()
    """,
]

POSTGRES_DOWNGRADE = [
    "DROP TRIGGER trg_conversation_messages_key ON conversation_messages",
    "DROP FUNCTION conversation_messages_record_key()",
    "DROP TRIGGER trg_conversation_messages_replies ON conversation_messages",
    "DROP FUNCTION conversation_messages_count_reply()",
    "DROP TRIGGER trg_conversations_metrics ON conversations",
    "DROP FUNCTION conversations_update_metrics()",
    f"DROP FUNCTION chatbot_metrics_apply(date, integer{', bigint' * len(COUNTERS)})",
]


def _sqlite_apply(row: str, sign: str) -> str:
    """An UPDATE adding (``+``) or removing (``-``) a conversation's share of its day."""
    contribution = _contribution(row)
    value = {column: f"({column} {sign} {amount})" for column, amount in contribution.items()}
    return (
        f"UPDATE chatbot_metrics SET {_assignments(value)}, "
        f"{_assignments(_ratios(value, 'REAL'))}, updated_at = CURRENT_TIMESTAMP "
        f"WHERE date = {row}.started_on;"
    )


def _sqlite_ensure_day(row: str) -> str:
    return (
        f"INSERT INTO chatbot_metrics (date) VALUES ({row}.started_on) "
        "ON CONFLICT (date) DO NOTHING;"
    )


SQLITE_UPGRADE = [
    f"""
    CREATE TRIGGER trg_conversations_metrics_insert AFTER INSERT ON conversations
    BEGIN
        {_sqlite_ensure_day("NEW")}
        {_sqlite_apply("NEW", "+")}
    END
    """,
    f"""
    CREATE TRIGGER trg_conversations_metrics_update
    AFTER UPDATE OF {COUNTED_COLUMNS} ON conversations
    BEGIN
        {_sqlite_apply("OLD", "-")}
        {_sqlite_ensure_day("NEW")}
        {_sqlite_apply("NEW", "+")}
    END
    """,
    f"""
    CREATE TRIGGER trg_conversation_messages_replies AFTER INSERT ON conversation_messages
    WHEN {REPLY_CONDITION}
    BEGIN
        UPDATE conversations
        SET replies_count = replies_count + 1,
            response_time_ms_total = response_time_ms_total + NEW.latency_ms
        WHERE id = NEW.conversation_id;
    END
    """,
    # AFTER, not BEFORE: SQLite only knows NEW.id once the row is in.
    """
    CREATE TRIGGER trg_conversation_messages_key AFTER INSERT ON conversation_messages
    WHEN NEW.external_message_id IS NOT NULL
    BEGIN
        INSERT INTO conversation_message_keys (channel, external_message_id, message_id, created_at)
        VALUES (NEW.channel, NEW.external_message_id, NEW.id, NEW.created_at);
    END
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER trg_conversation_messages_key",
    "DROP TRIGGER trg_conversation_messages_replies",
    "DROP TRIGGER trg_conversations_metrics_update",
    "DROP TRIGGER trg_conversations_metrics_insert",
]


def _statements(postgres: list[str], sqlite: list[str]) -> list[str]:
    return postgres if op.get_bind().dialect.name == "postgresql" else sqlite


def upgrade() -> None:
    for statement in _statements(POSTGRES_UPGRADE, SQLITE_UPGRADE):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(POSTGRES_DOWNGRADE, SQLITE_DOWNGRADE):
        op.execute(statement)
