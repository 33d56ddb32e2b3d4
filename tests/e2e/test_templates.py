"""Staff edit what the assistant says, and the next WhatsApp message reads it: no retraining,
no restart. Rasa asks the clinic service's NLG endpoint for every response."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from clinicbot.settings import SANDBOX_STAFF_TOKEN
from clinicbot.stack import Stack
from tests.support.whatsapp import WhatsAppPatient

STAFF = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}


@pytest.fixture
def edit(stack: Stack) -> Iterator[Callable[[str, str], dict[str, Any]]]:
    """``edit(key, text)`` through the staff API; every key edited goes back to its default text
    afterwards (the stack is shared by the session's tests)."""
    base = f"http://127.0.0.1:{stack.ports.service}/staff/templates"
    edited: dict[str, str] = {}

    def save(key: str, text: str) -> dict[str, Any]:
        if key not in edited:
            edited[key] = requests.get(f"{base}/{key}", headers=STAFF, timeout=10).json()["text"]
        answer = requests.put(f"{base}/{key}", json={"text": text}, headers=STAFF, timeout=10)
        assert answer.status_code == 200, answer.text
        saved: dict[str, Any] = answer.json()
        return saved

    yield save
    for key, text in edited.items():
        requests.put(f"{base}/{key}", json={"text": text}, headers=STAFF, timeout=10)


def test_a_greeting_edited_by_staff_is_the_next_answer_to_oi(
    stack: Stack,
    patient_factory: Callable[[], WhatsAppPatient],
    edit: Callable[[str, str], dict[str, Any]],
) -> None:
    before = patient_factory().say("oi")
    assert before.startswith("Olá! 👋 Sou a assistente virtual")

    greeting = "Oi! Aqui é a recepção virtual da Clínica Bem Viver 💙 Em que posso ajudar hoje?"
    edit("utter_saudacao", greeting)
    assert patient_factory().say("oi") == greeting

    question = "Claro! Me passa seu CPF, por favor? Só os números já servem."
    edit("utter_ask_cpf", question)
    assert patient_factory().say("quero marcar uma consulta") == question


def test_a_refused_edit_changes_nothing(stack: Stack, patient: WhatsAppPatient) -> None:
    base = f"http://127.0.0.1:{stack.ports.service}/staff/templates/utter_saudacao"
    refused = requests.put(
        base, json={"text": "Olá, {nome_do_paciente}!"}, headers=STAFF, timeout=10
    )
    assert refused.status_code == 422
    assert patient.say("oi").startswith("Olá! 👋 Sou a assistente virtual")
