"""A scripted clinic day of WhatsApp conversations, on a pinned clock, on both backends.

The conversations go through the same code as in production: the inbox files each patient
message under its conversation (closing one idle for the session timeout), the outbox stores
the answers with their latency, the event broker reads the events Rasa would publish (outcomes,
the booking funnel, a goodbye) and the scheduler's job closes idle conversations. Every
``chatbot_metrics`` column is then compared with figures computed by hand from the script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.clock import set_clock_file
from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    ChatbotMetrics,
    Conversation,
    IntegrationEvent,
    PatientTransaction,
)
from clinicbot.rasa.event_broker import MessageLogBroker
from clinicbot.services import lifecycle
from clinicbot.services.daily_metrics import clinic_daily_metrics
from clinicbot.whatsapp import inbox
from clinicbot.whatsapp.outbox import enqueue_text
from tests.integrations.schemas import assert_valid_event
from tests.whatsapp.harness import text_event

TZ = ZoneInfo("America/Sao_Paulo")
DAY = date(2031, 3, 10)
NEXT_DAY = date(2031, 3, 11)
ANA, BRUNO, CAIO, DORA, EVA = (f"55319{n}0007777" for n in range(1, 6))
_message_ids = count(1)


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A clinic wall-clock moment."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)


class Day:
    """Plays patients' turns at pinned moments against ``engine``."""

    def __init__(self, engine: Engine, move_clock: Callable[[datetime], None]) -> None:
        self.engine = engine
        self.move_clock = move_clock
        self.broker = MessageLogBroker(engine)

    def turn(
        self,
        moment: datetime,
        phone: str,
        intent: str,
        *events: dict[str, Any],
        latency_ms: int | None = None,
    ) -> None:
        """The patient writes at ``moment``; the answer leaves ``latency_ms`` later (None: no
        answer); Rasa publishes the user event, ``events`` and the closing listen."""
        self.move_clock(moment)
        message_id = f"DAY{next(_message_ids)}"
        inbox.store_inbound("zapi", text_event(message_id, phone=phone), self.engine)
        if latency_ms is not None:
            self.move_clock(moment + timedelta(milliseconds=latency_ms))
            with session_scope(self.engine) as session:
                enqueue_text(session, phone, "…", in_reply_to=message_id, latency_ms=latency_ms)
        user = {
            "event": "user",
            "input_channel": "zapi",
            "message_id": message_id,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}},
        }
        for event in (user, *events, {"event": "action", "name": "action_listen"}):
            self.broker.publish({"sender_id": phone, **event})

    def close_idle(self, moment: datetime) -> int:
        self.move_clock(moment)
        return lifecycle.close_idle(self.engine, moment)


