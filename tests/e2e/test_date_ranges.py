"""Date ranges and vague times in WhatsApp conversations, at a pinned clinic clock: Tuesday
2026-12-01, 10:40 (the moment of issue #20's report)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from clinicbot.gestaods.client import GestaoDSClient
from tests.e2e.conftest import AgendaPatient, active_appointments
from tests.support.stack_fixtures import FIRST_VISIT_QUESTION, register_patient
from tests.support.whatsapp import WhatsAppPatient, option_labels

CLINIC_TZ = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 12, 1, 10, 40, tzinfo=CLINIC_TZ)
NEXT_MONDAY, NEXT_SUNDAY = date(2026, 12, 7), date(2026, 12, 13)


def labelled_day(label: str) -> date:
    """``segunda, 07/12`` -> the date (the year of ``NOW`` or the next)."""
    day = datetime.strptime(f"{label.split(', ')[1]}/{NOW.year}", "%d/%m/%Y").date()
    return day if day >= NOW.date() else day.replace(year=NOW.year + 1)


def days_with(agenda: GestaoDSClient, first: date, last: date, hours: range) -> list[date]:
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    return [day for day in days if any(t.hour in hours for t in agenda.available_times(day))]


def test_next_week_in_the_morning_books_inside_the_range(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    agenda: GestaoDSClient,
    registered_cpf: str,
    sandbox_url: str,
) -> None:
    clock(NOW)
    asked = patient.say("quero marcar uma consulta para semana que vem de manhã")
    assert "cpf" in asked.lower()
    answer = patient.say(registered_cpf)
    assert "entre 07/12 e 13/12" in answer and "de manhã" in answer, answer
    offered = [labelled_day(label) for label in option_labels(answer)]
    expected = days_with(agenda, NEXT_MONDAY, NEXT_SUNDAY, range(0, 12))
    assert offered and offered == expected[: len(offered)], (offered, expected)
    times = option_labels(patient.say("1"))
    assert times and all(label < "12:00" for label in times), times
    patient.say("1")
    assert "consulta está marcada" in patient.say("sim")
    [booked] = active_appointments(sandbox_url, registered_cpf)
    starts_at = datetime.fromisoformat(booked["starts_at"]).astimezone(CLINIC_TZ)
    assert starts_at.date() == offered[0] and starts_at.hour < 12, starts_at


def test_a_range_with_nothing_free_says_so_and_offers_the_nearest_days_after(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    registered_cpf: str,
) -> None:
    clock(NOW)
    assert "cpf" in patient.say("quero marcar uma consulta no fim de semana").lower()
    answer = patient.say(registered_cpf)
    assert "Não tenho horários livres entre 05/12 e 06/12" in answer, answer
    offered = [labelled_day(label) for label in option_labels(answer)]
    assert offered and all(day > date(2026, 12, 6) for day in offered), offered


def test_rescheduling_to_next_week_offers_next_weeks_days(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    patient_with_appointment: AgendaPatient,
    sandbox_url: str,
) -> None:
    clock(NOW)
    assert "cpf" in patient.say("dá pra passar minha consulta pra próxima semana?").lower()
    patient.say(patient_with_appointment.cpf)  # the appointments to choose from
    answer = patient.say("1")
    assert "entre 07/12 e 13/12" in answer, answer
    offered = [labelled_day(label) for label in option_labels(answer)]
    assert offered and all(NEXT_MONDAY <= day <= NEXT_SUNDAY for day in offered), offered
    patient.say("1")
    patient.say("1")
    patient.say("sim")
    [moved] = active_appointments(sandbox_url, patient_with_appointment.cpf)
    assert moved["id"] == patient_with_appointment.appointment_id
    assert datetime.fromisoformat(moved["starts_at"]).astimezone(CLINIC_TZ).date() == offered[0]


def test_joining_the_waiting_list_for_next_week(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    registered_cpf: str,
) -> None:
    clock(NOW)
    patient.say("me avisa se abrir algo semana que vem")
    answer = patient.say(registered_cpf)
    assert "lista de espera" in answer and "entre 07/12 e 13/12" in answer, answer


def test_a_second_booking_does_not_inherit_the_first_ones_range_or_period(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    registered_cpf: str,
) -> None:
    clock(NOW)
    patient.say("quero marcar uma consulta para semana que vem de manhã")
    assert "entre 07/12 e 13/12" in patient.say(registered_cpf)
    patient.say("1")
    patient.say("1")
    assert "consulta está marcada" in patient.say("sim")
    answer = patient.say("quero marcar outra consulta")
    if FIRST_VISIT_QUESTION in answer:  # the history now holds an upcoming appointment only
        answer = patient.say("é retorno")
    assert "entre" not in answer and "manhã" not in answer, answer
    offered = [labelled_day(label) for label in option_labels(answer)]
    assert offered and offered[0] < NEXT_MONDAY, offered


def test_a_period_asked_for_the_waiting_list_does_not_narrow_a_later_booking(
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    agenda: GestaoDSClient,
    registered_cpf: str,
) -> None:
    clock(NOW)
    patient.say("me chama se liberar vaga de tarde")
    assert "lista de espera" in patient.say(registered_cpf)
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(registered_cpf)
    offered = [labelled_day(label) for label in option_labels(answer)]
    with_mornings = days_with(agenda, NOW.date() + timedelta(days=1), NEXT_SUNDAY, range(0, 12))
    choice = next(index for index, day in enumerate(offered, 1) if day in with_mornings)
    times = option_labels(patient.say(str(choice)))
    assert any(label < "12:00" for label in times), times


def test_the_waiting_list_for_next_week_is_offered_a_slot_freed_next_week_only(
    clock: Callable[[datetime], None],
    patient_factory: Callable[[], WhatsAppPatient],
    agenda: GestaoDSClient,
    patient_with_appointment: AgendaPatient,
    patient: WhatsAppPatient,
    waiting_list_to_itself: None,
) -> None:
    clock(NOW)
    waiting = patient_factory()
    waiting.say("me avisa se abrir algo semana que vem")
    assert "entre 07/12 e 13/12" in waiting.say(register_patient(agenda, waiting))
    next_week = patient_factory()
    next_week_cpf = register_patient(agenda, next_week)
    day = days_with(agenda, NEXT_MONDAY, NEXT_SUNDAY, range(0, 24))[0]
    freed = agenda.available_times(day)[0]
    agenda.book(cpf=next_week_cpf, starts_at=freed)
    assert patient_with_appointment.starts_at.date() < NEXT_MONDAY  # this week's: not wanted
    for canceling, cpf in ((patient, patient_with_appointment.cpf), (next_week, next_week_cpf)):
        canceling.say("quero cancelar minha consulta")
        canceling.say(cpf)
        canceling.say("1")
        canceling.say("não vou poder ir")
        assert "cancelada" in canceling.say("sim").lower()
    [offer] = waiting.replies(1, timeout=45)
    local = freed.astimezone(CLINIC_TZ)
    assert f"{local:%d/%m}" in offer["message"] and f"{local:%H:%M}" in offer["message"], offer
