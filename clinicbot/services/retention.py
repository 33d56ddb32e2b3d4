"""How long the assistant keeps what it holds about patients (LGPD: no longer than needed).

Conversation messages go a whole monthly partition at a time (:mod:`clinicbot.db.partitions`).
Everything else that names or traces a patient goes here, past the same age
(``MESSAGE_RETENTION_MONTHS``): Rasa's tracker events, outbox rows that are done, notifications
that are done, API call logs, closed handoffs, conversations untouched since, and identity
checks. What is still to be sent stays whatever its age. Appointments' local copies follow the
appointment (reminders read them) and the erasure request, not this clock.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, inspect, text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    ApiCallLog,
    Conversation,
    ConversationDashboard,
    IdentityCheck,
    Notification,
    OutboxMessage,
)
from clinicbot.db.partitions import month_start
from clinicbot.db.types import utcnow

logger = logging.getLogger(__name__)

UNFINISHED_OUTBOX = ("pending", "sending")


def purge_expired(engine: Engine, months: int, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than the month ``months`` months ago; rows deleted per table."""
    if months < 1:
        raise ValueError("retention must keep at least one month")
    cutoff_day = month_start((now or utcnow()).date(), -months)
    cutoff = datetime(cutoff_day.year, cutoff_day.month, 1, tzinfo=(now or utcnow()).tzinfo)
    deleted: dict[str, int] = {}
    with session_scope(engine) as session:
        statements = {
            OutboxMessage.__tablename__: delete(OutboxMessage).where(
                OutboxMessage.created_at < cutoff,
                OutboxMessage.status.notin_(UNFINISHED_OUTBOX),
            ),
            Notification.__tablename__: delete(Notification).where(
                Notification.scheduled_for < cutoff, Notification.status != "pending"
            ),
            ApiCallLog.__tablename__: delete(ApiCallLog).where(ApiCallLog.created_at < cutoff),
            ConversationDashboard.__tablename__: delete(ConversationDashboard).where(
                ConversationDashboard.status == "closed", ConversationDashboard.updated_at < cutoff
            ),
            Conversation.__tablename__: delete(Conversation).where(
                Conversation.updated_at < cutoff
            ),
            IdentityCheck.__tablename__: delete(IdentityCheck).where(
                IdentityCheck.day < cutoff_day
            ),
        }
        for table, statement in statements.items():
            deleted[table] = session.execute(statement).rowcount
        if inspect(session.connection()).has_table("events"):  # Rasa's, once rasa has run
            deleted["events"] = session.execute(
                text("DELETE FROM events WHERE timestamp < :cutoff"),
                {"cutoff": cutoff.timestamp()},
            ).rowcount
    logger.info("retention (%d months, before %s): %s", months, cutoff_day, deleted)
    return deleted
