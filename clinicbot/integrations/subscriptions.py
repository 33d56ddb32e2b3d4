"""Per-clinic webhook subscriptions and their delivery log (used by the API and staff routes)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from clinicbot.db.models import (
    WEBHOOK_DELIVERY_STATUSES,
    IntegrationEvent,
    WebhookDelivery,
    WebhookSubscription,
)
from clinicbot.integrations.destinations import NonPublicDestination, refuse_non_public_host
from clinicbot.integrations.events import ALL_EVENTS, EVENT_TYPES
from clinicbot.integrations.signing import new_secret
from clinicbot.settings import is_production


class InvalidSubscription(ValueError):
    """A URL or list of event types a subscription cannot have."""


def check_url(url: Any) -> str:
    """An absolute http(s) URL; in production https to a public host only (the payloads carry
    patient data, and an internal address would let a key holder probe the clinic's network)."""
    if not isinstance(url, str) or len(url) > 2000:
        raise InvalidSubscription("url must be an absolute URL of at most 2000 characters")
    parts = urlsplit(url)
    production = is_production()
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise InvalidSubscription(f"url must be an absolute {' or '.join(allowed)} URL")
    if production:
        try:
            refuse_non_public_host(parts.hostname)
        except NonPublicDestination as error:
            reason = f"url must point to a public host: {error.strerror}"
            raise InvalidSubscription(reason) from error
    return url


def check_event_types(event_types: Any) -> list[str]:
    if event_types is None:
        return [ALL_EVENTS]
    valid = (*EVENT_TYPES, ALL_EVENTS)
    if (
        not isinstance(event_types, list)
        or not event_types
        or any(kind not in valid for kind in event_types)
    ):
        raise InvalidSubscription(f"event_types must be a non-empty list of: {', '.join(valid)}")
    return sorted(set(event_types))


def describe(row: WebhookSubscription) -> dict[str, Any]:
    return {
        "id": row.id,
        "clinic_id": row.clinic_id,
        "url": row.url,
        "event_types": row.event_types,
        "description": row.description,
        "active": bool(row.active),
        "created_at": row.created_at.isoformat(),
    }


def create_subscription(
    session: Session,
    *,
    url: Any,
    event_types: Any = None,
    description: str | None = None,
    clinic_id: int = 1,
) -> dict[str, Any]:
    """A new subscription; the result holds its signing ``secret``, shown this once."""
    row = WebhookSubscription(
        clinic_id=clinic_id,
        url=check_url(url),
        secret=new_secret(),
        event_types=check_event_types(event_types),
        description=(description or "")[:200] or None,
    )
    session.add(row)
    session.flush()
    return {**describe(row), "secret": row.secret}


def list_subscriptions(session: Session, *, clinic_id: int = 1) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WebhookSubscription)
        .where(WebhookSubscription.clinic_id == clinic_id)
        .order_by(WebhookSubscription.id)
    ).scalars()
    return [describe(row) for row in rows]


def deactivate_subscription(session: Session, subscription_id: int, *, clinic_id: int = 1) -> bool:
    """Stop sending to it: its pending deliveries are dropped (``dead``), its log stays; False
    when the clinic has no such subscription."""
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.clinic_id != clinic_id:
        return False
    row.active = False
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.subscription_id == subscription_id,
            WebhookDelivery.status == "pending",
        )
        .values(status="dead", last_error="subscription deactivated")
        .execution_options(synchronize_session=False)
    )
    return True


def delivery_item(delivery: WebhookDelivery, event: IntegrationEvent) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "subscription_id": delivery.subscription_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": (
            delivery.next_attempt_at.isoformat() if delivery.status == "pending" else None
        ),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "created_at": delivery.created_at.isoformat(),
    }


def deliveries_query(
    *, clinic_id: int = 1, status: str | None = None, subscription_id: int | None = None
) -> Any:
    """The delivery log, newest last (page it with :mod:`clinicbot.api.pagination`)."""
    if status is not None and status not in WEBHOOK_DELIVERY_STATUSES:
        raise InvalidSubscription(f"status must be one of {', '.join(WEBHOOK_DELIVERY_STATUSES)}")
    query = (
        select(WebhookDelivery, IntegrationEvent)
        .join(IntegrationEvent, IntegrationEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.clinic_id == clinic_id)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    return query
