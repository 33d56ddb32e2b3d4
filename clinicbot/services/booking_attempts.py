"""A booking sent to GestãoDS is recorded before it is sent, until its outcome is known.

The agenda may commit a booking and lose its answer (a timeout, a dropped connection, a 5xx):
the assistant then does not know whether the patient has an appointment. The row written here
before the request (``posting``) becomes ``booked`` or ``refused`` when the agenda answers, and
``uncertain`` when it did not: :mod:`clinicbot.services.booking_checks` then looks for the
appointment in the agenda for a while and tells the patient the outcome. A process killed while
its request was on the way leaves a ``posting`` row, which is checked the same way once
:func:`in_flight_grace` has passed.

One open (``posting``/``uncertain``) attempt per phone, enforced by a unique index: while one is
open the patient cannot book again, since sending a second request could book twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinicbot.db.engine import session_scope
from clinicbot.db.models import OPEN_BOOKING_ATTEMPT, BookingAttempt
from clinicbot.db.types import utcnow
from clinicbot.ptbr.phones import normalize_phone
from clinicbot.settings import Settings, get_settings
from clinicbot.tenancy.scope import acting_clinic

# At least this long, and longer than the client's worst case for a booking (one request, then
# a lookup tried 3 times, with waits): a ``posting`` row older than that belongs to a process
# that died mid-request.
IN_FLIGHT_GRACE = timedelta(minutes=2)


def in_flight_grace(settings: Settings) -> timedelta:
    """How long a ``posting`` attempt is left to its own process before it is checked."""
    return max(IN_FLIGHT_GRACE, timedelta(seconds=5 * settings.gestaods_timeout_seconds + 10))


class BookingInProgress(Exception):
    """An earlier booking of this phone is still being confirmed: nothing was sent."""


class BookingBeingConfirmed(Exception):
    """The agenda did not tell whether this booking was made; it is being checked and the
    patient will be told the outcome."""


def open_attempt(
    *,
    phone: str,
    cpf: str,
    starts_at: datetime,
    patient_name: str | None,
    first_visit: bool,
    clinic_id: int | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
) -> int:
    """Record a booking about to be sent; its id.

    Raises :class:`BookingInProgress` when the phone has an open attempt (then nothing must be
    sent).
    """
    phone = normalize_phone(phone)
    now = utcnow()
    settings = settings or get_settings()
    grace = in_flight_grace(settings)
    window = timedelta(seconds=settings.booking_check_window_seconds)
    try:
        with session_scope(engine) as session:
            clinic_id = acting_clinic(session, clinic_id)  # the conversation's clinic
            if _open_attempt_of(session, phone, clinic_id) is not None:
                raise BookingInProgress(phone)
            attempt = BookingAttempt(
                clinic_id=clinic_id,
                phone=phone,
                cpf=cpf,
                patient_name=patient_name,
                starts_at=starts_at.astimezone(timezone.utc),
                first_visit=first_visit,
                status="posting",
                next_check_at=now + grace,  # unless its own process tells the outcome first
                check_until=now + grace + window,
            )
            session.add(attempt)
            session.flush()
            return int(attempt.id)
    except IntegrityError as error:  # another request of this phone opened one meanwhile
        raise BookingInProgress(phone) from error


def mark_uncertain(
    attempt_id: int, *, settings: Settings | None = None, engine: Engine | None = None
) -> None:
    """The agenda did not answer: check it every interval until the window ends."""
    settings = settings or get_settings()
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(
            update(BookingAttempt)
            .where(BookingAttempt.id == attempt_id, BookingAttempt.status == "posting")
            .values(
                status="uncertain",
                next_check_at=now + timedelta(seconds=settings.booking_check_interval_seconds),
                check_until=now + timedelta(seconds=settings.booking_check_window_seconds),
                updated_at=now,
            )
        )


def mark_refused(attempt_id: int, *, engine: Engine | None = None) -> None:
    """The agenda answered and booked nothing."""
    with session_scope(engine) as session:
        close(session, attempt_id, "refused")


def close(
    session: Session,
    attempt_id: int,
    status: str,
    *,
    appointment_id: int | None = None,
    was: tuple[str, ...] = OPEN_BOOKING_ATTEMPT,
) -> bool:
    """Record the outcome of an attempt still in one of the ``was`` states; False when it was
    not (another worker recorded one first)."""
    now = utcnow()
    changed = session.execute(
        update(BookingAttempt)
        .where(BookingAttempt.id == attempt_id, BookingAttempt.status.in_(was))
        .values(status=status, appointment_id=appointment_id, resolved_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(changed == 1)


def _open_attempt_of(session: Session, phone: str, clinic_id: int) -> int | None:
    found = session.execute(
        select(BookingAttempt.id).where(
            BookingAttempt.clinic_id == clinic_id,
            BookingAttempt.phone == phone,
            BookingAttempt.status.in_(OPEN_BOOKING_ATTEMPT),
        )
    ).scalar()
    return int(found) if found is not None else None
