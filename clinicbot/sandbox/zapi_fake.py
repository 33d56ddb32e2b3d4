"""A local fake of Z-API: the instance endpoints the assistant calls, plus sandbox controls.

Instance endpoints (paths, bodies, answers and error texts of Z-API, see
``shared/reference/third_party_apis.md`` §2):

- ``POST /instances/<id>/token/<token>/send-text``, ``send-option-list``, ``send-button-list``
- ``GET  /instances/<id>/token/<token>/status``

Checks, in Z-API's order: ``Client-Token`` header (missing → 400 "your client-token is not
configured", wrong → 403 "Client-Token <value> not allowed"), then instance id and token (mismatch →
404 "Instance not found": Z-API's status for this is undocumented, 404 is this fake's choice), then
``Content-Type: application/json`` (415) and the body (missing/invalid field → 400). The fake is
stricter than Z-API on the phone (digits, ``…@lid`` or ``…-group`` only) to catch formatting bugs.

Control endpoints (sandbox only), under ``/__sandbox/zapi/``:

- ``GET  messages?phone=<digits>&after=<seq>``: messages "delivered" to WhatsApp, in order, with
  ``seq`` > ``after``; answers ``{"messages": [...], "last": <highest seq so far>}``. ``seq`` keeps
  growing across resets so a poller never misses a message.
- ``POST reset``: forget messages, end any outage, reconnect the instance.
- ``POST connection``: ``{"connected": false, "error": "You are not connected."}`` makes
  ``/status`` report the instance disconnected (the phone lost its session), ``{"connected":
  true}`` reconnects it. Sending still works: the fake does not model Z-API's queueing.
- ``POST outage``: ``{"status": 500, "count": n}`` fails the next n instance calls;
  ``{"down": true}`` fails every call until ``{"down": false}``; add ``"timeout": true`` (and
  optionally ``"delay": seconds``, default 30) to hang before answering 504 instead. A failed call
  records nothing. ``status`` 400 answers the intermittent "client-token is not configured" error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint, Request
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, json

from clinicbot.pii import mask_phone
from clinicbot.whatsapp.zapi.errors import CLIENT_TOKEN_NOT_CONFIGURED
from clinicbot.whatsapp.zapi.payloads import new_message_id

logger = logging.getLogger(__name__)

_PHONE = re.compile(r"^(\d{10,15}|\d{6,20}@lid|[\d-]{6,40}-group)$")
_SEND_KINDS = {
    "send-text": "text",
    "send-option-list": "option-list",
    "send-button-list": "button-list",
}


@dataclass
class SentMessage:
    """One message the fake accepted, i.e. what the patient's WhatsApp would show."""

    seq: int
    phone: str
    kind: str
    message: str
    message_id: str
    zaap_id: str
    momment: int
    option_list: dict[str, Any] | None = None
    button_list: dict[str, Any] | None = None
    delay_typing: int | None = None
    delay_message: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "phone": self.phone,
            "kind": self.kind,
            "message": self.message,
            "messageId": self.message_id,
            "zaapId": self.zaap_id,
            "momment": self.momment,
            "time": datetime.fromtimestamp(self.momment / 1000, tz=timezone.utc).isoformat(),
            "optionList": self.option_list,
            "buttonList": self.button_list,
            "delayTyping": self.delay_typing,
            "delayMessage": self.delay_message,
        }


@dataclass
class Outage:
    """Failure mode of the fake: ``remaining`` calls (``None``: until lifted) answer ``status``."""

    status: int = 500
    remaining: int | None = None
    timeout: bool = False
    delay: float = 30.0


@dataclass
class FakeZapi:
    """State of one fake Z-API instance."""

    instance_id: str
    instance_token: str
    client_token: str
    messages: list[SentMessage] = field(default_factory=list)
    outage: Outage | None = None
    connected: bool = True
    disconnected_error: str = ""
    last_seq: int = field(default=0, init=False)

    def record(self, phone: str, kind: str, message: str, **extra: Any) -> SentMessage:
        self.last_seq += 1
        sent = SentMessage(
            seq=self.last_seq,
            phone=phone,
            kind=kind,
            message=message,
            message_id=new_message_id(),
            zaap_id=secrets.token_hex(13).upper(),
            momment=int(time.time() * 1000),
            **extra,
        )
        self.messages.append(sent)
        return sent

    def messages_after(self, after: int = 0, phone: str | None = None) -> list[SentMessage]:
        return [m for m in self.messages if m.seq > after and (phone is None or m.phone == phone)]

    def reset(self) -> None:
        self.messages.clear()
        self.outage = None
        self.connected = True
        self.disconnected_error = ""

    def status(self) -> dict[str, Any]:
        """``/status`` as Z-API answers it."""
        if self.connected:
            return {"connected": True, "error": "", "smartphoneConnected": True}
        error = self.disconnected_error or "You are not connected."
        return {"connected": False, "error": error, "smartphoneConnected": False}

    def take_outage(self) -> Outage | None:
        """The outage that applies to the current call, consuming one of its counted failures."""
        outage = self.outage
        if outage is None:
            return None
        if outage.remaining is not None:
            outage.remaining -= 1
            if outage.remaining <= 0:
                self.outage = None
        return outage


