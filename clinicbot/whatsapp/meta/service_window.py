"""The Cloud API's 24-hour customer-service window, per phone, from the last inbound message.

Inside the window the Cloud API accepts any message; outside it only approved templates, so
:class:`~clinicbot.whatsapp.meta.sender.MetaSender` asks here before each delivery. (Z-API
sends through a WhatsApp Web session and has no such window.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinicbot.db.models import ConversationMessage
from clinicbot.db.types import utcnow
from clinicbot.ptbr.phones import normalize_phone

SERVICE_WINDOW = timedelta(hours=24)


def last_inbound_at(session: Session, phone: str, channel: str = "meta") -> datetime | None:
    """When ``phone`` last wrote to us on ``channel`` (walks the (phone, created_at) index)."""
    return session.execute(
        select(func.max(ConversationMessage.created_at)).where(
            ConversationMessage.phone == normalize_phone(phone),
            ConversationMessage.channel == channel,
            ConversationMessage.direction == "in",
        )
    ).scalar()


def window_closes_at(session: Session, phone: str, channel: str = "meta") -> datetime | None:
    """When the phone's window closes (in the past when closed; None if it never wrote)."""
    last = last_inbound_at(session, phone, channel)
    return last + SERVICE_WINDOW if last is not None else None


def in_service_window(
    session: Session, phone: str, channel: str = "meta", now: datetime | None = None
) -> bool:
    closes = window_closes_at(session, phone, channel)
    return closes is not None and (now or utcnow()) < closes
