"""Validation of the journeys' forms: booking, rescheduling, cancelling, identifying."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.services import booking_service
from clinicbot.db.types import utcnow
from clinicbot.gestaods.errors import GestaoDSError
from clinicbot.ptbr.cpf import cpf_digits, is_valid_cpf
from clinicbot.ptbr.first_visit import parse_first_visit
from clinicbot.ptbr.formatting import long_day
from clinicbot.ptbr.names import could_be_name, without_remark
from clinicbot.ptbr.replies import declines_to_say, says_no, says_yes
from clinicbot.ptbr.words import WEEKDAY_NAMES
from clinicbot.services import identity
from clinicbot.services.choices import Option, pick_option
from clinicbot.services.handoff import request_human
from clinicbot.services.patients import parse_birth_date, parse_email, parse_full_name
from clinicbot.services.visit_history import first_visit_from_history
from clinicbot.tenancy.current import current_facts, current_settings
from clinicbot.tenancy.senders import phone_of

logger = logging.getLogger(__name__)

REGISTRATION_SLOTS = ("paciente_nome", "paciente_email")
BOOKING_FORM = "agendamento_form"
FIRST_VISIT = "primeira_consulta"
# Steps at which a date in the message means "this day instead" (a preference or a correction).
DAY_CHANGE_STEPS = (None, "dia_escolhido", "horario_escolhido", "confirmacao")
Slots = dict[str, Any]


class JourneyFormValidator(FormValidationAction, ABC):
    """Validators shared by every journey form; each subclass names its form."""

    @abstractmethod
    def name(self) -> str:
        """``validate_<form name>``; abstract so that rasa_sdk does not register this base."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Validates; a sender out of identity checks for today is handed to the staff."""
        events = await super().run(dispatcher, tracker, domain)
        handed_over = any(
            event.get("event") == "slot"
            and event.get("name") == "verificacao_bloqueada"
            and event.get("value")
            for event in events
        )
        return [*events, ConversationPaused()] if handed_over else events

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The slots' validation; on the form's first turn, the days and part of the day asked
        for in an earlier journey are forgotten unless this message asks for them again."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        if tracker.get_slot("requested_slot") is None:
            fresh = {
                "dias_preferidos": slots.latest_range(tracker),
                "periodo_preferido": next(tracker.get_latest_entity_values("periodo"), None),
            }
            for slot, given in fresh.items():
                if given is None and tracker.get_slot(slot) is not None:
                    tracker.slots[slot] = None
                    events.append(SlotSet(slot, None))
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """The birth date only while the sender is not verified; name and e-mail only to
        register a patient."""
        required = list(domain_slots)
        if tracker.get_slot("identidade_verificada"):
            required = [slot for slot in required if slot != "paciente_nascimento"]
        if tracker.get_slot("paciente_cadastrado") is not False:
            required = [slot for slot in required if slot not in REGISTRATION_SLOTS]
        known = tracker.get_slot("paciente_cadastrado") and tracker.get_slot(
            "identidade_verificada"
        )
        if not (known and current_facts().asks_first_visit):
            required = [slot for slot in required if slot != FIRST_VISIT]
        return required

    def validate_cpf(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        """Look the CPF up, telling the sender nothing about it: they are verified at once
        when their WhatsApp number is the patient's, else asked the birth date."""
        digits = slots.latest_cpf(tracker) or cpf_digits(str(value or ""))
        if not is_valid_cpf(digits):
            dispatcher.utter_message(response="utter_cpf_invalido")
            return {"cpf": None}
        if identity.blocked(phone_of(tracker.sender_id)):
            return _hand_over(dispatcher, tracker)
        try:
            patient = booking_service().find_patient(digits)
        except GestaoDSError:
            logger.exception("patient lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return {"cpf": None}
        verified = patient is not None and identity.sender_is_patient(
            phone_of(tracker.sender_id), patient
        )
        found: Slots = {
            "cpf": digits,
            "paciente_cadastrado": patient is not None,
            "identidade_verificada": verified,
            "verificacao_falhou": None,
            "paciente_nascimento": None,
        }
        if verified and patient is not None:
            found["paciente_nome"] = patient.name
        return found

    def validate_paciente_nascimento(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        """The identity check (and, for a new patient, registration data).

        A registered CPF with another birth date goes on in the booking form exactly as a new
        patient would, so that the sender cannot tell the CPF is registered; that booking
        ends with the staff (``verificacao_falhou``). In the other forms any failure gets the
        same answer, whether the CPF is registered or not.
        """
        born = parse_birth_date(str(value or ""), current_settings().clinic_today())
        if born is None:
            dispatcher.utter_message(response="utter_nascimento_invalido")
            return {"paciente_nascimento": None}
        told: Slots = {"paciente_nascimento": born.isoformat()}
        try:
            patient = booking_service().find_patient(tracker.get_slot("cpf"))
        except GestaoDSError:
            logger.exception("patient lookup failed")
            dispatcher.utter_message(response="utter_agenda_indisponivel")
            return {"paciente_nascimento": None}
        booking = self.form_name() == BOOKING_FORM
        if patient is not None and identity.birth_date_matches(patient, born):
            return {**told, "identidade_verificada": True, "paciente_nome": patient.name}
        if patient is None and booking:
            return told  # a new patient: registration goes on
        failures = identity.record_failure(phone_of(tracker.sender_id))
        if booking:
            return {**told, "paciente_cadastrado": False, "verificacao_falhou": True}
        if failures >= identity.MAX_FAILURES_PER_DAY:
            return _hand_over(dispatcher, tracker)
        dispatcher.utter_message(response="utter_dados_nao_conferem")
        return {"cpf": None, "paciente_nascimento": None}

    def validate_dia_escolhido(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        requested = tracker.get_slot("requested_slot")
        wanted_days = slots.latest_range(tracker)
        if wanted_days is not None and (
            requested in DAY_CHANGE_STEPS or requested == "dia_escolhido"
        ):
            # "semana que vem": the day question lists the free days in that range
            return {
                "dia_escolhido": None,
                "dias_preferidos": wanted_days,
                "horario_escolhido": None,
                "confirmacao": None,
                "opcoes": None,
            }
        if requested == "dia_escolhido":
            options = tracker.get_slot("opcoes") or []
            choice = pick_option(options, slots.entities(tracker), slots.text(tracker))
            if choice is not None:
                return {"dia_escolhido": choice["value"], "opcoes": None}
            wanted = slots.latest_date(tracker)
            if wanted is None:
                dispatcher.utter_message(response="utter_opcao_invalida")
                return {"dia_escolhido": None}
            return self._other_day(wanted, tracker, dispatcher, keep_options=True)
        wanted = slots.latest_date(tracker)
        if requested not in DAY_CHANGE_STEPS or wanted is None:
            return {"dia_escolhido": None} if requested != "horario_escolhido" else {}
        return self._other_day(wanted, tracker, dispatcher, keep_options=False)

    @staticmethod
    def _other_day(
        wanted: date, tracker: Tracker, dispatcher: CollectingDispatcher, keep_options: bool
    ) -> Slots:
        """A day the patient named rather than picked: accepted when it has bookable slots.

        A weekday named alone on that weekday ("terça" on a Tuesday) is today while today has
        free times, else the same weekday next week, and the patient is told so.
        """
        today = current_settings().clinic_today()
        service = booking_service()
        try:
            available = wanted >= today and service.is_available_day(wanted)
            if not available and wanted == today and slots.names_bare_weekday(tracker):
                next_week = wanted + timedelta(weeks=1)
                if service.is_available_day(next_week):
                    dispatcher.utter_message(
                        response="utter_hoje_sem_horarios",
                        dia_semana=WEEKDAY_NAMES[wanted.weekday()],
                        data=f"{next_week:%d/%m}",
                    )
                    wanted, available = next_week, True
        except GestaoDSError:
            logger.exception("available days lookup failed")
            available = False
        if not available:
            dispatcher.utter_message(
                response="utter_dia_sem_horarios_escolha_da_lista"
                if keep_options
                else "utter_dia_sem_horarios",
                dia=long_day(wanted),
            )
            return {"dia_escolhido": None, "horario_escolhido": None, "confirmacao": None}
        changed: Slots = {"dia_escolhido": wanted.isoformat(), "horario_escolhido": None}
        return {**changed, "confirmacao": None, "opcoes": None}

    def validate_horario_escolhido(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        # Another day named while the times are listed is a change of day, which
        # validate_dia_escolhido answers (it may already have run and cleared the list).
        options = tracker.get_slot("opcoes") or []
        wanted_day = slots.latest_date(tracker)
        if wanted_day is not None and wanted_day != _listed_day(options):
            return {"horario_escolhido": None}
        if slots.latest_range(tracker) is not None:
            return {"horario_escolhido": None}
        choice = pick_option(options, slots.entities(tracker), slots.text(tracker))
        if choice is None:
            dispatcher.utter_message(response="utter_opcao_invalida")
            return {"horario_escolhido": None}
        return {"horario_escolhido": choice["value"], "opcoes": None}

    def validate_agendamento_escolhido(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        options = tracker.get_slot("agendamentos") or []
        choice = pick_option(options, slots.entities(tracker), slots.text(tracker))
        if choice is None:
            dispatcher.utter_message(response="utter_opcao_invalida")
            return {"agendamento_escolhido": None}
        return {"agendamento_escolhido": choice["value"]}

    def validate_motivo_cancelamento(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        reason = " ".join(str(value or "").split())
        if declines_to_say(reason) or not reason:
            reason = "Não informado"
        return {"motivo_cancelamento": reason[:200]}

    def validate_confirmacao(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        typed = slots.text(tracker)
        if slots.intent(tracker) == "afirmar" or says_yes(typed):
            return {"confirmacao": True}
        if slots.intent(tracker) == "negar" or says_no(typed):
            return {"confirmacao": False}
        dispatcher.utter_message(response="utter_confirmacao_invalida")
        return {"confirmacao": None}


def _listed_day(options: list[Option]) -> date | None:
    """The day of the listed start times (their values are ISO datetimes)."""
    return datetime.fromisoformat(options[0]["value"]).date() if options else None


def _first_visit_in_history(cpf: str) -> bool | None:
    """What the patient's agenda history tells (:mod:`clinicbot.services.visit_history`);
    None when it does not, or cannot be read (the patient is asked)."""
    try:
        history = booking_service().agenda.patient_appointments(cpf)
    except GestaoDSError:
        logger.exception("patient history lookup failed")
        return None
    return first_visit_from_history(history, utcnow())


def _hand_over(dispatcher: CollectingDispatcher, tracker: Tracker) -> Slots:
    """Out of identity checks for today: the staff take over (the form stops, the bot
    pauses; see :meth:`JourneyFormValidator.run`)."""
    request_human(phone_of(tracker.sender_id), reason="verificação de identidade não confirmada")
    dispatcher.utter_message(
        response="utter_verificacao_bloqueada", horario_recepcao=current_facts().human_hours
    )
    return {
        "cpf": None,
        "paciente_nascimento": None,
        "requested_slot": None,
        "verificacao_bloqueada": True,
    }


class ValidateAgendamentoForm(JourneyFormValidator):
    def name(self) -> str:
        return "validate_agendamento_form"

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Also ``primeira_consulta`` from a known patient's agenda history, when it tells and
        the question has not been asked yet (the patient's answer is never overridden)."""
        events = await super().get_validation_events(dispatcher, tracker, domain)
        pending = (
            current_facts().asks_first_visit
            and tracker.get_slot("paciente_cadastrado")
            and tracker.get_slot("identidade_verificada")
            and tracker.get_slot("cpf")
            and tracker.get_slot(FIRST_VISIT) is None
            and tracker.get_slot("requested_slot") != FIRST_VISIT
        )
        if pending and (told := _first_visit_in_history(tracker.get_slot("cpf"))) is not None:
            tracker.slots[FIRST_VISIT] = told
            events.append(SlotSet(FIRST_VISIT, told))
        return events

    def validate_paciente_nome(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        entity = next(tracker.get_latest_entity_values("nome"), None)
        name = parse_full_name(without_remark(str(entity or "")))
        # "ANA LIMA" in capitals is a name; "QUERO REMARCAR MINHA CONSULTA" is not
        typed = parse_full_name(without_remark(str(value or "")))
        if name is None and typed is not None and could_be_name(typed):
            name = typed
        if name is None:
            dispatcher.utter_message(response="utter_nome_invalido")
        return {"paciente_nome": name}

    def validate_primeira_consulta(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        first = parse_first_visit(str(value or ""))
        if first is None:
            dispatcher.utter_message(response="utter_primeira_consulta_invalida")
        return {FIRST_VISIT: first}

    def validate_paciente_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        email = parse_email(str(value or ""))
        if email is None:
            dispatcher.utter_message(response="utter_email_invalido")
        return {"paciente_email": email}


class ValidateReagendamentoForm(JourneyFormValidator):
    def name(self) -> str:
        return "validate_reagendamento_form"


class ValidateCancelamentoForm(JourneyFormValidator):
    def name(self) -> str:
        return "validate_cancelamento_form"


class ValidateIdentificacaoForm(JourneyFormValidator):
    def name(self) -> str:
        return "validate_identificacao_form"
