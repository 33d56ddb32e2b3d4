"""A cancellation on WhatsApp frees a slot; the waiting patient is offered it and books it."""

from __future__ import annotations

from datetime import datetime

from validate_docbr import CPF

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.stack import Stack
from tests.e2e.conftest import AgendaPatient, sandbox_state
from tests.support.whatsapp import WhatsAppPatient


def test_freed_slot_is_offered_to_the_waiting_patient_who_takes_it(
    stack: Stack,
    sandbox_url,
    patient_factory,
    patient: WhatsAppPatient,
    patient_with_appointment: AgendaPatient,
    agenda: GestaoDSClient,
    waiting_list_to_itself: None,
):
    waiting_cpf = CPF().generate()
    agenda.register_patient(name="Helena Espera Costa", cpf=waiting_cpf, email="h@example.org")
    waiting = patient_factory()
    waiting.say("me coloca na lista de espera")
    assert "lista de espera" in waiting.say(waiting_cpf)
    assert "sua posição" in waiting.say("qual minha posição na lista de espera?").lower()

    canceling = patient  # writes from the phone the agenda has for the appointment's CPF
    canceling.say("quero cancelar minha consulta")
    canceling.say(patient_with_appointment.cpf)
    canceling.say("1")
    canceling.say("imprevisto no trabalho")
    assert "cancelada" in canceling.say("sim").lower()

    [offer] = waiting.replies(1, timeout=45)
    freed = patient_with_appointment.starts_at
    assert freed.strftime("%H:%M") in offer["message"] and "sim" in offer["message"]
    assert "a vaga é sua" in waiting.say("sim")

    taken = [
        a
        for a in sandbox_state(sandbox_url)["appointments"]
        if not a["cancelado"] and datetime.fromisoformat(a["starts_at"]) == freed
    ]
    assert [a["cpf"] for a in taken] == [waiting_cpf]
    assert canceling.new_messages() == []  # the offer went to the waiting patient only
