"""Portuguese date/time normaliser against a frozen clock (Wednesday 2025-03-12 10:00).

Every row of rasa_notes.md §6 is here, with what the normaliser must return.
"""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from clinicbot.ptbr.dates import (
    names_bare_weekday,
    parse_date_expression,
    parse_datetime_expression,
    parse_period,
    parse_time_expression,
)

TZ = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=TZ)  # a Wednesday


def at(day: int, hour: int, minute: int = 0, month: int = 3, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


# §6 rows that carry a time or a period: the full datetime.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amanhã às 14h", at(13, 14)),
        ("amanhã às 14:00", at(13, 14)),
        ("14h", at(12, 14)),
        ("às 14h", at(12, 14)),
        ("15/12 às 9h", at(15, 9, month=12)),
        ("15 de dezembro às 16h", at(15, 16, month=12)),
        ("quinta às 10", at(13, 10)),
        ("quinta às 10h", at(13, 10)),
        ("quinta-feira 10h30", at(13, 10, 30)),
        ("próxima segunda de manhã", at(17, 9)),
        ("hoje à tarde", at(12, 14)),
        ("amanhã de manhã", at(13, 9)),
    ],
)
def test_table_rows_with_time(text: str, expected: datetime) -> None:
    assert parse_datetime_expression(text, NOW) == expected


# §6 rows that are dates only.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/12", date(2025, 12, 15)),
        ("segunda-feira", date(2025, 3, 17)),
        ("terça", date(2025, 3, 18)),
        ("próxima segunda", date(2025, 3, 17)),
        ("segunda que vem", date(2025, 3, 17)),
        ("semana que vem", date(2025, 3, 17)),  # next week's Monday: the search starts there
        ("depois de amanhã", date(2025, 3, 14)),
        ("em 3 dias", date(2025, 3, 15)),
        ("próxima semana", date(2025, 3, 17)),
        ("daqui a 2 dias", date(2025, 3, 14)),
        ("dia 15", date(2025, 3, 15)),
    ],
)
def test_table_rows_date_only(text: str, expected: date) -> None:
    assert parse_date_expression(text, NOW) == expected
    assert parse_datetime_expression(text, NOW) is None  # no time, no period


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amanha", date(2025, 3, 13)),
        ("hj", date(2025, 3, 12)),
        ("sexta que vem", date(2025, 3, 14)),
        ("sexta-feira que vem", date(2025, 3, 14)),
        ("quarta", date(2025, 3, 12)),  # today's weekday alone is today (while it has times)
        ("quarta que vem", date(2025, 3, 19)),
        ("próxima quarta", date(2025, 3, 19)),
        ("quinta da semana que vem", date(2025, 3, 20)),
        ("proximo sabado", date(2025, 3, 15)),
        ("dia 3 de dezembro", date(2025, 12, 3)),
        ("dia 3", date(2025, 4, 3)),  # the 3rd of this month is past
        ("dia 12", date(2025, 3, 12)),  # today counts
        ("15/01", date(2026, 1, 15)),  # past this year: next year
        ("03/01/2026", date(2026, 1, 3)),
        ("1º de maio", date(2025, 5, 1)),
        ("20 de janeiro", date(2026, 1, 20)),
        ("daqui a uma semana", date(2025, 3, 19)),
        ("mês que vem", date(2025, 4, 1)),
        ("fim de semana", date(2025, 3, 15)),
    ],
)
def test_more_relative_and_absolute_dates(text: str, expected: date) -> None:
    assert parse_date_expression(text, NOW) == expected


@pytest.mark.parametrize("text", ["30/02", "qualquer dia", "o quanto antes", ""])
def test_no_date(text: str) -> None:
    assert parse_date_expression(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10h", time(10)),
        ("14:30", time(14, 30)),
        ("15h30", time(15, 30)),
        ("9 horas", time(9)),
        ("16hs", time(16)),
        ("8 e meia", time(8, 30)),
        ("meio dia", time(12)),
        ("meio-dia", time(12)),
        ("às 3 da tarde", time(15)),
        ("7 da noite", time(19)),
        ("às 8 da manhã", time(8)),
        ("às 3", time(15)),  # the clinic is closed at 3 a.m.
        ("às 10 e meia", time(10, 30)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert parse_time_expression(text) == expected


@pytest.mark.parametrize("text", ["daqui a 2 dias", "quero a 2", "15/12", "25h"])
def test_no_time(text: str) -> None:
    assert parse_time_expression(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("de manhã", "manha"),
        ("pela manha", "manha"),
        ("amanhã cedo", "manha"),
        ("à tarde", "tarde"),
        ("fim da tarde", "tarde"),
        ("depois do almoço", "tarde"),
        ("a noite", "noite"),
        ("amanhã", None),
        ("às 10h", None),
    ],
)
def test_periods(text: str, expected: str | None) -> None:
    assert parse_period(text) == expected


def test_time_without_date_is_tomorrow_once_past() -> None:
    assert parse_datetime_expression("às 9h", NOW) == at(13, 9)


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("terça", True),
        ("prefiro terça", True),
        ("sexta de manhã", True),
        ("quarta-feira às 10h", True),
        ("próxima terça", False),
        ("terça que vem", False),
        ("terça da semana que vem", False),
        ("amanhã", False),
        ("dia 15", False),
        ("15/12", False),
    ],
)
def test_a_weekday_named_alone(text: str, bare: bool) -> None:
    assert names_bare_weekday(text) is bare
