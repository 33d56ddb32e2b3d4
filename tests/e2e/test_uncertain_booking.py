"""A booking the agenda does not answer (issue 12), over WhatsApp: the patient is told it is
being confirmed, then the outcome; never two appointments.

The e2e stack checks uncertain bookings every second for a few seconds
(``BOOKING_CHECK_*`` in ``conftest.py``); the sandbox agenda answers the booking with a 504 and
commits it later (``late_commit``), or fails it for good (``500``).
"""

from __future__ import annotations

from datetime import datetime

import requests
from sqlalchemy import create_engine, text

from clinicbot.stack import Stack
from tests.e2e.conftest import active_appointments
from tests.support.whatsapp import WhatsAppPatient, menu_lines

CONFIRMING = "Estou confirmando seu horário com a agenda"
STILL_CONFIRMING = "Ainda estou confirmando"
CONFIRMED = "Confirmei com a agenda"
NOT_MADE = "não foi marcada"
COMMIT_AFTER_SECONDS = 10.0  # shorter than the stack's window, longer than a retried journey


def fail_booking(sandbox_url: str, mode: str, delay: float = 0.0) -> None:
    body = {"mode": mode, "path": "agendar/", "count": 1, "delay": delay}
    answer = requests.post(f"{sandbox_url}/__sandbox/gestaods/failures", json=body, timeout=5)
    answer.raise_for_status()


def choose_first_time(patient: WhatsAppPatient, cpf: str) -> str:
    """From "quero marcar" to the confirmation question; the chosen time (``HH:MM``)."""
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(cpf)
    assert menu_lines(answer), answer
    times = menu_lines(patient.say("1"))
    assert times
    question = patient.say("1")
    chosen = times[0].split(". ", 1)[1]
    assert chosen in question and "sim" in question.lower(), question
    return chosen


def local_appointments(stack: Stack, cpf: str) -> list[tuple[str, str]]:
    engine = create_engine(stack.env["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT phone, status FROM appointments WHERE cpf = :cpf"), {"cpf": cpf}
            )
            return [(row.phone, row.status) for row in rows]
    finally:
        engine.dispose()


def test_a_booking_committed_after_a_timeout_is_confirmed_and_never_made_twice(
    stack: Stack, sandbox_url: str, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    chosen = choose_first_time(patient, registered_cpf)
    fail_booking(sandbox_url, "late_commit", delay=COMMIT_AFTER_SECONDS)
    assert CONFIRMING in patient.say("sim")

    choose_first_time(patient, registered_cpf)  # the patient tries again meanwhile
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
    choose_first_time(patient, registered_cpf)
    fail_booking(sandbox_url, "500")
    assert CONFIRMING in patient.say("sim")

    [told] = patient.replies(1)
    assert NOT_MADE in told["message"] and "tentar de novo" in told["message"]
    assert active_appointments(sandbox_url, registered_cpf) == []
    assert local_appointments(stack, registered_cpf) == []
