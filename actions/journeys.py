"""What happens when a journey form completes: book, reschedule, cancel, or list."""

from __future__ import annotations

import logging
from datetime import date, datetime

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.asks import upcoming_or_apology
from actions.replies import day_and_hour
from actions.services import booking_service
from clinicbot.gestaods.errors import GestaoDSError, SlotUnavailable
from clinicbot.services.booking_attempts import BookingBeingConfirmed, BookingInProgress
from clinicbot.services.handoff import request_human
from clinicbot.tenancy.current import current_facts
from clinicbot.tenancy.senders import phone_of

logger = logging.getLogger(__name__)

CANCELED_BY_PATIENT = "Cancelada pelo paciente via WhatsApp"


async def _back_to_time_question(
    form: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[EventType]:
    """The chosen slot was taken meanwhile: apologise; the form, active again, then offers that
    day's fresh times itself (asking here too sent the patient the menu twice)."""
    dispatcher.utter_message(response="utter_horario_ocupado")
    return [
        SlotSet("horario_escolhido", None),
        SlotSet("confirmacao", None),
        ActiveLoop(form),
        SlotSet("requested_slot", "horario_escolhido"),
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
        if tracker.get_slot("verificacao_falhou"):
            return _staff_confirm_identity(dispatcher, tracker)
        new_patient = tracker.get_slot("paciente_cadastrado") is False
        service = booking_service()
        try:
            if new_patient:
                born = tracker.get_slot("paciente_nascimento")
                service.register_patient(
                    cpf=tracker.get_slot("cpf"),
                    name=tracker.get_slot("paciente_nome"),
                    email=tracker.get_slot("paciente_email"),
                    phone=phone_of(tracker.sender_id),
                    birth_date=date.fromisoformat(born) if born else None,
                )
            appointment = service.book(
                phone=phone_of(tracker.sender_id),
                cpf=tracker.get_slot("cpf"),
                starts_at=datetime.fromisoformat(chosen),
                patient_name=tracker.get_slot("paciente_nome"),
                first_visit=new_patient or tracker.get_slot("primeira_consulta") is True,
            )
        except SlotUnavailable:
            return await _back_to_time_question("agendamento_form", dispatcher, tracker, domain)
        except BookingBeingConfirmed:  # the scheduler tells the outcome (services/booking_checks)
            dispatcher.utter_message(response="utter_confirmando_horario")
            return slots.reset_journey()
        except BookingInProgress:
            dispatcher.utter_message(response="utter_horario_em_confirmacao")
            return slots.reset_journey()
        except GestaoDSError:
            logger.exception("booking failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.reset_journey()
        when = day_and_hour(appointment.starts_at)
        if first_name := _first_name(tracker):
            dispatcher.utter_message(response="utter_consulta_marcada", nome=first_name, **when)
        else:
            dispatcher.utter_message(response="utter_consulta_marcada_sem_nome", **when)
        registered = [SlotSet("paciente_cadastrado", True), SlotSet("identidade_verificada", True)]
        return [*slots.reset_journey(), *registered]


def _staff_confirm_identity(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """A registered CPF whose birth date did not match: nothing is booked, staff confirm."""
    request_human(
        phone_of(tracker.sender_id), reason="agendamento com data de nascimento divergente"
    )
    dispatcher.utter_message(
        response="utter_cadastro_nao_confirmado", horario_recepcao=current_facts().human_hours
    )
    forget = [SlotSet(slot, None) for slot in ("cpf", "verificacao_falhou", "paciente_nome")]
    return [*slots.reset_journey(), *forget, ConversationPaused()]


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
            dispatcher.utter_message(response="utter_consulta_mantida")
            return slots.reset_journey()
        if not (confirmed and chosen and appointment_id):
            return slots.reset_journey()
        try:
            moved = booking_service().reschedule(
                phone=phone_of(tracker.sender_id),
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
            response="utter_consulta_remarcada", **day_and_hour(moved.starts_at)
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
            dispatcher.utter_message(response="utter_consulta_continua_marcada")
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
        dispatcher.utter_message(response="utter_consulta_cancelada")
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
        dispatcher.utter_message(
            response="utter_proxima_consulta" if len(options) == 1 else "utter_proximas_consultas",
            consultas="\n".join(f"• {option['label']}" for option in options),
        )
        return []
