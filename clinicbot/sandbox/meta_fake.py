"""A local fake of the Cloud API messages endpoint, plus sandbox controls.

- ``POST /<version>/<phone_number_id>/messages`` with ``Authorization: Bearer <token>``: text,
  interactive (list/button) and template messages; answers like the Graph API
  (``{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]}``).
  Errors use the Graph error envelope: bad token → 401 code 190, unknown number → 400 code 100,
  invalid body → 400 code 100.

Control endpoints under ``/__sandbox/meta/``: ``GET messages?to=&after=``, ``POST reset``,
``POST outage`` (``{"status": 500, "count": n}`` or ``{"down": true|false}``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from clinicbot.whatsapp.meta.payloads import new_wamid

_TO = re.compile(r"^\d{10,15}$")
_KINDS = ("text", "interactive", "template")


@dataclass
class MetaSent:
    seq: int
    to: str
    kind: str
    body: dict[str, Any]
    wamid: str
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "to": self.to,
            "type": self.kind,
            "id": self.wamid,
            "timestamp": self.timestamp,
            "body": self.body,
        }


@dataclass
class FakeMeta:
    phone_number_id: str
    access_token: str
    messages: list[MetaSent] = field(default_factory=list)
    failures_left: int | None = 0  # None: down until lifted
    failure_status: int = 500
    last_seq: int = field(default=0, init=False)

    def reset(self) -> None:
        self.messages.clear()
        self.failures_left, self.failure_status = 0, 500

    def take_failure(self) -> int | None:
        if self.failures_left is None:
            return self.failure_status
        if self.failures_left > 0:
            self.failures_left -= 1
            return self.failure_status
        return None


def _graph_error(status: int, message: str, code: int) -> HTTPResponse:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "SANDBOX"}
    return json({"error": error}, status=status)


def _body_problem(body: Any) -> str | None:
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "messaging_product must be 'whatsapp'"
    if not isinstance(body.get("to"), str) or not _TO.match(body["to"]):
        return "Invalid parameter: to"
    kind = body.get("type")
    if kind not in _KINDS or not isinstance(body.get(kind), dict):
        return f"Unsupported type {kind!r}"
    if kind == "text" and not str(body["text"].get("body") or "").strip():
        return "text.body is required"
    if kind == "template" and not body["template"].get("name"):
        return "template.name is required"
    if kind == "interactive":
        interactive = body["interactive"]
        if interactive.get("type") == "list":
            rows = [r for s in interactive.get("action", {}).get("sections", []) for r in s["rows"]]
            if not 0 < len(rows) <= 10 or any(len(r.get("title", "")) > 24 for r in rows):
                return "interactive list needs 1-10 rows with titles up to 24 characters"
    return None


def create_meta_blueprint(fake: FakeMeta) -> Blueprint:
    bp = Blueprint("sandbox_meta")

    @bp.post("/<version:v\\d+\\.\\d+>/<phone_number_id>/messages")
    async def send(request: Request, version: str, phone_number_id: str) -> HTTPResponse:
        if request.headers.get("authorization") != f"Bearer {fake.access_token}":
            return _graph_error(401, "Invalid OAuth access token.", 190)
        if phone_number_id != fake.phone_number_id:
            return _graph_error(400, f"Unsupported post request. Object {phone_number_id}", 100)
        failure = fake.take_failure()
        if failure is not None:
            return _graph_error(failure, "An unknown error has occurred.", 1)
        try:
            body = request.json
        except Exception:
            return _graph_error(400, "Invalid JSON", 100)
        problem = _body_problem(body)
        if problem:
            return _graph_error(400, problem, 100)
        fake.last_seq += 1
        sent = MetaSent(
            fake.last_seq, body["to"], body["type"], body, new_wamid(), int(time.time())
        )
        fake.messages.append(sent)
        return json(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": sent.to, "wa_id": sent.to}],
                "messages": [{"id": sent.wamid}],
            }
        )

    @bp.get("/__sandbox/meta/messages")
    async def messages(request: Request) -> HTTPResponse:
        after = int(request.args.get("after", "0") or 0)
        to = request.args.get("to") or None
        found = [m for m in fake.messages if m.seq > after and (to is None or m.to == to)]
        return json({"messages": [m.to_json() for m in found], "last": fake.last_seq})

    @bp.post("/__sandbox/meta/reset")
    async def reset(request: Request) -> HTTPResponse:
        fake.reset()
        return json({"reset": True})

    @bp.post("/__sandbox/meta/outage")
    async def outage(request: Request) -> HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        fake.failure_status = int(body.get("status", 500))
        if "down" in body:
            fake.failures_left = None if body["down"] else 0
        else:
            fake.failures_left = int(body.get("count", 1))
        return json({"failures_left": fake.failures_left, "status": fake.failure_status})

    return bp
