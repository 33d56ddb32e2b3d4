"""How days, times and parts of the day read in a Brazilian WhatsApp message."""

from __future__ import annotations

from datetime import date, datetime

from clinicbot.ptbr.words import FULL_WEEKDAY_NAMES, WEEKDAY_NAMES

# The contract's ``periodo`` values, as they follow a day: "sexta de manhã", "hoje à tarde".
PERIOD_PHRASES: dict[str, str] = {"manha": "de manhã", "tarde": "à tarde", "noite": "à noite"}


def short_day(day: date) -> str:
    """``terça, 01/12``."""
    return f"{WEEKDAY_NAMES[day.weekday()]}, {day:%d/%m}"


def long_day(day: date) -> str:
    """``terça-feira, 01/12``."""
    return f"{FULL_WEEKDAY_NAMES[day.weekday()]}, {day:%d/%m}"


def clock(moment: datetime) -> str:
    """``09:00``."""
    return f"{moment:%H:%M}"


def day_and_time(moment: datetime) -> str:
    """``terça-feira, 01/12, às 09:00``."""
    return f"{long_day(moment.date())}, às {clock(moment)}"
