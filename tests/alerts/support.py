"""Real servers the alerts talk to: SMTP (aiosmtpd), a webhook receiver, the Z-API fake."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint

ZAPI_INSTANCE = "ALERTSINSTANCE01"
ZAPI_TOKEN = "alerts-instance-token"
ZAPI_CLIENT_TOKEN = "alerts-client-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpInbox:
    """What an SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[tuple[SmtpInbox, int]]:
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class WebhookReceiver:
    """Records each POST; answers ``status`` (set it to 500 to refuse)."""

    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@contextmanager
def webhook_server() -> Iterator[tuple[WebhookReceiver, str]]:
    receiver = WebhookReceiver()
    app = Sanic(f"alerts-hook-{uuid.uuid4().hex[:8]}")

    @app.post("/hook")
    async def hook(request: Request) -> HTTPResponse:
        receiver.calls.append((dict(request.headers), request.body))
        return json({"ok": receiver.status < 400}, status=receiver.status)

    with BackgroundServer(app) as server:
        yield receiver, f"{server.url}/hook"


@contextmanager
def zapi_server() -> Iterator[tuple[FakeZapi, str]]:
    fake = FakeZapi(ZAPI_INSTANCE, ZAPI_TOKEN, ZAPI_CLIENT_TOKEN)
    app = Sanic(f"alerts-zapi-{uuid.uuid4().hex[:8]}")
    app.blueprint(create_zapi_blueprint(fake))
    with BackgroundServer(app) as server:
        yield fake, server.url
