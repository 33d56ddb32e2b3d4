"""Rasa's NLG request turned into a reply from the templates (served by the clinic service).

Rasa posts ``{"response": <name>, "arguments": {...}, "tracker": {...}, "channel": {...}}``
(``template`` instead of ``response`` in old versions) and sends whatever comes back: ``text``
and the template's own ``buttons``. The values of a response's ``{variables}`` are, as with
Rasa's own templates, the action's arguments over the tracker's slots. The buttons an action
passes are added by Rasa itself, so they are not echoed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from clinicbot.messages.rendering import render
from clinicbot.tenancy.scope import acting_clinic
from clinicbot.tenancy.senders import split_sender_id

# Keys of an action's message that are parts of the message, not template values.
_MESSAGE_PARTS = frozenset(
    {
        "text",
        "buttons",
        "quick_replies",
        "image",
        "elements",
        "attachment",
        "custom",
        "template",
        "response",
        "json_message",
    }
)


class BadRequest(ValueError):
    """The body is not an NLG request."""


def request_key(body: Mapping[str, Any]) -> str:
    key = body.get("response") or body.get("template")
    if not isinstance(key, str) or not key:
        raise BadRequest("no response name")
    return key


def request_values(body: Mapping[str, Any]) -> dict[str, object]:
    tracker = body.get("tracker") or {}
    values: dict[str, object] = dict(tracker.get("slots") or {})
    arguments = body.get("arguments") or {}
    values.update({name: value for name, value in arguments.items() if name not in _MESSAGE_PARTS})
    return values


def generate(
    session: Session, body: Mapping[str, Any], *, clinic_id: int | None = None
) -> dict[str, Any]:
    """The NLG answer for ``body`` (raises ``UnknownTemplate`` for a key with no default).

    The conversation's sender id names its clinic (:mod:`clinicbot.tenancy.senders`): its
    templates answer, unless ``clinic_id`` says otherwise.
    """
    key = request_key(body)
    tracker = body.get("tracker") or {}
    sender = tracker.get("sender_id")
    phone: str | None = None
    if isinstance(sender, str):
        sender_clinic, phone = split_sender_id(sender)
        clinic_id = sender_clinic if clinic_id is None else clinic_id
    clinic_id = acting_clinic(session, clinic_id)
    rendered = render(session, key, request_values(body), phone=phone, clinic_id=clinic_id)
    reply: dict[str, Any] = {"text": rendered.text}
    if rendered.buttons:
        reply["buttons"] = [dict(button) for button in rendered.buttons]
    return reply
