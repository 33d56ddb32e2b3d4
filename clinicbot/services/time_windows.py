"""The windows of start times behind the parts of the day patients name (the acting clinic's
facts: ``clinic.yml`` for the default clinic)."""

from __future__ import annotations

from datetime import datetime, time

from clinicbot.tenancy.current import current_facts

_END_OF_DAY = "24:00"


def _clock(text: str) -> time:
    return time.max if text == _END_OF_DAY else time.fromisoformat(text)


def time_window(period: str | None) -> tuple[time, time] | None:
    """``(first, end)`` for a ``periodo`` value, end excluded; None when it has no window."""
    if period is None:
        return None
    window = current_facts().time_windows.get(period)
    if window is None:
        return None
    first, end = window.split("-")
    return _clock(first.strip()), _clock(end.strip())


def in_window(moment: datetime, period: str | None) -> bool:
    """Whether a start time (clinic wall time) falls in the window of ``period``."""
    window = time_window(period)
    if window is None:
        return True
    first, end = window
    return first <= moment.time().replace(tzinfo=None) < end
