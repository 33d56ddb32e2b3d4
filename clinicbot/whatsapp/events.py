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
    clinic_id: int = 1  # the clinic whose number received it (set by the connector)


class MalformedPayload(ValueError):
    """The body is not a webhook of the provider we can read."""


# What the columns that store them hold (``phone`` String(64), ``external_message_id``
# String(128), which also takes an edit's suffix); real ones are far shorter.
MAX_PHONE_CHARS = 64
MAX_ID_CHARS = 100
# Timestamps outside these years are not a WhatsApp message's.
EARLIEST = datetime(2009, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)


def epoch_to_datetime(value: Any) -> datetime | None:
    """An epoch timestamp in ms or s (Z-API mixes both; values above 1e12 are ms) as UTC.

    None when there is none; :class:`MalformedPayload` for anything but a number (or numeric
    string) between :data:`EARLIEST` and :data:`LATEST`.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MalformedPayload(f"timestamp is a {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise MalformedPayload("timestamp is not a number") from None
    seconds = number / 1000 if number > 1e12 else number
    if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():  # also NaN and infinities
        raise MalformedPayload(f"timestamp out of range: {str(value)[:24]}")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def provider_id(value: Any, what: str, max_chars: int = MAX_ID_CHARS) -> str:
    """A provider's id (message id, phone, chat id) as text: non-empty, at most ``max_chars``."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedPayload(f"{what} is a {type(value).__name__}")
    text = str(value).strip()
    if not text:
        raise MalformedPayload(f"{what} is empty")
    if len(text) > max_chars:
        raise MalformedPayload(f"{what} longer than {max_chars} characters")
    return text


def tapped_text(option_id: Any, label: Any) -> tuple[str | None, str | None]:
    """A tapped option: its id when that is a Rasa intent payload (``/intent``), else its label."""
    option = option_id if isinstance(option_id, str) and option_id else None
    if option is not None and option.startswith("/"):
        return option, option
    if isinstance(label, str) and label.strip():
        return label.strip(), option or ""
    return option, option
