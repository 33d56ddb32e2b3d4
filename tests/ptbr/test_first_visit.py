"""Reading "primeira consulta ou retorno?" answers."""

import pytest

from clinicbot.ptbr.first_visit import parse_first_visit


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("primeira", True),
        ("é a primeira vez", True),
        ("nunca fui aí", True),
        ("sim", True),
        ("Sou paciente nova", True),
        ("retorno", False),
        ("é retorno", False),
        ("não, é a volta da consulta", False),
        ("não é a primeira", False),
        ("já sou paciente", False),
        ("nao", False),
        ("talvez", None),
        ("quinta de manhã", None),
    ],
)
def test_first_visit_answers(text: str, first: bool | None) -> None:
    assert parse_first_visit(text) is first
