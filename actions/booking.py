"""The booking conversation: CPF → (registration) → day → time → confirmation → booked."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from validate_docbr import CPF

from actions.services import booking_service
from clinicbot.gestaods.errors import GestaoDSError, SlotUnavailable
from clinicbot.services.choices import Option, pick_option
from clinicbot.services.ptbr import day_and_time, long_day

logger = logging.getLogger(__name__)

FORM = "agendamento_form"
REGISTRATION_SLOTS = ("paciente_nome", "paciente_email")
_CPF_IN_TEXT = re.compile(r"\d{3}\D?\d{3}\D?\d{3}\D?\d{2}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_AFFIRM = {"sim", "s", "ok", "pode", "claro", "confirmo", "isso", "yes", "certo", "pode ser"}
_DENY = {"nao", "não", "n", "no", "nop", "negativo"}


def _entities(tracker: Tracker) -> list[dict[str, Any]]:
    return list(tracker.latest_message.get("entities") or [])


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def cpf_digits(tracker: Tracker) -> str | None:
    """The CPF in the patient's last message: the NLU entity, else a CPF-shaped number."""
    for value in tracker.get_latest_entity_values("cpf"):
        digits = re.sub(r"\D", "", str(value))
        if len(digits) == 11:
            return digits
    match = _CPF_IN_TEXT.search(_text(tracker))
    return re.sub(r"\D", "", match.group()) if match else None


def _menu(options: list[Option]) -> list[dict[str, str]]:
    """Buttons whose payload picks the option whatever the NLU makes of the label."""
    return [
        {"title": option["label"], "payload": f'/escolher_opcao{{"numero_opcao": {index}}}'}
        for index, option in enumerate(options, 1)
    ]


def _stop_form() -> list[EventType]:
    return [ActiveLoop(None), SlotSet("requested_slot", None)]


