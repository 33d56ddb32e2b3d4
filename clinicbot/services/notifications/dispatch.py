"""Due ``notifications`` rows into the channel outbox, each exactly once.

Claiming a row, enqueueing its text and marking it ``queued`` happen in ONE transaction, so each
row is enqueued once even with several schedulers on one database
(:func:`clinicbot.db.claims.claim_one`); it becomes ``sent`` when the provider accepts the message
(:mod:`.delivery`). Nothing goes out during quiet hours: rows that come due at night (after
downtime, say) wait for the morning and are composed again then. A row that cannot be composed or
enqueued is recorded and retried later, until :data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.clock import Clock
from clinicbot.db.claims import claim_one
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Notification
from clinicbot.db.types import utcnow
from clinicbot.messages.rendering import render
from clinicbot.pii import mask_phone, mask_text
from clinicbot.services.notifications.composing import Composer, Message
from clinicbot.services.notifications.delivery import outbox_key
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.whatsapp.outbox import enqueue_text

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(minutes=5)
DISPATCH_BATCH = 200


def send_notification(
    session: Session, notification: Notification, message: Message | None, now: datetime
) -> str:
    """Enqueue ``message`` for a claimed pending row and mark it queued (canceled when there is
    nothing to send any more); the row's new status.

    Runs in the caller's transaction: the outbox row and the status change commit together.
    """
    notification.attempts += 1
    notification.updated_at = now
    if message is None:
        notification.status = "canceled"
        return notification.status
    text = render(session, message.template_key, message.values, phone=notification.phone).text
    enqueue_text(
        session,
        notification.phone,
        text,
        dedupe_key=outbox_key(notification.id),
        deliver_by=message.deliver_by,
    )
    notification.template_key = message.template_key
    notification.status = "queued"
    notification.awaiting_reply = message.awaiting_reply
    logger.info(
        "notification %s (%s) queued for %s",
        notification.id,
        notification.kind,
        mask_phone(notification.phone),
    )
    return notification.status


@dataclass
class NotificationDispatcher:
    """Sends the due rows, composing each with the :data:`Composer` of its kind."""

    composers: Mapping[str, Composer]
    engine: Engine | None = None
    policy: NotificationPolicy = field(default_factory=NotificationPolicy.from_settings)
    clock: Clock = utcnow

    def dispatch_due(self, limit: int = DISPATCH_BATCH) -> dict[str, int]:
        """Send every due pending row (one transaction each); counts per resulting status."""
        now = self.clock()
        counts: dict[str, int] = {}
        if self.policy.is_quiet(now):
            return counts
        with session_scope(self.engine) as session:
            due = (
                session.execute(
                    select(Notification.id)
                    .where(Notification.status == "pending", Notification.scheduled_for <= now)
                    .order_by(Notification.scheduled_for, Notification.id)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        for notification_id in due:
            status = self._dispatch_one(notification_id, now)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def _dispatch_one(self, notification_id: int, now: datetime) -> str:
        try:
            with session_scope(self.engine) as session:
                notification = claim_one(
                    session,
                    Notification,
                    Notification.id == notification_id,
                    Notification.status == "pending",
                )
                if notification is None:
                    return "skipped"  # another scheduler has it, or already sent it
                message = self._compose(session, notification, now)
                return send_notification(session, notification, message, now)
        except Exception as error:  # any failure is recorded on the row and retried later
            # No traceback: exception texts can carry the phone or name; the row keeps the error.
            logger.warning(
                "notification %s failed: %s",
                notification_id,
                mask_text(f"{type(error).__name__}: {error}"),
            )
            with session_scope(self.engine) as session:
                return _record_failure(session, notification_id, error, now)

    def _compose(
        self, session: Session, notification: Notification, now: datetime
    ) -> Message | None:
        composer = self.composers.get(notification.kind)
        if composer is None:
            raise LookupError(f"no composer for {notification.kind} notifications")
        return composer(session, notification, now, self.policy)


def _record_failure(session: Session, notification_id: int, error: Exception, now: datetime) -> str:
    notification = session.execute(
        select(Notification).where(
            Notification.id == notification_id, Notification.status == "pending"
        )
    ).scalar_one_or_none()
    if notification is None:
        return "skipped"
    notification.attempts += 1
    notification.last_error = mask_text(f"{type(error).__name__}: {error}")[:1000]
    notification.updated_at = now
    if notification.attempts >= MAX_ATTEMPTS:
        notification.status = "failed"
    else:
        notification.scheduled_for = now + RETRY_DELAY * notification.attempts
    return notification.status
