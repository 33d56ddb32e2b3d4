"""The questions the journey forms ask, with the options fetched fresh from the agenda."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.replies import day_and_hour
from actions.services import booking_service
from clinicbot.gestaods.errors import GestaoDSError
from clinicbot.gestaods.models import Appointment
from clinicbot.ptbr.formatting import day_range, long_day, period_phrase
from clinicbot.services.choices import Option
from clinicbot.tenancy.current import current_settings

logger = logging.getLogger(__name__)


class ActionAskDiaEscolhido(Action):
    def name(self) -> str:
        return "action_ask_dia_escolhido"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = _still_ahead(slots.date_range(tracker.get_slot("dias_preferidos")))
        try:
            if wanted is not None:
                options = _days_in_range(dispatcher, tracker, *wanted)
            else:
                options = booking_service().day_options()
                if options:
                    dispatcher.utter_message(
                        response="utter_escolha_o_dia", buttons=slots.menu(options)
                    )
        except GestaoDSError:
            logger.exception("available days lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.stop_form()
        if not options:
            dispatcher.utter_message(response="utter_sem_vagas")
            return slots.stop_form()
        return [SlotSet("opcoes", options)]


def _still_ahead(days: tuple[date, date] | None) -> tuple[date, date] | None:
    """The part of a requested range from today on; None when the range is over (asked for
    before midnight, answered after: the plain list of days is offered instead)."""
    if days is None:
        return None
    first, last = max(days[0], current_settings().clinic_today()), days[1]
    return (first, last) if first <= last else None


def _days_in_range(
    dispatcher: CollectingDispatcher, tracker: Tracker, first: date, last: date
) -> list[Option]:
    """The free days from ``first`` to ``last`` (with a time in the preferred period); when
    there is none, says so and offers the nearest free days after the range."""
    period = tracker.get_slot("periodo_preferido")
    service = booking_service()
    options = service.day_options(first, until=last, period=period)
    said = {"intervalo": day_range(first, last), "periodo": _spaced(period_phrase(period))}
    if options:
        dispatcher.utter_message(
            response="utter_escolha_o_dia_no_intervalo", buttons=slots.menu(options), **said
        )
        return options
    options = service.day_options(last + timedelta(days=1), period=period)
    if options:
        dispatcher.utter_message(
            response="utter_intervalo_sem_vagas", buttons=slots.menu(options), **said
        )
    return options


def _spaced(phrase: str) -> str:
    return f" {phrase}" if phrase else ""


class ActionAskHorarioEscolhido(Action):
    def name(self) -> str:
        return "action_ask_horario_escolhido"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        day = date.fromisoformat(tracker.get_slot("dia_escolhido"))
        period = tracker.get_slot("periodo_preferido")
        try:
            options = booking_service().time_options(day, period)
            if period and not options:
                options = booking_service().time_options(day)
                if options:
                    dispatcher.utter_message(
                        response="utter_sem_horario_no_periodo",
                        dia=long_day(day),
                        periodo=period_phrase(period),
                    )
        except GestaoDSError:
            logger.exception("available times lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return slots.stop_form()
        if not options:
            dispatcher.utter_message(response="utter_horarios_preenchidos", dia=long_day(day))
            asked = await ActionAskDiaEscolhido().run(dispatcher, tracker, domain)
            return [
                SlotSet("dia_escolhido", None),
                SlotSet("requested_slot", "dia_escolhido"),
                *asked,
            ]
        dispatcher.utter_message(
            response="utter_escolha_o_horario", dia=long_day(day), buttons=slots.menu(options)
        )
        return [SlotSet("opcoes", options)]


def upcoming_or_apology(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> list[Appointment] | None:
    """The patient's upcoming appointments; None when the sender is not verified as the
    CPF's patient (the identity check already said why), or, after apologising, when the
    agenda is down."""
    if not tracker.get_slot("identidade_verificada"):
        return None
    try:
        return booking_service().upcoming_appointments(tracker.get_slot("cpf"))
    except GestaoDSError:
        logger.exception("patient appointments lookup failed")
        dispatcher.utter_message(response="utter_agenda_indisponivel")
        return None


class ActionAskAgendamentoEscolhido(Action):
    """Lists the patient's upcoming appointments (to reschedule or cancel one)."""

    def name(self) -> str:
        return "action_ask_agendamento_escolhido"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        appointments = upcoming_or_apology(dispatcher, tracker)
        if appointments is None:
            return slots.stop_form()
        if not appointments:
            dispatcher.utter_message(response="utter_sem_agendamentos")
            return [*slots.stop_form(), *slots.reset_journey()]
        options = booking_service().appointment_options(appointments)
        rescheduling = tracker.active_loop.get("name") == "reagendamento_form"
        dispatcher.utter_message(
            response="utter_escolha_a_consulta_a_remarcar"
            if rescheduling
            else "utter_escolha_a_consulta_a_cancelar",
            buttons=slots.menu(options),
        )
        return [SlotSet("agendamentos", options)]


class ActionAskConfirmacao(Action):
    def name(self) -> str:
        return "action_ask_confirmacao"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        form = tracker.active_loop.get("name")
        chosen = _chosen_appointment_label(tracker)
        if form == "cancelamento_form":
            dispatcher.utter_message(response="utter_confirma_cancelamento", consulta=chosen)
            return []
        new_time = day_and_hour(datetime.fromisoformat(tracker.get_slot("horario_escolhido")))
        if form == "reagendamento_form":
            dispatcher.utter_message(
                response="utter_confirma_remarcacao", consulta=chosen, **new_time
            )
        else:
            dispatcher.utter_message(response="utter_confirma_agendamento", **new_time)
        return []


def _chosen_appointment_label(tracker: Tracker) -> str:
    chosen = tracker.get_slot("agendamento_escolhido")
    for option in tracker.get_slot("agendamentos") or []:
        if option["value"] == chosen:
            return option["label"]
    return ""
