"""The transactional outbox: every WhatsApp message the assistant sends goes through it.

:func:`enqueue_text` adds the message (an ``outbox_messages`` row plus its ``queued`` line in the
``conversation_messages`` log) in the caller's transaction, so a reminder is sent if and only if
the transaction that decided it commits. :class:`OutboxWorker` delivers the rows:

- per phone in enqueue order: only the oldest unfinished row of a phone is ever eligible;
- exactly once across processes: a row is claimed (``pending`` → ``sending``) with
  ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL and a guarded UPDATE everywhere; a claim
  whose process died expires after :data:`LEASE` and the row is retried;
- retries with exponential backoff when the error is transient (5xx, timeout, Z-API's
  intermittent "client-token is not configured"), ``failed`` after ``max_attempts``;
- delivery/read callbacks move ``sent`` on to ``delivered``/``read`` (:func:`apply_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, aliased

from clinicbot.channels.conversations import conversation_for
from clinicbot.channels.dbthread import run_db
from clinicbot.channels.inbound import STATUS_RANK
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ConversationMessage, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.pii import mask_phone
from clinicbot.ptbr.phones import normalize_phone

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # longer than any send's HTTP timeout
UNFINISHED = ("pending", "sending")
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
        _update_log(session, row.log_message_id, row.log_created_at, status=status)
        changed += 1
    return changed


def _update_log(
    session: Session, log_id: int | None, created_at: datetime | None, **values: Any
) -> None:
    if log_id is not None and created_at is not None:
        session.execute(
            update(_LOG)
            .where(_LOG.c.id == log_id, _LOG.c.created_at == created_at)
            .values(**values)
        )


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str
    phone: str
    text: str
    options: list[dict[str, Any]] | None
    attempts: int


class DeliveryFailed(Exception):
    """A sender could not deliver; ``retryable`` says whether trying again may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> str:
        """Deliver ``message``; the provider's message id. Raises :class:`DeliveryFailed`."""


class OutboxWorker:
    """Delivers pending outbox rows through one :class:`Sender` per channel."""

    def __init__(
        self,
        senders: Mapping[str, Sender],
        *,
        engine: Engine | None = None,
        max_attempts: int = 8,
        retry_max_seconds: float = 60.0,
        batch_size: int = 20,
    ) -> None:
        self._senders = dict(senders)
        self._engine = engine
        self._max_attempts = max_attempts
        self._retry_max_seconds = retry_max_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after enqueueing)."""
        self._wake.set()

    async def run_once(self) -> int:
        """One pass: claim each phone's next deliverable row and try to send it.

        Returns how many rows were attempted (sent, rescheduled or failed); 0 means nothing was
        due.
        """
        claimed = await run_db(self._claim)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._deliver(message) for message in claimed))
        await run_db(self._record, list(zip(claimed, outcomes, strict=True)))
        return len(claimed)

    async def run_forever(self, poll_seconds: float = 1.0) -> None:
        """Deliver until cancelled: again at once after progress, else on wake-up or poll."""
        while True:
            try:
                progressed = await self.run_once()
            except Exception:
                logger.exception("outbox pass failed")
                progressed = 0
            if progressed:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_seconds)
            self._wake.clear()

    async def _deliver(self, message: OutgoingMessage) -> str | DeliveryFailed:
        sender = self._senders.get(message.channel)
        if sender is None:
            return DeliveryFailed(f"no sender for channel {message.channel}", retryable=False)
        try:
            return await sender.send(message)
        except DeliveryFailed as error:
            return error
        except Exception as error:  # a bug in a sender must not wedge the phone's queue
            logger.exception("outbox sender %s crashed", message.channel)
            return DeliveryFailed(repr(error), retryable=True)

    def _claim(self) -> list[OutgoingMessage]:
        now = utcnow()
        with session_scope(self._engine) as session:
            session.execute(  # claims whose process died: back in line
                update(_OUTBOX)
                .where(_OUTBOX.c.status == "sending", _OUTBOX.c.claimed_until < now)
                .values(status="pending")
            )
            earlier = aliased(OutboxMessage)
            candidates = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    ~exists().where(
                        earlier.channel == OutboxMessage.channel,
                        earlier.phone == OutboxMessage.phone,
                        earlier.id < OutboxMessage.id,
                        earlier.status.in_(UNFINISHED),
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(self._batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True, of=OutboxMessage)
            claimed = []
            for row in session.execute(candidates).scalars().all():
                taken = session.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id == row.id, _OUTBOX.c.status == "pending")
                    .values(
                        status="sending",
                        claimed_until=now + LEASE,
                        attempts=_OUTBOX.c.attempts + 1,
                    )
                ).rowcount
                if taken == 1:
                    claimed.append(
                        OutgoingMessage(
                            row.id, row.channel, row.phone, row.text, row.options, row.attempts + 1
                        )
                    )
            return claimed

    def _record(self, results: list[tuple[OutgoingMessage, str | DeliveryFailed]]) -> None:
        now = utcnow()
        with session_scope(self._engine) as session:
            for message, outcome in results:
                row = session.get(OutboxMessage, message.id)
                if row is None or row.status != "sending":
                    continue
                if isinstance(outcome, str):
                    row.status, row.external_message_id, row.sent_at = "sent", outcome, now
                    row.claimed_until = None
                    _update_log(
                        session,
                        row.log_message_id,
                        row.log_created_at,
                        status="sent",
                        external_message_id=outcome,
                    )
                    continue
                row.last_error = str(outcome)[:500]
                row.claimed_until = None
                if outcome.retryable and message.attempts < self._max_attempts:
                    row.status = "pending"
                    row.next_attempt_at = now + timedelta(seconds=self._backoff(message.attempts))
                    logger.info(
                        "outbox %d to %s: attempt %d failed, retrying (%s)",
                        message.id,
                        mask_phone(message.phone),
                        message.attempts,
                        outcome,
                    )
                else:
                    row.status = "failed"
                    _update_log(session, row.log_message_id, row.log_created_at, status="failed")
                    logger.warning(
                        "outbox %d to %s failed after %d attempts: %s",
                        message.id,
                        mask_phone(message.phone),
                        message.attempts,
                        outcome,
                    )

    def _backoff(self, attempts: int) -> float:
        """1, 2, 4 … seconds (±20 % jitter, so a recovered gateway is not hit all at once)."""
        base = min(self._retry_max_seconds, 2.0 ** (attempts - 1))
        return base * random.uniform(0.8, 1.2)
