"""Per-phone rate limit on inbound messages: a token bucket that every rasa process shares.

In the path of a message: the inbox (:func:`clinicbot.whatsapp.inbox.store_inbound`) asks
:func:`admit` in the transaction that stores the message. A message over the limit is still
stored and acknowledged (status ``throttled``), but its turn never runs; the patient gets one
:data:`~clinicbot.services.templates.TOO_MANY_MESSAGES` notice (an editable template:
:func:`notify`), at most one per :data:`NOTICE_INTERVAL`.

The bucket holds ``burst`` messages and regains one every ``60 / per_minute`` seconds. Its whole
state is one instant, when it will be full again (the "theoretical arrival time" of the generic
cell rate algorithm), kept on the patient's active conversation
(``conversations.rate_bucket_full_at``). The storing transaction already holds that patient's
lock (an advisory lock on PostgreSQL, the single writer on SQLite), so every process reads and
moves the same bucket and no two of them spend its last token twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinicbot.db.models import Conversation, OutboxMessage
from clinicbot.messages.defaults import CHANNEL_TOO_MANY_MESSAGES
from clinicbot.messages.rendering import render
from clinicbot.settings import Settings
from clinicbot.whatsapp.outbox import enqueue_text

NOTICE_INTERVAL = timedelta(minutes=5)
NOTICE_KEY_PREFIX = "throttled:"


@dataclass(frozen=True)
class RateLimit:
    """``burst`` messages at once, then ``per_minute`` a minute."""

    burst: int
    per_minute: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimit | None:
        """The configured limit; None when ``RATE_LIMIT_PER_MINUTE`` is 0 (no limit)."""
        if settings.rate_limit_per_minute <= 0:
            return None
        return cls(max(1, settings.rate_limit_burst), settings.rate_limit_per_minute)

    @property
    def interval(self) -> timedelta:
        """How long the bucket takes to regain one message."""
        return timedelta(minutes=1 / self.per_minute)


def take(full_at: datetime | None, now: datetime, limit: RateLimit) -> datetime | None:
    """Spend one token at ``now``: the bucket's new full-again instant, or None when it is empty.

    ``full_at`` in the past (or None) is a full bucket; each token spent pushes it one
    ``interval`` later, and the bucket is empty once it lies ``burst`` intervals ahead.
    """
    start = max(full_at or now, now)
    if start - now > limit.interval * (limit.burst - 1):
        return None
    return start + limit.interval


def admit(session: Session, conversation_id: int, limit: RateLimit, now: datetime) -> bool:
    """Whether the patient of ``conversation_id`` may have one more turn now (spends a token).

    Call it in the transaction that holds the patient's lock
    (:func:`clinicbot.whatsapp.conversations.conversation_for`).
    """
    full_at = session.execute(
        select(Conversation.rate_bucket_full_at).where(Conversation.id == conversation_id)
    ).scalar()
    after = take(full_at, now, limit)
    if after is None:
        return False
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(rate_bucket_full_at=after)
    )
    return True


def notify(session: Session, phone: str, channel: str, message_id: str, now: datetime) -> None:
    """Enqueue the too-many-messages notice, unless ``phone`` got one in the last
    :data:`NOTICE_INTERVAL`. Same transaction as :func:`admit`, which holds the patient's lock."""
    earlier = session.execute(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.phone == phone,
            OutboxMessage.dedupe_key.startswith(NOTICE_KEY_PREFIX),
            OutboxMessage.created_at > now - NOTICE_INTERVAL,
        )
        .limit(1)
    ).scalar()
    if earlier is None:
        key = f"{NOTICE_KEY_PREFIX}{channel}:{message_id}"
        text = render(session, CHANNEL_TOO_MANY_MESSAGES, {}, phone=phone).text
        enqueue_text(session, phone, text, channel=channel, dedupe_key=key)
