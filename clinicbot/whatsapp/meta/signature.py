"""``X-Hub-Signature-256``: HMAC-SHA256 of the raw request body, keyed with the App Secret."""

from __future__ import annotations

import hashlib
import hmac

from clinicbot.whatsapp.webhook import same_secret

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for ``body``."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Constant-time check of ``header`` against the raw ``body`` (never re-serialised JSON)."""
    if not app_secret or not header or not header.startswith(PREFIX):
        return False
    return same_secret(header.lower(), sign(body, app_secret))
