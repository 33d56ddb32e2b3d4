"""A busy fortnight for the dashboard's browser test and screenshot: random but reproducible.

Every row falls inside :data:`FIRST`..:data:`LAST` (clinic days), so the test can compare what
the page shows with plain queries over whole tables.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from clinicbot.db import models

TZ = ZoneInfo("America/Sao_Paulo")
FIRST, LAST = date(2031, 3, 10), date(2031, 3, 23)
INTENTS = [
    ("saudacao", 30),
    ("agendar_consulta", 22),
    ("informar_cpf", 14),
    ("informar_data_hora", 14),
    ("escolher_opcao", 12),
    ("afirmar", 10),
    ("agradecer", 8),
    ("consultar_agendamentos", 5),
    ("reagendar_consulta", 4),
    ("cancelar_consulta", 3),
    ("horario_funcionamento", 3),
    ("convenios", 3),
    ("falar_com_atendente", 2),
]
UNSURE = [
    ("qro ve um horario p minha mae", "agendar_consulta", 0.44),
    ("vcs atende pelo sus?", "convenios", 0.38),
    ("tem como eu ir antes?", "reagendar_consulta", 0.52),
    ("blz entao", "afirmar", 0.47),
    ("e o resultado do exame?", "consultar_agendamentos", 0.31),
    ("pode ser depois do almoço", "informar_data_hora", 0.57),
    ("manda o pix", "valores", 0.29),
]


def _moment(rng: random.Random, day: date) -> datetime:
    local = datetime.combine(day, time(8), TZ) + timedelta(minutes=rng.randrange(12 * 60))
    return local.astimezone(timezone.utc)


def seed_demo(session: Session, seed: int = 2031) -> None:
    rng = random.Random(seed)
    serial = 0
    day = FIRST
    while day <= LAST:
        weekend = day.weekday() >= 5
        for _ in range(rng.randint(3, 7) if weekend else rng.randint(12, 24)):
            serial += 1
            started = _moment(rng, day)
            phone = f"55319{serial:08d}"
            resolved = rng.random() < 0.72
            conversation = models.Conversation(
                phone=phone,
                started_at=started,
                ended_at=started + timedelta(minutes=rng.randint(2, 40)),
                resolved_by_bot=resolved,
                status="closed",
            )
            session.add(conversation)
            session.flush()
            if not resolved and rng.random() < 0.45:
                session.add(
                    models.ConversationDashboard(
                        conversation_id=conversation.id,
                        phone=phone,
                        status="closed",
                        created_at=started + timedelta(minutes=3),
                    )
                )
            _messages(session, rng, phone, conversation.id, started)
            _booking(session, rng, phone, started, serial)
        _notifications_and_calls(session, rng, day)
        day += timedelta(days=1)


def _messages(
    session: Session, rng: random.Random, phone: str, conversation_id: int, started: datetime
) -> None:
    names = [name for name, _ in INTENTS]
    weights = [weight for _, weight in INTENTS]
    at = started
    for _ in range(rng.randint(2, 6)):
        if rng.random() < 0.08:
            text, predicted, confidence = rng.choice(UNSURE)
            intent = "nlu_fallback" if confidence < 0.5 else predicted
        else:
            predicted = intent = rng.choices(names, weights)[0]
            text, confidence = intent.replace("_", " "), round(rng.uniform(0.62, 0.99), 2)
        session.add(
            models.ConversationMessage(
                conversation_id=conversation_id,
                phone=phone,
                direction="in",
                text=text,
                intent=intent,
                predicted_intent=predicted,
                confidence=confidence,
                status="processed",
                created_at=at,
            )
        )
        latency = int(rng.lognormvariate(6.7, 0.45))
        at += timedelta(milliseconds=latency)
        session.add(
            models.ConversationMessage(
                conversation_id=conversation_id,
                phone=phone,
                direction="out",
                text="…",
                latency_ms=latency,
                status="sent",
                created_at=at,
            )
        )
        at += timedelta(seconds=rng.randint(10, 90))


def _booking(
    session: Session, rng: random.Random, phone: str, started: datetime, serial: int
) -> None:
    if rng.random() > 0.55:
        return
    stamps = {"started_at": started}
    stage = "started"
    for name, chance in (("identified", 0.85), ("slot_chosen", 0.8), ("booked", 0.9)):
        if rng.random() > chance:
            break
        stage = name
        stamps[f"{name}_at"] = started + timedelta(minutes=len(stamps))
    session.add(models.PatientTransaction(phone=phone, stage_current=stage, **stamps))
    if stage == "booked":
        starts = started + timedelta(days=rng.randint(1, 12))
        session.add(
            models.Appointment(
                gestaods_id=f"D{serial}",
                phone=phone,
                cpf="39053344705",
                starts_at=starts,
                ends_at=starts + timedelta(minutes=30),
                created_at=stamps["booked_at"],
            )
        )


def _fill(session: Session, entry: models.WaitingList, at: datetime) -> None:
    starts = at + timedelta(days=2)
    appointment = models.Appointment(
        gestaods_id=f"W{at.timestamp():.0f}",
        phone=entry.phone,
        cpf=entry.cpf,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        created_at=at,
    )
    session.add(appointment)
    session.flush()
    entry.status = "booked"
    entry.booked_appointment_id = appointment.id


def _notifications_and_calls(session: Session, rng: random.Random, day: date) -> None:
    for index in range(rng.randint(4, 12)):
        roll = rng.random()
        status, reply = ("failed", None) if roll < 0.05 else ("sent", None)
        if status == "sent":
            reply = rng.choices(["yes", "no", None], [0.7, 0.1, 0.2])[0]
        session.add(
            models.Notification(
                kind="reminder",
                phone="5531900000001",
                scheduled_for=_moment(rng, day),
                status=status,
                reply=reply,
                dedupe_key=f"demo:{day}:reminder:{index}",
            )
        )
    joined = rng.randint(0, 3)
    for index in range(joined):
        entry = models.WaitingList(
            phone="5531900000002",
            cpf="39053344705",
            preferred_date_from=day,
            preferred_date_to=day + timedelta(days=14),
            created_at=_moment(rng, day),
        )
        session.add(entry)
        if rng.random() < 0.6:
            offered = _moment(rng, day)
            reply = rng.choice(["yes", "no", "lapsed"])
            session.add(
                models.Notification(
                    kind="waitlist_offer",
                    phone="5531900000002",
                    scheduled_for=offered,
                    status="sent",
                    reply=reply,
                    dedupe_key=f"demo:{day}:offer:{index}",
                )
            )
            if reply == "yes":
                _fill(session, entry, offered + timedelta(minutes=5))
    for service, calls, median, failing in (
        ("gestaods", rng.randint(40, 90), 5.6, 0.03),
        ("zapi", rng.randint(60, 120), 4.9, 0.01),
    ):
        for _ in range(calls):
            roll = rng.random()
            status = None if roll < failing / 2 else 503 if roll < failing else 200
            session.add(
                models.ApiCallLog(
                    service=service,
                    method="GET",
                    path="/api/...",
                    status=status,
                    latency_ms=int(rng.lognormvariate(median, 0.5)),
                    created_at=_moment(rng, day),
                )
            )
