"""What the assistant tells its operators when it gives up on a message (a dead letter).

A message becomes a dead letter when the outbox could not deliver it (retry budget spent, past
its ``deliver_by``, refused for good: :mod:`clinicbot.whatsapp.delivery`) or when a patient's
message could not be answered (its turn kept failing: :mod:`clinicbot.whatsapp.turns`). Each
one is logged at ERROR (phone masked), counted in ``clinicbot_dead_letters_total`` and handed
to the hooks added with :func:`add_alert_hook`, where a deployment plugs in its paging (e-mail,
a message to the clinic's staff). Hooks run in the caller's thread and must be quick; one that
raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter

from clinicbot.pii import mask_phone, mask_text

logger = logging.getLogger(__name__)

DEAD_LETTERS = Counter(
    "clinicbot_dead_letters_total",
    "Messages given up on: outbox rows not delivered, inbound messages not answered",
    ["kind", "channel"],
)


@dataclass(frozen=True)
class DeadLetter:
    """A message given up on. ``kind``: ``outbox`` (not delivered) or ``inbound`` (not
    answered); ``row_id``: its ``outbox_messages`` or ``conversation_messages`` id."""

    kind: str
    row_id: int
    channel: str
    phone: str
    reason: str


AlertHook = Callable[[DeadLetter], None]

_hooks: list[AlertHook] = []


def add_alert_hook(hook: AlertHook) -> Callable[[], None]:
    """Call ``hook`` for every dead letter of this process; returns its removal."""
    _hooks.append(hook)
    return lambda: _hooks.remove(hook)


def alert_dead_letter(letter: DeadLetter) -> None:
    """Log, count and pass on ``letter``."""
    logger.error(
        "dead letter: %s message %d (%s, %s) given up: %s",
        letter.kind,
        letter.row_id,
        letter.channel,
        mask_phone(letter.phone),
        mask_text(letter.reason),
    )
    DEAD_LETTERS.labels(letter.kind, letter.channel).inc()
    for hook in list(_hooks):
        try:
            hook(letter)
        except Exception:  # one broken hook must not hide the letter from the others
            logger.exception("alert hook %r failed", hook)
