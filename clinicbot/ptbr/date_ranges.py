"""Portuguese date ranges ("semana que vem", "fim do mês", "até sexta"), relative to a day.

The same patterns find the spans (:mod:`clinicbot.nlu.spans`, on accent-folded text) and
resolve them, so a span the extractor finds always resolves. Conventions:

- weeks start on Monday; "semana que vem" / "próxima semana" / "outra semana" is next Monday to
  Sunday, "essa semana" today to Sunday; "começo/início da …" is its Monday to Wednesday,
  "fim da …" its Thursday to Sunday;
- "fim de semana" is the coming Saturday and Sunday (today when it is one);
- "mês que vem" is next month's 1st to last day; its "início" the 1st to the 10th, its "fim"
  the 21st to the last; "fim do mês" (this month) the 21st, or today if later, to the last day;
- "a partir de X" / "depois do X" / "daqui a N dias" are open-ended: ``OPEN_ENDED_DAYS`` days
  (the agenda's window) from their first day; "até X" is today to X;
- "daqui a N dias/semanas/meses" starts on that day and spans a week; "daqui uns dias" is
  2 to 9 days ahead.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from clinicbot.ptbr.dates import parse_date_expression
from clinicbot.ptbr.text import matching_form
from clinicbot.ptbr.words import CARDINALS, MONTHS, WEEKDAYS, alternation

OPEN_ENDED_DAYS = 30
_WEEK_SPAN = 7

_NUMBER = rf"(?:\d{{1,2}}|{alternation(CARDINALS)})"
_WEEKDAY = rf"(?:{alternation(WEEKDAYS)})(?:-feira|\s+feira)?"
_MONTH = alternation(MONTHS)
# A single date inside a range: "dia 10", "10/12", "15 de janeiro", a weekday, today/tomorrow.
_INNER_DATE = (
    rf"(?:dia\s+\d{{1,2}}o?(?:\s+de\s+(?:{_MONTH}))?|\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?"
    rf"|\d{{1,2}}\s+de\s+(?:{_MONTH})|(?:proxim[oa]\s+)?{_WEEKDAY}(?:\s+que\s+vem)?"
    r"|hoje|hj|amanha|amnh)"
)
_NEXT_WEEK = r"(?:semana\s+que\s+vem|proxima\s+semana|semana\s+seguinte|outra\s+semana)"
_THIS_WEEK = r"(?:n?essa|n?esta)\s+semana"
_NEXT_MONTH = r"(?:mes\s+que\s+vem|proximo\s+mes|mes\s+seguinte)"
_THIS_MONTH = r"(?:n?esse|n?este)\s+mes"

RANGE_PATTERN = re.compile(
    r"\b(?:"
    rf"(?:(?P<week_part>inicio|comeco|fim|final)\s+da\s+)?(?P<week>{_NEXT_WEEK}|{_THIS_WEEK})"
    r"|(?<!bom\s)(?<!otimo\s)(?P<weekend>fim|final)\s+de\s+semana(?P<weekend_next>\s+que\s+vem)?"
    rf"|(?P<month_part>inicio|comeco|fim|final)\s+do\s+(?:(?P<part_next>{_NEXT_MONTH})|mes)"
    rf"|(?P<month>{_NEXT_MONTH}|{_THIS_MONTH})"
    rf"|(?P<after>depois|apos)\s+d[oea]\s+(?P<after_date>(?!amanha|amnh){_INNER_DATE})"
    rf"|a\s+partir\s+d[oea]\s+(?P<from_date>{_INNER_DATE})"
    rf"|ate\s+(?:[oa]\s+)?(?P<until_date>(?!hoje|hj|amanha|amnh){_INNER_DATE})"
    rf"|daqui\s+(?:a\s+)?(?:uns\s+|umas\s+)?(?P<offset>{_NUMBER})\s+(?P<unit>dias?|semanas?|mes(?:es)?)"
    r"|daqui\s+(?:a\s+)?(?:uns|alguns|poucos)\s+dias"
    r")\b"
)


@dataclass(frozen=True)
class DateRange:
    """Inclusive first and last day."""

    first: date
    last: date

    def as_value(self) -> dict[str, str]:
        """The entity value of the NLU contract: ``{"from": ISO, "to": ISO}``."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def parse_date_range(text: str, today: date) -> DateRange | None:
    """The range of days ``text`` names relative to ``today``, or None if it names none."""
    match = RANGE_PATTERN.search(matching_form(text))
    if match is None:
        return None
    groups = match.groupdict()
    if groups["week"]:
        return _week(today, groups["week"], groups["week_part"])
    if groups["weekend"]:
        return _weekend(today, next_week=bool(groups["weekend_next"]))
    if groups["month_part"]:
        return _month_part(today, groups["month_part"], next_month=bool(groups["part_next"]))
    if groups["month"]:
        if re.match(_THIS_MONTH, groups["month"]):
            return DateRange(today, _last_of_month(today))
        first = _first_of_next_month(today)
        return DateRange(first, _last_of_month(first))
    if groups["after_date"]:
        return _open_ended(_inner(groups["after_date"], today), skip=1)
    if groups["from_date"]:
        return _open_ended(_inner(groups["from_date"], today), skip=0)
    if groups["until_date"]:
        last = _inner(groups["until_date"], today)
        return DateRange(today, last) if last is not None and last >= today else None
    if groups["offset"]:
        first = _add(today, _number(groups["offset"]), groups["unit"])
        return DateRange(first, first + timedelta(days=_WEEK_SPAN - 1))
    return DateRange(today + timedelta(days=2), today + timedelta(days=9))


def _number(word: str) -> int:
    return int(word) if word.isdigit() else CARDINALS[word]


def _add(today: date, amount: int, unit: str) -> date:
    if unit.startswith("dia"):
        return today + timedelta(days=amount)
    if unit.startswith("semana"):
        return today + timedelta(weeks=amount)
    month_index = today.month - 1 + amount
    first = date(today.year + month_index // 12, month_index % 12 + 1, 1)
    return first.replace(day=min(today.day, _last_of_month(first).day))


def _inner(text: str, today: date) -> date | None:
    return parse_date_expression(text, today)


def _open_ended(first: date | None, skip: int) -> DateRange | None:
    if first is None:
        return None
    first += timedelta(days=skip)
    return DateRange(first, first + timedelta(days=OPEN_ENDED_DAYS - 1))


def _week(today: date, which: str, part: str | None) -> DateRange:
    this_monday = today - timedelta(days=today.weekday())
    monday = this_monday if re.match(_THIS_WEEK, which) else this_monday + timedelta(weeks=1)
    first, last = monday, monday + timedelta(days=6)
    if part in ("inicio", "comeco"):
        last = monday + timedelta(days=2)
    elif part in ("fim", "final"):
        first = monday + timedelta(days=3)
    return DateRange(max(first, today), max(last, today))


def _weekend(today: date, next_week: bool) -> DateRange:
    saturday = today + timedelta(days=5 - today.weekday())
    if next_week:
        saturday += timedelta(weeks=1)
    return DateRange(max(saturday, today), saturday + timedelta(days=1))


def _month_part(today: date, part: str, next_month: bool) -> DateRange:
    month_start = _first_of_next_month(today) if next_month else today.replace(day=1)
    if part in ("inicio", "comeco"):
        if not next_month and today.day > 10:
            month_start = _first_of_next_month(today)
        return DateRange(max(month_start, today), max(month_start.replace(day=10), today))
    return DateRange(max(month_start.replace(day=21), today), _last_of_month(month_start))


def _first_of_next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


def _last_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])
