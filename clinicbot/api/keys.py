"""API keys: created for a clinic with scopes, shown once, stored as a SHA-256, revocable.

A key reads ``cbk_<prefix>_<secret>``; the prefix finds its row and is safe to show in lists,
the whole key's SHA-256 is what is stored (the secret has 256 bits of entropy, so a plain hash is
enough: nothing to brute-force, unlike a password). Each authenticated request counts against
the key's per-minute limit (a fixed one-minute window kept on the key's row, so every
clinic-service instance shares it) and updates its last-used time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.db.claims import write_transaction
from clinicbot.db.models import API_SCOPES, ApiKey
from clinicbot.db.types import utcnow

KEY_PREFIX = "cbk"
# What each scope allows: admin includes write, write includes read.
SCOPE_RANK = {"read": 0, "write": 1, "admin": 2}


class InvalidScopes(ValueError):
    """Scopes outside :data:`clinicbot.db.models.API_SCOPES`, or none."""


@dataclass(frozen=True)
class CreatedKey:
    id: int
    key: str  # shown once, never stored
    prefix: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Caller:
    """The key a request was authenticated with."""

    key_id: int
    clinic_id: int
    scopes: tuple[str, ...]
    limit: int
    remaining: int

    def allows(self, scope: str) -> bool:
        return any(SCOPE_RANK[held] >= SCOPE_RANK[scope] for held in self.scopes)


class AuthFailed(Exception):
    """No key, an unknown or revoked one."""


class RateLimited(Exception):
    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(f"over {limit} requests per minute")
        self.limit = limit
        self.retry_after = retry_after


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(scopes: Any) -> tuple[str, ...]:
    """Scopes from a list or a comma-separated string, validated and in canonical order."""
    if isinstance(scopes, str):
        scopes = [part.strip() for part in scopes.split(",") if part.strip()]
    if not isinstance(scopes, list) or not scopes or any(s not in API_SCOPES for s in scopes):
        raise InvalidScopes(f"scopes must be a non-empty subset of {', '.join(API_SCOPES)}")
    return tuple(scope for scope in API_SCOPES if scope in scopes)


def create_key(
    session: Session,
    *,
    name: str,
    scopes: Any,
    clinic_id: int = 1,
    rate_limit_per_minute: int | None = None,
) -> CreatedKey:
    """A new key; its plain text is in the result and nowhere else."""
    granted = parse_scopes(scopes)
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        clinic_id=clinic_id,
        label=name.strip()[:100] or "API key",
        prefix=prefix,
        key_hash=_hash(key),
        scopes=",".join(granted),
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(row)
    session.flush()
    return CreatedKey(row.id, key, prefix, granted)


def describe(row: ApiKey) -> dict[str, Any]:
    """A key as lists show it: never the key itself."""
    return {
        "id": row.id,
        "clinic_id": row.clinic_id,
        "name": row.label,
        "prefix": f"{KEY_PREFIX}_{row.prefix}",
        "scopes": row.scopes.split(","),
        "rate_limit_per_minute": row.rate_limit_per_minute,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def list_keys(session: Session, *, clinic_id: int = 1) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ApiKey).where(ApiKey.clinic_id == clinic_id).order_by(ApiKey.id)
    ).scalars()
    return [describe(row) for row in rows]


def revoke_key(session: Session, key_id: int, *, clinic_id: int = 1) -> bool:
    """Revoke a key (it stops working at once); False when the clinic has no such key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.clinic_id != clinic_id:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return True


def authenticate(engine: Engine, key: str, default_limit: int) -> Caller:
    """The caller behind ``key``, counted against its rate limit.

    Raises :class:`AuthFailed` or :class:`RateLimited`.
    """
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        raise AuthFailed("malformed key")
    now = utcnow()
    with write_transaction(engine, ApiKey) as session:
        query = select(ApiKey).where(ApiKey.prefix == parts[1])
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()  # wait for the key's other requests: no skipping
        row = session.execute(query).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
            raise AuthFailed("unknown key")
        if row.revoked_at is not None:
            raise AuthFailed("revoked key")
        limit = row.rate_limit_per_minute or default_limit
        window = _minute(now)
        if row.window_started_at != window:
            row.window_started_at, row.window_count = window, 0
        if row.window_count >= limit:
            raise RateLimited(limit, max(1, 60 - now.second))
        row.window_count += 1
        row.last_used_at = now
        return Caller(
            row.id,
            row.clinic_id,
            tuple(row.scopes.split(",")),
            limit,
            limit - row.window_count,
        )


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
