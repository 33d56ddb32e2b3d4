"""First visit or return (issue #20, clinic.yml ``asks_first_visit``): a known patient is asked
only when their agenda history does not tell, and the answer reaches GestãoDS as
``primeiro_atendimento``. Clock pinned at Tuesday 2026-12-01, 10:40."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import AgendaPatient, active_appointments
from tests.support.stack_fixtures import FIRST_VISIT_QUESTION
from tests.support.whatsapp import WhatsAppPatient, menu_lines

NOW = datetime(2026, 12, 1, 10, 40, tzinfo=ZoneInfo("America/Sao_Paulo"))


def book_first_offered(patient: WhatsAppPatient, days: str) -> None:
    """From the list of days to the booked appointment: first day, first time, yes."""
    assert menu_lines(days), days
    assert menu_lines(patient.say("1"))
    patient.say("1")
    assert "consulta está marcada" in patient.say("sim")


def new_bookings(sandbox_url: str, cpf: str, before: set[str]) -> list[dict[str, Any]]:
    return [a for a in active_appointments(sandbox_url, cpf) if a["id"] not in before]


@pytest.mark.parametrize(("answer", "first"), [("é retorno", False), ("é a primeira vez", True)])
def test_a_patient_whose_history_does_not_tell_is_asked_and_the_answer_is_booked(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    patient_with_appointment: AgendaPatient,
    sandbox_url: str,
    answer: str,
    first: bool,
) -> None:
    """Only an upcoming appointment: the new one may come before or after it."""
    clock(NOW)
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    asked = patient.say(patient_with_appointment.cpf)
    assert FIRST_VISIT_QUESTION in asked and not menu_lines(asked), asked
    book_first_offered(patient, patient.say(answer))
    before = {patient_with_appointment.appointment_id}
    [booked] = new_bookings(sandbox_url, patient_with_appointment.cpf, before)
    assert booked["primeiro_atendimento"] is first


def test_a_patient_seen_before_is_booked_as_a_return_without_the_question(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    patient_with_appointment: AgendaPatient,
    sandbox_url: str,
) -> None:
    clock(patient_with_appointment.starts_at + timedelta(days=1))  # that visit is now past
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    days = patient.say(patient_with_appointment.cpf)
    assert FIRST_VISIT_QUESTION not in days, days
    book_first_offered(patient, days)
    before = {patient_with_appointment.appointment_id}
    [booked] = new_bookings(sandbox_url, patient_with_appointment.cpf, before)
    assert booked["primeiro_atendimento"] is False


def test_a_registered_patient_never_seen_is_booked_as_a_first_visit_without_the_question(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    registered_cpf: str,
    sandbox_url: str,
) -> None:
    clock(NOW)
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    days = patient.say(registered_cpf)
    assert FIRST_VISIT_QUESTION not in days, days
    book_first_offered(patient, days)
    [booked] = active_appointments(sandbox_url, registered_cpf)
    assert booked["primeiro_atendimento"] is True
