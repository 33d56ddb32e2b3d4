"""A connector under test: its blueprint in a real Sanic server, the sandbox fakes on another,
the outbox on a throwaway database. Rasa is replaced by a small echo bot (the end-to-end tests
run the real one). Also both providers' connectors as the sandbox configures them, and the
inbound event a provider's parsing hands on, for the core's tests."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.sandbox.server import BackgroundServer, create_sandbox_app
from clinicbot.settings import (
    SANDBOX_META_APP_SECRET,
    SANDBOX_META_PHONE_NUMBER_ID,
    SANDBOX_META_VERIFY_TOKEN,
    SANDBOX_ZAPI_INSTANCE_ID,
    SANDBOX_ZAPI_INSTANCE_TOKEN,
    Settings,
    read_settings,
)
from clinicbot.whatsapp.delivery import DeliveryWorker
from clinicbot.whatsapp.events import InboundEvent, InboundKind
from clinicbot.whatsapp.meta.connector import MetaInput
from clinicbot.whatsapp.meta.signature import sign
from clinicbot.whatsapp.zapi.connector import ZapiInput


class EchoBot:
    """Answers ``menu`` with a two-option menu and anything else with ``eco: <text>``.

    While ``hold`` is set to an unset event, each turn waits for it (a slow Rasa).
    """

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []
        self.hold: threading.Event | None = None

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
        output = message.output_channel
        if message.text == "menu":
            buttons = [
                {"title": "terça, 01/12", "payload": "1"},
                {"title": "quarta", "payload": "2"},
            ]
            await output.send_text_with_buttons(message.sender_id, "Escolha o dia:", buttons)
        else:
            await output.send_text_message(message.sender_id, f"eco: {message.text}")


class ConnectorHarness:
    """``bot`` stands in for Rasa (default: an :class:`EchoBot`)."""

    def __init__(
        self,
        engine: Engine,
        make_channel: Callable[[Settings, DeliveryWorker], InputChannel],
        bot: Any = None,
        **settings: Any,
    ) -> None:
        sandbox_app = create_sandbox_app(name=f"sandbox-{uuid.uuid4().hex[:8]}")
        self.sandbox = BackgroundServer(sandbox_app).start()
        self.fakes = sandbox_app.ctx
        self.settings = dataclasses.replace(
            read_settings(),
            zapi_base_url=self.sandbox.url,
            meta_graph_url=self.sandbox.url,
            outbox_retry_max_seconds=0.5,
            **settings,
        )
        self.engine = engine
        self.worker = DeliveryWorker.from_settings(self.settings, engine)
        self.channel = make_channel(self.settings, self.worker)
        self.bot = bot or EchoBot()
        app = Sanic(f"connector-{uuid.uuid4().hex[:8]}")
        prefix = f"/webhooks/{self.channel.name()}"
        app.blueprint(self.channel.blueprint(self.bot), url_prefix=prefix)
        self.server = BackgroundServer(app).start()
        self.url = self.server.url + prefix

    def stop(self) -> None:
        self.server.stop()
        self.sandbox.stop()

    def post(self, path: str = "/webhook", **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)


ZAPI_TOKEN = {"z-api-token": SANDBOX_ZAPI_INSTANCE_TOKEN}


def make_zapi(secret: str = "") -> Callable[[Settings, DeliveryWorker], ZapiInput]:
    """The Z-API connector of the sandbox instance (``secret``: its webhook path secret)."""
    return lambda settings, worker: ZapiInput(
        SANDBOX_ZAPI_INSTANCE_ID,
        SANDBOX_ZAPI_INSTANCE_TOKEN,
        secret,
        settings=settings,
        worker=worker,
    )


def make_meta(settings: Settings, worker: DeliveryWorker) -> MetaInput:
    """The Meta connector of the sandbox phone number."""
    return MetaInput(
        SANDBOX_META_APP_SECRET,
        SANDBOX_META_VERIFY_TOKEN,
        SANDBOX_META_PHONE_NUMBER_ID,
        settings=settings,
        worker=worker,
    )


def post_signed(
    harness: ConnectorHarness, payload: Any, secret: str = SANDBOX_META_APP_SECRET
) -> requests.Response:
    """POST ``payload`` (JSON, or the raw body when bytes) signed as Meta signs it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, secret)}
    return harness.post(data=body, headers=headers)


def wait_settled(engine: Engine, *, deliveries: bool = True) -> None:
    """Until every stored turn has run and (with ``deliveries``) the outbox is empty: only then
    can a test say that something was *not* answered or sent."""

    def settled() -> bool:
        with engine.connect() as connection:
            open_turns = connection.execute(
                text(
                    "SELECT COUNT(*) FROM conversation_messages "
                    "WHERE direction = 'in' AND status IN ('received', 'processing')"
                )
            ).scalar()
            undelivered = connection.execute(
                text("SELECT COUNT(*) FROM outbox_messages WHERE status IN ('pending', 'sending')")
            ).scalar()
        return open_turns == 0 and (undelivered == 0 or not deliveries)

    wait_for(settled)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def text_event(message_id: str, phone: str = "5531988887777", text: str = "oi") -> InboundEvent:
    """A patient's text as a provider's parsing would hand it on."""
    return InboundEvent(
        InboundKind.MESSAGE,
        reason="text",
        phone=phone,
        message_id=message_id,
        text=text,
        data={"chat_id": phone},
    )
