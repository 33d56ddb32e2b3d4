"""The transactional outbox: every WhatsApp message the assistant sends is first a row here.

In the path of a message: the answers of a Rasa turn (:mod:`clinicbot.whatsapp.rasa_output`)
and the proactive messages of the clinic service (reminders, waiting-list offers) are added with
:func:`enqueue_text`, in the caller's transaction, so a reminder is sent if and only if the
transaction that decided it commits. The delivery worker (:mod:`clinicbot.whatsapp.delivery`)
sends the rows; the provider's delivery/read callbacks come back through :func:`apply_status`.

Each row has a line in the message log (``conversation_messages``) that follows its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.whatsapp.conversations import conversation_for

# Delivery states in the order they happen; a late "sent" never undoes a "read".
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3}

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
) -> int | None:
    """Add an outbound message in the caller's transaction; its id, or None if ``dedupe_key``
    was enqueued before.

    ``options`` (``[{"id", "title", "description"?}]``) makes it a menu: sent as a WhatsApp list
    when the channel can, with ``text`` (which should already number the options) as fallback.
    ``in_reply_to`` and ``latency_ms`` are set by the connectors for answers to a message.
    """
    phone = normalize_phone(phone)
    values = {
        "channel": channel,
        "phone": phone,
        "text": text,
        "options": options,
        "dedupe_key": dedupe_key,
        "status": "pending",
        "next_attempt_at": utcnow(),
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


def last_sent_was_menu(session: Session, phone: str, channel: str) -> bool:
    """Whether the latest message queued for ``phone`` offered numbered options."""
    options = session.execute(
        select(_OUTBOX.c.options)
        .where(_OUTBOX.c.channel == channel, _OUTBOX.c.phone == normalize_phone(phone))
        .order_by(_OUTBOX.c.id.desc())
        .limit(1)
    ).scalar()
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
