"""Journeys whose answers depend on the date, with the stack's clock pinned: every weekday,
the last day of a month (and of the year), and the edges of the clinic's day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.ptbr.words import WEEKDAY_NAMES
from tests.e2e.conftest import active_appointments
from tests.support.whatsapp import WhatsAppPatient, menu_lines, option_labels

CLINIC_TZ = ZoneInfo("America/Sao_Paulo")
LEAD = timedelta(minutes=30)  # BOOKING_MIN_LEAD_MINUTES's default
PINNED = [
    *(datetime(2026, 12, day, 10, 40, tzinfo=CLINIC_TZ) for day in range(7, 14)),  # Mon..Sun
    datetime(2026, 12, 31, 10, 40, tzinfo=CLINIC_TZ),  # the month's (and year's) last day
    datetime(2026, 12, 8, 8, 29, 50, tzinfo=CLINIC_TZ),  # seconds before a slot starts
    datetime(2026, 12, 8, 17, 59, 50, tzinfo=CLINIC_TZ),  # the day's last slot has begun
    datetime(2026, 12, 11, 17, 59, 50, tzinfo=CLINIC_TZ),  # a Friday evening
]
pytestmark = pytest.mark.parametrize("now", PINNED, ids=lambda moment: f"{moment:%a-%d-%H%M%S}")


def bookable(agenda: GestaoDSClient, day: date, now: datetime) -> list[datetime]:
    return [moment for moment in agenda.available_times(day) if moment >= now + LEAD]


def named_weekday(agenda: GestaoDSClient, now: datetime, weekday: int) -> date:
    """The day "terça" means at ``now``: today while it has bookable times, else the next one."""
    today = now.date()
    if today.weekday() == weekday and bookable(agenda, today, now):
        return today
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def start_booking(patient: WhatsAppPatient, cpf: str) -> list[str]:
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    days = option_labels(patient.say(cpf))
    assert days
    return days


def test_booking_the_first_offered_time_succeeds(
    now: datetime,
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    agenda: GestaoDSClient,
    registered_cpf: str,
    sandbox_url: str,
) -> None:
    clock(now)
    days = start_booking(patient, registered_cpf)
    first_day = datetime.strptime(f"{days[0].split(', ')[1]}/{now.year}", "%d/%m/%Y").date()
    assert first_day >= now.date()
    times = option_labels(patient.say("1"))
    assert times
    assert all(
        datetime.combine(first_day, datetime.strptime(label, "%H:%M").time(), CLINIC_TZ)
        >= now + LEAD
        for label in times
    ), times  # nothing that starts within the next minutes
    assert times[0] in patient.say("1")
    assert "consulta está marcada" in patient.say("sim")
    [booked] = active_appointments(sandbox_url, registered_cpf)
    # The agenda is the session's: 11 pinned clocks booking the first free time would fill
    # the days the other journeys here ask for ("sexta de manhã").
    agenda.cancel(booked["id"], "fim do teste")


def test_correction_while_times_are_listed_changes_the_day(
    now: datetime,
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    agenda: GestaoDSClient,
    registered_cpf: str,
) -> None:
    clock(now)
    start_booking(patient, registered_cpf)
    assert menu_lines(patient.say("1"))
    tuesday = named_weekday(agenda, now, weekday=1)
    answer = patient.say("na verdade prefiro terça")
    assert "Não consegui identificar" not in answer
    assert f"terça-feira, {tuesday:%d/%m}" in answer and menu_lines(answer), answer
    if now.weekday() == 1 and tuesday != now.date():
        assert "Hoje não tenho mais horários livres" in answer


def test_preferred_day_and_period_go_straight_to_its_times(
    now: datetime,
    clock: Callable[[datetime], None],
    patient: WhatsAppPatient,
    agenda: GestaoDSClient,
    registered_cpf: str,
) -> None:
    clock(now)
    friday = named_weekday(agenda, now, weekday=4)
    free = bookable(agenda, friday, now)
    morning = [moment for moment in free if moment.hour < 12] or free
    assert "cpf" in patient.say("quero marcar consulta pra sexta de manhã").lower()
    answer = patient.say(registered_cpf)
    if not free:  # the sandbox's one fully booked weekday (seeded from the stack's start day)
        days = option_labels(answer)
        assert days and not any(f"{friday:%d/%m}" in day for day in days), answer
        return
    assert f"{WEEKDAY_NAMES[4]}-feira, {friday:%d/%m}" in answer, answer
    offered = option_labels(answer)
    assert offered and offered == [moment.strftime("%H:%M") for moment in morning][: len(offered)]
