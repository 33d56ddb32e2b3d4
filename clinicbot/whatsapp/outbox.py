"""The transactional outbox: every WhatsApp message the assistant sends is first a row here.

In the path of a message: the answers of a Rasa turn (:mod:`clinicbot.whatsapp.rasa_output`)
and the proactive messages of the clinic service (reminders, waiting-list offers) are added with
:func:`enqueue_text`, in the caller's transaction, so a reminder is sent if and only if the
transaction that decided it commits. The delivery worker (:mod:`clinicbot.whatsapp.delivery`)
sends the rows; the provider's delivery/read callbacks come back through :func:`apply_status`.
Rows it gave up on (``dead``) go back in the queue with :func:`resend_dead`
(``python -m clinicbot.cli outbox resend``).

Each row has a line in the message log (``conversation_messages``) that follows its status.

An answer to a patient's message is worth delivering for :data:`REPLY_SHELF_LIFE` after that
message, and no longer: it is Meta's customer-service window (outside it the Cloud API refuses
free text), and on Z-API, which has no window, "Qual dia prefere?" a day after the patient asked
confuses more than it helps. A reply still undelivered then is dead (staff are alerted and can
write to the patient themselves); the patient's next message starts a fresh turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.scope import session_clinic
from clinicbot.whatsapp.conversations import conversation_for

# Delivery states in the order they happen; a late "sent" never undoes a "read".
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}
REPLY_SHELF_LIFE = timedelta(hours=24)

_OUTBOX = OutboxMessage.__table__
_LOG = ConversationMessage.__table__


def enqueue_text(
    session: Session,
    phone: str,
    text: str,
    *,
    channel: str = "zapi",
    dedupe_key: str | None = None,
    options: list[dict[str, Any]] | None = None,
    in_reply_to: str | None = None,
    latency_ms: int | None = None,
    deliver_by: datetime | None = None,
) -> int | None:
    """Add an outbound message in the caller's transaction; its id, or None if ``dedupe_key``
    was enqueued before.

    ``options`` (``[{"id", "title", "description"?}]``) makes it a menu: sent as a WhatsApp list
    when the channel can, with ``text`` (which should already number the options) as fallback.
    ``in_reply_to`` and ``latency_ms`` are set by the connectors for answers to a message.
    ``deliver_by``: after it the message is not worth sending (the outbox gives up on it).
    It goes out from the number of the clinic the session acts for (the default clinic's
    when it acts for none: :mod:`clinicbot.tenancy.scope`).
    """
    phone = normalize_phone(phone)
    now = utcnow()
    values = {
        "clinic_id": session_clinic(session) or DEFAULT_CLINIC_ID,
        "channel": channel,
        "phone": phone,
        "text": text,
        "options": options,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "next_attempt_at": now,
        "queued_at": now,
        "deliver_by": deliver_by,
        "in_reply_to": in_reply_to,
    }
    dialect = session.get_bind().dialect.name
    if dedupe_key is None:
        statement: Any = insert(_OUTBOX).values(values)
    else:
        module = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(_OUTBOX).values(values).on_conflict_do_nothing()
    result = session.execute(statement)
    if result.rowcount == 0:
        return None
    outbox_id = int(result.inserted_primary_key[0])
    log = ConversationMessage(
        conversation_id=conversation_for(session, phone, channel),
        phone=phone,
        direction="out",
        text=text,
        channel=channel,
        status="queued",
        latency_ms=latency_ms,
    )
    session.add(log)
    session.flush()
    session.execute(
        update(_OUTBOX)
        .where(_OUTBOX.c.id == outbox_id)
        .values(log_message_id=log.id, log_created_at=log.created_at)
    )
    return outbox_id


def last_sent_was_menu(
    session: Session, phone: str, channel: str, *, not_replying_to: str | None = None
) -> bool:
    """Whether the latest message queued for ``phone`` offered numbered options, leaving out
    the answers to the message ``not_replying_to`` (what an earlier attempt of its turn said)."""
    query = select(_OUTBOX.c.options).where(
        _OUTBOX.c.channel == channel, _OUTBOX.c.phone == normalize_phone(phone)
    )
    if not_replying_to is not None:
        query = query.where(
            or_(_OUTBOX.c.in_reply_to.is_(None), _OUTBOX.c.in_reply_to != not_replying_to)
        )
    options = session.execute(query.order_by(_OUTBOX.c.id.desc()).limit(1)).scalar()
    return bool(options)


def apply_status(
    session: Session, channel: str, external_ids: Sequence[str], status: str, error: str = ""
) -> int:
    """Record a delivery status from the provider; never moves a message backwards."""
    if not external_ids:
        return 0
    rows = session.execute(
        select(
            _OUTBOX.c.id, _OUTBOX.c.status, _OUTBOX.c.log_message_id, _OUTBOX.c.log_created_at
        ).where(_OUTBOX.c.channel == channel, _OUTBOX.c.external_message_id.in_(external_ids))
    ).all()
    changed = 0
    for row in rows:
        current = STATUS_RANK.get(row.status, 0)
        if status == "failed" and current >= STATUS_RANK["delivered"]:
            continue
        if status != "failed" and STATUS_RANK[status] <= current:
            continue
        values: dict[str, Any] = {"status": status}
        if error:
            values["last_error"] = error[:500]
        session.execute(update(_OUTBOX).where(_OUTBOX.c.id == row.id).values(**values))
        update_log_line(session, row.log_message_id, row.log_created_at, status=status)
        changed += 1
    return changed


@dataclass
class Resent:
    """What :func:`resend_dead` did: rows back in the queue, and rows left dead because their
    ``deliver_by`` has passed (a reminder for an appointment that has begun)."""

    requeued: list[int] = field(default_factory=list)
    too_late: list[int] = field(default_factory=list)


def resend_dead(
    session: Session, *, outbox_id: int | None = None, phone: str | None = None
) -> Resent:
    """Put dead rows (one, one phone's, or all) back in the queue with a fresh retry budget.

    They keep their place in their phone's order: a resent row goes out before the messages
    queued after it.
    """
    now = utcnow()
    query = select(OutboxMessage).where(OutboxMessage.status == "dead")
    if outbox_id is not None:
        query = query.where(OutboxMessage.id == outbox_id)
    if phone is not None:
        query = query.where(OutboxMessage.phone == normalize_phone(phone))
    resent = Resent()
    for row in session.execute(query.order_by(OutboxMessage.id)).scalars():
        if row.deliver_by is not None and row.deliver_by <= now:
            resent.too_late.append(row.id)
            continue
        row.status, row.attempts, row.claimed_until = "pending", 0, None
        row.queued_at = row.next_attempt_at = now
        update_log_line(session, row.log_message_id, row.log_created_at, status="queued")
        resent.requeued.append(row.id)
    return resent


def update_log_line(
    session: Session, log_id: int | None, created_at: datetime | None, **values: Any
) -> None:
    """Copy a change of an outbox row onto its line in the message log."""
    if log_id is not None and created_at is not None:
        session.execute(
            update(_LOG)
            .where(_LOG.c.id == log_id, _LOG.c.created_at == created_at)
            .values(**values)
        )
