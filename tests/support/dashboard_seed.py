"""Three clinic days of activity for the dashboard's tests, with every figure computed by hand.

The days are 2031-03-10 to 2031-03-12 in America/Sao_Paulo (UTC-3, no daylight saving). Rows
just outside the range sit one minute before its first midnight and exactly at the midnight
after its last day, local time; one row inside it is at 23:30 local on the last day, which is
already the next day in UTC. ``EXPECTED`` is what the dashboard must show for the range, worked
out from the rows below, not from the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from clinicbot.db import models

TZ = ZoneInfo("America/Sao_Paulo")
FIRST, LAST = date(2031, 3, 10), date(2031, 3, 12)
BEFORE = datetime(2031, 3, 9, 23, 59, tzinfo=TZ)  # outside: the day before the range
AFTER = datetime(2031, 3, 13, 0, 0, tzinfo=TZ)  # outside: the first instant after it
LATE = datetime(2031, 3, 12, 23, 30, tzinfo=TZ)  # inside: 02:30 UTC on the 13th

_ids = count(1)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """2031-03-``day`` at ``hour:minute`` clinic time, as an aware datetime."""
    return datetime(2031, 3, day, hour, minute, tzinfo=TZ)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def _conversations(session: Session) -> dict[str, models.Conversation]:
    rows = {
        # resolved by the bot
        "ana": models.Conversation(
            phone="5531900000001",
            started_at=_utc(at(10, 10)),
            ended_at=_utc(at(10, 10, 20)),
            resolved_by_bot=True,
            status="closed",
        ),
        # handed off (the dashboard row names it)
        "bia": models.Conversation(
            phone="5531900000002",
            started_at=_utc(at(10, 11)),
            ended_at=_utc(at(10, 12)),
            status="closed",
        ),
        # still open, handed off (the dashboard row only has the phone)
        "caio": models.Conversation(phone="5531900000003", started_at=_utc(at(11, 9))),
        # ended unresolved; this phone's handoff was before the conversation
        "davi": models.Conversation(
            phone="5531900000004",
            started_at=_utc(at(11, 12)),
            ended_at=_utc(at(11, 13)),
            status="closed",
        ),
        # late on the last day, resolved
        "eva": models.Conversation(
            phone="5531900000005",
            started_at=_utc(LATE),
            ended_at=_utc(LATE + timedelta(minutes=10)),
            resolved_by_bot=True,
            status="closed",
        ),
        # outside: the evening before the range (with a handoff of its own)
        "fred": models.Conversation(
            phone="5531900000006", started_at=_utc(BEFORE), ended_at=_utc(BEFORE), status="closed"
        ),
    }
    session.add_all(rows.values())
    session.flush()
    session.add_all(
        [
            models.ConversationDashboard(
                conversation_id=rows["bia"].id,
                phone=rows["bia"].phone,
                status="closed",
                created_at=_utc(at(10, 11, 30)),
            ),
            models.ConversationDashboard(
                phone=rows["caio"].phone, status="waiting_human", created_at=_utc(at(11, 9, 10))
            ),
            models.ConversationDashboard(
                phone=rows["davi"].phone, status="closed", created_at=_utc(at(11, 11))
            ),
            models.ConversationDashboard(
                conversation_id=rows["fred"].id,
                phone=rows["fred"].phone,
                status="closed",
                created_at=_utc(BEFORE),
            ),
        ]
    )
    return rows


def _appointment(created: datetime) -> models.Appointment:
    starts = _utc(created + timedelta(days=3))
    return models.Appointment(
        gestaods_id=f"S{next(_ids)}",
        phone="5531900000001",
        cpf="39053344705",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        created_at=_utc(created),
    )


def _bookings_and_waiting_list(session: Session) -> None:
    booked = {
        "day10": _appointment(at(10, 10, 15)),
        "fill11": _appointment(at(11, 15)),  # a waiting-list fill
        "fill12": _appointment(at(12, 9)),  # fills an entry that joined before the range
        "late": _appointment(LATE + timedelta(minutes=20)),
        "after": _appointment(AFTER),  # outside
    }
    session.add_all(booked.values())
    session.flush()

    def entry(created: datetime, status: str, appointment: str | None = None) -> Any:
        return models.WaitingList(
            phone="5531900000009",
            cpf="39053344705",
            preferred_date_from=FIRST,
            preferred_date_to=LAST + timedelta(days=10),
            status=status,
            booked_appointment_id=booked[appointment].id if appointment else None,
            created_at=_utc(created),
        )

    session.add_all(
        [
            entry(at(10, 8), "booked", "fill11"),
            entry(at(11, 8), "waiting"),
            entry(at(12, 8), "offered"),
            entry(at(3, 8), "booked", "fill12"),  # joined before the range
        ]
    )


def _notification(
    kind: str, due: datetime, status: str, reply: str | None = None
) -> models.Notification:
    return models.Notification(
        kind=kind,
        phone="5531900000001",
        scheduled_for=_utc(due),
        status=status,
        reply=reply,
        dedupe_key=f"seed:{next(_ids)}",
    )


def _notifications(session: Session) -> None:
    session.add_all(
        [
            _notification("waitlist_offer", at(10, 9), "sent", "yes"),
            _notification("waitlist_offer", at(11, 9), "sent", "no"),
            _notification("waitlist_offer", at(11, 10), "sent", "lapsed"),
            _notification("waitlist_offer", at(12, 9), "failed"),
            _notification("waitlist_offer", at(12, 10), "queued"),
            _notification("waitlist_offer", AFTER, "sent", "yes"),
            _notification("reminder", at(10, 8), "sent", "yes"),
            _notification("reminder", at(10, 9), "sent", "yes"),
            _notification("reminder", at(11, 8), "sent", "no"),
            _notification("reminder", at(11, 9), "sent"),
            _notification("reminder", at(12, 8), "failed"),
            _notification("reminder", at(12, 9), "canceled"),
            _notification("reminder", at(12, 10), "pending"),
            _notification("reminder", BEFORE, "sent", "yes"),
            _notification("confirmation", at(10, 10, 16), "sent"),
        ]
    )


def _message(
    direction: str,
    created: datetime,
    text: str | None = "oi",
    intent: str | None = None,
    confidence: float | None = None,
    predicted: str | None = None,
    latency_ms: int | None = None,
) -> models.ConversationMessage:
    return models.ConversationMessage(
        phone="5531900000001",
        direction=direction,
        text=text,
        intent=intent,
        predicted_intent=predicted if predicted else (intent if intent != "nlu_fallback" else None),
        confidence=confidence,
        latency_ms=latency_ms,
        status="processed" if direction == "in" else "sent",
        created_at=_utc(created),
    )


def _messages(session: Session) -> None:
    inbound = [
        ("quero marcar consulta", "agendar_consulta", 0.91, None, at(10, 10, 1)),
        ("preciso agendar", "agendar_consulta", 0.95, None, at(11, 9, 1)),
        ("marcar pra sexta", "agendar_consulta", 0.85, None, at(12, 9, 1)),
        ("oi", "saudacao", 0.98, None, at(10, 10)),
        ("bom dia", "saudacao", 0.97, None, at(11, 9)),
        ("quero marca consulta", "nlu_fallback", 0.41, "agendar_consulta", at(10, 10, 5)),
        ("Quero  marca   consulta", "nlu_fallback", 0.35, "agendar_consulta", at(11, 9, 5)),
        ("blz", "nlu_fallback", 0.5, None, LATE),  # logged before predicted_intent existed
        ("meu cpf 390.533.447-05", "informar_cpf", 0.55, None, at(12, 9, 2)),
        ("[clique](aqui) vlw", "nlu_fallback", 0.2, "agradecer", at(12, 9, 3)),
    ]
    rows = [
        _message("in", moment, text, intent, confidence, predicted)
        for text, intent, confidence, predicted, moment in inbound
    ]
    rows += [
        _message("in", at(12, 11), text=None),  # an audio: no text, no intent
        _message("in", at(12, 12), text="   ", intent="nlu_fallback", confidence=0.3),
        _message("in", BEFORE, "qro marcar", "nlu_fallback", 0.3, "agendar_consulta"),  # outside
        _message("out", at(10, 10, 6), "Não entendi", "nlu_fallback", 0.41, latency_ms=400),
        _message("out", at(10, 10, 2), "Qual o seu CPF?", "agendar_consulta", latency_ms=1000),
        _message("out", at(11, 9, 2), "Qual o seu CPF?", "agendar_consulta", latency_ms=1200),
        _message("out", at(11, 12), "Olá!", "saudacao", latency_ms=2000),
        _message("out", LATE + timedelta(minutes=1), "Olá!", "saudacao", latency_ms=9000),
        _message("out", AFTER, "Olá!", "saudacao", latency_ms=50000),  # outside
        _message("out", at(11, 8), "Lembrete: sua consulta é amanhã"),  # no latency: a reminder
    ]
    session.add_all(rows)


def _transactions(session: Session) -> None:
    def transaction(started: datetime, *stages: str) -> models.PatientTransaction:
        stamps = {
            f"{stage}_at": _utc(started + timedelta(minutes=n + 1))
            for n, stage in enumerate(stages)
        }
        current = stages[-1] if stages else "started"
        return models.PatientTransaction(
            phone="5531900000001", started_at=_utc(started), stage_current=current, **stamps
        )

    session.add_all(
        [
            transaction(at(10, 10), "identified", "slot_chosen", "booked"),
            transaction(at(10, 11), "identified", "slot_chosen", "abandoned"),
            transaction(at(11, 9), "identified"),
            transaction(at(11, 12)),
            transaction(LATE, "booked"),  # identified by phone, went straight to booking
            transaction(BEFORE, "identified", "slot_chosen", "booked"),  # outside
        ]
    )


def _api_calls(session: Session) -> None:
    calls = [
        ("gestaods", 200, 100, at(10, 10)),
        ("gestaods", 404, 200, at(11, 9)),
        ("gestaods", 500, 300, at(11, 10)),
        ("gestaods", None, 400, LATE),
        ("zapi", 200, 50, at(10, 10)),
        ("zapi", 200, 150, at(12, 9)),
        ("gestaods", 200, 99999, AFTER),  # outside
    ]
    session.add_all(
        models.ApiCallLog(
            service=service,
            method="GET",
            path="/api/x",
            status=status,
            latency_ms=latency,
            error=None if status == 200 else "failed",
            created_at=_utc(moment),
        )
        for service, status, latency, moment in calls
    )


def seed(session: Session) -> None:
    """Insert the rows ``EXPECTED`` describes (into an empty, migrated database)."""
    _conversations(session)
    _bookings_and_waiting_list(session)
    _notifications(session)
    _messages(session)
    _transactions(session)
    _api_calls(session)


EXPECTED: dict[str, Any] = {
    "period": {"from": "2031-03-10", "to": "2031-03-12"},
    "daily": [
        {"day": "2031-03-10", "conversations": 2, "bookings": 1},
        {"day": "2031-03-11", "conversations": 2, "bookings": 1},
        {"day": "2031-03-12", "conversations": 1, "bookings": 2},
    ],
    "bookings": 4,
    # ana, bia, caio, davi, eva; ended: all but caio; resolved: ana, eva; handed off: bia, caio
    "conversations": {
        "started": 5,
        "ended": 4,
        "resolved_by_bot": 2,
        "resolution_rate": 0.5,
        "handed_off": 2,
        "handoff_rate": 0.4,
    },
    # replies in the range: 400, 1000, 1200, 2000, 9000 ms; p95 at rank 3.8: 2000 + 0.8 * 7000
    "reply_times": {"replies": 5, "p50_ms": 1200.0, "p95_ms": 7600.0},
    # reached a stage or a later one: 5, 4, 3, 2
    "funnel": [
        {"stage": "started", "reached": 5, "dropped": 1, "drop_rate": 0.2},
        {"stage": "identified", "reached": 4, "dropped": 1, "drop_rate": 0.25},
        {"stage": "slot_chosen", "reached": 3, "dropped": 1, "drop_rate": 1 / 3},
        {"stage": "booked", "reached": 2, "dropped": 0, "drop_rate": 0.0},
    ],
    # inbound messages with an intent in the range: 11
    "intents": [
        {"intent": "nlu_fallback", "messages": 5, "share": 5 / 11},
        {"intent": "agendar_consulta", "messages": 3, "share": 3 / 11},
        {"intent": "saudacao", "messages": 2, "share": 2 / 11},
        {"intent": "informar_cpf", "messages": 1, "share": 1 / 11},
    ],
    "waiting_list": {"joined": 3, "offers_sent": 3, "filled": 2, "declined": 1, "lapsed": 1},
    "reminders": {"sent": 4, "confirmed": 2, "declined": 1, "failed": 1},
    # gestaods: 100, 200, 300, 400 ms; p50 250, p95 at rank 2.85: 300 + 0.85 * 100
    "api": [
        {
            "service": "gestaods",
            "calls": 4,
            "errors": 2,
            "error_rate": 0.5,
            "client_errors": 1,
            "p50_ms": 250.0,
            "p95_ms": 385.0,
        },
        {
            "service": "zapi",
            "calls": 2,
            "errors": 0,
            "error_rate": 0.0,
            "client_errors": 0,
            "p50_ms": 100.0,
            "p95_ms": 145.0,
        },
    ],
}

# The messages to review with the default threshold (0.6), newest first: (clinic-local time,
# masked text, intent, predicted intent, confidence). "blz" predates predicted_intent.
EXPECTED_REVIEW = [
    ("2031-03-12T23:30:00-03:00", "blz", "nlu_fallback", None, 0.5),
    ("2031-03-12T09:03:00-03:00", "[clique](aqui) vlw", "nlu_fallback", "agradecer", 0.2),
    ("2031-03-12T09:02:00-03:00", "meu cpf ***.***.*47-05", "informar_cpf", "informar_cpf", 0.55),
    ("2031-03-11T09:05:00-03:00", "Quero marca consulta", "nlu_fallback", "agendar_consulta", 0.35),
    ("2031-03-10T10:05:00-03:00", "quero marca consulta", "nlu_fallback", "agendar_consulta", 0.41),
]


def approx_nested(expected: object) -> object:
    """``expected`` with every float wrapped in ``pytest.approx`` (which does not nest)."""
    if isinstance(expected, dict):
        return {key: approx_nested(value) for key, value in expected.items()}
    if isinstance(expected, list):
        return [approx_nested(value) for value in expected]
    return pytest.approx(expected) if isinstance(expected, float) else expected
