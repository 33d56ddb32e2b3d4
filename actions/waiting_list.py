"""The waiting list in the conversation: position, joining (a form asks the CPF) and leaving."""

from __future__ import annotations

from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import JourneyFormValidator
from actions.services import waiting_list_service
from clinicbot.ptbr.formatting import PERIOD_PHRASES, short_day
from clinicbot.tenancy.senders import phone_of

FORM = "lista_espera_form"
JOIN_INTENT = "lista_espera"
# The contract's ``periodo`` values → the waiting list's preferred periods.
PERIODS = {"manha": "morning", "tarde": "afternoon", "noite": "evening"}


def _join_request_entities(tracker: Tracker) -> list[dict[str, Any]]:
    """Entities of the message that asked to join ("me coloca na lista pra sexta de manhã")."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        parsed = event.get("parse_data") or {}
        if (parsed.get("intent") or {}).get("name") == JOIN_INTENT:
            return list(parsed.get("entities") or [])
    return []


def _preferences(tracker: Tracker) -> tuple[date | None, str]:
    """The day (if the patient named one) and period the patient asked for."""
    day: date | None = None
    period = "any"
    for entity in _join_request_entities(tracker):
        value = str(entity.get("value") or "")
        if entity.get("entity") == "data" and day is None:
            try:
                day = date.fromisoformat(value[:10])
            except ValueError:
                continue
        elif entity.get("entity") == "periodo":
            period = PERIODS.get(value, period)
    return day, period


def _preference_text(day: date | None, period: str) -> str:
    """`` para sexta, 28/11 de manhã`` (empty when any slot will do)."""
    parts = [f"para {short_day(day)}"] if day else []
    parts += [PERIOD_PHRASES[said] for said, preferred in PERIODS.items() if preferred == period]
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
        day, period = _preferences(tracker)
        joined = waiting_list_service().join(
            phone=phone_of(tracker.sender_id),
            cpf=cpf,
            name=tracker.get_slot("paciente_nome"),
            date_from=day,
            date_to=day,
            period=period,
        )
        dispatcher.utter_message(
            response="utter_lista_espera_entrou",
            posicao=joined.position,
            preferencia=_preference_text(day, period),
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
