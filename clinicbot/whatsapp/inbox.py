"""Inbound messages, stored before the webhook is acknowledged and processed exactly once.

In the path of a message: the turn runner (:mod:`clinicbot.whatsapp.turns`) stores each
message here (:func:`store_inbound`) while the webhook waits, claims it (:func:`claim`) right
before its Rasa turn and records the outcome after: :func:`finish`, :func:`retry_later` or
:func:`give_up`.

Lifecycle of an inbound ``conversation_messages`` row: ``received`` (stored, in the same
transaction as its ``conversation_message_keys`` dedupe key, written by a trigger) →
``processing`` (claimed by one process, :mod:`clinicbot.db.claims`) → ``processed``; a failed
turn goes back to ``received`` with ``retry_at`` and one more ``attempts``, and after the last
attempt it is ``dead`` (the patient gets one apology). A row left ``received`` (crash before its
turn started) or ``processing`` for longer than :data:`STALE_CLAIM` (crash mid-turn) is picked up
again by :func:`pending`, unless it is older than :data:`REPLAY_WINDOW` (:func:`expired`).
A message over the patient's rate limit (:mod:`clinicbot.whatsapp.throttle`), or arriving while
their turn queue is full, is stored ``throttled`` instead and never gets a turn.

A patient's messages are claimed in arrival order, whichever process (rasa instance) stored
them: :func:`claim` refuses a message while an earlier one of the same patient (clinic, channel,
phone) is still ``received`` or ``processing``, and whoever finishes that earlier one runs the
next (:func:`next_in_line`). Within one process :mod:`clinicbot.whatsapp.ordering` already
queues them; this keeps the order when a load balancer spreads them over several.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinicbot.db.claims import claim_with
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, ConversationMessageKey, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.messages.defaults import CHANNEL_TURN_FAILED
from clinicbot.messages.rendering import render
from clinicbot.tenancy.sessions import clinic_session
from clinicbot.whatsapp import throttle
from clinicbot.whatsapp.conversations import conversation_for
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from clinicbot.whatsapp.outbox import enqueue_text

# Rasa holds a conversation's lock for at most 60 s: a turn claimed longer ago than this died.
STALE_CLAIM = timedelta(minutes=2)
# Messages older than this are not replayed: answering a day-old "oi" helps nobody.
REPLAY_WINDOW = timedelta(hours=24)
# Several messages lost to one outage get one apology, not one each.
APOLOGY_INTERVAL = timedelta(hours=1)
APOLOGY_KEY_PREFIX = "apology:"
# A message in one of these states holds its patient's later messages back.
UNFINISHED = ("received", "processing")

_MESSAGES = ConversationMessage.__table__
_OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class StoredInbound:
    """An inbound message as stored: enough to run (or re-run) its turn."""

    id: int
    created_at: datetime
    channel: str
    phone: str
    external_id: str
    text: str
    unsupported: bool
    data: dict[str, Any]
    attempts: int = 0  # failed turns so far
    throttled: bool = False
    clinic_id: int = 1


def store_inbound(
    channel: str,
    event: InboundEvent,
    engine: Engine | None = None,
    *,
    rate_limit: throttle.RateLimit | None = None,
    queue_full: bool = False,
) -> StoredInbound | None:
    """Store ``event`` with its dedupe key; ``None`` when that key was stored before.

    A message over ``rate_limit``, or one arriving while the patient's turns already fill their
    queue (``queue_full``), is stored ``throttled``, and may enqueue the patient's notice.
    """
    data = {**event.data, "unsupported": event.kind is InboundKind.UNSUPPORTED}
    try:
        with clinic_session(event.clinic_id, engine) as session:
            seen = session.get(ConversationMessageKey, (channel, event.message_id))
            if seen is not None:
                return None
            conversation_id = conversation_for(session, event.phone, channel)
            now = utcnow()
            throttled = queue_full or (
                rate_limit is not None
                and not throttle.admit(session, conversation_id, rate_limit, now)
            )
            message = ConversationMessage(
                conversation_id=conversation_id,
                phone=event.phone,
                direction="in",
                text=event.text or None,
                channel=channel,
                external_message_id=event.message_id,
                status="throttled" if throttled else "received",
                channel_data=data,
            )
            session.add(message)
            session.flush()
            if throttled:
                throttle.notify(session, event.phone, channel, event.message_id, now)
            return _stored(message)
    except IntegrityError:  # the same key, stored concurrently by another request
        return None


def _stored(message: ConversationMessage) -> StoredInbound:
    data = dict(message.channel_data or {})
    return StoredInbound(
        id=int(message.id),
        created_at=message.created_at,
        channel=message.channel,
        phone=message.phone,
        external_id=message.external_message_id or "",
        text=message.text or "",
        unsupported=bool(data.get("unsupported")),
        data=data,
        attempts=int(message.attempts or 0),
        throttled=message.status == "throttled",
        clinic_id=int(message.clinic_id),
    )


def _row(message: StoredInbound) -> Any:
    return and_(_MESSAGES.c.id == message.id, _MESSAGES.c.created_at == message.created_at)


def claim(message: StoredInbound, engine: Engine | None = None) -> bool:
    """Take ``message`` for processing; False when another process has it (or had it), or
    when an earlier message of the patient is not finished (its turn comes first)."""
    now = utcnow()
    with session_scope(engine) as session:
        return claim_with(
            session,
            update(_MESSAGES)
            .where(_row(message), _claimable(now), ~_earlier_unfinished(message))
            .values(status="processing", claimed_at=now),
        )


def next_in_line(message: StoredInbound, engine: Engine | None = None) -> StoredInbound | None:
    """The patient's oldest unfinished message after ``message``'s turn, when it can be claimed
    now: a process that finishes a turn runs it, since another process that stored it may have
    been refused its claim while ``message`` ran."""
    now = utcnow()
    since = message.created_at - REPLAY_WINDOW
    head = (
        select(_MESSAGES.c.id)
        .where(
            *_same_patient(_MESSAGES, message),
            _MESSAGES.c.created_at >= since,
            _MESSAGES.c.status.in_(UNFINISHED),
        )
        .order_by(_MESSAGES.c.created_at, _MESSAGES.c.id)
        .limit(1)
        .scalar_subquery()
    )
    with session_scope(engine) as session:
        following = session.execute(
            select(ConversationMessage).where(
                ConversationMessage.id == head,
                ConversationMessage.created_at >= since,
                _claimable(now),
            )
        ).scalar_one_or_none()
        return None if following is None else _stored(following)


def _same_patient(table: Any, message: StoredInbound) -> tuple[Any, ...]:
    """The inbound rows of ``message``'s patient in ``table`` (the messages table or an alias)."""
    return (
        table.c.clinic_id == message.clinic_id,
        table.c.channel == message.channel,
        table.c.phone == message.phone,
        table.c.direction == "in",
    )


