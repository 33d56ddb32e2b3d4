"""The Rasa actions of the waiting list and of replies to reminders/offers (thin wrappers)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from typing import Any

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine

from actions.reminders import ActionResponderLembreteOuOferta
from actions.waiting_list import (
    ActionEntrarListaEspera,
    ActionPosicaoListaEspera,
    ActionSairListaEspera,
)
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import ReminderReplies
from clinicbot.services.waiting_list import Slot, WaitingListService
from tests.services.notify_support import JOAO, MARINA, TZ, FrozenClock, at, book, deliver

FREED = datetime.combine(date(2031, 3, 13), time(10), tzinfo=TZ)


@pytest.fixture(autouse=True)
def _services(
    monkeypatch: pytest.MonkeyPatch,
    waiting_list: WaitingListService,
    reminder_replies: ReminderReplies,
    agenda: GestaoDSClient,
) -> None:
    """The actions' per-process services, bound to this test's database, agenda and clock."""
    for module in ("actions.waiting_list", "actions.reminders"):
        monkeypatch.setattr(f"{module}.waiting_list_service", lambda: waiting_list)
    monkeypatch.setattr("actions.reminders.reminder_replies", lambda: reminder_replies)
    monkeypatch.setattr("actions.reminders.agenda", lambda: agenda)


def run(
    action: Action, *, intent: str = "", text: str = "", slots: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``action`` for Marina; the messages it sent and the events it returned."""
    entities = [
        {"entity": "data", "value": "2031-03-13"},
        {"entity": "periodo", "value": "manha"},
    ]
    events = [
        {
            "event": "user",
            "text": "me coloca na lista pra quinta de manhã",
            "parse_data": {"intent": {"name": "lista_espera"}, "entities": entities},
        }
    ]
    tracker = Tracker(
        sender_id=MARINA[1],
        slots=slots or {},
        latest_message={"intent": {"name": intent}, "text": text, "entities": []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=None,
    )
    dispatcher = CollectingDispatcher()
    returned = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, returned


def test_joining_asking_the_position_and_leaving(engine: Engine, fake: FakeGestaoDS) -> None:
    messages, events = run(ActionPosicaoListaEspera())
    assert (messages, events) == ([], [SlotSet("na_lista_espera", False)])

    slots = {"cpf": MARINA[0], "paciente_nome": MARINA[2]}
    [message], events = run(ActionEntrarListaEspera(), slots=slots)
    assert message["response"] == "utter_lista_espera_entrou"
    assert (message["posicao"], message["preferencia"]) == (1, " para quinta, 13/03 de manhã")
    assert events == [SlotSet("na_lista_espera", True)]

    [message], _ = run(ActionPosicaoListaEspera())
    assert (message["response"], message["posicao"]) == ("utter_lista_espera_posicao", 1)

    [message], _ = run(ActionSairListaEspera())
    assert message["response"] == "utter_lista_espera_saiu"
    [message], _ = run(ActionSairListaEspera())
    assert message["response"] == "utter_lista_espera_nao_estava"


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("afirmar", "sim"),
        # A whole-message yes of the concept lexicon counts whatever the classifier said.
        ("nlu_fallback", "👍"),
        ("nlu_fallback", "Pode!"),
    ],
)
def test_sim_to_an_offer_books_it(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    fake: FakeGestaoDS,
    intent: str,
    text: str,
) -> None:
    run(ActionEntrarListaEspera(), slots={"cpf": MARINA[0], "paciente_nome": MARINA[2]})
    [freed] = [a for a in agenda.patient_appointments(JOAO[0]) if a.is_active]
    agenda.cancel(freed.id, "imprevisto")
    assert waiting_list.offer_freed_slot(Slot(starts_at=freed.starts_at)) is not None
    deliver(engine)

    [message], _ = run(ActionResponderLembreteOuOferta(), intent=intent, text=text)

    assert message["response"] == "utter_oferta_agendada"
    assert (message["dia"], message["hora"]) == ("quinta-feira, 13/03", "10:00")
    assert [a.starts_at for a in fake.appointments_of(MARINA[0]) if a.active] == [FREED]


def test_nao_to_a_reminder_offers_reschedule_or_cancel(
    engine: Engine,
    agenda: GestaoDSClient,
    dispatcher: NotificationDispatcher,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    [message], _ = run(ActionResponderLembreteOuOferta(), intent="negar", text="não")
    assert message["response"] == "utter_como_ajudar"  # nothing was asked

    book(engine, agenda, fake, clock, at(2, 10))
    clock.set(at(1, 10))
    dispatcher.dispatch_due()
    deliver(engine)
    [message], _ = run(ActionResponderLembreteOuOferta(), intent="negar", text="não")
    assert message["response"] == "utter_lembrete_remarcar_ou_cancelar"
    assert (message["dia"], message["hora"]) == ("quarta-feira, 12/03", "10:00")
