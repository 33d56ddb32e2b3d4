"""FAQ answers (hours, address, insurers, prices, specialties) from ``clinic.yml``."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinicbot.services.clinic import faq_reply
from clinicbot.tenancy.current import current_facts


class ActionResponderFaq(Action):
    def name(self) -> str:
        return "action_responder_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        insurer = next(tracker.get_latest_entity_values("convenio"), None)
        reply = faq_reply(intent, current_facts(), asked_insurer=insurer)
        if reply:
            dispatcher.utter_message(response=reply.response, **reply.variables)
        else:
            dispatcher.utter_message(response="utter_como_ajudar")
        return []
