"""Scheduled jobs: their bodies, and the scheduler running inside the clinic service."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.scheduler import Jobs
from clinicbot.settings import read_settings
from clinicbot.web.app import create_app
from tests.services.notify_support import MARINA, START, FrozenClock, add_appointments, outbox


def test_the_jobs_lapse_offers_and_send_due_messages(
    engine: Engine, agenda: GestaoDSClient, clock: FrozenClock, fake: FakeGestaoDS
) -> None:
    add_appointments(engine, 1, START + timedelta(days=1, hours=2))
    jobs = Jobs(read_settings(), engine=engine, agenda=agenda, clock=clock)
    jobs.seed_templates()
    jobs.tick()
    assert outbox(engine) == []
    clock.advance(hours=2)
    jobs.tick()
    jobs.tick()
    assert len(outbox(engine)) == 1  # the 24 h reminder, once


def test_the_clinic_service_runs_the_scheduler(engine: Engine) -> None:
    """The real scheduler in the real service (real clock: quiet hours off for the test)."""
    with session_scope(engine) as session:
        starts_at = utcnow().replace(second=0, microsecond=0) + timedelta(hours=3)
        appointment = Appointment(
            gestaods_id="ag-live",
            phone=MARINA[1],
            cpf=MARINA[0],
            patient_name=MARINA[2],
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
        )
        session.add(appointment)
        session.flush()
        session.add(
            Notification(
                kind="reminder",
                phone=MARINA[1],
                appointment_id=appointment.id,
                scheduled_for=utcnow() - timedelta(minutes=1),
                payload={"starts_at": starts_at.astimezone(timezone.utc).isoformat()},
                dedupe_key="reminder:live",
            )
        )
    settings = dataclasses.replace(
        read_settings(),
        database_url=engine.url.render_as_string(hide_password=False),
        quiet_hours_start=datetime.min.time(),
        quiet_hours_end=datetime.min.time(),
        scheduler_poll_seconds=1,
    )
    app = create_app(settings, name=f"test-scheduler-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app):
        deadline = time.monotonic() + 15
        while not outbox(engine) and time.monotonic() < deadline:
            time.sleep(0.2)
    [message] = outbox(engine)
    assert message.text.startswith("Oi, Marina! 😊 Passando para lembrar da sua consulta")
