"""A bare "sim"/"não" outside a form: the answer to a reminder or a waiting-list offer."""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.services import agenda, waiting_list_service
from clinicbot.db.engine import session_scope
from clinicbot.gestaods.errors import GestaoDSError
from clinicbot.ptbr.formatting import clock, long_day
from clinicbot.ptbr.replies import says_yes
from clinicbot.services.notifications.replies import ReminderReplies, pending_reply
from clinicbot.tenancy.current import current_settings
from clinicbot.tenancy.senders import phone_of

logger = logging.getLogger(__name__)

OFFER_REPLIES = {
    "slot_taken": "utter_oferta_indisponivel",
    "expired": "utter_oferta_expirada",
    "none": "utter_oferta_expirada",
    "declined": "utter_oferta_recusada",
}


@lru_cache(maxsize=1)
def reminder_replies() -> ReminderReplies:
    return ReminderReplies()


def _when(starts_at: datetime | None) -> dict[str, str]:
    if starts_at is None:
        return {}
    local = starts_at.astimezone(current_settings().clinic_tz)
    return {"dia": long_day(local.date()), "hora": clock(local)}


class ActionResponderLembreteOuOferta(Action):
    """Routes "sim"/"não" to the newest open reminder or offer of this phone, if any."""

    def name(self) -> str:
        return "action_responder_lembrete_ou_oferta"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        phone = phone_of(tracker.sender_id)
        yes = slots.intent(tracker) == "afirmar" or says_yes(slots.text(tracker))
        with session_scope(reminder_replies().engine) as session:
            pending = pending_reply(session, phone)
        if pending is None:
            dispatcher.utter_message(response="utter_como_ajudar")
            return []
        try:
            if pending.kind == "reminder":
                self._reminder(dispatcher, phone, yes)
            else:
                self._offer(dispatcher, phone, yes)
        except GestaoDSError:
            logger.exception("answering a %s failed", pending.kind)
            dispatcher.utter_message(response="utter_agenda_indisponivel")
        return []

    @staticmethod
    def _reminder(dispatcher: CollectingDispatcher, phone: str, yes: bool) -> None:
        answer = reminder_replies().answer(agenda(), phone, confirmed=yes)
        if answer.status == "confirmed":
            dispatcher.utter_message(
                response="utter_lembrete_confirmado", **_when(answer.starts_at)
            )
        elif answer.status == "declined":
            dispatcher.utter_message(
                response="utter_lembrete_remarcar_ou_cancelar", **_when(answer.starts_at)
            )
        else:
            dispatcher.utter_message(response="utter_como_ajudar")

    @staticmethod
    def _offer(dispatcher: CollectingDispatcher, phone: str, yes: bool) -> None:
        service = waiting_list_service()
        answer = service.accept_offer(phone) if yes else service.decline_offer(phone)
        if answer.status == "booked":
            dispatcher.utter_message(response="utter_oferta_agendada", **_when(answer.starts_at))
        else:
            dispatcher.utter_message(response=OFFER_REPLIES[answer.status])
