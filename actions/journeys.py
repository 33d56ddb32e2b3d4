"""What happens when a journey form completes: book, reschedule, cancel, or list."""

from __future__ import annotations

import logging
from datetime import date, datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.asks import ActionAskHorarioEscolhido, upcoming_or_apology
from actions.services import booking_service
from clinicbot.gestaods.errors import GestaoDSError, SlotUnavailable
from clinicbot.ptbr.formatting import day_and_time

logger = logging.getLogger(__name__)

CANCELED_BY_PATIENT = "Cancelada pelo paciente via WhatsApp"


async def _back_to_time_question(
    form: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[EventType]:
    """The chosen slot was taken meanwhile: apologise and offer that day's fresh times."""
    dispatcher.utter_message(response="utter_horario_ocupado")
    return [
        SlotSet("horario_escolhido", None),
        SlotSet("confirmacao", None),
        ActiveLoop(form),
        SlotSet("requested_slot", "horario_escolhido"),
        *await ActionAskHorarioEscolhido().run(dispatcher, tracker, domain),
    ]


def _first_name(tracker: Tracker) -> str:
    return (tracker.get_slot("paciente_nome") or "").split(" ")[0]


class ActionAgendarConsulta(Action):
    def name(self) -> str:
        return "action_agendar_consulta"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        confirmed = tracker.get_slot("confirmacao")
        chosen = tracker.get_slot("horario_escolhido")
        if confirmed is False:
            dispatcher.utter_message(response="utter_agendamento_cancelado_pelo_paciente")
            return slots.reset_journey()
        if not (confirmed and chosen):
            return slots.reset_journey()  # the form stopped early and already said why
        new_patient = tracker.get_slot("paciente_cadastrado") is False
        service = booking_service()
        try:
            if new_patient:
                born = tracker.get_slot("paciente_nascimento")
                service.register_patient(
                    cpf=tracker.get_slot("cpf"),
                    name=tracker.get_slot("paciente_nome"),
                    email=tracker.get_slot("paciente_email"),
                    phone=tracker.sender_id,
                    birth_date=date.fromisoformat(born) if born else None,
                )
            appointment = service.book(
                phone=tracker.sender_id,
                cpf=tracker.get_slot("cpf"),
                starts_at=datetime.fromisoformat(chosen),
                patient_name=tracker.get_slot("paciente_nome"),
                first_visit=new_patient,
            )
        except SlotUnavailable:
            return await _back_to_time_question("agendamento_form", dispatcher, tracker, domain)
        except GestaoDSError:
            logger.exception("booking failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.reset_journey()
        first_name = _first_name(tracker)
        greeting = f"Prontinho, {first_name}! ✅" if first_name else "Prontinho! ✅"
        dispatcher.utter_message(
            text=f"{greeting} Sua consulta está marcada para {day_and_time(appointment.starts_at)}."
            "\nChegue uns 15 minutinhos antes e traga um documento com foto. Até lá!"
        )
        return [*slots.reset_journey(), SlotSet("paciente_cadastrado", True)]


class ActionReagendarConsulta(Action):
    def name(self) -> str:
        return "action_reagendar_consulta"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        confirmed = tracker.get_slot("confirmacao")
        chosen = tracker.get_slot("horario_escolhido")
        appointment_id = tracker.get_slot("agendamento_escolhido")
        if confirmed is False:
            dispatcher.utter_message(text="Tudo bem, mantive sua consulta como estava 👍")
            return slots.reset_journey()
        if not (confirmed and chosen and appointment_id):
            return slots.reset_journey()
        try:
            moved = booking_service().reschedule(
                phone=tracker.sender_id,
                cpf=tracker.get_slot("cpf"),
                appointment_id=appointment_id,
                starts_at=datetime.fromisoformat(chosen),
            )
        except SlotUnavailable:
            return await _back_to_time_question("reagendamento_form", dispatcher, tracker, domain)
        except GestaoDSError:
            logger.exception("reschedule failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.reset_journey()
        dispatcher.utter_message(
            text=f"Prontinho! ✅ Sua consulta foi remarcada para {day_and_time(moved.starts_at)}."
        )
        return slots.reset_journey()


class ActionCancelarConsulta(Action):
    def name(self) -> str:
        return "action_cancelar_consulta"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        confirmed = tracker.get_slot("confirmacao")
        appointment_id = tracker.get_slot("agendamento_escolhido")
        if confirmed is False:
            dispatcher.utter_message(text="Certo, sua consulta continua marcada 👍")
            return slots.reset_journey()
        if not (confirmed and appointment_id):
            return slots.reset_journey()
        reason = tracker.get_slot("motivo_cancelamento") or CANCELED_BY_PATIENT
        try:
            booking_service().cancel(appointment_id=appointment_id, reason=reason)
        except GestaoDSError:
            logger.exception("cancel failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.reset_journey()
        dispatcher.utter_message(
            text="Consulta cancelada ✅ Se quiser marcar outra data, é só me chamar."
        )
        return slots.reset_journey()


class ActionListarAgendamentos(Action):
    def name(self) -> str:
        return "action_listar_agendamentos"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        appointments = upcoming_or_apology(dispatcher, tracker)
        if appointments is None:
            return []
        if not appointments:
            dispatcher.utter_message(response="utter_sem_agendamentos")
            return []
        options = booking_service().appointment_options(appointments)
        lines = [f"• {option['label']}" for option in options]
        title = "Sua próxima consulta:" if len(lines) == 1 else "Suas próximas consultas:"
        dispatcher.utter_message(text="\n".join([title, *lines]))
        return []
