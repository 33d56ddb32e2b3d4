"""Date ranges against pinned days: a Tuesday (2026-12-01), the year's last days, a Saturday."""

from datetime import date

import pytest

from clinicbot.ptbr.date_ranges import DateRange, parse_date_range

TUESDAY = date(2026, 12, 1)


def days(first: str, last: str) -> DateRange:
    return DateRange(date.fromisoformat(first), date.fromisoformat(last))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("semana que vem", days("2026-12-07", "2026-12-13")),
        ("pra próxima semana", days("2026-12-07", "2026-12-13")),
        ("outra semana", days("2026-12-07", "2026-12-13")),
        ("essa semana", days("2026-12-01", "2026-12-06")),
        ("nessa semana ainda", days("2026-12-01", "2026-12-06")),
        ("no começo da semana que vem", days("2026-12-07", "2026-12-09")),
        ("inicio da proxima semana", days("2026-12-07", "2026-12-09")),
        ("fim da semana que vem", days("2026-12-10", "2026-12-13")),
        ("mês que vem", days("2027-01-01", "2027-01-31")),
        ("proximo mes", days("2027-01-01", "2027-01-31")),
        ("fim do mês", days("2026-12-21", "2026-12-31")),
        ("lá pro fim do mes", days("2026-12-21", "2026-12-31")),
        ("início do mês que vem", days("2027-01-01", "2027-01-10")),
        ("fim do mês que vem", days("2027-01-21", "2027-01-31")),
        ("esse mês", days("2026-12-01", "2026-12-31")),
        ("no fim de semana", days("2026-12-05", "2026-12-06")),
        ("final de semana que vem", days("2026-12-12", "2026-12-13")),
        ("depois do dia 10", days("2026-12-11", "2027-01-09")),
        ("a partir de segunda", days("2026-12-07", "2027-01-05")),
        ("a partir do dia 15", days("2026-12-15", "2027-01-13")),
        ("a partir de amanhã", days("2026-12-02", "2026-12-31")),
        ("até sexta", days("2026-12-01", "2026-12-04")),
        ("ate o dia 10", days("2026-12-01", "2026-12-10")),
        ("daqui a 15 dias", days("2026-12-16", "2026-12-22")),
        ("daqui 2 semanas", days("2026-12-15", "2026-12-21")),
        ("daqui uns 10 dias", days("2026-12-11", "2026-12-17")),
        ("daqui uns dias", days("2026-12-03", "2026-12-10")),
        ("daqui a alguns dias", days("2026-12-03", "2026-12-10")),
    ],
)
def test_ranges_on_a_tuesday(text: str, expected: DateRange) -> None:
    assert parse_date_range(text, TUESDAY) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2026, 12, 28), "mês que vem", days("2027-01-01", "2027-01-31")),
        (date(2026, 12, 28), "fim do mês", days("2026-12-28", "2026-12-31")),
        (date(2026, 12, 31), "fim do mês", days("2026-12-31", "2026-12-31")),
        (date(2026, 12, 28), "início do mês", days("2027-01-01", "2027-01-10")),
        (date(2026, 12, 30), "semana que vem", days("2027-01-04", "2027-01-10")),
        (date(2026, 12, 30), "essa semana", days("2026-12-30", "2027-01-03")),
        (date(2026, 12, 30), "depois do dia 10", days("2027-01-11", "2027-02-09")),
        (date(2026, 12, 30), "daqui a 1 mês", days("2027-01-30", "2027-02-05")),
        (date(2027, 1, 31), "daqui a um mes", days("2027-02-28", "2027-03-06")),
        (date(2028, 1, 31), "mes que vem", days("2028-02-01", "2028-02-29")),
        (date(2026, 12, 5), "fim de semana", days("2026-12-05", "2026-12-06")),
        (date(2026, 12, 6), "fim de semana", days("2026-12-06", "2026-12-06")),
        (date(2026, 12, 6), "semana que vem", days("2026-12-07", "2026-12-13")),
        (date(2026, 12, 11), "fim da semana", None),
        (date(2026, 12, 11), "até quarta", days("2026-12-11", "2026-12-16")),
    ],
)
def test_month_and_year_boundaries(today: date, text: str, expected: DateRange | None) -> None:
    assert parse_date_range(text, today) == expected


@pytest.mark.parametrize(
    "text",
    [
        "amanhã",
        "sexta que vem",
        "dia 15",
        "depois de amanhã",
        "até amanhã",
        "até mais tarde",
        "ate a proxima",
        "a partir das 15h",
        "até as 17h",
        "bom fim de semana",
        "semana passada",
    ],
)
def test_not_ranges(text: str) -> None:
    assert parse_date_range(text, TUESDAY) is None


def test_value_is_the_contract_dict() -> None:
    assert days("2026-12-07", "2026-12-13").as_value() == {"from": "2026-12-07", "to": "2026-12-13"}
