"""The registration form's name question: shouting and remarks after the name (issue #20)."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import ValidateAgendamentoForm
from tests.actions.harness import tracker


def validated(text: str, entity: str | None = None) -> tuple[str | None, list[str]]:
    """The name kept from ``text`` (with the NLU's ``nome`` entity, if any) and the replies."""
    entities = [] if entity is None else [{"entity": "nome", "value": entity}]
    on = tracker(slots={"requested_slot": "paciente_nome"}, text=text, entities=entities)
    dispatcher = CollectingDispatcher()
    slots = ValidateAgendamentoForm().validate_paciente_nome(text, dispatcher, on, {})
    return slots["paciente_nome"], [m["response"] for m in dispatcher.messages]


@pytest.mark.parametrize(
    ("text", "entity", "name"),
    [
        ("ANA LIMA", None, "Ana Lima"),
        ("MEU NOME É ANA LIMA", "ANA LIMA", "Ana Lima"),
        ("Ana Lima, pode ser com y", "Ana Lima", "Ana Lima"),
        ("Ana Lima, pode ser com y", "Ana Lima, pode", "Ana Lima"),
        ("Ana Lima, pode ser com y", None, "Ana Lima"),
        ("meu nome é Ana Lima, pode ser com y", None, "Ana Lima"),
        ("MARIA DAS DORES SOUZA - sem acento", None, "Maria das Dores Souza"),
    ],
)
def test_the_name_is_kept_without_the_remark(text: str, entity: str | None, name: str) -> None:
    assert validated(text, entity) == (name, [])


@pytest.mark.parametrize(
    "text", ["QUERO REMARCAR MINHA CONSULTA", "PRECISO MUDAR O HORARIO", "quero marcar consulta"]
)
def test_a_request_is_no_name(text: str) -> None:
    assert validated(text) == (None, ["utter_nome_invalido"])
