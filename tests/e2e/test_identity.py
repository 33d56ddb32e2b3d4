"""A CPF is not proof: who the sender is decides what they learn (LGPD art. 11, health data)."""

from __future__ import annotations

from collections.abc import Callable

import requests
from validate_docbr import CPF

from clinicbot.settings import SANDBOX_STAFF_TOKEN
from clinicbot.stack import Stack
from tests.e2e.conftest import BIRTH_DATE, AgendaPatient, active_appointments
from tests.support.whatsapp import WhatsAppPatient, menu_lines

NOT_CONFIRMED = "Não consegui confirmar seus dados"
WRONG_DATE = "01/01/1970"


def test_the_registered_phone_is_enough(
    patient: WhatsAppPatient, patient_with_appointment: AgendaPatient
) -> None:
    patient.say("quando é minha consulta?")
    answer = patient.say(patient_with_appointment.cpf)
    assert patient_with_appointment.starts_at.strftime("%d/%m") in answer


def test_another_phone_needs_the_birth_date(
    patient_factory: Callable[[], WhatsAppPatient], patient_with_appointment: AgendaPatient
) -> None:
    relative = patient_factory()
    relative.say("quando é minha consulta?")
    question = relative.say(patient_with_appointment.cpf)
    assert (
        "nascimento" in question
        and patient_with_appointment.starts_at.strftime("%d/%m") not in question
    )
    answer = relative.say(BIRTH_DATE.strftime("%d/%m/%Y"))
    assert patient_with_appointment.starts_at.strftime("%d/%m") in answer


def test_a_stranger_learns_nothing_and_is_handed_to_staff_after_three_tries(
    stack: Stack,
    patient_factory: Callable[[], WhatsAppPatient],
    patient_with_appointment: AgendaPatient,
) -> None:
    stranger = patient_factory()
    unregistered = CPF().generate()
    answers = []
    for cpf in (patient_with_appointment.cpf, unregistered):
        stranger.say("minhas consultas")
        asked = stranger.say(cpf)
        assert "nascimento" in asked
        answers.append(stranger.say(WRONG_DATE))
    registered_answer, unregistered_answer = answers
    assert NOT_CONFIRMED in registered_answer
    assert registered_answer == unregistered_answer  # same words whether the CPF exists or not
    assert "Rita" not in registered_answer
    assert patient_with_appointment.starts_at.strftime("%d/%m") not in registered_answer

    stranger.say(patient_with_appointment.cpf)
    handed_over = stranger.say("02/02/1980")  # the third failure today
    assert "recepção" in handed_over and NOT_CONFIRMED not in handed_over
    assert stranger.say("minhas consultas") == ""  # paused until staff hand back

    service = f"http://127.0.0.1:{stack.ports.service}"
    staff = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
    handoffs = requests.get(f"{service}/staff/handoffs", headers=staff, timeout=5).json()
    assert stranger.phone in [handoff["phone"] for handoff in handoffs["handoffs"]]


def test_cancelling_needs_the_identity_too(
    patient_factory: Callable[[], WhatsAppPatient],
    patient_with_appointment: AgendaPatient,
    sandbox_url: str,
) -> None:
    stranger = patient_factory()
    stranger.say("quero cancelar minha consulta")
    assert "nascimento" in stranger.say(patient_with_appointment.cpf)
    answer = stranger.say(WRONG_DATE)
    assert NOT_CONFIRMED in answer and not menu_lines(answer)
    assert len(active_appointments(sandbox_url, patient_with_appointment.cpf)) == 1


def test_booking_with_a_registered_cpf_and_another_birth_date_books_nothing(
    patient_factory: Callable[[], WhatsAppPatient], registered_cpf: str, sandbox_url: str
) -> None:
    stranger = patient_factory()
    newcomer = patient_factory()
    for sender, cpf in ((stranger, registered_cpf), (newcomer, CPF().generate())):
        sender.say("quero marcar uma consulta")
        assert "nascimento" in sender.say(cpf)
    # Both go on the same way: the stranger cannot tell the CPF is registered.
    assert "nome completo" in stranger.say(WRONG_DATE)
    assert "nome completo" in newcomer.say(WRONG_DATE)
    assert "e-mail" in stranger.say("Fulano de Tal Souza")
    assert menu_lines(stranger.say("fulano@example.org"))
    stranger.say("1")
    stranger.say("1")
    ending = stranger.say("sim")
    assert "recepção vai confirmar seus dados" in ending
    assert active_appointments(sandbox_url, registered_cpf) == []