def _earlier_unfinished(message: StoredInbound) -> Any:
    """An earlier message of the same patient whose turn has not finished (within the replay
    window: older ones are given up on, :func:`expired`)."""
    earlier = _MESSAGES.alias("earlier")
    return exists().where(
        *_same_patient(earlier, message),
        earlier.c.created_at >= message.created_at - REPLAY_WINDOW,
        earlier.c.created_at <= message.created_at,
        earlier.c.id < message.id,
        earlier.c.status.in_(UNFINISHED),
    )


def finish(message: StoredInbound, engine: Engine | None = None) -> None:
    """Record that the turn of ``message`` ran."""
    with session_scope(engine) as session:
        session.execute(
            update(_MESSAGES).where(_row(message)).values(status="processed", retry_at=None)
        )


def mark_throttled(message: StoredInbound, engine: Engine | None = None) -> None:
    """A stored message that will get no turn after all (its patient's queue filled up)."""
    with session_scope(engine) as session:
        session.execute(update(_MESSAGES).where(_row(message)).values(status="throttled"))


def retry_later(
    message: StoredInbound, retry_at: datetime, error: str, engine: Engine | None = None
) -> bool:
    """Put the claimed ``message`` back, to be claimed again from ``retry_at``; False when it was
    not claimed (the failure came before the claim)."""
    with session_scope(engine) as session:
        return claim_with(
            session,
            update(_MESSAGES)
            .where(_row(message), _MESSAGES.c.status == "processing")
            .values(
                status="received",
                retry_at=retry_at,
                attempts=_MESSAGES.c.attempts + 1,
                last_error=error[:500],
            ),
        )


