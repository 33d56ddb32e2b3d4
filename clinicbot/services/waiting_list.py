"""The waiting list: patients waiting for a slot, and freed slots offered to them one at a time.

Order: explicit priority, then arrival (``ORDER BY priority, created_at`` on the
``waiting_list(priority, created_at)`` index). A freed slot goes to the first waiting patient
whose preferred dates, period and specialty match and who was not offered that slot before;
their offer is held for ``offer_hold`` from the moment the message can go out (quiet hours
included). "sim" books it in GestãoDS; "não", silence or leaving passes it to the next patient.

A slot is on offer to at most one patient: the partial unique index
``ux_waiting_list_offered_slot`` (``offered_slot_key`` WHERE status = 'offered') makes a second
concurrent offer fail, and every status change is a guarded UPDATE (:mod:`clinicbot.db.claims`).
GestãoDS refuses a taken slot, so a slot is never booked twice either.

An offer is a ``notifications`` row of kind ``waitlist_offer``, sent by the notification
dispatcher with :func:`compose_offer` (:data:`OFFER_MESSAGES`), and answered like a reminder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from clinicbot.clock import Clock
from clinicbot.db.claims import claim_with, lock_candidates, write_transaction
from clinicbot.db.engine import session_scope
from clinicbot.db.models import PRIORITY_NORMAL, Appointment, Notification, WaitingList
from clinicbot.db.types import utcnow
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.gestaods.errors import SlotUnavailable
from clinicbot.gestaods.models import Appointment as Booked
from clinicbot.integrations.events import emit_event
from clinicbot.pii import mask_phone
from clinicbot.ptbr.formatting import clock, short_day
from clinicbot.services import templates
from clinicbot.services.notifications.composing import Composer, Message, first_name
from clinicbot.services.notifications.dispatch import send_notification
from clinicbot.services.notifications.policy import NotificationPolicy
from clinicbot.services.notifications.replies import (
    REPLY_LAPSED,
    REPLY_NO,
    REPLY_YES,
    record_reply,
)
from clinicbot.services.notifications.scheduling import schedule_for_appointment, utc_iso

logger = logging.getLogger(__name__)

ACTIVE = ("waiting", "offered")
DEFAULT_RANGE_DAYS = 30
# An offer needs time to be read, accepted and travelled to: no offers closer to the slot.
OFFER_MIN_LEAD = timedelta(hours=1)
POLL_HORIZON_DAYS = 30
CANDIDATES_PER_SLOT = 50


@dataclass(frozen=True)
class Slot:
    """A free slot of the agenda (one GestãoDS token is one professional's agenda)."""

    starts_at: datetime
    ends_at: datetime | None = None
    professional: str | None = None
    specialty: str | None = None

    @property
    def key(self) -> str:
        start = self.starts_at.astimezone(timezone.utc)
        return f"{self.professional or 'agenda'}@{start:%Y-%m-%dT%H:%MZ}"


def period_of(moment: datetime) -> str:
    """``morning`` before noon, ``afternoon`` until 18:00, then ``evening`` (clinic time)."""
    if moment.hour < 12:
        return "morning"
    return "afternoon" if moment.hour < 18 else "evening"


def _offer_key(entry_id: int, slot_key: str) -> str:
    return f"waitlist_offer:{entry_id}:{slot_key}"


def _slot_of(entry: WaitingList) -> Slot:
    return Slot(
        starts_at=entry.offered_slot_starts_at,
        ends_at=entry.offered_slot_ends_at,
        professional=entry.professional,
        specialty=entry.specialty,
    )


def _clear_offer(entry_id: int, key: str, new_status: str, now: datetime) -> Update:
    """Guarded UPDATE: the entry leaves its offer of slot ``key`` (if it still holds it)."""
    return (
        update(WaitingList)
        .where(
            WaitingList.id == entry_id,
            WaitingList.status == "offered",
            WaitingList.offered_slot_key == key,
        )
        .values(
            status=new_status,
            offered_slot_key=None,
            offered_slot_starts_at=None,
            offered_slot_ends_at=None,
            offer_expires_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _close_offer_question(
    session: Session, entry_id: int, key: str, reply: str, now: datetime
) -> None:
    notification_id = session.execute(
        select(Notification.id).where(Notification.dedupe_key == _offer_key(entry_id, key))
    ).scalar_one_or_none()
    if notification_id is not None:
        session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == "pending")
            .values(status="canceled", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        record_reply(session, notification_id, reply, now)


def compose_offer(
    session: Session, notification: Notification, now: datetime, policy: NotificationPolicy
) -> Message | None:
    """The offer of a freed slot, while the entry still holds it; None once it does not."""
    entry = (
        session.get(WaitingList, notification.waiting_list_id)
        if notification.waiting_list_id
        else None
    )
    slot_key = (notification.payload or {}).get("slot_key")
    if entry is None or entry.status != "offered" or entry.offered_slot_key != slot_key:
        return None
    # The hold starts when the patient can read the offer, not when it was queued overnight.
    entry.offer_expires_at = now + policy.offer_hold
    local_start = entry.offered_slot_starts_at.astimezone(policy.tz)
    values: dict[str, object] = {
        "nome": first_name(entry.patient_name),
        "dia": short_day(local_start.date()),
        "hora": clock(local_start),
        "minutos": int(policy.offer_hold.total_seconds() // 60),
    }
    return Message(
        templates.WAITLIST_OFFER, values, awaiting_reply=True, deliver_by=entry.offer_expires_at
    )


# What the notification dispatcher needs to send the offers queued for later (quiet hours).
OFFER_MESSAGES: Mapping[str, Composer] = {"waitlist_offer": compose_offer}


@dataclass(frozen=True)
class JoinResult:
    entry_id: int
    position: int
    already_waiting: bool


@dataclass(frozen=True)
class OfferAnswer:
    """Outcome of a reply to an offer: booked | slot_taken | declined | expired | none."""

    status: str
    starts_at: datetime | None = None


@dataclass
class WaitingListService:
    """Joins, positions and departures, and the life of an offer (offer → book / pass on)."""

    agenda: GestaoDSClient
    engine: Engine | None = None
    policy: NotificationPolicy = field(default_factory=NotificationPolicy.from_settings)
    clock: Clock = utcnow

    # -- the patient's side ------------------------------------------------------------------

    def join(
        self,
        *,
        phone: str,
        cpf: str,
        name: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        period: str = "any",
        specialty: str | None = None,
        priority: int = PRIORITY_NORMAL,
        source: str = "whatsapp",
    ) -> JoinResult:
        """Put the patient on the list (joining again updates the preferences, keeps the place)."""
        now = self.clock()
        date_from = date_from or self.policy.local_date(now)
        date_to = max(date_to or date_from + timedelta(days=DEFAULT_RANGE_DAYS), date_from)
        with write_transaction(self.engine, WaitingList) as session:
            entry = self._active_entry(session, phone)
            already = entry is not None
            if entry is None:
                entry = WaitingList(phone=phone, cpf=cpf, created_at=now, priority=priority)
                session.add(entry)
            entry.patient_name = name or entry.patient_name
            entry.preferred_date_from = date_from
            entry.preferred_date_to = date_to
            entry.preferred_period = period
            entry.specialty = specialty
            entry.updated_at = now
            session.flush()
            logger.info("waiting list: %s joined (entry %s)", mask_phone(phone), entry.id)
            position = self._position(session, entry)
            if not already:
                emit_event(
                    session,
                    "waitlist.joined",
                    {
                        "entry_id": entry.id,
                        "phone": phone,
                        "cpf": cpf,
                        "patient_name": entry.patient_name,
                        "position": position,
                        "preferred_date_from": date_from,
                        "preferred_date_to": date_to,
                        "preferred_period": period,
                        "specialty": specialty,
                        "source": source,
                    },
                )
            return JoinResult(entry.id, position, already)

    def position(self, phone: str) -> int | None:
        """1-based place among the patients still waiting, or None when not on the list."""
        with session_scope(self.engine) as session:
            entry = self._active_entry(session, phone)
            return None if entry is None else self._position(session, entry)

    def leave(self, phone: str) -> bool:
        """Take the patient off the list; a slot on offer to them goes to the next patient."""
        now = self.clock()
        freed: Slot | None = None
        with write_transaction(self.engine, WaitingList) as session:
            entry = self._active_entry(session, phone)
            if entry is None:
                return False
            if entry.status == "offered":
                freed = _slot_of(entry)
                session.execute(_clear_offer(entry.id, entry.offered_slot_key, "left", now))
                _close_offer_question(session, entry.id, freed.key, REPLY_NO, now)
            else:
                entry.status = "left"
                entry.updated_at = now
        if freed is not None:
            self.offer_freed_slot(freed)
        return True

    def accept_offer(self, phone: str) -> OfferAnswer:
        """Book the slot on offer to ``phone`` in GestãoDS.

        A slot taken meanwhile → ``slot_taken`` (the patient waits for the next one); other
        GestãoDS errors propagate and the offer stays open until it expires.
        """
        now = self.clock()
        with session_scope(self.engine) as session:
            entry = self._offered_entry(session, phone)
            if entry is None:
                return OfferAnswer("none")
            slot, cpf, name, entry_id = _slot_of(entry), entry.cpf, entry.patient_name, entry.id
            lapsed = entry.offer_expires_at <= now
        if lapsed:
            self.expire_offers()
            return OfferAnswer("expired", slot.starts_at)
        try:
            booked = self.agenda.book(cpf=cpf, starts_at=slot.starts_at)
        except SlotUnavailable:
            with write_transaction(self.engine, WaitingList) as session:
                session.execute(_clear_offer(entry_id, slot.key, "waiting", now))
                _close_offer_question(session, entry_id, slot.key, REPLY_YES, now)
            return OfferAnswer("slot_taken", slot.starts_at)
        with write_transaction(self.engine, WaitingList) as session:
            appointment = _store_appointment(session, phone, cpf, name, booked, slot)
            session.execute(
                update(WaitingList)
                .where(WaitingList.id == entry_id)
                .values(
                    status="booked",
                    booked_appointment_id=appointment.id,
                    offered_slot_key=None,
                    offer_expires_at=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            _close_offer_question(session, entry_id, slot.key, REPLY_YES, now)
            filled = {"entry_id": entry_id, "phone": phone, "cpf": cpf}
            when = {"appointment_id": booked.id, "starts_at": appointment.starts_at}
            emit_event(session, "waitlist.filled", {**filled, **when})
            emit_event(
                session,
                "appointment.booked",
                {
                    **when,
                    "phone": phone,
                    "cpf": cpf,
                    "patient_name": name,
                    "ends_at": appointment.ends_at,
                    "professional": appointment.professional,
                    "source": "waitlist",
                },
            )
            # If the offer lapsed during the booking call and went to someone else, withdraw it.
            for other in self._offers_of(session, slot.key):
                session.execute(_clear_offer(other.id, slot.key, "waiting", now))
                _close_offer_question(session, other.id, slot.key, REPLY_LAPSED, now)
            schedule_for_appointment(session, appointment, now=now, policy=self.policy)
        logger.info("waiting list: entry %s booked %s", entry_id, booked.id)
        return OfferAnswer("booked", slot.starts_at)

    def decline_offer(self, phone: str) -> OfferAnswer:
        """ "não": the patient keeps their place; the slot goes to the next patient."""
        now = self.clock()
        with write_transaction(self.engine, WaitingList) as session:
            entry = self._offered_entry(session, phone)
            if entry is None:
                return OfferAnswer("none")
            slot = _slot_of(entry)
            session.execute(_clear_offer(entry.id, slot.key, "waiting", now))
            _close_offer_question(session, entry.id, slot.key, REPLY_NO, now)
        self.offer_freed_slot(slot)
        return OfferAnswer("declined", slot.starts_at)

    # -- slots -------------------------------------------------------------------------------

    def offer_freed_slot(self, slot: Slot) -> int | None:
        """Offer ``slot`` to the first matching waiting patient; the entry id, or None.

        Call it after a cancellation has committed. None when nobody matches, the slot is too
        close, or it is already on offer (never raises for that: the availability poll retries).
        """
        now = self.clock()
        send_at = self.policy.next_sending_time(now)
        expires_at = send_at + self.policy.offer_hold
        if slot.starts_at - expires_at < OFFER_MIN_LEAD:
            return None
        try:
            with write_transaction(self.engine, WaitingList) as session:
                return self._offer(session, slot, now, send_at, expires_at)
        except IntegrityError:  # another worker offered the same slot at the same moment
            logger.info("slot %s is already on offer", slot.key)
            return None

    def expire_offers(self) -> int:
        """Lapse unanswered offers (passing their slots on) and lists whose dates have passed."""
        now = self.clock()
        lapsed: list[Slot] = []
        with write_transaction(self.engine, WaitingList) as session:
            query = select(WaitingList).where(
                WaitingList.status == "offered", WaitingList.offer_expires_at <= now
            )
            for entry in session.execute(lock_candidates(session, query)).scalars().all():
                slot = _slot_of(entry)
                if claim_with(session, _clear_offer(entry.id, slot.key, "waiting", now)):
                    _close_offer_question(session, entry.id, slot.key, REPLY_LAPSED, now)
                    lapsed.append(slot)
            session.execute(
                update(WaitingList)
                .where(
                    WaitingList.status == "waiting",
                    WaitingList.preferred_date_to < self.policy.local_date(now),
                )
                .values(status="expired", updated_at=now)
                .execution_options(synchronize_session=False)
            )
        for slot in lapsed:
            self.offer_freed_slot(slot)
        return len(lapsed)

    def poll_availability(self) -> int:
        """Offer the agenda's free slots that some waiting patient wants; how many were offered."""
        now = self.clock()
        if self.policy.is_quiet(now):
            return 0
        with session_scope(self.engine) as session:
            wanted = session.execute(
                select(
                    WaitingList.preferred_date_from,
                    WaitingList.preferred_date_to,
                    WaitingList.preferred_period,
                ).where(WaitingList.status == "waiting")
            ).all()
        if not wanted:
            return 0
        today = self.policy.local_date(now)
        first = max(today, min(row[0] for row in wanted))
        last = min(today + timedelta(days=POLL_HORIZON_DAYS), max(row[1] for row in wanted))
        offered = 0
        for day in self.agenda.available_days(first):
            if not first <= day <= last:
                continue
            for starts_at in self.agenda.available_times(day):
                if _anyone_wants(wanted, starts_at) and self.offer_freed_slot(Slot(starts_at)):
                    offered += 1
        return offered

    # -- internals ---------------------------------------------------------------------------

    def _offer(
        self, session: Session, slot: Slot, now: datetime, send_at: datetime, expires_at: datetime
    ) -> int | None:
        if self._offers_of(session, slot.key):
            return None
        for entry in self._candidates(session, slot):
            if session.execute(
                select(Notification.id).where(
                    Notification.dedupe_key == _offer_key(entry.id, slot.key)
                )
            ).first():
                continue  # offered this slot before (declined or let it lapse)
            claimed = claim_with(
                session,
                update(WaitingList)
                .where(WaitingList.id == entry.id, WaitingList.status == "waiting")
                .values(
                    status="offered",
                    offered_slot_key=slot.key,
                    offered_slot_starts_at=slot.starts_at,
                    offered_slot_ends_at=slot.ends_at,
                    offer_expires_at=expires_at,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False),
            )
            if not claimed:
                continue
            notification = Notification(
                kind="waitlist_offer",
                phone=entry.phone,
                waiting_list_id=entry.id,
                template_key=templates.WAITLIST_OFFER,
                scheduled_for=send_at,
                payload={"slot_key": slot.key, "starts_at": utc_iso(slot.starts_at)},
                dedupe_key=_offer_key(entry.id, slot.key),
            )
            session.add(notification)
            session.flush()  # a concurrent offer of the same slot fails here (unique index)
            session.refresh(entry)
            emit_event(
                session,
                "waitlist.offered",
                {
                    "entry_id": entry.id,
                    "phone": entry.phone,
                    "slot_starts_at": slot.starts_at,
                    "offer_expires_at": expires_at,
                },
            )
            if send_at <= now:
                message = compose_offer(session, notification, now, self.policy)
                send_notification(session, notification, message, now)
            logger.info("slot %s offered to entry %s", slot.key, entry.id)
            return entry.id
        return None

    def _candidates(self, session: Session, slot: Slot) -> list[WaitingList]:
        local = slot.starts_at.astimezone(self.policy.tz)
        query = (
            select(WaitingList)
            .where(
                WaitingList.status == "waiting",
                WaitingList.preferred_date_from <= local.date(),
                WaitingList.preferred_date_to >= local.date(),
                WaitingList.preferred_period.in_(("any", period_of(local))),
            )
            .order_by(WaitingList.priority, WaitingList.created_at, WaitingList.id)
            .limit(CANDIDATES_PER_SLOT)
        )
        if slot.specialty:
            query = query.where(
                or_(WaitingList.specialty.is_(None), WaitingList.specialty == slot.specialty)
            )
        return list(session.execute(lock_candidates(session, query)).scalars())

    @staticmethod
    def _offers_of(session: Session, key: str) -> list[WaitingList]:
        return list(
            session.execute(
                select(WaitingList).where(
                    WaitingList.status == "offered", WaitingList.offered_slot_key == key
                )
            ).scalars()
        )

    @staticmethod
    def _active_entry(session: Session, phone: str) -> WaitingList | None:
        return (
            session.execute(
                select(WaitingList)
                .where(WaitingList.phone == phone, WaitingList.status.in_(ACTIVE))
                .order_by(WaitingList.created_at)
            )
            .scalars()
            .first()
        )

    @staticmethod
    def _offered_entry(session: Session, phone: str) -> WaitingList | None:
        return (
            session.execute(
                select(WaitingList).where(
                    WaitingList.phone == phone, WaitingList.status == "offered"
                )
            )
            .scalars()
            .first()
        )

    @staticmethod
    def _position(session: Session, entry: WaitingList) -> int:
        ahead = session.execute(
            select(func.count()).where(
                WaitingList.status.in_(ACTIVE),
                or_(
                    WaitingList.priority < entry.priority,
                    and_(
                        WaitingList.priority == entry.priority,
                        or_(
                            WaitingList.created_at < entry.created_at,
                            and_(
                                WaitingList.created_at == entry.created_at,
                                WaitingList.id < entry.id,
                            ),
                        ),
                    ),
                ),
            )
        ).scalar_one()
        return ahead + 1


def _anyone_wants(wanted: Iterable[tuple[date, date, str]], starts_at: datetime) -> bool:
    day, period = starts_at.date(), period_of(starts_at)
    return any(
        first <= day <= last and preferred in ("any", period) for first, last, preferred in wanted
    )


def _store_appointment(
    session: Session, phone: str, cpf: str, name: str | None, booked: Booked, slot: Slot
) -> Appointment:
    """The local copy of the appointment booked from an offer (reminders read it)."""
    existing = session.execute(
        select(Appointment).where(Appointment.gestaods_id == booked.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    starts_at = booked.starts_at.astimezone(timezone.utc)
    appointment = Appointment(
        gestaods_id=booked.id,
        phone=phone,
        cpf=cpf,
        patient_name=name,
        starts_at=starts_at,
        ends_at=(booked.ends_at or slot.ends_at or starts_at).astimezone(timezone.utc),
        status="scheduled",
        professional=booked.professional or slot.professional,
    )
    session.add(appointment)
    session.flush()
    return appointment
