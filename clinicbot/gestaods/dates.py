"""Date formats of the GestãoDS API.

Requests carry the agenda's wall clock as ``dd/mm/yyyy HH:MM:SS`` with no zone (never shifted by
the ``retornar-fuso-horario`` offset). Responses are parsed tolerantly: ``dd/mm/yyyy HH:MM[:SS]``
and the ISO-like ``yyyy-mm-dd[ T]HH:MM[:SS]`` both occur.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
_DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
)
_TIME_FORMATS = ("%H:%M:%S", "%H:%M")


def format_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime in ``tz``; a naive one is taken as clinic wall clock already."""
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def format_datetime(moment: datetime, tz: ZoneInfo) -> str:
    return to_local(moment, tz).strftime("%d/%m/%Y %H:%M:%S")


def parse_date(text: str) -> date:
    value = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unrecognised date {text!r}")


def parse_time(text: str) -> time:
    value = text.strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).time()
        except ValueError:
            continue
    raise ValueError(f"unrecognised time {text!r}")


def parse_datetime(text: str, tz: ZoneInfo) -> datetime:
    """Wall-clock text → aware datetime in ``tz`` (an explicit offset, if any, is honoured)."""
    value = text.strip()
    for fmt in _DATETIME_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        return to_local(datetime.fromisoformat(value), tz)
    except ValueError:
        raise ValueError(f"unrecognised datetime {text!r}") from None
