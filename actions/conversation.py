"""Steering the conversation: leaving a question, calling a person, not understanding."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from clinicbot.services.handoff import request_human
from clinicbot.tenancy.current import current_facts
from clinicbot.tenancy.senders import phone_of

# After this many misunderstandings in a row the assistant offers a person.
OFFER_HUMAN_AFTER = 3
OUT_OF_SCOPE = "fora_de_escopo"
MISUNDERSTOOD = ("nlu_fallback", OUT_OF_SCOPE)


class ActionPararFormulario(Action):
    """Leaves the current form and forgets the journey; a goodbye gets a goodbye back."""

    def name(self) -> str:
        return "action_parar_formulario"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        goodbye = slots.intent(tracker) == "despedida"
        dispatcher.utter_message(response="utter_despedida" if goodbye else "utter_parei")
        return [*slots.stop_form(), *slots.reset_journey()]


class ActionTransferirAtendente(Action):
    """Pauses the assistant for this phone and puts it on the staff's dashboard."""

    def name(self) -> str:
        return "action_transferir_atendente"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request_human(
            phone_of(tracker.sender_id), reason=f"pediu atendente ({slots.intent(tracker)})"
        )
        dispatcher.utter_message(
            response="utter_atendente_avisado", horario_recepcao=current_facts().human_hours
        )
        return [*slots.stop_form(), *slots.reset_journey(), ConversationPaused()]


class ActionFallback(Action):
    """Not understood (``nlu_fallback``) or out of scope (``fora_de_escopo``): first rephrase
    (or say it is out of scope), then show the menu, then offer a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        misunderstood = _misunderstandings_in_a_row(tracker)
        if misunderstood >= OFFER_HUMAN_AFTER:
            dispatcher.utter_message(response="utter_oferecer_atendente")
        elif misunderstood == 2:
            dispatcher.utter_message(response="utter_menu")
        elif slots.intent(tracker) == OUT_OF_SCOPE:
            dispatcher.utter_message(response="utter_fora_de_escopo")
        else:
            dispatcher.utter_message(response="utter_nao_entendi")
        return []


def _misunderstandings_in_a_row(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") not in MISUNDERSTOOD:
            break
        count += 1
    return count
