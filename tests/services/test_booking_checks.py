"""Uncertain bookings (issue 12): the agenda loses its answer to a booking, the attempt is kept,
the scheduler's check finds the appointment (or not) and the patient is told once.

The sandbox agenda over real HTTP, on its real clock; the database on SQLite and PostgreSQL.
Time passes for the checker through its clock (``Shifted``), never by sleeping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import get_engine, session_scope
from clinicbot.db.models import Appointment, BookingAttempt, Notification, OutboxMessage
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.booking import BookingService
from clinicbot.services.booking_attempts import (
    IN_FLIGHT_GRACE,
    BookingBeingConfirmed,
    BookingInProgress,
    open_attempt,
)
from clinicbot.services.booking_checks import BookingChecker
from clinicbot.settings import get_settings
from tests.services.notify_support import MARINA, TOKEN, TZ

INTERVAL = timedelta(seconds=30)
WINDOW = timedelta(minutes=5)
CPF, PHONE, NAME = MARINA


class Shifted:
    """The real clock, moved ahead by ``shift``."""

    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.shift


@pytest.fixture(scope="module")
def agenda_url() -> Iterator[str]:
    fake = FakeGestaoDS(TOKEN, TZ)
    with BackgroundServer(create_app(fake, name=f"checks-{uuid.uuid4().hex[:8]}")) as server:
        yield server.url


@pytest.fixture
def client(agenda_url: str) -> GestaoDSClient:
    requests.post(f"{agenda_url}/__sandbox/gestaods/reset", timeout=5).raise_for_status()
    return GestaoDSClient(agenda_url, TOKEN, tz=TZ, cache_ttl=0, retry_wait=0.01)


@pytest.fixture
def default_database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """``engine``'s database as the process's default one (what the action server uses)."""
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BOOKING_CHECK_INTERVAL_SECONDS", str(INTERVAL.total_seconds()))
    monkeypatch.setenv("BOOKING_CHECK_WINDOW_SECONDS", str(WINDOW.total_seconds()))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield engine
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def service(client: GestaoDSClient, default_database: Engine) -> BookingService:
    return BookingService(agenda=client)


@pytest.fixture
def clock() -> Shifted:
    return Shifted()


@pytest.fixture
def checker(client: GestaoDSClient, engine: Engine, clock: Shifted) -> BookingChecker:
    return BookingChecker(agenda=client, interval=INTERVAL, engine=engine, clock=clock)


def fail_next(agenda_url: str, mode: str, path: str, count: int = 1, delay: float = 0) -> None:
    body = {"mode": mode, "path": path, "count": count, "delay": delay}
    requests.post(
        f"{agenda_url}/__sandbox/gestaods/failures", json=body, timeout=5
    ).raise_for_status()


def clear_failures(agenda_url: str) -> None:
    requests.post(f"{agenda_url}/__sandbox/gestaods/failures", json={"mode": "none"}, timeout=5)


def free_slot(service: BookingService, index: int = 0) -> datetime:
    """An afternoon slot a few days ahead (both reminders fit before it)."""
    day = date.fromisoformat(service.day_options()[3]["value"])
    return [t for t in service.agenda.available_times(day) if t.hour >= 14][index]


def agenda_appointments(agenda_url: str) -> list[dict[str, object]]:
    state = requests.get(f"{agenda_url}/__sandbox/gestaods/state", timeout=5).json()
    return [a for a in state["appointments"] if a["cpf"] == CPF and not a["cancelado"]]


def wait_for(condition: object, deadline: float = 10.0) -> None:
    give_up = time.monotonic() + deadline
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < give_up, "not reached in time"
        time.sleep(0.05)


def attempts(engine: Engine) -> list[tuple[str, int | None]]:
    with session_scope(engine) as session:
        return [
            (row.status, row.appointment_id)
            for row in session.execute(select(BookingAttempt).order_by(BookingAttempt.id)).scalars()
        ]


def texts(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.execute(select(OutboxMessage.text).order_by(OutboxMessage.id)).scalars()
        )


def count(engine: Engine, model: type) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def book(service: BookingService, slot: datetime) -> None:
    service.book(phone=PHONE, cpf=CPF, starts_at=slot, patient_name=NAME)


def test_a_booking_the_agenda_commits_after_losing_its_answer_is_confirmed_once(
    service: BookingService,
    checker: BookingChecker,
    clock: Shifted,
    engine: Engine,
    agenda_url: str,
) -> None:
    slot = free_slot(service)
    fail_next(agenda_url, "late_commit", "agendar/", delay=0.5)
    with pytest.raises(BookingBeingConfirmed):
        book(service, slot)
    assert attempts(engine) == [("uncertain", None)]
    assert count(engine, Appointment) == 0 and texts(engine) == []
    assert checker.check_due() == {}  # not due before the interval

    wait_for(lambda: agenda_appointments(agenda_url))  # the agenda commits, late
    clock.shift = INTERVAL
    assert checker.check_due() == {"booked": 1}
    clock.shift = INTERVAL * 3
    assert checker.check_due() == {}

    [(status, appointment_id)] = attempts(engine)
    assert status == "booked" and appointment_id is not None
    with session_scope(engine) as session:
        stored = session.execute(select(Appointment)).scalar_one()
        reminders = session.execute(select(Notification.kind)).scalars().all()
    assert stored.starts_at == slot and stored.phone == PHONE
    assert sorted(reminders) == ["reminder", "reminder"]
    [told] = texts(engine)
    assert "Confirmei com a agenda" in told and slot.strftime("%H:%M") in told
    assert len(agenda_appointments(agenda_url)) == 1


def test_a_booking_never_made_is_reported_when_the_window_ends_and_may_be_tried_again(
    service: BookingService,
    checker: BookingChecker,
    clock: Shifted,
    engine: Engine,
    agenda_url: str,
) -> None:
    slot = free_slot(service)
    fail_next(agenda_url, "500", "agendar/")
    with pytest.raises(BookingBeingConfirmed):
        book(service, slot)
    clock.shift = INTERVAL
    assert checker.check_due() == {"waiting": 1}
    clock.shift = WINDOW + INTERVAL
    assert checker.check_due() == {"missing": 1}
    assert attempts(engine) == [("missing", None)]
    [told] = texts(engine)
    assert "não foi marcada" in told and "tentar de novo" in told
    assert count(engine, Appointment) == 0 and agenda_appointments(agenda_url) == []

    book(service, slot)  # the patient tries again: nothing stands in the way now
    assert [status for status, _ in attempts(engine)] == ["missing", "booked"]
    assert len(agenda_appointments(agenda_url)) == 1


def test_while_a_booking_is_uncertain_no_second_booking_is_sent(
    service: BookingService, engine: Engine, agenda_url: str
) -> None:
    first, second = free_slot(service, 0), free_slot(service, 1)
    fail_next(agenda_url, "500", "agendar/")
    with pytest.raises(BookingBeingConfirmed):
        book(service, first)
    for slot in (first, second):  # the same confirmation again, or another time
        with pytest.raises(BookingInProgress):
            book(service, slot)
    assert attempts(engine) == [("uncertain", None)]
    assert agenda_appointments(agenda_url) == []


def test_an_agenda_unreadable_until_the_window_ends_leaves_it_to_the_staff(
    service: BookingService,
    checker: BookingChecker,
    clock: Shifted,
    engine: Engine,
    agenda_url: str,
) -> None:
    slot = free_slot(service)
    fail_next(agenda_url, "500", "agendar/")
    with pytest.raises(BookingBeingConfirmed):
        book(service, slot)
    fail_next(agenda_url, "500", "paciente/agendamentos/", count=0)  # until cleared
    try:
        clock.shift = INTERVAL
        assert checker.check_due() == {"waiting": 1}
        clock.shift = WINDOW + INTERVAL
        assert checker.check_due() == {"unresolved": 1}
    finally:
        clear_failures(agenda_url)
    assert attempts(engine) == [("unresolved", None)]
    [told] = texts(engine)
    assert "equipe da clínica vai verificar" in told


def test_a_booking_whose_process_died_mid_request_is_checked_after_the_grace(
    service: BookingService,
    client: GestaoDSClient,
    checker: BookingChecker,
    clock: Shifted,
    engine: Engine,
) -> None:
    slot = free_slot(service)
    open_attempt(phone=PHONE, cpf=CPF, starts_at=slot, patient_name=NAME, first_visit=False)
    client.book(cpf=CPF, starts_at=slot)  # the request went through; its process then died
    clock.shift = INTERVAL
    assert checker.check_due() == {}  # it may still be on its way
    clock.shift = IN_FLIGHT_GRACE
    assert checker.check_due() == {"booked": 1}
    assert count(engine, Appointment) == 1 and len(texts(engine)) == 1


def test_two_checkers_tell_the_patient_once(
    service: BookingService,
    client: GestaoDSClient,
    clock: Shifted,
    engine: Engine,
    second_engine: Engine,
    agenda_url: str,
) -> None:
    slot = free_slot(service)
    fail_next(agenda_url, "error_after_commit", "agendar/")
    fail_next(agenda_url, "500", "paciente/agendamentos/", count=3)  # the immediate lookup fails
    with pytest.raises(BookingBeingConfirmed):
        book(service, slot)
    clock.shift = INTERVAL
    checkers = [
        BookingChecker(agenda=client, interval=INTERVAL, engine=each, clock=clock)
        for each in (engine, second_engine)
    ]
    outcomes = [checker.check_due() for checker in checkers]
    assert outcomes == [{"booked": 1}, {}]
    assert len(texts(engine)) == 1 and count(engine, Appointment) == 1
