"""Constants and helpers shared by the notification, waiting-list and scheduler tests."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification, OutboxMessage
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.services.notifications.scheduling import schedule_for_appointment
from clinicbot.whatsapp.delivery import DeliveryFailed, DeliveryWorker, OutgoingMessage

TZ = ZoneInfo("America/Sao_Paulo")
TOKEN = "notify-test-token"
TODAY = date(2031, 3, 10)  # a Monday; the fake's agenda starts here
START = datetime.combine(TODAY, time(9), tzinfo=TZ)  # the clock at the start of each test
POLICY = NotificationPolicy(tz=TZ)
# Registered in the fake (seeded patients) and valid CPFs.
MARINA = ("39053344705", "5531988887777", "Marina Alves Prado")
JOAO = ("52998224725", "5531977776666", "João Pedro Santos")
HELENA = ("11144477735", "5531966665555", "Helena Costa Ribeiro")
RAFAEL = ("93541134780", "5531955554444", "Rafael Moura Dias")


class FrozenClock:
    """A clock that only moves when told to; ``clock()`` is an aware UTC datetime."""

    def __init__(self, moment: datetime) -> None:
        self.now = moment.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.astimezone(timezone.utc)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def outbox(engine: Engine) -> list[OutboxMessage]:
    """Everything enqueued for delivery, oldest first."""
    with session_scope(engine) as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


class Provider:
    """Stands in for Z-API behind the outbox: accepts every message, or refuses them for good."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept

    async def send(self, message: OutgoingMessage) -> str:
        if not self.accept:
            raise DeliveryFailed("HTTP 400 phone not on WhatsApp", retryable=False)
        return f"ext-{message.id}"

    async def close(self) -> None:
        pass


def deliver(engine: Engine, *, accept: bool = True) -> int:
    """What the rasa process's delivery worker does with everything queued; how many rows it
    handled."""
    worker = DeliveryWorker({"zapi": Provider(accept=accept)}, engine=engine)

    async def drain() -> int:
        total = 0
        while handled := await worker.run_once():
            total += handled
        return total

    return asyncio.run(drain())


def scheduled(engine: Engine) -> list[tuple[str, datetime, str]]:
    """Every notification as (kind, clinic time it is scheduled for, status), soonest first."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Notification.kind, Notification.scheduled_for, Notification.status).order_by(
                Notification.scheduled_for
            )
        ).all()
    return [(kind, when.astimezone(TZ), status) for kind, when, status in rows]


def free_slot(fake: FakeGestaoDS, starts_at: datetime) -> None:
    """Cancel whatever the seeded agenda booked at ``starts_at`` (it books ~20% at random)."""
    for appointment in list(fake.appointments.values()):
        if appointment.starts_at == starts_at and appointment.active:
            appointment.cancelado = True


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """Clinic time on the test week's Monday + ``day_offset`` days."""
    return datetime.combine(TODAY + timedelta(days=day_offset), time(hour, minute), tzinfo=TZ)


def book(
    engine: Engine,
    agenda: GestaoDSClient,
    fake: FakeGestaoDS,
    clock: FrozenClock,
    starts_at: datetime,
) -> Appointment:
    """Book Marina in the fake, keep the local copy and schedule its notifications."""
    cpf, phone, name = MARINA
    free_slot(fake, starts_at)
    booked = agenda.book(cpf=cpf, starts_at=starts_at)
    with session_scope(engine) as session:
        appointment = Appointment(
            gestaods_id=booked.id,
            phone=phone,
            cpf=cpf,
            patient_name=name,
            starts_at=booked.starts_at.astimezone(timezone.utc),
            ends_at=(booked.ends_at or booked.starts_at).astimezone(timezone.utc),
        )
        session.add(appointment)
        schedule_for_appointment(session, appointment, now=clock(), policy=POLICY)
    return appointment


def add_appointments(
    engine: Engine, count: int, first_start: datetime, *, confirmation: bool = False
) -> None:
    """``count`` appointments 30 min apart, with their notifications scheduled at ``START``."""
    cpf, phone, name = MARINA
    with session_scope(engine) as session:
        for index in range(count):
            starts_at = first_start + timedelta(minutes=30 * index)
            appointment = Appointment(
                gestaods_id=f"ag-{index}",
                phone=f"{phone[:-3]}{index:03d}",
                cpf=cpf,
                patient_name=name,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
            )
            session.add(appointment)
            schedule_for_appointment(
                session, appointment, now=START, policy=POLICY, confirmation=confirmation
            )
