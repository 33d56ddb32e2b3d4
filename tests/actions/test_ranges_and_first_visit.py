"""The day question inside a requested range, and the first-visit question."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.asks import ActionAskDiaEscolhido
from actions.forms import ValidateAgendamentoForm
from clinicbot.gestaods.models import Appointment
from clinicbot.services.choices import Option
from clinicbot.services.clinic import load_clinic
from tests.actions.harness import rendered, replies, tracker

TUESDAY = date(2026, 12, 1)
NEXT_WEEK = {"from": "2026-12-07", "to": "2026-12-13"}


@dataclasses.dataclass
class RangeAgenda:
    """Free days of the agenda, each with the periods it has a time in."""

    free: dict[date, set[str]]
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def day_options(
        self,
        start: date | None = None,
        limit: int = 6,
        *,
        until: date | None = None,
        period: str | None = None,
    ) -> list[Option]:
        self.calls.append({"start": start, "until": until, "period": period})
        days = [
            day
            for day in sorted(self.free)
            if (start is None or day >= start)
            and (until is None or day <= until)
            and (period is None or period in self.free[day])
        ]
        return [{"value": day.isoformat(), "label": f"{day:%d/%m}"} for day in days[:limit]]


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = SimpleNamespace(clinic_today=lambda: TUESDAY)
    monkeypatch.setattr("actions.asks.current_settings", lambda: settings)


def ask_day(monkeypatch: pytest.MonkeyPatch, agenda: RangeAgenda, **slots: Any) -> list[str]:
    monkeypatch.setattr("actions.asks.booking_service", lambda: agenda)
    return replies(ActionAskDiaEscolhido(), tracker(slots=slots, form="agendamento_form"))


def test_days_inside_the_range_with_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    agenda = RangeAgenda({date(2026, 12, 2): {"manha"}, date(2026, 12, 8): {"manha"}})
    [text] = ask_day(monkeypatch, agenda, dias_preferidos=NEXT_WEEK, periodo_preferido="manha")
    assert text.startswith("Estes são os dias com horários livres de manhã entre 07/12 e 13/12")
    assert agenda.calls == [
        {"start": date(2026, 12, 7), "until": date(2026, 12, 13), "period": "manha"}
    ]


def test_a_full_range_offers_the_nearest_days_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    agenda = RangeAgenda({date(2026, 12, 14): {"tarde"}, date(2026, 12, 15): {"manha"}})
    [text] = ask_day(monkeypatch, agenda, dias_preferidos=NEXT_WEEK, periodo_preferido="manha")
    assert text.startswith("Não tenho horários livres de manhã entre 07/12 e 13/12 😕")
    assert agenda.calls[-1] == {"start": date(2026, 12, 14), "until": None, "period": "manha"}


def test_a_vague_time_reads_naturally(monkeypatch: pytest.MonkeyPatch) -> None:
    agenda = RangeAgenda({date(2026, 12, 8): {"depois_do_almoco"}})
    slots = {"dias_preferidos": NEXT_WEEK, "periodo_preferido": "depois_do_almoco"}
    [text] = ask_day(monkeypatch, agenda, **slots)
    assert "horários livres depois do almoço entre 07/12 e 13/12" in text


def visit(days: int, status: str) -> Appointment:
    """An appointment ``days`` from now (negative: in the past) with ``status``."""
    starts_at = datetime.now(timezone.utc) + timedelta(days=days)
    return Appointment(id=f"a{days}", starts_at=starts_at, status=status)


class TestFirstVisit:
    @pytest.fixture(autouse=True)
    def _asks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        clinic = dataclasses.replace(load_clinic(), asks_first_visit=True)
        monkeypatch.setattr("actions.forms.current_facts", lambda: clinic)

    @staticmethod
    def required(**slots: Any) -> list[str]:
        validator = ValidateAgendamentoForm()
        on = tracker(slots=slots, form="agendamento_form")
        domain_slots = ["cpf", "paciente_nome", "primeira_consulta", "dia_escolhido"]
        return asyncio.run(validator.required_slots(domain_slots, CollectingDispatcher(), on, {}))

    def test_asked_of_a_known_patient_only(self) -> None:
        known = {"paciente_cadastrado": True, "identidade_verificada": True}
        assert "primeira_consulta" in self.required(**known)
        assert "primeira_consulta" not in self.required(paciente_cadastrado=False)
        assert "primeira_consulta" not in self.required()

    @pytest.mark.parametrize(
        ("text", "first"), [("retorno", False), ("é a primeira vez", True), ("hmm", None)]
    )
    def test_the_answer(self, text: str, first: bool | None) -> None:
        dispatcher = CollectingDispatcher()
        on = tracker(slots={"requested_slot": "primeira_consulta"}, text=text)
        result = ValidateAgendamentoForm().validate_primeira_consulta(text, dispatcher, on, {})
        assert result == {"primeira_consulta": first}
        said = [rendered(message) for message in dispatcher.messages]
        if first is None:
            assert len(said) == 1 and "retorno" in said[0], said
        else:
            assert said == []

    @staticmethod
    def validated(history: list[Appointment], **slots: Any) -> list[dict[str, Any]]:
        """The events of the booking form's validation for a known, verified patient."""
        agenda = SimpleNamespace(patient_appointments=lambda cpf: history)
        known = {"cpf": "39053344705", "paciente_cadastrado": True, "identidade_verificada": True}
        on = tracker(slots={**known, **slots}, form="agendamento_form")
        validator = ValidateAgendamentoForm()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("actions.forms.booking_service", lambda: SimpleNamespace(agenda=agenda))
            return asyncio.run(validator.get_validation_events(CollectingDispatcher(), on, {}))

    @pytest.mark.parametrize(
        ("history", "told"),
        [
            ([visit(-40, "completed")], [False]),  # seen before: a return
            ([], [True]),  # registered, never booked: the first visit
            ([visit(-40, "canceled"), visit(-10, "no_show")], [True]),  # never came
            ([visit(+5, "scheduled")], []),  # only upcoming: not evident, asked
        ],
    )
    def test_the_history_answers_it_when_it_tells(
        self, history: list[Appointment], told: list[bool]
    ) -> None:
        events = self.validated(history, requested_slot="paciente_nascimento")
        assert [e["value"] for e in events if e["name"] == "primeira_consulta"] == told

    def test_the_patients_answer_is_never_overridden(self) -> None:
        events = self.validated([visit(-40, "completed")], requested_slot="primeira_consulta")
        assert events == []
        events = self.validated([visit(-40, "completed")], primeira_consulta=True)
        assert events == []


