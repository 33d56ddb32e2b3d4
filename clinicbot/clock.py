"""The one clock every process reads: the sandbox agenda, the actions, the NLU and the scheduler.

In production it is the system clock. Elsewhere a test, or a curator trying a date in the
simulator, can move it for every process of a stack at once: ``CLOCK_FILE`` names a file
holding one line ``<ISO instant> <epoch seconds>``, meaning "at real time <epoch> the clock read
<instant>". The clock then runs forward at normal speed from there, so timeouts, backoffs and
TTLs behave as usual, and rewriting the file (:func:`set_clock_file`) moves all processes
together. ``make run`` and the test stack write that file from ``CLOCK_START`` (an ISO instant,
or a naive one taken as clinic wall-clock time).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

# What services take to tell the time (:func:`now` in production, a frozen clock in tests).
Clock = Callable[[], datetime]

_lock = threading.Lock()
# (path, mtime_ns) of the clock file last read, and the offset it gave (fake - real, in seconds).
_cached: tuple[tuple[str, int, int], float] | None = None


def now() -> datetime:
    """The current instant (timezone-aware, UTC)."""
    return datetime.fromtimestamp(time.time() + _offset_seconds(), timezone.utc)


def _offset_seconds() -> float:
    path = _clock_file()
    if path is None:
        return 0.0
    try:
        status = os.stat(path)
        stamp = (path, status.st_ino, status.st_mtime_ns)
    except OSError:
        return 0.0
    global _cached
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
        offset = _read_offset(Path(path))
        _cached = (stamp, offset)
        return offset


def _clock_file() -> str | None:
    """The clock file, honoured only outside production."""
    if os.environ.get("APP_ENV", "").strip().lower() == "production":
        return None
    return os.environ.get("CLOCK_FILE", "").strip() or None


def _read_offset(path: Path) -> float:
    instant, anchor = path.read_text(encoding="utf-8").split()
    return datetime.fromisoformat(instant).timestamp() - float(anchor)


def read_clock_file(path: Path) -> datetime:
    """What a process reading the clock file ``path`` sees now."""
    return datetime.fromtimestamp(time.time() + _read_offset(path), timezone.utc)


def parse_start(value: str, tz: ZoneInfo) -> datetime:
    """``CLOCK_START``: an ISO instant; without an offset it is the clinic's wall clock."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def set_clock_file(path: Path, moment: datetime) -> None:
    """Make every process reading ``path`` see ``moment`` now, running forward from there."""
    if moment.tzinfo is None:
        raise ValueError("the clock needs a timezone-aware instant")
    staged = path.with_suffix(".tmp")
    staged.write_text(f"{moment.isoformat()} {time.time()!r}\n", encoding="utf-8")
    staged.replace(path)  # atomic: a reader sees the old line or the new one, never half
