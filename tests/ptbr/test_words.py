"""Weekday and month words: written forms and the folded lookup tables."""

from clinicbot.ptbr.text import fold_accents
from clinicbot.ptbr.words import FULL_WEEKDAY_NAMES, MONTHS, WEEKDAY_NAMES, WEEKDAYS, alternation


def test_weekdays_are_looked_up_folded_in_date_weekday_order() -> None:
    assert WEEKDAYS == {
        "segunda": 0,
        "terca": 1,
        "quarta": 2,
        "quinta": 3,
        "sexta": 4,
        "sabado": 5,
        "domingo": 6,
    }
    assert [WEEKDAYS[fold_accents(name)] for name in WEEKDAY_NAMES] == list(range(7))


def test_full_weekday_names() -> None:
    assert FULL_WEEKDAY_NAMES[0] == "segunda-feira"
    assert FULL_WEEKDAY_NAMES[4] == "sexta-feira"
    assert FULL_WEEKDAY_NAMES[5:] == ("sábado", "domingo")


def test_months_by_name_and_abbreviation() -> None:
    assert MONTHS["marco"] == MONTHS["mar"] == 3
    assert MONTHS["dezembro"] == MONTHS["dez"] == 12
    assert all(month == fold_accents(month) for month in MONTHS)


def test_alternation_tries_longer_words_first() -> None:
    assert alternation(frozenset({"jan", "janeiro"})) == "janeiro|jan"
