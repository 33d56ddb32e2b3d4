"""Alerts per clinic: the scheduler's pass over the clinics (ClinicJobs) evaluates each clinic's
conditions from its own rows and tells its own contacts only, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy.engine import Engine

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.settings import Settings
from clinicbot.tenancy.jobs import ClinicJobs
from clinicbot.tenancy.registry import NewClinic, add_clinic, clinic_by_slug
from tests.alerts.support import WebhookReceiver
from tests.alerts.test_evaluator import NOW, alerts
from tests.services.notify_support import FrozenClock, outbox

STAFF_A = "5531911110001"
STAFF_B = "5531922220002"
SECRET_B = "segredo-da-clinica-sul"
KEY = "6Kw0rTbl5S0vQ3pJ2n0mJ3KJ9qjv1a0g2F6uYc8fZ2s="


def _dead_message(engine: Engine, clinic_id: int, at: datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            models.OutboxMessage(
                clinic_id=clinic_id,
                channel="zapi",
                phone="5531988887777",
                text="Sua consulta está confirmada",
                status="dead",
                updated_at=at,
            )
        )


def test_each_clinics_alerts_go_to_its_own_contacts(
    engine: Engine, settings: Settings, webhook: tuple[WebhookReceiver, str]
) -> None:
    receiver, url = webhook
    settings = dataclasses.replace(settings, alert_whatsapp_phone=STAFF_A, clinic_secrets_keys=KEY)
    options = {
        "alert_whatsapp_phone": STAFF_B,
        "alert_webhook_url": url,
        "alert_webhook_secret": SECRET_B,
    }
    with session_scope(engine) as session:
        sul, _ = add_clinic(session, NewClinic(slug="sul", name="Sul", options=options), settings)
    with session_scope(engine) as session:
        stored = session.get(models.ClinicRecord, sul)
        assert stored is not None and stored.options["alert_webhook_secret"] != SECRET_B
        assert clinic_by_slug(session, "sul", settings).options["alert_webhook_secret"] == SECRET_B
    jobs = ClinicJobs(settings, engine=engine, clock=FrozenClock(NOW))

    _dead_message(engine, sul, NOW)
    jobs.evaluate_alerts()
    assert [(a.clinic_id, a.condition, a.status) for a in alerts(engine)] == [
        (sul, "dead_letters", "open")
    ]
    told = [(m.clinic_id, m.phone) for m in outbox(engine) if m.status != "dead"]
    assert told == [(sul, STAFF_B)]  # from the clinic's own number, to its own staff
    ((headers, body),) = receiver.calls
    assert json.loads(body)["clinic_id"] == sul
    signature = hmac.new(SECRET_B.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-clinicbot-signature"] == f"sha256={signature}"

    _dead_message(engine, 1, NOW)
    jobs.evaluate_alerts()
    assert sorted((a.clinic_id, a.condition) for a in alerts(engine)) == [
        (1, "dead_letters"),
        (sul, "dead_letters"),
    ]
    told = [(m.clinic_id, m.phone) for m in outbox(engine) if m.status != "dead"]
    assert told == [(sul, STAFF_B), (1, STAFF_A)]
    assert len(receiver.calls) == 1  # the default clinic has no webhook: clinic B's is not it


def test_a_clinic_without_contacts_is_not_told_through_the_defaults(
    engine: Engine, settings: Settings
) -> None:
    settings = dataclasses.replace(settings, alert_whatsapp_phone=STAFF_A, clinic_secrets_keys=KEY)
    with session_scope(engine) as session:
        norte, _ = add_clinic(session, NewClinic(slug="norte", name="Norte"), settings)
        config = clinic_by_slug(session, "norte", settings)
    assert config is not None
    clinic_settings = config.settings(settings)
    assert clinic_settings.alert_whatsapp_phone == "" and clinic_settings.alert_email_to == ()
    _dead_message(engine, norte, NOW)
    ClinicJobs(settings, engine=engine, clock=FrozenClock(NOW)).evaluate_alerts()
    assert [(a.clinic_id, a.condition) for a in alerts(engine)] == [(norte, "dead_letters")]
    assert [m.phone for m in outbox(engine) if m.status != "dead"] == []
