"""Title-casing a Brazilian name around its particles."""

import pytest

from clinicbot.ptbr.names import could_be_name, is_shouted, title_case_name, without_remark


def test_name_is_title_cased_with_lower_case_particles() -> None:
    assert title_case_name("joão PEDRO da silva") == "João Pedro da Silva"
    assert title_case_name("maria  DAS dores e souza") == "Maria das Dores e Souza"


def test_the_first_word_starts_the_name_even_when_it_is_a_particle() -> None:
    assert title_case_name("da silva") == "Da Silva"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Ana Lima, pode ser com y", "Ana Lima"),
        ("Ana Lyma - com y mesmo", "Ana Lyma"),
        ("Maria das Dores (sem acento)", "Maria das Dores"),
        ("João da Silva", "João da Silva"),
    ],
)
def test_a_remark_after_the_name_is_dropped(text: str, name: str) -> None:
    assert without_remark(text) == name


def test_shouting_and_request_words() -> None:
    assert is_shouted("QUERO REMARCAR MINHA CONSULTA")
    assert not is_shouted("Quero remarcar") and not is_shouted("SUS")
    assert not could_be_name("QUERO REMARCAR MINHA CONSULTA")
    assert could_be_name("ANA LIMA") and could_be_name("Maria da Conceição")
