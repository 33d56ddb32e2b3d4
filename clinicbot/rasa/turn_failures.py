"""Make the failures Rasa hides fail the WhatsApp turn, so the turn runner can run it again.

Rasa 3.6 carries on through two kinds of failure. For a WhatsApp turn both mean a wrong or
missing answer, and a conversation state that no longer matches what the patient read:

- its agent wraps the tracker store in ``FailSafeTrackerStore``: a database error while loading
  the conversation gives an empty one (the patient is greeted in the middle of a booking), and
  one while saving keeps the turn in this process's memory only;
- its processor logs a custom action that raised (action server down, HTTP 5xx, timeout) and
  goes on without the action's events (the patient's request goes unanswered).

:func:`raise_tracker_store_errors` makes the agent's store re-raise (Rasa's
``on_tracker_store_error`` callback), and inside :func:`strict_turn` (the turn runner's Rasa
call) a failed action stops the turn where it happened, before the tracker is saved, so it can
run again from the same state. Rasa reports the failure only by logging it from
``MessageProcessor._run_action``, so that log call is where the turn is stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

from rasa.core.tracker_store import FailSafeTrackerStore

PROCESSOR_LOGGER = "rasa.core.processor"

_strict: ContextVar[bool] = ContextVar("clinicbot_strict_turn", default=False)


class ActionFailed(RuntimeError):
    """A custom action failed during a strict turn (its cause is the action's error)."""


class _StopTurnOnActionFailure(logging.Filter):
    """In a strict turn, the processor's "exception while running action" log raises."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _strict.get() and record.funcName == "_run_action" and record.exc_info:
            cause = record.exc_info[1]
            raise ActionFailed(record.getMessage().split(".", 1)[0]) from cause
        return True


_STOP_ON_ACTION_FAILURE = _StopTurnOnActionFailure()


@contextmanager
def strict_turn() -> Iterator[None]:
    """Within the block (one asyncio task's Rasa turn), a failed custom action raises
    :class:`ActionFailed` out of the turn instead of being skipped."""
    logging.getLogger(PROCESSOR_LOGGER).addFilter(_STOP_ON_ACTION_FAILURE)  # once: a set
    token = _strict.set(True)
    try:
        yield
    finally:
        _strict.reset(token)


def _reraise(error: Exception) -> NoReturn:
    raise error


def raise_tracker_store_errors(agent: Any) -> None:
    """Make ``agent``'s fail-safe tracker store raise its store's errors instead of falling back
    to an empty or in-memory conversation."""
    store = getattr(agent, "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore):
        store._on_tracker_store_error = _reraise
