"""CPF digits, check digits and CPFs inside a message."""

import pytest

from clinicbot.ptbr.cpf import cpf_digits, find_cpf, is_valid_cpf


def test_digits_drop_the_separators() -> None:
    assert cpf_digits("390.533.447-05") == "39053344705"
    assert cpf_digits("cpf: 390 533 447 05") == "39053344705"


@pytest.mark.parametrize("text", ["390.533.447-05", "39053344705"])
def test_a_cpf_with_right_check_digits_is_valid(text: str) -> None:
    assert is_valid_cpf(text)


@pytest.mark.parametrize(
    "text",
    [
        "390.533.447-06",  # wrong check digit
        "11111111111",  # repeated digits pass the check-digit arithmetic but are no CPF
        "9053344705",  # ten digits: not zero-padded into a valid CPF
        "390533447051",  # twelve
        "",
    ],
)
def test_anything_else_is_not(text: str) -> None:
    assert not is_valid_cpf(text)


def test_a_cpf_is_found_in_a_message_whatever_separates_its_groups() -> None:
    assert find_cpf("meu cpf é 390.533.447-05, obrigada") == "39053344705"
    assert find_cpf("390 533 447 05") == "39053344705"
    assert find_cpf("39053344705") == "39053344705"
    assert find_cpf("quero marcar dia 15") is None
