"""What the patient reads after each action, byte for byte (the texts live in ``domain.yml``)."""

from __future__ import annotations

from datetime import date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.asks import (
    ActionAskAgendamentoEscolhido,
    ActionAskConfirmacao,
    ActionAskDiaEscolhido,
    ActionAskHorarioEscolhido,
)
from actions.conversation import ActionTransferirAtendente
from actions.faq import ActionResponderFaq
from actions.forms import ValidateAgendamentoForm
from actions.journeys import (
    ActionAgendarConsulta,
    ActionCancelarConsulta,
    ActionListarAgendamentos,
    ActionReagendarConsulta,
)
from clinicbot.gestaods.models import Appointment
from tests.actions.harness import AgendaAnswers, rendered, replies, run, tracker

TZ = ZoneInfo("America/Sao_Paulo")
TUESDAY = date(2031, 3, 11)
AT_TEN = datetime.combine(TUESDAY, time(10), tzinfo=TZ)
FRIDAY_AT_NINE = datetime(2031, 3, 14, 9, tzinfo=TZ)
DAYS = [
    {"value": "2031-03-11", "label": "terça, 11/03"},
    {"value": "2031-03-12", "label": "quarta, 12/03"},
]
TIMES = [{"value": AT_TEN.isoformat(), "label": "10:00"}]
APPOINTMENTS = [
    Appointment(id="a1", starts_at=AT_TEN, professional="Dra. Ana"),
    Appointment(id="a2", starts_at=FRIDAY_AT_NINE),
]
VERIFIED = {"cpf": "39053344705", "identidade_verificada": True}
CHOSEN = {
    "agendamento_escolhido": "a1",
    "agendamentos": AgendaAnswers.appointment_options(APPOINTMENTS),
}
AGENDA_DOWN = (
    "Estou com dificuldade para acessar a agenda agora 😕 Pode tentar de novo em alguns minutos? "
    "Se preferir, ligue para (31) 3000-1000."
)


@pytest.fixture
def agenda(monkeypatch: pytest.MonkeyPatch) -> AgendaAnswers:
    answers = AgendaAnswers(days=DAYS, times={None: TIMES}, appointments=APPOINTMENTS)
    for module in ("actions.asks", "actions.journeys", "actions.forms"):
        monkeypatch.setattr(f"{module}.booking_service", lambda: answers)
    return answers


def test_asking_the_day_lists_the_free_days(agenda: AgendaAnswers) -> None:
    [message] = run(ActionAskDiaEscolhido(), tracker())
    assert rendered(message) == (
        "Estes são os próximos dias com horários livres. Qual fica melhor para você?"
    )
    assert [button["title"] for button in message["buttons"]] == ["terça, 11/03", "quarta, 12/03"]


def test_asking_the_time_lists_that_days_times(agenda: AgendaAnswers) -> None:
    [message] = run(ActionAskHorarioEscolhido(), tracker(slots={"dia_escolhido": "2031-03-11"}))
    assert rendered(message) == "Para terça-feira, 11/03, tenho estes horários. Qual você prefere?"
    assert [button["title"] for button in message["buttons"]] == ["10:00"]


def test_no_time_in_the_wanted_period_says_so_and_lists_the_others(agenda: AgendaAnswers) -> None:
    agenda.times["manha"] = []
    slots = {"dia_escolhido": "2031-03-11", "periodo_preferido": "manha"}
    assert replies(ActionAskHorarioEscolhido(), tracker(slots=slots)) == [
        "Em terça-feira, 11/03 não tenho horário de manhã.",
        "Para terça-feira, 11/03, tenho estes horários. Qual você prefere?",
    ]


def test_a_day_filled_meanwhile_goes_back_to_the_days(agenda: AgendaAnswers) -> None:
    agenda.times = {}
    assert replies(ActionAskHorarioEscolhido(), tracker(slots={"dia_escolhido": "2031-03-11"})) == [
        "Os horários de terça-feira, 11/03 acabaram de ser preenchidos 😕 "
        "Vamos escolher outro dia.",
        "Estes são os próximos dias com horários livres. Qual fica melhor para você?",
    ]


@pytest.mark.parametrize(
    ("form", "question"),
    [
        ("reagendamento_form", "Encontrei estas consultas. Qual você quer remarcar?"),
        ("cancelamento_form", "Encontrei estas consultas. Qual você quer cancelar?"),
    ],
)
def test_asking_which_appointment(agenda: AgendaAnswers, form: str, question: str) -> None:
    [message] = run(ActionAskAgendamentoEscolhido(), tracker(form=form, slots=VERIFIED))
    assert rendered(message) == question
    assert [button["title"] for button in message["buttons"]] == [
        "terça-feira, 11/03, às 10:00 (Dra. Ana)",
        "sexta-feira, 14/03, às 09:00",
    ]


