"""Time the clinic was open between two instants (its weekdays and hours, clinic wall clock).

Holidays are not known to the assistant: a holiday on a weekday counts as open.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def open_time_between(
    start: datetime,
    end: datetime,
    *,
    tz: ZoneInfo,
    days: tuple[int, ...],
    opens: time,
    closes: time,
) -> timedelta:
    """How much of ``[start, end)`` falls on an open day between ``opens`` and ``closes``."""
    total = timedelta()
    if end <= start:
        return total
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if day.weekday() in days:
            window_start = max(start, datetime.combine(day, opens, tzinfo=tz))
            window_end = min(end, datetime.combine(day, closes, tzinfo=tz))
            if window_end > window_start:
                total += window_end - window_start
        day += timedelta(days=1)
    return total
