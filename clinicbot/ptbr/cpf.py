"""CPF numbers (the Brazilian taxpayer id that identifies a patient): digits and check digits."""

from __future__ import annotations

import re

from validate_docbr import CPF

CPF_LENGTH = 11
# A CPF as people write it: "390.533.447-05" or "39053344705".
WRITTEN_CPF = r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}"
# Laxer, to find one in a message: any one separator between the groups ("390 533 447 05").
_CPF_IN_MESSAGE = re.compile(r"\d{3}\D?\d{3}\D?\d{3}\D?\d{2}")
_NOT_A_DIGIT = re.compile(r"\D")
_CHECK_DIGITS = CPF()


def cpf_digits(text: str) -> str:
    """The digits of ``text``, separators dropped ("390.533.447-05" -> "39053344705")."""
    return _NOT_A_DIGIT.sub("", text)


def is_valid_cpf(text: str) -> bool:
    """Whether ``text`` holds exactly a CPF's 11 digits and its check digits are right."""
    digits = cpf_digits(text)
    return len(digits) == CPF_LENGTH and _CHECK_DIGITS.validate(digits)


def find_cpf(text: str) -> str | None:
    """The digits of the first CPF-shaped number in ``text`` (check digits not verified)."""
    match = _CPF_IN_MESSAGE.search(text)
    return cpf_digits(match.group()) if match else None
