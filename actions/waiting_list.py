"""The waiting list in the conversation: position, joining (a form asks the CPF) and leaving."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.forms import JourneyFormValidator
from actions.services import waiting_list_service
from clinicbot.ptbr.formatting import day_range, period_phrase, short_day
from clinicbot.tenancy.senders import phone_of

FORM = "lista_espera_form"
JOIN_INTENT = "lista_espera"
# ``periodo`` values (the contract's and the vague times') → the waiting list's periods.
PERIODS = {
    "manha": "morning",
    "cedo": "morning",
    "tarde": "afternoon",
    "depois_do_almoco": "afternoon",
    "fim_do_dia": "afternoon",
    "mais_tarde": "afternoon",
    "noite": "evening",
}


@dataclass(frozen=True)
class Preferences:
    """What the patient asked for: days (one, a range, or any) and a part of the day."""

    first: date | None = None
    last: date | None = None
    said_period: str | None = None

    @property
    def period(self) -> str:
        return PERIODS.get(self.said_period or "", "any")


def _join_request_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """Entities of the message that asked to join ("me coloca na lista pra sexta de manhã")."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        parsed = event.get("parse_data") or {}
        if (parsed.get("intent") or {}).get("name") == JOIN_INTENT:
            return list(parsed.get("entities") or [])
    return []


def _preferences(tracker: Tracker) -> Preferences:
    """The day or range of days (if the patient named one) and the period asked for."""
    days: tuple[date, date] | None = None
    period: str | None = None
    for entity in _join_request_entities(tracker):
        value = entity.get("value")
        if entity.get("entity") == "data" and days is None:
            days = slots.date_range(value)
            if days is None:
                try:
                    day = date.fromisoformat(str(value)[:10])
                except ValueError:
                    continue
                days = (day, day)
        elif entity.get("entity") == "periodo" and period is None:
            period = str(value)
    first, last = days or (None, None)
    return Preferences(first, last, period)


def _preference_text(preferences: Preferences) -> str:
    """`` para sexta, 28/11 de manhã`` / `` entre 07/12 e 13/12 à tarde`` (empty for any)."""
    first, last = preferences.first, preferences.last
    parts = []
    if first is not None and last is not None:
        parts.append(f"para {short_day(first)}" if first == last else day_range(first, last))
    if preferences.period != "any":
        parts.append(period_phrase(preferences.said_period))
    return f" {' '.join(parts)}" if parts else ""


class ActionPosicaoListaEspera(Action):
    """Tells a patient already on the list their place; sets ``na_lista_espera`` either way."""

    def name(self) -> str:
        return "action_posicao_lista_espera"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        position = waiting_list_service().position(phone_of(tracker.sender_id))
        if position is None:
            return [SlotSet("na_lista_espera", False)]
        dispatcher.utter_message(response="utter_lista_espera_posicao", posicao=position)
        return [SlotSet("na_lista_espera", True)]


class ValidateListaEsperaForm(JourneyFormValidator):
    """The CPF, validated and looked up like in the other journeys."""

    def name(self) -> str:
        return f"validate_{FORM}"


class ActionEntrarListaEspera(Action):
    """Runs when the form completes: puts the patient on the list with their preferences."""

    def name(self) -> str:
        return "action_entrar_lista_espera"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        cpf = tracker.get_slot("cpf")
        if not cpf:
            return []  # the form stopped early and already told the patient why
        preferences = _preferences(tracker)
        joined = waiting_list_service().join(
            phone=phone_of(tracker.sender_id),
            cpf=cpf,
            name=tracker.get_slot("paciente_nome"),
            date_from=preferences.first,
            date_to=preferences.last,
            period=preferences.period,
        )
        dispatcher.utter_message(
            response="utter_lista_espera_entrou",
            posicao=joined.position,
            preferencia=_preference_text(preferences),
        )
        return [SlotSet("na_lista_espera", True)]


class ActionSairListaEspera(Action):
    def name(self) -> str:
        return "action_sair_lista_espera"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if waiting_list_service().leave(phone_of(tracker.sender_id)):
            dispatcher.utter_message(response="utter_lista_espera_saiu")
        else:
            dispatcher.utter_message(response="utter_lista_espera_nao_estava")
        return [SlotSet("na_lista_espera", False)]