@pytest.mark.parametrize(
    ("form", "question"),
    [
        (
            "agendamento_form",
            "Posso confirmar sua consulta para sexta-feira, 14/03, às 09:00? "
            "Responda *sim* ou *não*.",
        ),
        (
            "reagendamento_form",
            "Posso remarcar sua consulta de terça-feira, 11/03, às 10:00 (Dra. Ana) para "
            "sexta-feira, 14/03, às 09:00? Responda *sim* ou *não*.",
        ),
        (
            "cancelamento_form",
            "Confirma o cancelamento da consulta de terça-feira, 11/03, às 10:00 (Dra. Ana)? "
            "Responda *sim* ou *não*.",
        ),
    ],
)
def test_asking_to_confirm(form: str, question: str) -> None:
    slots = {**CHOSEN, "horario_escolhido": FRIDAY_AT_NINE.isoformat()}
    assert replies(ActionAskConfirmacao(), tracker(slots=slots, form=form)) == [question]


@pytest.mark.parametrize(
    ("name", "greeting"),
    [("Marina Alves Prado", "Prontinho, Marina! ✅"), (None, "Prontinho! ✅")],
)
def test_booked(agenda: AgendaAnswers, name: str | None, greeting: str) -> None:
    slots = {
        "confirmacao": True,
        "horario_escolhido": AT_TEN.isoformat(),
        "cpf": "39053344705",
        "paciente_nome": name,
        "paciente_cadastrado": True,
    }
    assert replies(ActionAgendarConsulta(), tracker(slots=slots)) == [
        f"{greeting} Sua consulta está marcada para terça-feira, 11/03, às 10:00.\n"
        "Chegue uns 15 minutinhos antes e traga um documento com foto. Até lá!"
    ]


def test_rescheduled(agenda: AgendaAnswers) -> None:
    slots = {**CHOSEN, "confirmacao": True, "horario_escolhido": FRIDAY_AT_NINE.isoformat()}
    assert replies(ActionReagendarConsulta(), tracker(slots=slots)) == [
        "Prontinho! ✅ Sua consulta foi remarcada para sexta-feira, 14/03, às 09:00."
    ]


def test_canceled(agenda: AgendaAnswers) -> None:
    slots = {**CHOSEN, "confirmacao": True}
    assert replies(ActionCancelarConsulta(), tracker(slots=slots)) == [
        "Consulta cancelada ✅ Se quiser marcar outra data, é só me chamar."
    ]


@pytest.mark.parametrize(
    ("action", "answer"),
    [
        (
            ActionAgendarConsulta(),
            'Tudo bem, não marquei nada. Quando quiser, é só dizer "quero marcar uma consulta".',
        ),
        (ActionReagendarConsulta(), "Tudo bem, mantive sua consulta como estava 👍"),
        (ActionCancelarConsulta(), "Certo, sua consulta continua marcada 👍"),
    ],
)
def test_a_no_to_the_confirmation_changes_nothing(action: object, answer: str) -> None:
    slots = {**CHOSEN, "confirmacao": False, "horario_escolhido": AT_TEN.isoformat()}
    assert replies(action, tracker(slots=slots)) == [answer]


def test_listing_one_or_more_appointments(agenda: AgendaAnswers) -> None:
    assert replies(ActionListarAgendamentos(), tracker(slots=VERIFIED)) == [
        "Suas próximas consultas:\n"
        "• terça-feira, 11/03, às 10:00 (Dra. Ana)\n"
        "• sexta-feira, 14/03, às 09:00"
    ]
    agenda.appointments = APPOINTMENTS[1:]
    assert replies(ActionListarAgendamentos(), tracker(slots=VERIFIED)) == [
        "Sua próxima consulta:\n• sexta-feira, 14/03, às 09:00"
    ]


@pytest.mark.parametrize("action", [ActionListarAgendamentos(), ActionAskAgendamentoEscolhido()])
def test_nothing_is_listed_to_an_unverified_sender(agenda: AgendaAnswers, action: object) -> None:
    unverified = {"cpf": "39053344705", "identidade_verificada": False}
    assert replies(action, tracker(slots=unverified, form="cancelamento_form")) == []


