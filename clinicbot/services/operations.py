"""Live figures of the assistant's work, for the detailed health and the Prometheus gauges.

- ``active_conversations``: conversations open and not idle for the session timeout;
- ``messages_last_hour``: patient messages received in the last hour;
- ``error_rate``: the share of the last hour's external API calls (``api_call_logs``) that
  failed: no answer, 5xx or 429, circuit open (0.0 when there was no call);
- ``last_patient_message``: the newest patient message of the last week (None: none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiCallLog, Conversation, ConversationMessage
from clinicbot.services import lifecycle

LOOKBACK = timedelta(weeks=1)


@dataclass(frozen=True)
class Figures:
    active_conversations: int
    messages_last_hour: int
    error_rate: float
    last_patient_message: datetime | None


def api_call_failed() -> object:
    """SQL condition: a call that got no answer, a 5xx or a 429 (a 4xx is an answer)."""
    return or_(ApiCallLog.status.is_(None), ApiCallLog.status >= 500, ApiCallLog.status == 429)


def figures(engine: Engine, now: datetime) -> Figures:
    hour_ago = now - timedelta(hours=1)
    with session_scope(engine) as session:
        active = session.execute(
            select(func.count()).where(
                Conversation.status.in_(lifecycle.OPEN_STATUSES),
                Conversation.updated_at > now - lifecycle.idle_timeout(),
            )
        ).scalar_one()
        inbound = select(func.count()).where(
            ConversationMessage.direction == "in", ConversationMessage.created_at >= hour_ago
        )
        messages = session.execute(inbound).scalar_one()
        calls, failed = session.execute(
            select(func.count(), func.count().filter(api_call_failed())).where(
                ApiCallLog.created_at >= hour_ago
            )
        ).one()
        last = session.execute(
            select(func.max(ConversationMessage.created_at)).where(
                ConversationMessage.direction == "in",
                ConversationMessage.created_at >= now - LOOKBACK,
            )
        ).scalar()
    return Figures(
        active_conversations=int(active),
        messages_last_hour=int(messages),
        error_rate=round(failed / calls, 4) if calls else 0.0,
        last_patient_message=last,
    )
