"""What a WhatsApp webhook means for the assistant, independent of the provider (Z-API, Meta).

In the path of a message: a provider's ``parsing`` module turns each webhook body into
:class:`InboundEvent` s, which the connector (:mod:`clinicbot.whatsapp.connector`) hands on: a
message to the turn runner, a delivery status to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any


class InboundKind(str, Enum):
    MESSAGE = "message"  # a patient's text (or tapped option, or media caption): run a Rasa turn
    UNSUPPORTED = "unsupported"  # media without caption: answer that only text is read
    STATUS = "status"  # delivery/read of our messages: update the outbox, no reply
    CONNECTION = "connection"  # the WhatsApp number connected/disconnected: log, no reply
    IGNORED = "ignored"  # our own messages, groups, newsletters, reactions, notifications


@dataclass(frozen=True)
class StatusUpdate:
    """The provider's news about messages we sent: ``status`` is sent/delivered/read/failed."""

    external_ids: tuple[str, ...]
    status: str
    error: str = ""


@dataclass(frozen=True)
class InboundEvent:
    """One classified webhook event.

    ``phone`` is the patient's normalised identity (E.164 digits, or the raw ``…@lid`` id);
    ``message_id`` is the dedupe key: the provider's id, or a synthetic one when it sent none.
    """

    kind: InboundKind
    reason: str = ""
    phone: str = ""
    message_id: str = ""
    text: str = ""
    moment: datetime | None = None
    status: StatusUpdate | None = None
    data: dict[str, Any] = field(default_factory=dict)  # stored with the message (replayable)


class MalformedPayload(ValueError):
    """The body is not a webhook of the provider we can read."""


def epoch_to_datetime(value: Any) -> datetime | None:
    """An epoch timestamp in ms or s (Z-API mixes both; values above 1e12 are ms) as UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    seconds = number / 1000 if number > 1e12 else number
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def tapped_text(option_id: Any, label: Any) -> tuple[str | None, str | None]:
    """A tapped option: its id when that is a Rasa intent payload (``/intent``), else its label."""
    option = option_id if isinstance(option_id, str) and option_id else None
    if option is not None and option.startswith("/"):
        return option, option
    if isinstance(label, str) and label.strip():
        return label.strip(), option or ""
    return option, option