class TestAnotherDayNamed:
    """The patient names a day instead of picking one from the list."""

    @pytest.fixture(autouse=True)
    def _today(self, monkeypatch: pytest.MonkeyPatch) -> None:
        settings = SimpleNamespace(clinic_today=lambda: TUESDAY)
        monkeypatch.setattr("actions.forms.current_settings", lambda: settings)

    @staticmethod
    def said(text: str, day: date, requested: str) -> list[str]:
        entity = {"entity": "data", "value": day.isoformat(), "start": 0, "end": len(text)}
        on = tracker(
            slots={"requested_slot": requested, "opcoes": []}, text=text, entities=[entity]
        )
        dispatcher = CollectingDispatcher()
        ValidateAgendamentoForm().validate_dia_escolhido(day.isoformat(), dispatcher, on, {})
        return [rendered(message, on.slots) for message in dispatcher.messages]

    def test_a_full_day_in_the_list_step_asks_to_pick_from_the_list(
        self, agenda: AgendaAnswers
    ) -> None:
        assert self.said("dia 14", date(2031, 3, 14), "dia_escolhido") == [
            "Em sexta-feira, 14/03 não tenho horários livres 😕 "
            "Escolha um dos dias da lista, por favor."
        ]

    def test_a_full_day_as_a_correction(self, agenda: AgendaAnswers) -> None:
        assert self.said("dia 14", date(2031, 3, 14), "confirmacao") == [
            "Em sexta-feira, 14/03 não tenho horários livres 😕"
        ]

    def test_todays_weekday_when_today_is_full_means_next_week(self, agenda: AgendaAnswers) -> None:
        agenda.available_days = {date(2031, 3, 18)}
        assert self.said("terça", TUESDAY, "dia_escolhido") == [
            "Hoje não tenho mais horários livres 😕 A próxima terça é dia 18/03."
        ]


def test_handing_over_to_the_staff(monkeypatch: pytest.MonkeyPatch) -> None:
    requests: list[str] = []
    monkeypatch.setattr(
        "actions.conversation.request_human", lambda phone, reason: requests.append(phone)
    )
    assert replies(ActionTransferirAtendente(), tracker(intent="falar_com_atendente")) == [
        "Certo! Já avisei a recepção 🙋‍♀️ Uma pessoa vai continuar o atendimento por aqui "
        "(de segunda a sexta, das 8h às 18h). Enquanto isso, fico em silêncio para não "
        "atrapalhar."
    ]
    assert len(requests) == 1


@pytest.mark.parametrize(
    ("intent", "insurer", "answer"),
    [
        (
            "horario_funcionamento",
            None,
            "Nosso horário de atendimento:\n"
            "• Segunda a sexta, das 8h às 12h e das 14h às 18h\n"
            "• Sábados, domingos e feriados a clínica não abre",
        ),
        (
            "localizacao",
            None,
            "Estamos na Rua das Acácias, 120, sala 304 - Savassi, Belo Horizonte - MG.\n"
            "Fica a duas quadras da Praça da Savassi; há estacionamento conveniado no prédio.\n"
            "Mapa: https://maps.google.com/?q=Rua+das+Acacias+120+Belo+Horizonte",
        ),
        (
            "convenios",
            None,
            "Atendemos estes convênios:\n• Unimed\n• Bradesco Saúde\n• SulAmérica\n• Amil\n"
            "e consultas particulares.",
        ),
        ("convenios", "unimed", "Sim, atendemos Unimed 😊"),
        (
            "convenios",
            "Hapvida",
            "Infelizmente não atendemos Hapvida. Atendemos:\n"
            "• Unimed\n• Bradesco Saúde\n• SulAmérica\n• Amil\ne também consultas particulares.",
        ),
        (
            "valores",
            None,
            "• Consulta particular: R$ 280,00\n• Retorno em até 30 dias: sem custo\n"
            "Pagamento: Pix, cartão de débito ou crédito (até 3x sem juros).",
        ),
        (
            "especialidades",
            None,
            "Atendemos estas especialidades:\n"
            "• Clínica Geral\n• Dermatologia\n• Pediatria\n• Cardiologia",
        ),
        (
            "agendar_consulta",
            None,
            "Certo! Como posso ajudar? Posso marcar uma consulta ou tirar dúvidas sobre a clínica.",
        ),
    ],
)
def test_faq_answers_come_from_clinic_yml(intent: str, insurer: str | None, answer: str) -> None:
    entities = [{"entity": "convenio", "value": insurer}] if insurer else []
    assert replies(ActionResponderFaq(), tracker(intent=intent, entities=entities)) == [answer]
