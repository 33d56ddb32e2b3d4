"""The availability cache in Redis, shared by every process (action servers, clinic service).

A booking made by one process must hide that slot from all the others, so invalidation is
shared: ``clear`` bumps a generation number that is part of every key, which retires all
entries at once in O(1). When Redis misbehaves the cache steps aside (a miss, no write):
availability is then read from GestãoDS, which is always correct, only slower.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Hashable
from datetime import date, datetime
from typing import Any

import redis

logger = logging.getLogger(__name__)

NAMESPACE = "clinicbot:gestaods:availability"


def agenda_namespace(base_url: str, prefix: str, token: str) -> str:
    """The namespace of one GestãoDS agenda: the processes of a clinic share it, and two
    clinics (two accounts, or two environments of one) never read each other's free times.
    The token enters only through a hash, so Redis never holds it."""
    account = hashlib.sha256(f"{base_url}|{prefix}|{token}".encode()).hexdigest()[:16]
    return f"{NAMESPACE}:{account}"


def _encode_item(item: date | datetime) -> dict[str, str]:
    return {"t" if isinstance(item, datetime) else "d": item.isoformat()}


def _decode_item(item: dict[str, str]) -> date | datetime:
    return datetime.fromisoformat(item["t"]) if "t" in item else date.fromisoformat(item["d"])


def _key_text(key: Hashable) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return ":".join(part.isoformat() if isinstance(part, date) else str(part) for part in parts)


class RedisTTLCache:
    """Same interface as :class:`clinicbot.gestaods.cache.TTLCache`; values are tuples of
    dates or datetimes (available days and times)."""

    def __init__(self, client: redis.Redis[bytes], ttl: float, namespace: str = NAMESPACE) -> None:
        self._redis = client
        self._ttl_ms = int(ttl * 1000)
        self._namespace = namespace

    @classmethod
    def from_url(cls, url: str, ttl: float, namespace: str = NAMESPACE) -> RedisTTLCache:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, ttl, namespace)

    def get(self, key: Hashable) -> Any | None:
        try:
            raw = self._redis.get(self._full_key(key))
        except redis.RedisError as error:
            logger.warning("availability cache unavailable: %s", error)
            return None
        if raw is None:
            return None
        return tuple(_decode_item(item) for item in json.loads(raw))

    def set(self, key: Hashable, value: Any) -> None:
        if self._ttl_ms <= 0:
            return
        payload = json.dumps([_encode_item(item) for item in value])
        try:
            self._redis.set(self._full_key(key), payload, px=self._ttl_ms)
        except redis.RedisError as error:
            logger.warning("availability cache unavailable: %s", error)

    def clear(self) -> None:
        try:
            self._redis.incr(self._generation_key)
        except redis.RedisError as error:
            logger.warning("availability cache not invalidated: %s", error)

    @property
    def _generation_key(self) -> str:
        return f"{self._namespace}:generation"

    def _full_key(self, key: Hashable) -> str:
        generation = int(self._redis.get(self._generation_key) or 0)
        return f"{self._namespace}:{generation}:{_key_text(key)}"
