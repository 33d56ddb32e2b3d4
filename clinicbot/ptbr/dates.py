"""Reading Portuguese date, time and period expressions, relative to a given moment.

dateparser (held at 1.2.0 by Rasa's pins) misreads the way patients write ("amanhã às 14h" ->
the day after tomorrow at midnight) and finds nothing in "próxima segunda", "semana que vem",
"depois de amanhã", "dia 15" or "hoje à tarde". The rules here handle those forms first;
dateparser only sees what they leave, with the time expressions removed.

Conventions (the booking flow searches availability from the resolved date):

- a weekday alone is the next such day, today included: "terça" said on a Tuesday is today
  (the booking flow moves on to next Tuesday, and says so, when today has no free time left);
- "próxima X" and "X que vem" mean the next such day after today;
  "X da semana que vem" means that day in next calendar week (weeks start on Monday);
- "semana que vem" / "próxima semana" resolve to next week's Monday, "mês que vem" to the 1st;
- "dia 15" is the next 15th, today included; a day and month without a year is the next one;
- a clock hour from 1 to 6 with no period is afternoon: the clinic is closed at 3 a.m.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import dateparser

from clinicbot.ptbr.text import matching_form
from clinicbot.ptbr.words import CARDINALS, MONTHS, WEEKDAYS, alternation

PERIOD_START: dict[str, time] = {"manha": time(9), "tarde": time(14), "noite": time(19)}

_NUMBER = rf"(?:\d{{1,2}}|{alternation(CARDINALS)})"
_WEEKDAY = alternation(WEEKDAYS)
_MONTH = alternation(MONTHS)

_DAY_AFTER_TOMORROW = re.compile(r"\bdepois\s+de\s+amanha\b")
_DAY_BEFORE_YESTERDAY = re.compile(r"\b(?:anteontem|antes\s+de\s+ontem)\b")
_SINGLE_DAYS = {"hoje": 0, "amanha": 1, "ontem": -1}
_SINGLE_DAY = re.compile(rf"\b({alternation(frozenset(_SINGLE_DAYS))})\b")
_OFFSET = re.compile(
    rf"\b(?:daqui\s+(?:a\s+)?|em\s+|dentro\s+de\s+)({_NUMBER})\s+(dias?|semanas?|mes(?:es)?)\b"
)
_WEEKDAY_EXPR = re.compile(
    rf"\b(proxim[oa]\s+)?({_WEEKDAY})(?:\s*-?\s*feira)?"
    r"(\s+da\s+(?:semana\s+que\s+vem|proxima\s+semana))?(\s+que\s+vem)?\b"
)
# What _resolve_by_rules tries before a weekday ("amanhã, sexta" means tomorrow).
_RULES_BEFORE_WEEKDAYS = (_DAY_AFTER_TOMORROW, _DAY_BEFORE_YESTERDAY, _SINGLE_DAY, _OFFSET)
_WEEKEND = re.compile(r"\bfi(?:m|nal)\s+de\s+semana\b")
_NEXT_WEEK = re.compile(r"\b(?:semana\s+que\s+vem|proxima\s+semana|semana\s+seguinte)\b")
_NEXT_MONTH = re.compile(r"\b(?:mes\s+que\s+vem|proximo\s+mes|mes\s+seguinte)\b")
_DAY_MONTH_NAME = re.compile(
    rf"\b(\d{{1,2}}|primeiro)o?\s*(?:de\s+)?({_MONTH})\b\.?(?:\s*(?:de\s+)?(\d{{4}}))?"
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2}|\d{4}))?\b")
_DAY_OF_MONTH = re.compile(r"\bdia\s+(\d{1,2}|primeiro)o?\b")

_NOON = re.compile(r"\bmeio[\s-]?dia(\s+e\s+meia)?\b")
_MIDNIGHT = re.compile(r"\bmeia[\s-]?noite\b")
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_HOURS_SUFFIX = re.compile(
    r"\b(\d{1,2})\s*(?:h|hs|hr|hrs|horas?)(?:\s*(?:e\s+)?(\d{2})(?:\s*min(?:utos)?)?)?\b"
)
_AFTER_PREPOSITION = re.compile(
    rf"\b(?:as|das|pelas|umas|depois\s+das|antes\s+das|partir\s+das)\s+({_NUMBER})"
    r"(?:\s+e\s+(meia|quinze|\d{2}))?\b(?![/\d]|\s+(?:dias?|semanas?|mes|meses|opc))"
)
_HOUR_OF_PERIOD = re.compile(
    rf"\b({_NUMBER})(?:\s+e\s+(meia|quinze|\d{{2}}))?\s+da\s+(?:manha|tarde|noite)\b"
)
_HALF_PAST = re.compile(rf"\b({_NUMBER})\s+e\s+(meia)\b")
_TIME_PATTERNS = (_CLOCK, _HOURS_SUFFIX, _HOUR_OF_PERIOD, _AFTER_PREPOSITION, _HALF_PAST)

_PERIODS = (
    ("noite", re.compile(r"\b(?:noite|noturno|anoitecer)\b")),
    (
        "tarde",
        re.compile(r"\b(?:tarde(?:zinha)?|vespertino|depois\s+do\s+almoco|apos\s+o\s+almoco)\b"),
    ),
    ("manha", re.compile(r"\b(?:manha(?:zinha)?|matutino|cedo|cedinho)\b")),
)
_MINUTE_WORDS = {"meia": 30, "quinze": 15}


def parse_date_expression(text: str, now: datetime | date) -> date | None:
    """The calendar date meant by ``text`` relative to ``now``, or None if there is none."""
    today = now.date() if isinstance(now, datetime) else now
    expression = matching_form(text)
    resolved = _resolve_by_rules(expression, today)
    if resolved is not None:
        return resolved
    return _resolve_with_dateparser(expression, today)


def parse_time_expression(text: str) -> time | None:
    """The clock time in ``text`` ("às 14h", "14:30", "9 horas", "meio-dia"), or None."""
    expression = matching_form(text)
    if match := _NOON.search(expression):
        return time(12, 30 if match.group(1) else 0)
    if _MIDNIGHT.search(expression):
        return time(0)
    for pattern in _TIME_PATTERNS:
        if match := pattern.search(expression):
            return _clock_time(match.group(1), match.group(2), parse_period(expression))
    return None


def parse_period(text: str) -> str | None:
    """``manha``, ``tarde`` or ``noite`` when ``text`` names a part of the day."""
    expression = matching_form(text)
    for period, pattern in _PERIODS:
        if pattern.search(expression):
            return period
    return None


def parse_datetime_expression(text: str, now: datetime) -> datetime | None:
    """Date and time together; a period stands for its start (manhã 09:00, tarde 14:00, …).

    Returns None unless ``text`` has a time or a period. With no date, it is today if that
    time is still ahead of ``now``, else tomorrow. The result carries ``now``'s tzinfo.
    """
    period = parse_period(text)
    at = parse_time_expression(text) or (PERIOD_START[period] if period else None)
    if at is None:
        return None
    day = parse_date_expression(text, now)
    if day is None:
        day = now.date() if at > now.time() else now.date() + timedelta(days=1)
    return datetime.combine(day, at, tzinfo=now.tzinfo)


def _resolve_by_rules(expression: str, today: date) -> date | None:
    if _DAY_AFTER_TOMORROW.search(expression):
        return today + timedelta(days=2)
    if _DAY_BEFORE_YESTERDAY.search(expression):
        return today - timedelta(days=2)
    if match := _SINGLE_DAY.search(expression):
        return today + timedelta(days=_SINGLE_DAYS[match.group(1)])
    if match := _OFFSET.search(expression):
        return _add_offset(today, _number(match.group(1)), match.group(2))
    if match := _WEEKDAY_EXPR.search(expression):
        after_today = bool(match.group(1) or match.group(4))
        return _weekday(
            today,
            WEEKDAYS[match.group(2)],
            in_next_week=bool(match.group(3)),
            today_ok=not after_today,
        )
    if _WEEKEND.search(expression):
        return _weekday(today, WEEKDAYS["sabado"], in_next_week=False, today_ok=False)
    if _NEXT_WEEK.search(expression):
        return today + timedelta(days=7 - today.weekday())
    if _NEXT_MONTH.search(expression):
        return _first_of_next_month(today)
    if match := _DAY_MONTH_NAME.search(expression):
        return _day_month(today, _day(match.group(1)), MONTHS[match.group(2)], match.group(3))
    if match := _NUMERIC_DATE.search(expression):
        return _day_month(today, int(match.group(1)), int(match.group(2)), match.group(3))
    if match := _DAY_OF_MONTH.search(expression):
        return _next_day_of_month(today, _day(match.group(1)))
    return None


def _resolve_with_dateparser(expression: str, today: date) -> date | None:
    for pattern in (*_TIME_PATTERNS, _NOON, _MIDNIGHT, *(p for _, p in _PERIODS)):
        expression = pattern.sub(" ", expression)
    if not expression.strip():
        return None
    parsed = dateparser.parse(
        expression,
        languages=["pt"],
        settings={
            "RELATIVE_BASE": datetime.combine(today, time()),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": "DMY",
        },
    )
    return parsed.date() if parsed else None


def _number(word: str) -> int:
    return int(word) if word.isdigit() else CARDINALS[word]


def _day(word: str) -> int:
    return 1 if word == "primeiro" else int(word)


def _add_offset(today: date, amount: int, unit: str) -> date:
    if unit.startswith("dia"):
        return today + timedelta(days=amount)
    if unit.startswith("semana"):
        return today + timedelta(weeks=amount)
    month_index = today.month - 1 + amount
    year, month = today.year + month_index // 12, month_index % 12 + 1
    return _clamped_date(year, month, today.day)


def _weekday(today: date, weekday: int, *, in_next_week: bool, today_ok: bool) -> date:
    if in_next_week:
        return today + timedelta(days=7 - today.weekday() + weekday)
    if today_ok and weekday == today.weekday():
        return today
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def names_bare_weekday(text: str) -> bool:
    """Whether ``text`` names a weekday alone ("terça", "sexta de manhã"), not "próxima terça",
    "terça que vem" or a calendar date: the day it means may move a week when today is full."""
    expression = matching_form(text)
    if any(rule.search(expression) for rule in _RULES_BEFORE_WEEKDAYS):
        return False
    match = _WEEKDAY_EXPR.search(expression)
    return match is not None and not any(match.group(group) for group in (1, 3, 4))


def _first_of_next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def _day_month(today: date, day: int, month: int, year: str | None) -> date | None:
    if year is not None:
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        return _valid_date(full_year, month, day)
    for candidate_year in (today.year, today.year + 1):
        candidate = _valid_date(candidate_year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
    # 29/02 in a year pair without a leap year
    return None


def _next_day_of_month(today: date, day: int) -> date | None:
    year, month = today.year, today.month
    for _ in range(12):
        candidate = _valid_date(year, month, day)
        if candidate is not None and candidate >= today:
            return candidate
        year, month = year + month // 12, month % 12 + 1
    return None


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _clamped_date(year: int, month: int, day: int) -> date:
    while (resolved := _valid_date(year, month, day)) is None:
        day -= 1
    return resolved


def _clock_time(hour_word: str, minute_word: str | None, period: str | None) -> time | None:
    hour = _number(hour_word)
    minute = _MINUTE_WORDS.get(minute_word or "")
    if minute is None:
        minute = int(minute_word) if minute_word else 0
    if (period in ("tarde", "noite") and hour < 12) or (period is None and 1 <= hour <= 6):
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