class TestStalePreferences:
    """A form's first turn keeps only the days and period this message asks for."""

    @staticmethod
    def validated(**latest: Any) -> list[dict[str, Any]]:
        earlier = {"dias_preferidos": NEXT_WEEK, "periodo_preferido": "manha", "cpf": "1"}
        on = tracker(slots=earlier, form="agendamento_form", **latest)
        validator = ValidateAgendamentoForm()
        return asyncio.run(validator.get_validation_events(CollectingDispatcher(), on, {}))

    def test_an_earlier_journeys_range_and_period_are_forgotten(self) -> None:
        events = self.validated(text="quero marcar outra consulta")
        assert {e["name"]: e["value"] for e in events} == {
            "dias_preferidos": None,
            "periodo_preferido": None,
        }

    def test_this_messages_period_stays(self) -> None:
        period = [{"entity": "periodo", "value": "manha", "start": 13, "end": 21}]
        events = self.validated(text="quero marcar de manhã", entities=period)
        assert {e["name"]: e["value"] for e in events} == {"dias_preferidos": None}


def test_a_range_already_over_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for on Monday night, answered after midnight: the plain list of days."""
    agenda = RangeAgenda({date(2026, 12, 2): {"manha"}})
    over = {"from": "2026-11-30", "to": "2026-11-30"}
    [text] = ask_day(monkeypatch, agenda, dias_preferidos=over)
    assert "30/11" not in text, text
    assert agenda.calls == [{"start": None, "until": None, "period": None}]


def test_a_range_begun_already_is_offered_from_today(monkeypatch: pytest.MonkeyPatch) -> None:
    agenda = RangeAgenda({date(2026, 12, 2): {"manha"}})
    [text] = ask_day(
        monkeypatch, agenda, dias_preferidos={"from": "2026-11-30", "to": "2026-12-06"}
    )
    assert "entre 01/12 e 06/12" in text, text
    assert agenda.calls == [{"start": TUESDAY, "until": date(2026, 12, 6), "period": None}]
