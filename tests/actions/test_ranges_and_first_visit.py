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
    monkeypatch.setattr("actions.asks.get_settings", lambda: settings)


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

    @pytest.mark.parametrize(
        ("status", "told"), [("completed", {"primeira_consulta": False}), ("canceled", {})]
    )
    def test_a_past_visit_in_the_history_answers_it(
        self, monkeypatch: pytest.MonkeyPatch, status: str, told: dict[str, Any]
    ) -> None:
        past = datetime.now(timezone.utc) - timedelta(days=40)
        history = [Appointment(id="a1", starts_at=past, status=status)]
        agenda = SimpleNamespace(patient_appointments=lambda cpf: history)
        monkeypatch.setattr("actions.forms.booking_service", lambda: SimpleNamespace(agenda=agenda))
        assert ValidateAgendamentoForm()._history_tells_first_visit("39053344705") == told