def give_up(message: StoredInbound, error: str, engine: Engine | None = None) -> bool:
    """Mark the claimed ``message`` dead and queue the apology to the patient (unless they got
    one within :data:`APOLOGY_INTERVAL`), in one transaction; False when it was not claimed."""
    now = utcnow()
    with clinic_session(message.clinic_id, engine) as session:
        dead = claim_with(
            session,
            update(_MESSAGES)
            .where(_row(message), _MESSAGES.c.status == "processing")
            .values(
                status="dead",
                retry_at=None,
                attempts=_MESSAGES.c.attempts + 1,
                last_error=error[:500],
            ),
        )
        if dead and not _apologised_since(session, message, now - APOLOGY_INTERVAL):
            enqueue_text(
                session,
                message.phone,
                render(session, CHANNEL_TURN_FAILED, {}, phone=message.phone).text,
                channel=message.channel,
                dedupe_key=f"{APOLOGY_KEY_PREFIX}{message.channel}:{message.external_id}",
            )
        return dead


def _apologised_since(session: Session, message: StoredInbound, since: datetime) -> bool:
    return (
        session.execute(
            select(_OUTBOX.c.id)
            .where(
                _OUTBOX.c.channel == message.channel,
                _OUTBOX.c.phone == message.phone,
                _OUTBOX.c.dedupe_key.startswith(APOLOGY_KEY_PREFIX),
                _OUTBOX.c.created_at >= since,
            )
            .limit(1)
        ).first()
        is not None
    )


def pending(
    channel: str,
    engine: Engine | None = None,
    *,
    min_age: timedelta = timedelta(0),
    limit: int = 500,
) -> list[StoredInbound]:
    """Stored messages (at least ``min_age`` old) whose turn never ran or died, oldest first."""
    now = utcnow()
    with session_scope(engine) as session:
        rows = session.execute(
            select(ConversationMessage)
            .where(
                ConversationMessage.channel == channel,
                ConversationMessage.direction == "in",
                ConversationMessage.created_at >= now - REPLAY_WINDOW,
                ConversationMessage.created_at <= now - min_age,
                _claimable(now),
            )
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
            .limit(limit)
        ).scalars()
        return [_stored(row) for row in rows]


def expired(channel: str, engine: Engine | None = None, *, limit: int = 500) -> list[StoredInbound]:
    """Stored messages whose turn never ran (or died) and that are older than the replay
    window: too old to answer, they are given up on rather than forgotten."""
    now = utcnow()
    with session_scope(engine) as session:
        rows = session.execute(
            select(ConversationMessage)
            .where(
                ConversationMessage.channel == channel,
                ConversationMessage.direction == "in",
                ConversationMessage.created_at < now - REPLAY_WINDOW,
                _claimable(now),
            )
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
            .limit(limit)
        ).scalars()
        return [_stored(row) for row in rows]


def _claimable(now: datetime) -> Any:
    """Never run (and due, when a failed turn waits for its retry), or claimed by a process that
    died."""
    return or_(
        and_(
            _MESSAGES.c.status == "received",
            or_(_MESSAGES.c.retry_at.is_(None), _MESSAGES.c.retry_at <= now),
        ),
        and_(_MESSAGES.c.status == "processing", _MESSAGES.c.claimed_at < now - STALE_CLAIM),
    )
