"""Erasing a patient (LGPD art. 18): everything this assistant holds about one phone.

The clinic's own record in GestãoDS is the medical record and stays; what goes is the assistant's
copy: messages, conversations, appointments' local copies, waiting list, notifications, handoffs,
funnel rows, A/B assignments, CRM events about them, the public API's stored responses that
mention them (replaced by a 410), and Rasa's tracker events (same database).
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from clinicbot.api.idempotency import redact_responses
from clinicbot.db.engine import session_scope
from clinicbot.db.models import (
    ABTestAssignment,
    ApiIdempotencyKey,
    Appointment,
    BookingAttempt,
    Conversation,
    ConversationDashboard,
    ConversationMessage,
    ConversationMessageKey,
    IdentityCheck,
    IntegrationEvent,
    Notification,
    OutboxMessage,
    PatientTransaction,
    SatisfactionFeedback,
    WaitingList,
)
from clinicbot.pii import mask_phone
from clinicbot.tenancy import DEFAULT_CLINIC_ID
from clinicbot.tenancy.scope import session_clinic
from clinicbot.tenancy.senders import sender_id

logger = logging.getLogger(__name__)

# Children before parents, so that no foreign key is left pointing at an erased row.
PHONE_TABLES = (
    Notification,
    OutboxMessage,
    WaitingList,
    ConversationDashboard,
    PatientTransaction,
    ABTestAssignment,
    SatisfactionFeedback,
    BookingAttempt,
    Appointment,
    IdentityCheck,
)


# Tables that also name the patient by CPF: the same person may have written from another
# phone (a relative's, an old number), and those rows are theirs too.
CPF_TABLES = (WaitingList, PatientTransaction, BookingAttempt, Appointment)


def erase_patient(session: Session, phone: str) -> dict[str, int]:
    """Delete every row about ``phone`` and about the CPFs it used; rows per table."""
    erased: dict[str, int] = {}
    cpfs = _cpfs_of(session, phone)
    if cpfs:
        _erase_cpfs(session, cpfs, erased)
    message_ids = select(ConversationMessage.id).where(ConversationMessage.phone == phone)
    erased[ConversationMessageKey.__tablename__] = session.execute(
        delete(ConversationMessageKey)
        .where(ConversationMessageKey.message_id.in_(message_ids))
        .execution_options(synchronize_session=False)
    ).rowcount
    erased[ConversationMessage.__tablename__] = session.execute(
        delete(ConversationMessage).where(ConversationMessage.phone == phone)
    ).rowcount
    for model in PHONE_TABLES:
        erased[model.__tablename__] = erased.get(model.__tablename__, 0) + (
            session.execute(delete(model).where(model.phone == phone)).rowcount
        )
    # CRM events about the patient (their deliveries go with them: ON DELETE CASCADE).
    erased[IntegrationEvent.__tablename__] = session.execute(
        delete(IntegrationEvent).where(IntegrationEvent.patient_phone == phone)
    ).rowcount
    erased[Conversation.__tablename__] = session.execute(
        delete(Conversation).where(Conversation.phone == phone)
    ).rowcount
    erased[ApiIdempotencyKey.__tablename__] = redact_responses(session, {phone, *cpfs})
    if _has_rasa_events(session):
        erased["events"] = session.execute(
            text("DELETE FROM events WHERE sender_id = :conversation"),
            {"conversation": _conversation(session, phone)},
        ).rowcount
    logger.info("erased %s: %s", mask_phone(phone), erased)
    return erased


def _cpfs_of(session: Session, phone: str) -> set[str]:
    found: set[str] = set()
    for model in CPF_TABLES:
        found.update(
            cpf
            for cpf in session.execute(select(model.cpf).where(model.phone == phone)).scalars()
            if cpf
        )
    return found


def _erase_cpfs(session: Session, cpfs: set[str], erased: dict[str, int]) -> None:
    """Rows under other phones that carry one of ``cpfs`` (and the notifications about them)."""
    appointments = select(Appointment.id).where(Appointment.cpf.in_(cpfs))
    entries = select(WaitingList.id).where(WaitingList.cpf.in_(cpfs))
    erased[Notification.__tablename__] = session.execute(
        delete(Notification)
        .where(
            Notification.appointment_id.in_(appointments)
            | Notification.waiting_list_id.in_(entries)
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    for model in CPF_TABLES:
        erased[model.__tablename__] = session.execute(
            delete(model).where(model.cpf.in_(cpfs)).execution_options(synchronize_session=False)
        ).rowcount


def has_conversation(engine: Engine, phone: str) -> bool:
    """Whether rasa holds a conversation for ``phone``, or one of its messages awaits a turn
    (then a turn may be in flight, and the erasure must wait for it)."""
    with session_scope(engine) as session:
        waiting = session.execute(
            select(ConversationMessage.id).where(
                ConversationMessage.phone == phone,
                ConversationMessage.direction == "in",
                ConversationMessage.status.in_(("received", "processing")),
            )
        ).first()
        if waiting is not None:
            return True
        if not _has_rasa_events(session):
            return False
        return (
            session.execute(
                text("SELECT 1 FROM events WHERE sender_id = :conversation LIMIT 1"),
                {"conversation": _conversation(session, phone)},
            ).first()
            is not None
        )


def _conversation(session: Session, phone: str) -> str:
    """Rasa's sender id of ``phone`` with the clinic the session acts for."""
    return sender_id(session_clinic(session) or DEFAULT_CLINIC_ID, phone)


def _has_rasa_events(session: Session) -> bool:
    """Rasa creates its ``events`` table on first start; a fresh database may not have it."""
    return inspect(session.connection()).has_table("events")