def _error(status: int, message: str) -> HTTPResponse:
    return json({"error": message}, status=status)


def _body_error(body: Any, kind: str) -> str | None:
    """What is wrong with a send body, or ``None``."""
    if not isinstance(body, dict):
        return "Body must be a JSON object"
    for name in ("phone", "message"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return f"Field {name} is required"
    if not _PHONE.match(body["phone"]):
        return f"Invalid phone {body['phone']!r}: use digits only (country + area code + number)"
    if kind == "option-list":
        option_list = body.get("optionList")
        options = option_list.get("options") if isinstance(option_list, dict) else None
        if not options or not all(isinstance(o, dict) and o.get("title") for o in options):
            return "Field optionList.options is required (each with a title)"
    if kind == "button-list":
        button_list = body.get("buttonList")
        buttons = button_list.get("buttons") if isinstance(button_list, dict) else None
        if not buttons or not all(isinstance(b, dict) and b.get("label") for b in buttons):
            return "Field buttonList.buttons is required (each with a label)"
    return None


async def _outage_response(outage: Outage) -> HTTPResponse:
    if outage.timeout:
        await asyncio.sleep(outage.delay)
        return _error(504, "Gateway Timeout")
    if outage.status == 400:
        return _error(400, CLIENT_TOKEN_NOT_CONFIGURED)
    return _error(outage.status, "Internal Server Error")


def create_zapi_blueprint(fake: FakeZapi) -> Blueprint:
    """Routes of the fake instance and its ``/__sandbox/zapi/`` control endpoints."""
    bp = Blueprint("sandbox_zapi")

    @bp.route("/instances/<instance_id>/token/<instance_token>/<method>", methods=["GET", "POST"])
    async def instance_call(
        request: Request, instance_id: str, instance_token: str, method: str
    ) -> HTTPResponse:
        token = request.headers.get("client-token")
        if not token:
            return _error(400, CLIENT_TOKEN_NOT_CONFIGURED)
        if token != fake.client_token:
            return _error(403, f"Client-Token {token} not allowed")
        if instance_id != fake.instance_id or instance_token != fake.instance_token:
            return _error(404, "Instance not found")
        expected_http_method = "GET" if method == "status" else "POST"
        if method != "status" and method not in _SEND_KINDS:
            return _error(404, f"Method {method} not found")
        if request.method != expected_http_method:
            return _error(405, "Method Not Allowed")
        outage = fake.take_outage()
        if outage is not None:
            return await _outage_response(outage)
        if method == "status":
            return json(fake.status())
        return _send(request, _SEND_KINDS[method])

    def _send(request: Request, kind: str) -> HTTPResponse:
        if "application/json" not in request.headers.get("content-type", ""):
            return _error(415, "Unsupported Media Type")
        try:
            body = request.json
        except InvalidUsage:
            return _error(400, "Malformed JSON body")
        problem = _body_error(body, kind)
        if problem:
            return _error(400, problem)
        sent = fake.record(
            body["phone"],
            kind,
            body["message"],
            option_list=body.get("optionList"),
            button_list=body.get("buttonList"),
            delay_typing=body.get("delayTyping"),
            delay_message=body.get("delayMessage"),
        )
        logger.info("fake zapi %s to %s seq=%d", kind, mask_phone(sent.phone), sent.seq)
        return json({"zaapId": sent.zaap_id, "messageId": sent.message_id, "id": sent.message_id})

    @bp.get("/__sandbox/zapi/messages")
    async def messages(request: Request) -> HTTPResponse:
        try:
            after = int(request.args.get("after", "0"))
        except ValueError:
            return _error(400, "after must be an integer")
        phone = request.args.get("phone") or None
        found = fake.messages_after(after, phone)
        return json({"messages": [m.to_json() for m in found], "last": fake.last_seq})

    @bp.post("/__sandbox/zapi/reset")
    async def reset(request: Request) -> HTTPResponse:
        fake.reset()
        return json({"reset": True})

    @bp.post("/__sandbox/zapi/connection")
    async def connection(request: Request) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        if not isinstance(body.get("connected"), bool):
            return _error(400, 'Send {"connected": true|false, "error": "..."}')
        fake.connected = body["connected"]
        fake.disconnected_error = str(body.get("error") or "")
        return json(fake.status())

    @bp.post("/__sandbox/zapi/outage")
    async def outage(request: Request) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        if body.get("down") is False:
            fake.outage = None
            return json({"outage": None})
        remaining = None
        if not body.get("down"):
            count = body.get("count")
            if not (isinstance(count, int) and count > 0):
                return _error(400, 'Send {"down": true|false} or {"status": 500, "count": n>0}')
            remaining = int(count)
        fake.outage = Outage(
            status=int(body.get("status", 500)),
            remaining=remaining,
            timeout=bool(body.get("timeout", False)),
            delay=float(body.get("delay", 30.0)),
        )
        return json({"outage": fake.outage.__dict__})

    return bp
