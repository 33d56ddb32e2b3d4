"""Reading a new patient's name, birth date and e-mail."""

from datetime import date

import pytest

from clinicbot.services.patients import parse_birth_date, parse_email, parse_full_name

TODAY = date(2025, 3, 12)


def test_full_name_is_title_cased_around_particles() -> None:
    assert parse_full_name("meu nome é maria DAS dores") == "Maria das Dores"
    assert parse_full_name("Ana") is None
    assert parse_full_name("ana 123 lima") is None


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("02/09/1991", date(1991, 9, 2)),
        ("2-9-91", date(1991, 9, 2)),
        ("2 de setembro de 1991", date(1991, 9, 2)),
        ("15 de março de 1980", date(1980, 3, 15)),
        ("15 de Marco de 1980", date(1980, 3, 15)),
    ],
)
def test_birth_date(text: str, born: date) -> None:
    assert parse_birth_date(text, TODAY) == born


@pytest.mark.parametrize("text", ["31/02/1990", "2 de setembrx de 1991", "01/01/2030", "ontem"])
def test_no_birth_date(text: str) -> None:
    assert parse_birth_date(text, TODAY) is None


def test_email() -> None:
    assert parse_email("é Ana.Lima@Exemplo.com.br") == "ana.lima@exemplo.com.br"
    assert parse_email("não tenho") is None
