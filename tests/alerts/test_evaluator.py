"""Alerts end to end: opened once, told once on every channel, resolved once.

Real SMTP (aiosmtpd), a real webhook receiver over HTTP, WhatsApp through the outbox table,
the Z-API fake over HTTP, on SQLite and PostgreSQL, under a pinned clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.db.types import utcnow
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi
from clinicbot.services.alerts.evaluator import AlertEvaluator, Evaluation
from clinicbot.settings import Settings
from clinicbot.web.app import create_app
from tests.alerts.support import SmtpInbox, WebhookReceiver, free_port
from tests.services.notify_support import FrozenClock, outbox

TZ = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2031, 3, 10, 11, 0, tzinfo=TZ)
STAFF_PHONE = "5531912345678"
SECRET = "webhook-test-secret"


def alerts(engine: Engine) -> list[models.Alert]:
    with session_scope(engine) as session:
        return list(session.execute(select(models.Alert).order_by(models.Alert.id)).scalars())


def dead_outbox_row(engine: Engine, at: datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            models.OutboxMessage(
                channel="zapi",
                phone="5531988887777",
                text="Sua consulta está confirmada",
                status="dead",
                updated_at=at,
            )
        )


@pytest.fixture
def wired(
    settings: Settings,
    smtp: tuple[SmtpInbox, int],
    webhook: tuple[WebhookReceiver, str],
) -> Settings:
    """Every channel configured: staff WhatsApp, e-mail to two people, a signed webhook."""
    return dataclasses.replace(
        settings,
        alert_whatsapp_phone=STAFF_PHONE,
        alert_whatsapp_channel="zapi",
        alert_email_to=("recepcao@clinica.test", "ti@clinica.test"),
        alert_email_from="assistente@clinica.test",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        alert_webhook_url=webhook[1],
        alert_webhook_secret=SECRET,
    )


def test_an_alert_is_told_once_on_every_channel_and_resolved_once(
    engine: Engine,
    wired: Settings,
    zapi: FakeZapi,
    smtp: tuple[SmtpInbox, int],
    webhook: tuple[WebhookReceiver, str],
) -> None:
    inbox, receiver = smtp[0], webhook[0]
    clock = FrozenClock(NOW)
    evaluator = AlertEvaluator(wired, engine=engine, clock=clock)
    assert evaluator.evaluate() == Evaluation()  # all quiet: nothing at all
    assert alerts(engine) == []

    dead_outbox_row(engine, NOW - timedelta(minutes=5))
    first = evaluator.evaluate()
    assert first.opened == ["dead_letters"]
    assert sorted(first.sent) == [
        ("dead_letters", "open", "email"),
        ("dead_letters", "open", "webhook"),
        ("dead_letters", "open", "whatsapp"),
    ]
    [alert] = alerts(engine)
    assert alert.status == "open" and alert.clinic_id == 1 and alert.delivery_error is None

    # WhatsApp: one message to the staff phone, in the outbox.
    [staff_message] = [row for row in outbox(engine) if row.phone == STAFF_PHONE]
    assert staff_message.text.startswith("⚠️ Alerta do assistente: nas últimas 24 h, 1 mensagem")
    # E-mail: one message to both addresses.
    [mail] = inbox.messages
    assert mail["Subject"] == "[Assistente] Alerta: mensagens não entregues"
    assert sorted(inbox.recipients[0]) == ["recepcao@clinica.test", "ti@clinica.test"]
    assert "1 mensagem não foi entregue ao paciente" in mail.get_content()
    # Webhook: signed JSON.
    [(headers, body)] = receiver.calls
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-clinicbot-signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["condition"] == "dead_letters" and payload["state"] == "open"
    assert payload["details"]["outbox_dead"] == 1 and payload["alert_id"] == alert.id

    # Still true a minute later: no second alert, no second notice.
    clock.advance(minutes=1)
    again = evaluator.evaluate()
    assert again.opened == [] and again.sent == []
    assert len(alerts(engine)) == 1 and len(inbox.messages) == 1 and len(receiver.calls) == 1

    # A day later the dead letter is out of the window: resolved, told once per channel.
    clock.advance(hours=24)
    cleared = evaluator.evaluate()
    assert cleared.resolved == ["dead_letters"]
    assert sorted(channel for _c, kind, channel in cleared.sent if kind == "resolved") == [
        "email",
        "webhook",
        "whatsapp",
    ]
    [alert] = alerts(engine)
    assert alert.status == "resolved" and alert.resolved_at == clock()
    assert inbox.messages[1]["Subject"] == "[Assistente] Resolvido: mensagens não entregues"
    resolved_text = [row.text for row in outbox(engine) if row.phone == STAFF_PHONE][1]
    assert resolved_text == (
        "✅ Resolvido: nenhuma mensagem nova deixou de ser entregue ou respondida. "
        "(alerta de 10/03 11:00, durou 24 h 1 min)"
    )
    assert json.loads(receiver.calls[1][1])["state"] == "resolved"
    assert evaluator.evaluate().sent == []

    # It happens again: a new alert (the old one stays resolved, as history).
    dead_outbox_row(engine, clock() - timedelta(minutes=1))
    assert evaluator.evaluate().opened == ["dead_letters"]
    assert [a.status for a in alerts(engine)] == ["resolved", "open"]


def test_a_channel_that_failed_is_retried_alone(
    engine: Engine,
    wired: Settings,
    zapi: FakeZapi,
    smtp: tuple[SmtpInbox, int],
    webhook: tuple[WebhookReceiver, str],
) -> None:
    """SMTP down and the webhook refusing: WhatsApp goes; the others are retried next time,
    and WhatsApp is not sent twice."""
    inbox, receiver = smtp[0], webhook[0]
    clock = FrozenClock(NOW)
    smtp_down = dataclasses.replace(wired, smtp_port=free_port())
    receiver.status = 500
    zapi.connected = False
    first = AlertEvaluator(smtp_down, engine=engine, clock=clock).evaluate()
    assert first.opened == ["zapi_disconnected"]
    assert first.sent == [("zapi_disconnected", "open", "whatsapp")]
    assert sorted(channel for _c, _k, channel in first.failed) == ["email", "webhook"]
    [alert] = alerts(engine)
    assert "email:" in (alert.delivery_error or "") and "webhook:" in (alert.delivery_error or "")

    receiver.status = 200
    clock.advance(minutes=1)
    second = AlertEvaluator(wired, engine=engine, clock=clock).evaluate()
    assert sorted(second.sent) == [
        ("zapi_disconnected", "open", "email"),
        ("zapi_disconnected", "open", "webhook"),
    ]
    assert second.failed == []
    assert len([row for row in outbox(engine) if row.phone == STAFF_PHONE]) == 1
    assert len(inbox.messages) == 1
    assert "desconectado (You are not connected.)" in inbox.messages[0].get_content()
    assert alerts(engine)[0].delivery_error is None

    zapi.reset()  # the phone reconnected
    clock.advance(minutes=1)
    third = AlertEvaluator(wired, engine=engine, clock=clock).evaluate()
    assert third.resolved == ["zapi_disconnected"] and len(third.sent) == 3


def test_a_failing_check_neither_opens_nor_resolves(
    engine: Engine, settings: Settings, zapi: FakeZapi
) -> None:
    clock = FrozenClock(NOW)
    evaluator = AlertEvaluator(settings, engine=engine, clock=clock)
    dead_outbox_row(engine, NOW)
    assert evaluator.evaluate().opened == ["dead_letters"]
    checks = evaluator.checks()

    def broken(now: datetime) -> None:
        raise RuntimeError("database restarting")

    evaluator.checks = lambda clinic_id=1: {**checks, "dead_letters": broken}  # type: ignore[method-assign]
    clock.advance(days=2)
    result = evaluator.evaluate()
    assert result.resolved == [] and alerts(engine)[0].status == "open"


def test_one_open_alert_per_clinic_and_condition(engine: Engine) -> None:
    """The partial unique index: what keeps racing scheduler instances to one alert."""

    def open_alert(clinic_id: int) -> models.Alert:
        return models.Alert(
            clinic_id=clinic_id, condition="backup", summary="x", opened_at=NOW, status="open"
        )

    with session_scope(engine) as session:
        session.add(models.ClinicRecord(id=2, slug="segunda", name="Segunda"))
    with session_scope(engine) as session:
        session.add_all([open_alert(1), open_alert(2)])
        session.add(
            models.Alert(
                condition="backup", summary="x", opened_at=NOW, status="resolved", resolved_at=NOW
            )
        )
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(open_alert(1))


def test_the_clinic_service_checks_and_sends_alerts(
    engine: Engine, settings: Settings, webhook: tuple[WebhookReceiver, str]
) -> None:
    """The real scheduler in the real service (real clock) opens the alert and calls the
    webhook; the alert job runs every second here."""
    receiver, url = webhook
    dead_outbox_row(engine, utcnow())
    service_settings = dataclasses.replace(
        settings,
        database_url=engine.url.render_as_string(hide_password=False),
        alert_check_seconds=1,
        alert_webhook_url=url,
        alert_silence_business_hours=0,
        scheduler_poll_seconds=3600,
        backup_schedule="off",
    )
    app = create_app(service_settings, name=f"test-alerts-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app):
        deadline = time.monotonic() + 20
        while not receiver.calls and time.monotonic() < deadline:
            time.sleep(0.2)
    [(_headers, body)] = receiver.calls
    assert json.loads(body)["condition"] == "dead_letters"
    assert [(a.condition, a.status) for a in alerts(engine)] == [("dead_letters", "open")]
