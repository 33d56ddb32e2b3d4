"""What a conversation achieves, read from the events Rasa publishes (the event broker).

Rasa publishes a turn's events when it saves the tracker, after the answers were enqueued, in
order. :class:`OutcomeTracker` reads them synchronously (its small per-phone state must follow
that order) and returns the database change each one implies, which the broker runs on the
database thread:

- the responses the actions answered with say what happened (``utter_consulta_marcada``: a
  booking, ``utter_faq_*``: a question answered, ...): :func:`lifecycle.note_outcome`;
- the booking form's activation and slots are the funnel's stages (:mod:`funnel`); a booking
  attempt whose form stopped without booking is dropped at the patient's next message;
- a goodbye (intent ``despedida``) ends the conversation once its turn is over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from clinicbot.db.types import utcnow
from clinicbot.services import funnel, lifecycle

BOOKING_FORM = "agendamento_form"
GOODBYE_INTENT = "despedida"
OUTCOME_OF_RESPONSE = {
    "utter_consulta_marcada": "booked",
    "utter_consulta_marcada_sem_nome": "booked",
    "utter_oferta_agendada": "booked",  # a waiting-list offer accepted
    "utter_consulta_remarcada": "rescheduled",
    "utter_consulta_cancelada": "cancelled",
    "utter_lista_espera_entrou": "waiting_list",
    "utter_atendente_avisado": "handoff",
    "utter_verificacao_bloqueada": "handoff",
    "utter_cadastro_nao_confirmado": "handoff",
    "utter_proxima_consulta": "answered",
    "utter_proximas_consultas": "answered",
    "utter_sem_agendamentos": "answered",
    "utter_lembrete_confirmado": "answered",
    "utter_lista_espera_posicao": "answered",
    "utter_lista_espera_saiu": "answered",
}
ANSWER_PREFIX = "utter_faq_"
SLOT_STAGES = {
    "cpf": "identified",
    "dia_escolhido": "day_chosen",
    "horario_escolhido": "slot_chosen",
}

Change = Callable[[Session], None]


def outcome_of_response(response: str | None) -> str | None:
    if not response:
        return None
    if response.startswith(ANSWER_PREFIX):
        return "answered"
    return OUTCOME_OF_RESPONSE.get(response)


class OutcomeTracker:
    """Turns published events into changes of the sender's open conversation."""

    def __init__(self) -> None:
        # Per phone: whether the booking form is running (False: it stopped, an attempt may
        # be open). Lost on restart: the attempt is then dropped when the conversation ends.
        self._booking_form: dict[str, bool] = {}
        self._said_goodbye: set[str] = set()

    def change_for(self, event: dict[str, Any]) -> Change | None:
        phone = event.get("sender_id")
        if not isinstance(phone, str) or not phone:
            return None
        kind = event.get("event")
        if kind == "user":
            return self._user(phone, event)
        if kind == "bot":
            outcome = outcome_of_response((event.get("metadata") or {}).get("utter_action"))
            return _on_conversation(phone, _outcome_change(outcome)) if outcome else None
        if kind == "active_loop":
            return self._active_loop(phone, event.get("name"))
        if kind == "slot" and self._booking_form.get(phone):
            return _slot_change(phone, event.get("name"), event.get("value"))
        if kind == "action" and event.get("name") == "action_listen" and self._ends(phone):
            return _on_conversation(phone, _close_change)
        return None

    def _ends(self, phone: str) -> bool:
        """The turn is over: whether the patient said goodbye in it (forgetting the phone)."""
        if phone not in self._said_goodbye:
            return False
        self._said_goodbye.discard(phone)
        self._booking_form.pop(phone, None)
        return True

    def _user(self, phone: str, event: dict[str, Any]) -> Change | None:
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == GOODBYE_INTENT:
            self._said_goodbye.add(phone)
        if self._booking_form.get(phone) is False:  # the form stopped a turn ago, no booking
            del self._booking_form[phone]
            return _on_conversation(phone, lambda session, c: funnel.drop(session, c.id, utcnow()))
        return None

    def _active_loop(self, phone: str, name: Any) -> Change | None:
        if name == BOOKING_FORM:
            self._booking_form[phone] = True
            return _on_conversation(phone, lambda session, c: funnel.start(session, c, utcnow()))
        if phone in self._booking_form:
            self._booking_form[phone] = False
        return None


ConversationChange = Callable[[Session, Any], None]


def _on_conversation(phone: str, change: ConversationChange) -> Change:
    """``change`` applied to the open conversation of ``phone`` (none: nothing to do)."""

    def apply(session: Session) -> None:
        conversation = lifecycle.open_conversation(session, phone)
        if conversation is not None:
            change(session, conversation)

    return apply


def _outcome_change(outcome: str) -> ConversationChange:
    def apply(session: Session, conversation: Any) -> None:
        lifecycle.note_outcome(conversation, outcome)
        if outcome == "booked":
            funnel.advance(session, conversation, "booked", utcnow())

    return apply


def _slot_change(phone: str, name: Any, value: Any) -> Change | None:
    if name in SLOT_STAGES and value:
        stage = SLOT_STAGES[name]
    elif name == "confirmacao" and value is True:
        stage = "confirmed"
    else:
        return None
    return _on_conversation(
        phone, lambda session, conversation: funnel.advance(session, conversation, stage, utcnow())
    )


def _close_change(session: Session, conversation: Any) -> None:
    lifecycle.close(session, conversation, "closed", utcnow())
