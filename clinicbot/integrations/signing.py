"""Webhook signatures, the scheme Stripe and GitHub use.

Each delivery carries the time it was sent (Unix seconds) and
``HMAC-SHA256(secret, f"{timestamp}.{body}")`` in hex, prefixed ``v1=``. The receiver recomputes
it over the raw body, compares in constant time and refuses timestamps older than a few minutes,
so a captured delivery cannot be replayed later (``examples/crm_receiver.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Clinicbot-Signature"
TIMESTAMP_HEADER = "X-Clinicbot-Timestamp"
EVENT_ID_HEADER = "X-Clinicbot-Event-Id"
EVENT_TYPE_HEADER = "X-Clinicbot-Event-Type"
DELIVERY_ID_HEADER = "X-Clinicbot-Delivery-Id"
SCHEME = "v1"


def new_secret() -> str:
    """A subscription's signing secret (shown once, when the subscription is created)."""
    return f"whsec_{secrets.token_urlsafe(32)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def headers(
    secret: str, timestamp: int, body: bytes, *, event_id: str, event_type: str, delivery_id: str
) -> dict[str, str]:
    """Every header of a delivery."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "clinicbot-webhooks/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        DELIVERY_ID_HEADER: delivery_id,
    }
