"""A notification counts as sent when the provider accepted its message, not when it was queued.

The dispatcher (:mod:`.dispatch`) puts a notification's message in the outbox under
:func:`outbox_key` and marks the row ``queued``; the delivery worker
(:mod:`clinicbot.whatsapp.delivery`) reports each outcome to :func:`record_delivery`, in the
transaction that records it on the outbox row: accepted → ``sent`` (at that time), given up →
``failed``. A dead message that staff resend and the provider then accepts becomes ``sent``
after all. Only a ``sent`` question ("sim ou não?") can be answered
(:func:`~clinicbot.services.notifications.replies.pending_reply`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from clinicbot.db.models import Notification
from clinicbot.pii import mask_text

KEY_PREFIX = "notification:"


def outbox_key(notification_id: int) -> str:
    """The outbox ``dedupe_key`` of a notification's message (one message per notification)."""
    return f"{KEY_PREFIX}{notification_id}"


def record_delivery(
    session: Session, dedupe_key: str | None, *, accepted: bool, at: datetime, error: str = ""
) -> None:
    """The outbox row ``dedupe_key`` was accepted by the provider, or given up on; nothing
    happens when the row is not a notification's."""
    if not dedupe_key or not dedupe_key.startswith(KEY_PREFIX):
        return
    notification = Notification.id == int(dedupe_key.removeprefix(KEY_PREFIX))
    if accepted:
        statement = (
            update(Notification)
            .where(notification, Notification.status.in_(("queued", "failed")))
            .values(status="sent", sent_at=at, updated_at=at)
        )
    else:
        statement = (
            update(Notification)
            .where(notification, Notification.status == "queued")
            .values(status="failed", last_error=mask_text(error)[:1000], updated_at=at)
        )
    session.execute(statement.execution_options(synchronize_session=False))
