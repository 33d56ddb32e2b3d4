"""A database with rows in many tables (timestamps, JSON, Unicode, NULLs), Rasa's included."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.db.types import utcnow
from clinicbot.whatsapp.outbox import enqueue_text


def seed(engine: Engine) -> None:
    now = utcnow().replace(microsecond=0)
    with session_scope(engine) as session:
        conversation = models.Conversation(phone="5531988887777", started_at=now)
        session.add(conversation)
        session.flush()
        for index in range(5):
            session.add(
                models.ConversationMessage(
                    conversation_id=conversation.id,
                    phone="5531988887777",
                    direction="in",
                    text=f"quero marcar às {index}h, ção 😊",
                    intent="marcar_consulta",
                    confidence=0.5 + index / 10,
                    created_at=now - timedelta(minutes=index),
                    channel_data={"options_offered": index},
                )
            )
        session.add(
            models.Appointment(
                gestaods_id="ag-1",
                phone="5531988887777",
                cpf="39053344705",
                patient_name="Marina Alves Prado",
                starts_at=now + timedelta(days=1),
                ends_at=now + timedelta(days=1, minutes=30),
            )
        )
        session.add(
            models.ApiCallLog(
                service="gestaods", method="GET", path="/api/x", status=None, latency_ms=12
            )
        )
        enqueue_text(session, "5531988887777", "Consulta marcada ✅", dedupe_key="seed:1")
    with engine.begin() as connection:  # Rasa's tracker store shares the database
        connection.execute(
            text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
        )
        connection.execute(
            text("INSERT INTO events VALUES (1, 'whatsapp:5531', '{\"event\": \"user\"}')")
        )
