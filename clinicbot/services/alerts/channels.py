"""How the staff hear of an alert: WhatsApp (through the outbox), e-mail (SMTP), a webhook.

Each channel configured in the settings gets every notice; one that fails is retried at the
next evaluation (:mod:`clinicbot.services.alerts.evaluator`). WhatsApp goes through the outbox
like any message (so it waits out a Z-API outage; e-mail and the webhook do not depend on
WhatsApp, which is why they exist).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import requests
from sqlalchemy.orm import Session

from clinicbot.settings import Settings
from clinicbot.whatsapp.outbox import enqueue_text

SIGNATURE_HEADER = "X-Clinicbot-Signature"


@dataclass(frozen=True)
class Notice:
    """One message about one alert: ``kind`` is ``open`` or ``resolved``."""

    alert_id: int
    clinic_id: int
    condition: str
    kind: str
    title: str
    text: str
    payload: dict[str, Any]


class Channel(Protocol):
    name: str

    def send(self, session: Session, notice: Notice) -> None:
        """Deliver ``notice`` (or hand it to a durable queue); raise when that failed."""


class WhatsAppChannel:
    """A message to the staff phone, queued in the outbox in the evaluator's transaction."""

    name = "whatsapp"

    def __init__(self, phone: str, channel: str) -> None:
        self.phone = phone
        self.channel = channel

    def send(self, session: Session, notice: Notice) -> None:
        enqueue_text(
            session,
            self.phone,
            notice.text,
            channel=self.channel,
            dedupe_key=f"alert:{notice.alert_id}:{notice.kind}",
        )


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, session: Session, notice: Notice) -> None:
        settings = self.settings
        message = EmailMessage()
        message["Subject"] = notice.title
        message["From"] = settings.alert_email_from or settings.smtp_user or "clinicbot@localhost"
        message["To"] = ", ".join(settings.alert_email_to)
        message["X-Clinicbot-Alert"] = f"{notice.condition}:{notice.kind}:{notice.alert_id}"
        message.set_content(notice.text)
        timeout = settings.smtp_timeout_seconds
        context = ssl.create_default_context()
        server: smtplib.SMTP
        if settings.smtp_security == "ssl":
            server = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
            )
        else:
            server = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with server:
            if settings.smtp_security == "starttls":
                server.starttls(context=context)
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password)
            server.send_message(message)


class WebhookChannel:
    """A JSON POST; with ``ALERT_WEBHOOK_SECRET``, signed like GitHub's webhooks:
    ``X-Clinicbot-Signature: sha256=<HMAC-SHA256 of the body>``. Any 2xx is delivered."""

    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout

    def send(self, session: Session, notice: Notice) -> None:
        body = json.dumps(notice.payload, ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
        response.raise_for_status()


def configured_channels(settings: Settings) -> list[Channel]:
    """Every channel the settings configure (none: alerts are only recorded and logged)."""
    channels: list[Channel] = []
    if settings.alert_whatsapp_phone:
        channels.append(
            WhatsAppChannel(settings.alert_whatsapp_phone, settings.alert_whatsapp_channel)
        )
    if settings.smtp_host and settings.alert_email_to:
        channels.append(EmailChannel(settings))
    if settings.alert_webhook_url:
        channels.append(
            WebhookChannel(
                settings.alert_webhook_url,
                settings.alert_webhook_secret,
                settings.alert_webhook_timeout_seconds,
            )
        )
    return channels
