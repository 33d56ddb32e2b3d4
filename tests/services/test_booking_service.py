"""Booking, rescheduling and cancelling against the sandbox agenda over HTTP, with the local copy
and the reminders in a real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from clinicbot.clock import set_clock_file
from clinicbot.db.engine import get_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.models import Appointment, Notification
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import GestaoDSError, SlotUnavailable
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.booking import TIMES_OFFERED, BookingService
from clinicbot.settings import get_settings

TOKEN = "booking-tests-token"
MARINA = "39053344705"
PHONE = "5531988887777"


@pytest.fixture(scope="module")
def agenda_url() -> Iterator[str]:
    fake = FakeGestaoDS(TOKEN, get_settings().clinic_tz)
    with BackgroundServer(create_app(fake, name=f"booking-{uuid.uuid4().hex[:8]}")) as server:
        yield server.url


@pytest.fixture
def service(agenda_url: str, tmp_path: Path, monkeypatch) -> Iterator[BookingService]:
    requests.post(f"{agenda_url}/__sandbox/gestaods/reset", timeout=5)
    url = f"sqlite:///{tmp_path / 'booking.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade_to_head(url)
    yield BookingService(agenda=GestaoDSClient(agenda_url, TOKEN, cache_ttl=0, retry_wait=0.01))
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def fail_next(agenda_url: str, mode: str, path: str) -> None:
    body = {"mode": mode, "path": path, "count": 1}
    assert requests.post(f"{agenda_url}/__sandbox/gestaods/failures", json=body, timeout=5).ok


def free_slots(service: BookingService, count: int) -> list:
    """Afternoon slots a few days ahead: far enough for both reminders (24 h and 2 h)."""
    day = date.fromisoformat(service.day_options()[3]["value"])
    return [t for t in service.agenda.available_times(day) if t.hour >= 14][:count]


def test_booking_keeps_a_local_copy_with_its_reminders(service: BookingService):
    [slot] = free_slots(service, 1)
    booked = service.book(phone=PHONE, cpf=MARINA, starts_at=slot, patient_name="Marina")
    with session_scope() as session:
        stored = session.execute(select(Appointment)).scalar_one()
        kinds = session.execute(select(Notification.kind)).scalars().all()
    assert stored.gestaods_id == booked.id and stored.status == "scheduled"
    assert stored.starts_at == slot
    assert sorted(kinds) == ["reminder", "reminder"]


def test_reschedule_falls_back_to_book_then_cancel_when_the_call_is_refused(
    service: BookingService, agenda_url: str
):
    old_slot, new_slot = free_slots(service, 2)
    old = service.book(phone=PHONE, cpf=MARINA, starts_at=old_slot, patient_name="Marina")
    fail_next(agenda_url, "422", "reagendar/")

    moved = service.reschedule(phone=PHONE, cpf=MARINA, appointment_id=old.id, starts_at=new_slot)

    active = [a for a in service.agenda.patient_appointments(MARINA) if a.is_active]
    assert [(a.id, a.starts_at) for a in active] == [(moved.id, new_slot)]
    assert moved.id != old.id
    with session_scope() as session:
        statuses = dict(session.execute(select(Appointment.gestaods_id, Appointment.status)).all())
    assert statuses == {old.id: "rescheduled", moved.id: "scheduled"}


def test_a_failed_cancellation_in_the_fallback_undoes_the_new_booking(
    service: BookingService, agenda_url: str
):
    old_slot, new_slot = free_slots(service, 2)
    old = service.book(phone=PHONE, cpf=MARINA, starts_at=old_slot, patient_name="Marina")
    fail_next(agenda_url, "422", "reagendar/")
    fail_next(agenda_url, "422", "paciente/agendamentos/")

    with pytest.raises(GestaoDSError):
        service.reschedule(phone=PHONE, cpf=MARINA, appointment_id=old.id, starts_at=new_slot)

    active = [a for a in service.agenda.patient_appointments(MARINA) if a.is_active]
    assert [(a.id, a.starts_at) for a in active] == [(old.id, old_slot)]


def test_booking_a_taken_slot_raises_and_stores_nothing(service: BookingService, agenda_url):
    [slot] = free_slots(service, 1)
    taken = requests.post(
        f"{agenda_url}/__sandbox/gestaods/book", json={"starts_at": slot.isoformat()}, timeout=5
    )
    assert taken.ok
    with pytest.raises(SlotUnavailable):
        service.book(phone=PHONE, cpf=MARINA, starts_at=slot, patient_name="Marina")
    with session_scope() as session:
        assert session.execute(select(Appointment)).first() is None


@pytest.fixture
def pin_clock(tmp_path: Path, monkeypatch) -> Callable[[datetime], None]:
    """Pin the project clock (the sandbox agenda in this process reads it too)."""
    path = tmp_path / "clock"
    monkeypatch.setenv("CLOCK_FILE", str(path))
    return lambda moment: set_clock_file(path, moment)


def test_times_starting_within_the_lead_are_not_offered(service: BookingService, pin_clock):
    now = datetime(2026, 12, 8, 10, 40, tzinfo=get_settings().clinic_tz)
    pin_clock(now)
    free_today = service.agenda.available_times(now.date())
    assert any(moment < now + service.min_lead for moment in free_today)  # 11:00 is free
    offered = [datetime.fromisoformat(o["value"]) for o in service.time_options(now.date())]
    bookable = [moment for moment in free_today if moment >= now + service.min_lead]
    assert offered == bookable[:TIMES_OFFERED]
    assert offered and service.is_available_day(now.date())


def test_a_day_whose_free_times_all_start_too_soon_is_not_offered(
    service: BookingService, pin_clock
):
    now = datetime(2026, 12, 8, 17, 20, tzinfo=get_settings().clinic_tz)
    pin_clock(now)
    assert service.agenda.available_times(now.date())  # 17:30 is still free in the agenda
    assert not service.is_available_day(now.date())
    first_offered = date.fromisoformat(service.day_options()[0]["value"])
    assert first_offered > now.date()


def test_days_offered_inside_a_range_with_a_time_in_the_period(service: BookingService, pin_clock):
    pin_clock(datetime(2026, 12, 1, 10, 40, tzinfo=get_settings().clinic_tz))  # a Tuesday
    monday, sunday = date(2026, 12, 7), date(2026, 12, 13)
    offered = [date.fromisoformat(o["value"]) for o in service.day_options(monday, until=sunday)]
    expected = [
        day
        for day in (monday + timedelta(days=offset) for offset in range(7))
        if service.agenda.available_times(day)
    ]
    assert offered == expected and all(day.weekday() < 5 for day in offered)
    early = service.day_options(monday, until=sunday, period="cedo")
    assert early
    for option in early:
        times = service.agenda.available_times(date.fromisoformat(option["value"]))
        assert any(8 <= moment.hour < 10 for moment in times)


def test_a_weekend_range_offers_nothing(service: BookingService, pin_clock):
    pin_clock(datetime(2026, 12, 1, 10, 40, tzinfo=get_settings().clinic_tz))
    assert service.day_options(date(2026, 12, 5), until=date(2026, 12, 6)) == []


@pytest.mark.parametrize(
    ("period", "first", "end"),
    [
        ("depois_do_almoco", "14:00", "16:00"),
        ("cedo", "08:00", "10:00"),
        ("manha", "00:00", "12:00"),
    ],
)
def test_times_inside_the_window_of_clinic_yml(
    service: BookingService, pin_clock, period: str, first: str, end: str
):
    pin_clock(datetime(2026, 12, 1, 10, 40, tzinfo=get_settings().clinic_tz))
    day = date.fromisoformat(service.day_options(period=period)[0]["value"])
    offered = [datetime.fromisoformat(o["value"]) for o in service.time_options(day, period)]
    assert offered
    assert all(first <= f"{moment:%H:%M}" < end for moment in offered), offered
