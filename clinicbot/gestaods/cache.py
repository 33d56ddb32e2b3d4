"""A small in-process TTL cache for the availability lookups (days and times).

Availability changes whenever anyone books, so entries live for seconds, and the client clears
the whole cache after its own bookings, reschedules, cancellations and conflicts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from clinicbot import clock as project_clock


def _project_seconds() -> float:
    return project_clock.now().timestamp()


class TTLCache:
    """Thread-safe mapping whose entries expire ``ttl`` seconds after being set (0 disables).

    Time comes from the project clock, which tests may move: an entry set "in the future" (the
    clock was moved back) counts as expired, like one whose time is up.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = _project_seconds) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            set_at, value = entry
            if not set_at <= self._clock() < set_at + self._ttl:
                del self._entries[key]
                return None
            return value

    def set(self, key: Hashable, value: Any) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock(), value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
