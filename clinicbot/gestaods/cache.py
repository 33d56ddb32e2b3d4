"""A small in-process TTL cache for the availability lookups (days and times).

Availability changes whenever anyone books, so entries live for seconds, and the client clears
the whole cache after its own bookings, reschedules, cancellations and conflicts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    """Thread-safe mapping whose entries expire ``ttl`` seconds after being set (0 disables)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if self._clock() >= expires_at:
                del self._entries[key]
                return None
            return value

    def set(self, key: Hashable, value: Any) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self._ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