class ValidateAgendamentoForm(FormValidationAction):
    def name(self) -> str:
        return f"validate_{FORM}"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Name and e-mail are asked only to register a patient the agenda does not know."""
        if tracker.get_slot("paciente_cadastrado") is False:
            return domain_slots
        return [slot for slot in domain_slots if slot not in REGISTRATION_SLOTS]

    def validate_cpf(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        digits = cpf_digits(tracker) or re.sub(r"\D", "", str(slot_value or ""))
        if len(digits) != 11 or not CPF().validate(digits):
            dispatcher.utter_message(response="utter_cpf_invalido")
            return {"cpf": None}
        try:
            patient = booking_service().find_patient(digits)
        except GestaoDSError:
            logger.exception("patient lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return {"cpf": None}
        if patient is None:
            return {"cpf": digits, "paciente_cadastrado": False}
        return {"cpf": digits, "paciente_cadastrado": True, "paciente_nome": patient.name}

    def validate_paciente_nome(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        entity = next(tracker.get_latest_entity_values("nome"), None)
        name = " ".join(str(entity or slot_value or "").split())
        words = [word for word in name.split() if any(ch.isalpha() for ch in word)]
        if len(words) < 2 or any(ch.isdigit() for ch in name):
            dispatcher.utter_message(response="utter_nome_invalido")
            return {"paciente_nome": None}
        return {"paciente_nome": name.title()}

    def validate_paciente_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        match = _EMAIL.search(str(slot_value or ""))
        if not match:
            dispatcher.utter_message(response="utter_email_invalido")
            return {"paciente_email": None}
        return {"paciente_email": match.group().lower()}

    def validate_dia_escolhido(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return self._choose("dia_escolhido", dispatcher, tracker)

    def validate_horario_escolhido(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        return self._choose("horario_escolhido", dispatcher, tracker)

    def validate_confirmacao(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        intent = _intent(tracker)
        typed = _text(tracker).strip().lower().rstrip("!. ")
        if intent == "afirmar" or typed in _AFFIRM:
            return {"confirmacao": True}
        if intent == "negar" or typed in _DENY:
            return {"confirmacao": False}
        dispatcher.utter_message(response="utter_confirmacao_invalida")
        return {"confirmacao": None}

    @staticmethod
    def _choose(slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        options = tracker.get_slot("opcoes") or []
        choice = pick_option(options, _entities(tracker), _text(tracker))
        if choice is None:
            dispatcher.utter_message(response="utter_opcao_invalida")
            return {slot: None}
        return {slot: choice["value"], "opcoes": None}


class ActionAskDiaEscolhido(Action):
    def name(self) -> str:
        return "action_ask_dia_escolhido"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            options = booking_service().day_options()
        except GestaoDSError:
            logger.exception("available days lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return _stop_form()
        if not options:
            dispatcher.utter_message(response="utter_sem_vagas")
            return _stop_form()
        dispatcher.utter_message(
            text="Estes são os próximos dias com horários livres. Qual fica melhor para você?",
            buttons=_menu(options),
        )
        return [SlotSet("opcoes", options)]


class ActionAskHorarioEscolhido(Action):
    def name(self) -> str:
        return "action_ask_horario_escolhido"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        day = date.fromisoformat(tracker.get_slot("dia_escolhido"))
        try:
            options = booking_service().time_options(day)
        except GestaoDSError:
            logger.exception("available times lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return _stop_form()
        if not options:
            dispatcher.utter_message(
                text=f"Os horários de {long_day(day)} acabaram de ser preenchidos 😕 "
                "Vamos escolher outro dia."
            )
            return [
                SlotSet("dia_escolhido", None),
                SlotSet("requested_slot", "dia_escolhido"),
                *await ActionAskDiaEscolhido().run(dispatcher, tracker, domain),
            ]
        dispatcher.utter_message(
            text=f"Para {long_day(day)}, tenho estes horários. Qual você prefere?",
            buttons=_menu(options),
        )
        return [SlotSet("opcoes", options)]


class ActionAskConfirmacao(Action):
    def name(self) -> str:
        return "action_ask_confirmacao"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        starts_at = datetime.fromisoformat(tracker.get_slot("horario_escolhido"))
        dispatcher.utter_message(
            text=f"Posso confirmar sua consulta para {day_and_time(starts_at)}? "
            "Responda *sim* ou *não*."
        )
        return []


class ActionAgendarConsulta(Action):
    """Runs when the form completes: books the chosen slot, or tells why it could not."""

    def name(self) -> str:
        return "action_agendar_consulta"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reset = [
            SlotSet(slot, None)
            for slot in ("dia_escolhido", "horario_escolhido", "confirmacao", "opcoes")
        ]
        confirmed = tracker.get_slot("confirmacao")
        chosen = tracker.get_slot("horario_escolhido")
        if confirmed is False:
            dispatcher.utter_message(response="utter_agendamento_cancelado_pelo_paciente")
            return reset
        if not (confirmed and chosen):
            return reset  # the form stopped early and already told the patient why
        starts_at = datetime.fromisoformat(chosen)
        cpf = tracker.get_slot("cpf")
        service = booking_service()
        try:
            if tracker.get_slot("paciente_cadastrado") is False:
                service.register_patient(
                    cpf=cpf,
                    name=tracker.get_slot("paciente_nome"),
                    email=tracker.get_slot("paciente_email"),
                    phone=tracker.sender_id,
                )
            appointment = service.book(
                phone=tracker.sender_id,
                cpf=cpf,
                starts_at=starts_at,
                patient_name=tracker.get_slot("paciente_nome"),
                first_visit=tracker.get_slot("paciente_cadastrado") is False,
            )
        except SlotUnavailable:
            dispatcher.utter_message(response="utter_horario_ocupado")
            # Back into the form at the time question, with fresh options for the same day.
            return [
                SlotSet("horario_escolhido", None),
                SlotSet("confirmacao", None),
                ActiveLoop(FORM),
                SlotSet("requested_slot", "horario_escolhido"),
                *await ActionAskHorarioEscolhido().run(dispatcher, tracker, domain),
            ]
        except GestaoDSError:
            logger.exception("booking failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return reset
        first_name = (tracker.get_slot("paciente_nome") or "").split(" ")[0]
        greeting = f"Prontinho, {first_name}! ✅" if first_name else "Prontinho! ✅"
        dispatcher.utter_message(
            text=f"{greeting} Sua consulta está marcada para {day_and_time(appointment.starts_at)}."
            "\nChegue uns 15 minutinhos antes e traga um documento com foto. Até lá!"
        )
        return [*reset, SlotSet("paciente_cadastrado", True)]
