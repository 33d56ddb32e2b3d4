"""A booking the agenda does not answer (issue 12), over WhatsApp: the patient is told it is
being confirmed, then the outcome; never two appointments.

The e2e stack checks uncertain bookings every second for a few seconds
(``BOOKING_CHECK_*`` in ``conftest.py``); the sandbox agenda answers the booking with a 504 and
commits it later (``late_commit``), or fails it for good (``500``).
"""

from __future__ import annotations

from datetime import datetime

from clinicbot.stack import Stack
from tests.support.stack_fixtures import (
    active_appointments,
    agenda_fault,
    ask_to_book,
    local_appointments,
)
from tests.support.whatsapp import WhatsAppPatient

CONFIRMING = "Estou confirmando seu horário com a agenda"
STILL_CONFIRMING = "Ainda estou confirmando"
CONFIRMED = "Confirmei com a agenda"
NOT_MADE = "não foi marcada"
COMMIT_AFTER_SECONDS = 10.0  # shorter than the stack's window, longer than a retried journey


def test_a_booking_committed_after_a_timeout_is_confirmed_and_never_made_twice(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    chosen = ask_to_book(patient, registered_cpf)
    agenda_fault(sandbox_url, "late_commit", "agendar/", delay=COMMIT_AFTER_SECONDS)
    assert CONFIRMING in patient.say("sim")

    ask_to_book(patient, registered_cpf)  # the patient tries again meanwhile
    assert STILL_CONFIRMING in patient.say("sim")

    [confirmed] = patient.replies(1)
    assert CONFIRMED in confirmed["message"] and chosen in confirmed["message"]
    [booked] = active_appointments(sandbox_url, registered_cpf)
    assert datetime.fromisoformat(str(booked["starts_at"])).strftime("%H:%M") == chosen
    assert local_appointments(stack, registered_cpf) == [(patient.phone, "scheduled")]
    assert patient.new_messages() == []


def test_a_booking_the_agenda_never_made_is_reported_and_nothing_is_booked(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    ask_to_book(patient, registered_cpf)
    agenda_fault(sandbox_url, "500", "agendar/")
    assert CONFIRMING in patient.say("sim")

    [told] = patient.replies(1)
    assert NOT_MADE in told["message"] and "tentar de novo" in told["message"]
    assert active_appointments(sandbox_url, registered_cpf) == []
    assert local_appointments(stack, registered_cpf) == []