def form(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def bot(response: str) -> dict[str, Any]:
    return {"event": "bot", "text": "…", "metadata": {"utter_action": response}}


@pytest.fixture
def day(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    path = tmp_path / "clock"
    set_clock_file(path, at(DAY, 8))
    monkeypatch.setenv("CLOCK_FILE", str(path))
    yield Day(engine, lambda moment: set_clock_file(path, moment))


def play_the_day(day: Day) -> None:
    # Ana books (every funnel stage), then says goodbye: her conversation ends at once.
    day.turn(at(DAY, 9), ANA, "agendar_consulta", form("agendamento_form"), latency_ms=2000)
    day.turn(at(DAY, 9, 1), ANA, "informar_cpf", slot("cpf", "39053344705"), latency_ms=1000)
    day.turn(at(DAY, 9, 2), ANA, "escolher_opcao", slot("dia_escolhido", "2031-03-12"))
    day.turn(at(DAY, 9, 3), ANA, "escolher_opcao", slot("horario_escolhido", "09:00"))
    day.turn(
        at(DAY, 9, 4),
        ANA,
        "afirmar",
        slot("confirmacao", True),
        form(None),
        {"event": "action", "name": "action_agendar_consulta"},
        bot("utter_consulta_marcada"),
    )
    day.turn(at(DAY, 9, 5), ANA, "despedida", bot("utter_despedida"), latency_ms=500)
    # Bruno asks where the clinic is, then goes quiet: the scheduler closes it at 12:00.
    day.turn(at(DAY, 10), BRUNO, "localizacao", bot("utter_faq_localizacao"), latency_ms=3000)
    # Caio starts booking, tells his CPF, stops: the attempt is dropped at "identified".
    day.turn(at(DAY, 11), CAIO, "agendar_consulta", form("agendamento_form"), latency_ms=4000)
    day.turn(at(DAY, 11, 1), CAIO, "informar_cpf", slot("cpf", "52998224725"))
    day.turn(at(DAY, 11, 2), CAIO, "parar", form(None), bot("utter_parei"))
    assert day.close_idle(at(DAY, 12, 5)) == 2  # Bruno's and Caio's
    # Bruno again: a new conversation, handed to the staff.
    day.turn(
        at(DAY, 13), BRUNO, "falar_com_atendente", bot("utter_atendente_avisado"), latency_ms=5000
    )
    # Dora joins the waiting list, then writes again two hours later: a new conversation
    # (the inbox closes the idle one), in which nothing comes of her "oi".
    day.turn(at(DAY, 14), DORA, "lista_espera", bot("utter_lista_espera_entrou"), latency_ms=1500)
    day.turn(at(DAY, 16), DORA, "saudacao", bot("utter_saudacao"), latency_ms=2500)
    # Eva cancels at 23:30 clinic time (02:30 UTC on the 11th): it counts for the 10th.
    day.turn(
        at(DAY, 23, 30), EVA, "cancelar_consulta", bot("utter_consulta_cancelada"), latency_ms=6000
    )
    # Ana writes on the 11th and never gets an answer (her turn failed, say).
    day.turn(at(NEXT_DAY, 8), ANA, "saudacao")
    day.close_idle(at(NEXT_DAY, 12))


def test_every_daily_metric_matches_the_hand_computed_figures(day: Day, engine: Engine) -> None:
    play_the_day(day)

    with session_scope(engine) as session:
        rows = {row.date: row for row in session.execute(select(ChatbotMetrics)).scalars()}
        metrics = {
            moment: {
                column.name: getattr(row, column.name)
                for column in ChatbotMetrics.__table__.columns
                if column.name not in ("date", "updated_at")
            }
            for moment, row in rows.items()
        }
        assert all(row.updated_at is not None for row in rows.values())
        # One clinic's own figures (the public API's) are the same as the deployment's here.
        own = clinic_daily_metrics(session, 1, DAY, NEXT_DAY)
        outcomes = session.execute(
            select(Conversation.phone, Conversation.outcome, Conversation.status).order_by(
                Conversation.id
            )
        ).all()
        funnel = session.execute(
            select(
                PatientTransaction.phone,
                PatientTransaction.stage_current,
                PatientTransaction.dropped_stage,
                PatientTransaction.identified_at.is_not(None),
                PatientTransaction.day_chosen_at.is_not(None),
                PatientTransaction.slot_chosen_at.is_not(None),
                PatientTransaction.confirmed_at.is_not(None),
                PatientTransaction.booked_at.is_not(None),
            ).order_by(PatientTransaction.id)
        ).all()

    # The 10th: Ana, Bruno (x2), Caio, Dora (x2), Eva. Resolved: Ana (booked), Bruno's first
    # (answered), Dora's first (waiting list), Eva (cancelled). Answers: Ana 2000 + 1000 + 500,
    # Bruno 3000 + 5000, Caio 4000, Dora 1500 + 2500, Eva 6000.
    assert metrics[DAY] == {
        "total_conversations": 7,
        "bot_resolved_conversations": 4,
        "successful_appointments": 1,
        "bot_resolution_rate": pytest.approx(4 / 7),
        "responses_count": 9,
        "response_time_ms_sum": 25500,
        "avg_response_time_ms": pytest.approx(25500 / 9),
        "satisfaction_count": 0,
        "satisfaction_sum": 0,
        "satisfaction": None,
    }
    assert metrics[NEXT_DAY] == {
        "total_conversations": 1,
        "bot_resolved_conversations": 0,
        "successful_appointments": 0,
        "bot_resolution_rate": pytest.approx(0.0),
        "responses_count": 0,
        "response_time_ms_sum": 0,
        "avg_response_time_ms": None,
        "satisfaction_count": 0,
        "satisfaction_sum": 0,
        "satisfaction": None,
    }
    assert [row.pop("date") for row in own] == [DAY.isoformat(), NEXT_DAY.isoformat()]
    for figures, moment in zip(own, (DAY, NEXT_DAY), strict=True):
        assert figures == {
            name: value
            for name, value in metrics[moment].items()
            if name not in ("response_time_ms_sum", "satisfaction_sum")
        }
    assert outcomes == [
        (ANA, "booked", "closed"),
        (BRUNO, "answered", "expired"),
        (CAIO, "abandoned", "expired"),
        (BRUNO, "handoff", "expired"),
        (DORA, "waiting_list", "expired"),
        (DORA, "abandoned", "expired"),
        (EVA, "cancelled", "expired"),
        (ANA, "abandoned", "expired"),
    ]
    assert funnel == [
        (ANA, "booked", None, True, True, True, True, True),
        (CAIO, "abandoned", "identified", True, False, False, False, False),
    ]


def test_a_conversation_ends_after_the_session_timeout_not_before(day: Day, engine: Engine) -> None:
    timeout = lifecycle.idle_timeout()
    assert timeout == timedelta(minutes=60)  # domain.yml's session_expiration_time
    day.turn(at(DAY, 9), ANA, "saudacao", latency_ms=100)
    assert day.close_idle(at(DAY, 9) + timeout - timedelta(seconds=1)) == 0
    day.turn(at(DAY, 9) + timeout - timedelta(seconds=1), ANA, "localizacao", latency_ms=100)
    assert day.close_idle(at(DAY, 9) + timeout + timedelta(seconds=1)) == 0  # it was active
    assert day.close_idle(at(DAY, 11)) == 1
    with session_scope(engine) as session:
        conversation = session.execute(select(Conversation)).scalar_one()
        assert conversation.status == "expired"
        # It ended at its last activity (the answer, 100 ms after the message, plus the real
        # time the clock ran meanwhile): its duration is what the patient spent.
        answered = at(DAY, 9) + timeout - timedelta(seconds=1) + timedelta(milliseconds=100)
        assert answered <= conversation.ended_at < answered + timedelta(seconds=5)
        [closed] = session.execute(select(IntegrationEvent)).scalars()
        assert closed.event_type == "conversation.closed" and closed.clinic_id == 1
        assert_valid_event(closed.event_type, closed.payload)
        assert (closed.payload["conversation_id"], closed.payload["status"]) == (
            conversation.id,
            "expired",
        )
        assert closed.payload["resolved_by_bot"] is conversation.resolved_by_bot is False
        assert conversation.outcome == "abandoned"


def test_a_taken_slot_is_the_same_attempt_and_a_no_drops_it(day: Day, engine: Engine) -> None:
    day.turn(at(DAY, 9), ANA, "agendar_consulta", form("agendamento_form"), latency_ms=100)
    day.turn(at(DAY, 9, 1), ANA, "informar_cpf", slot("cpf", "39053344705"))
    day.turn(at(DAY, 9, 2), ANA, "escolher_opcao", slot("dia_escolhido", "2031-03-12"))
    day.turn(at(DAY, 9, 3), ANA, "escolher_opcao", slot("horario_escolhido", "09:00"))
    day.turn(
        at(DAY, 9, 4),
        ANA,
        "afirmar",
        slot("confirmacao", True),
        form(None),
        bot("utter_horario_ocupado"),  # taken meanwhile: back to the time question
        slot("horario_escolhido", None),
        form("agendamento_form"),
    )
    day.turn(at(DAY, 9, 5), ANA, "escolher_opcao", slot("horario_escolhido", "10:00"))
    day.turn(
        at(DAY, 9, 6),
        ANA,
        "negar",
        slot("confirmacao", False),
        form(None),
        bot("utter_agendamento_cancelado_pelo_paciente"),
    )
    day.turn(at(DAY, 9, 7), ANA, "agendar_consulta", form("agendamento_form"))
    with session_scope(engine) as session:
        attempts = session.execute(
            select(
                PatientTransaction.stage_current,
                PatientTransaction.dropped_stage,
                PatientTransaction.abandoned_at,
            ).order_by(PatientTransaction.id)
        ).all()
        conversation = session.execute(select(Conversation)).scalar_one()
        assert (conversation.outcome, conversation.appointment_booked) == (None, False)
    assert [(stage, dropped) for stage, dropped, _ in attempts] == [
        ("abandoned", "confirmed"),  # confirmed once, then the slot was gone and she said no
        ("started", None),
    ]
    assert attempts[0][2] >= at(DAY, 9, 7)  # dropped when she wrote next
