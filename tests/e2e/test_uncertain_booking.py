"""A booking the agenda does not answer (issue 12), over WhatsApp: the patient is told it is
being confirmed, then the outcome; never two appointments.

The e2e stack checks uncertain bookings every second for 30 s (``BOOKING_CHECK_*`` in
``conftest.py``); the sandbox agenda answers the booking with a 504 and commits it when the test
says so (``late_commit``, then ``commit-late``), or fails it for good (``500``).
"""

from __future__ import annotations

from datetime import datetime

import requests

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
NEVER_BY_ITSELF = 600.0  # the late booking is applied when the test asks (commit-late)


def test_a_booking_committed_after_a_timeout_is_confirmed_and_never_made_twice(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    chosen = ask_to_book(patient, registered_cpf)
    agenda_fault(sandbox_url, "late_commit", "agendar/", delay=NEVER_BY_ITSELF)
    assert CONFIRMING in patient.say("sim")

    ask_to_book(patient, registered_cpf)  # the patient tries again meanwhile
    assert STILL_CONFIRMING in patient.say("sim")
    commit = requests.post(f"{sandbox_url}/__sandbox/gestaods/commit-late", timeout=5)
    assert commit.json() == {"applied": 1}

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
