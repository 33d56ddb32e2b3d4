"""Running an action outside Rasa and reading its replies as the patient would.

A reply the action names by key (``response="utter_…"`` with variables) is rendered from
``domain.yml`` the way the Rasa server renders it: Rasa's own templated generator, with the
tracker's slots and the action's variables.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinicbot.gestaods.models import Appointment
from clinicbot.services.booking import BookingService
from clinicbot.services.choices import Option
from clinicbot.settings import PROJECT_ROOT

PHONE = "5531988887777"


@lru_cache(maxsize=1)
def responses() -> dict[str, list[dict[str, Any]]]:
    """The ``responses`` of ``domain.yml``."""
    return yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def tracker(
    *,
    slots: dict[str, Any] | None = None,
    intent: str = "",
    text: str = "",
    entities: list[dict[str, Any]] | None = None,
    form: str | None = None,
) -> Tracker:
    return Tracker(
        sender_id=PHONE,
        slots=slots or {},
        latest_message={"intent": {"name": intent}, "text": text, "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": form} if form else {},
        latest_action_name=None,
    )


def run(action: Action, on: Tracker) -> list[dict[str, Any]]:
    """What ``action`` sent (the action server's ``responses``)."""
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, on, {}))
    return dispatcher.messages


def rendered(message: dict[str, Any], slots: dict[str, Any] | None = None) -> str:
    """The text the patient reads for one sent message."""
    variables = dict(message)
    key = variables.pop("response", None)
    if key is None:
        return str(message["text"])
    generator = TemplatedNaturalLanguageGenerator(responses())
    draft = generator.generate_from_slots(key, slots or {}, "whatsapp", **variables)
    assert draft is not None, f"{key} is not a response of domain.yml"
    return str(draft["text"])


def replies(action: Action, on: Tracker) -> list[str]:
    """The texts the patient reads after ``action`` ran."""
    return [rendered(message, on.slots) for message in run(action, on)]


@dataclass
class AgendaAnswers:
    """Stands in for :class:`BookingService`: fixed answers from the agenda, no HTTP."""

    days: list[Option] = field(default_factory=list)
    times: dict[str | None, list[Option]] = field(default_factory=dict)
    appointments: list[Appointment] = field(default_factory=list)
    available_days: set[date] = field(default_factory=set)

    appointment_options = staticmethod(BookingService.appointment_options)

    def day_options(self) -> list[Option]:
        return self.days

    def time_options(self, day: date, period: str | None = None) -> list[Option]:
        return self.times.get(period, [])

    def is_available_day(self, day: date) -> bool:
        return day in self.available_days

    def upcoming_appointments(self, cpf: str) -> list[Appointment]:
        return self.appointments

    def book(self, *, starts_at: datetime, **details: Any) -> Appointment:
        return Appointment(id="booked", starts_at=starts_at)

    def reschedule(
        self, *, appointment_id: str, starts_at: datetime, **details: Any
    ) -> Appointment:
        return Appointment(id=appointment_id, starts_at=starts_at)

    def cancel(self, *, appointment_id: str, reason: str) -> None:
        return None
