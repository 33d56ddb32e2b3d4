"""How dates and times read in a Brazilian WhatsApp message."""

from __future__ import annotations

from datetime import date, datetime

WEEKDAYS = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
WEEKDAYS_LONG = (
    "segunda-feira",
    "terça-feira",
    "quarta-feira",
    "quinta-feira",
    "sexta-feira",
    "sábado",
    "domingo",
)


def short_day(day: date) -> str:
    """``terça, 01/12``."""
    return f"{WEEKDAYS[day.weekday()]}, {day:%d/%m}"


def long_day(day: date) -> str:
    """``terça-feira, 01/12``."""
    return f"{WEEKDAYS_LONG[day.weekday()]}, {day:%d/%m}"


def clock(moment: datetime) -> str:
    """``09:00``."""
    return f"{moment:%H:%M}"


def day_and_time(moment: datetime) -> str:
    """``terça-feira, 01/12, às 09:00``."""
    return f"{long_day(moment.date())}, às {clock(moment)}"
