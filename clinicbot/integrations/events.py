"""Events for CRMs: one row per business change, written in that change's transaction.

:func:`emit_event` is the transactional outbox of integration events: it inserts the event and
one pending delivery per active subscription that wants it, in the caller's session, so an
event exists if and only if the change it reports committed. The webhook worker
(:mod:`clinicbot.integrations.webhooks`) delivers them afterwards, signed and retried.

Every payload is an envelope ``{"id", "type", "version", "created_at", "clinic_id", "data"}``;
``data`` follows ``schemas/v<version>/<type>.json`` (JSON Schema 2020-12), checked in tests.

Where each event is emitted:

- ``patient.registered``: :meth:`clinicbot.services.booking.BookingService.register_patient`
- ``appointment.booked|rescheduled|cancelled``: ``BookingService.book|reschedule|cancel`` (the
  bot and the public API alike), and ``appointment.booked`` for a waiting-list booking
- ``appointment.confirmed``: :class:`clinicbot.services.notifications.replies.ReminderReplies`
- ``waitlist.joined|offered|filled``: :class:`clinicbot.services.waiting_list.WaitingListService`
- ``handoff.requested|resolved``: :mod:`clinicbot.services.handoff`
- ``feedback.received``: :func:`clinicbot.messages.satisfaction.take_answer`, with the rating
  (a comment the patient adds afterwards is stored, not sent again)
- ``conversation.closed``: :func:`clinicbot.services.lifecycle.close` (goodbye or inactivity)
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinicbot.db.models import IntegrationEvent, WebhookDelivery, WebhookSubscription
from clinicbot.db.types import utcnow
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.scope import session_clinic

SCHEMA_DIR = Path(__file__).parent / "schemas"
EVENT_VERSION = 1
EVENT_TYPES = (
    "patient.registered",
    "appointment.booked",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.confirmed",
    "waitlist.joined",
    "waitlist.offered",
    "waitlist.filled",
    "handoff.requested",
    "handoff.resolved",
    "feedback.received",
    "conversation.closed",
)
ALL_EVENTS = "*"


class UnknownEventType(ValueError):
    """An event type that is not in :data:`EVENT_TYPES`."""


def _jsonable(value: Any) -> Any:
    """Datetimes and dates as ISO 8601 text; everything else as given."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def emit_event(
    session: Session, event_type: str, payload: dict[str, Any], *, clinic_id: int | None = None
) -> str:
    """Record ``event_type`` with ``payload`` (its ``data``) in the caller's transaction and
    queue it for every active subscription of ``clinic_id`` that wants it; the event id.

    ``clinic_id`` defaults to the clinic the session acts for (the default clinic when it acts
    for none): the services that emit events run inside their clinic's session.
    """
    if clinic_id is None:
        clinic_id = session_clinic(session) or DEFAULT_CLINIC_ID
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(event_type)
    now = utcnow()
    event_id = new_id("evt")
    data = _jsonable(payload)
    event = IntegrationEvent(
        clinic_id=clinic_id,
        event_id=event_id,
        event_type=event_type,
        version=EVENT_VERSION,
        payload=data,
        patient_phone=data.get("phone"),
        created_at=now,
    )
    session.add(event)
    session.flush()
    subscriptions = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types).where(
            WebhookSubscription.clinic_id == clinic_id, WebhookSubscription.active.is_(True)
        )
    ).all()
    for subscription_id, wanted in subscriptions:
        if ALL_EVENTS in wanted or event_type in wanted:
            session.add(
                WebhookDelivery(
                    clinic_id=clinic_id,
                    delivery_id=new_id("dlv"),
                    event_id=event.id,
                    subscription_id=subscription_id,
                    status="pending",
                    next_attempt_at=now,
                    queued_at=now,
                )
            )
    return event_id


def envelope(event: IntegrationEvent) -> dict[str, Any]:
    """What a subscriber receives: the event's id, type, version, time, clinic and data."""
    return {
        "id": event.event_id,
        "type": event.event_type,
        "version": event.version,
        "created_at": event.created_at.isoformat(),
        "clinic_id": event.clinic_id,
        "data": event.payload,
    }


@cache
def event_schema(event_type: str, version: int = EVENT_VERSION) -> dict[str, Any]:
    """The JSON Schema of ``event_type``'s ``data`` at ``version``."""
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(event_type)
    path = SCHEMA_DIR / f"v{version}" / f"{event_type}.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema
