"""Title-casing a Brazilian name around its particles."""

from clinicbot.ptbr.names import title_case_name


def test_name_is_title_cased_with_lower_case_particles() -> None:
    assert title_case_name("joão PEDRO da silva") == "João Pedro da Silva"
    assert title_case_name("maria  DAS dores e souza") == "Maria das Dores e Souza"


def test_the_first_word_starts_the_name_even_when_it_is_a_particle() -> None:
    assert title_case_name("da silva") == "Da Silva"
