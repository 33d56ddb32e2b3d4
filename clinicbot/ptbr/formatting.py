"""How days, times and parts of the day read in a Brazilian WhatsApp message."""

from __future__ import annotations

from datetime import date, datetime

from clinicbot.ptbr.words import FULL_WEEKDAY_NAMES, WEEKDAY_NAMES

# The contract's ``periodo`` values, as they follow a day: "sexta de manhã", "hoje à tarde".
PERIOD_PHRASES: dict[str, str] = {"manha": "de manhã", "tarde": "à tarde", "noite": "à noite"}
# The vague times' keys (clinicbot.ptbr.vague_times), as they follow a day.
VAGUE_TIME_PHRASES: dict[str, str] = {
    "cedo": "cedo",
    "almoco": "no horário do almoço",
    "depois_do_almoco": "depois do almoço",
    "fim_do_dia": "no fim do dia",
    "mais_tarde": "mais tarde",
    "mais_cedo_possivel": "",
    "qualquer": "",
}


def period_phrase(period: str | None) -> str:
    """How a ``periodo`` value reads after a day ("de manhã", "depois do almoço"); may be ""."""
    if period is None:
        return ""
    return PERIOD_PHRASES.get(period) or VAGUE_TIME_PHRASES.get(period, "")


def day_range(first: date, last: date) -> str:
    """``entre 07/12 e 13/12`` (``em 07/12`` for a single day)."""
    return f"em {first:%d/%m}" if first == last else f"entre {first:%d/%m} e {last:%d/%m}"


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
