"""The waiting list: joining, positions, and freed slots offered, accepted, declined, lapsed."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import PRIORITY_URGENT, Appointment, Notification, WaitingList
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import pending_reply
from clinicbot.services.waiting_list import Slot, WaitingListService
from tests.services.notify_support import (
    HELENA,
    JOAO,
    MARINA,
    POLICY,
    RAFAEL,
    TZ,
    FrozenClock,
    deliver,
    free_slot,
    outbox,
)

THURSDAY = date(2031, 3, 13)
FREED = datetime.combine(THURSDAY, time(10), tzinfo=TZ)  # João's seeded appointment


def join(service: WaitingListService, patient: tuple[str, str, str], **preferences: object) -> int:
    cpf, phone, name = patient
    options = {"date_from": date(2031, 3, 11), "date_to": date(2031, 3, 20), **preferences}
    return service.join(phone=phone, cpf=cpf, name=name, **options).entry_id


def cancel_joaos_appointment(agenda: GestaoDSClient) -> Slot:
    """What the cancel flow does: cancel in GestãoDS, then hand the freed slot over."""
    [appointment] = [a for a in agenda.patient_appointments(JOAO[0]) if a.is_active]
    assert appointment.starts_at == FREED
    agenda.cancel(appointment.id, "imprevisto")
    return Slot(starts_at=appointment.starts_at, ends_at=appointment.ends_at)


def statuses(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        rows = session.execute(select(WaitingList.phone, WaitingList.status)).all()
    return {phone: status for phone, status in rows}


def test_position_is_priority_then_arrival(
    waiting_list: WaitingListService, clock: FrozenClock, fake: FakeGestaoDS
) -> None:
    join(waiting_list, MARINA)
    clock.advance(minutes=1)
    join(waiting_list, HELENA)
    clock.advance(minutes=1)
    join(waiting_list, RAFAEL, priority=PRIORITY_URGENT)
    assert [waiting_list.position(p[1]) for p in (MARINA, HELENA, RAFAEL)] == [2, 3, 1]
    clock.advance(minutes=1)
    again = waiting_list.join(phone=MARINA[1], cpf=MARINA[0], period="morning")
    assert (again.already_waiting, again.position) == (True, 2)  # keeps her place
    assert waiting_list.leave(RAFAEL[1]) is True
    assert waiting_list.leave(RAFAEL[1]) is False
    assert waiting_list.position(RAFAEL[1]) is None
    assert [waiting_list.position(p[1]) for p in (MARINA, HELENA)] == [1, 2]


def test_a_cancellation_offers_the_slot_to_the_first_matching_patient(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, HELENA, period="afternoon")  # first, but wants afternoons
    clock.advance(minutes=1)
    marina = join(waiting_list, MARINA)
    clock.advance(minutes=1)
    join(waiting_list, RAFAEL)

    assert waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda)) == marina
    deliver(engine)

    [offer] = outbox(engine)
    assert offer.phone == MARINA[1]
    assert offer.text == (
        "Oi, Marina! Boa notícia: surgiu uma vaga quinta, 13/03, às 10:00. 🎉\n"
        "Quer ficar com ela? Responda *sim* ou *não*. Seguro a vaga para você por 30 minutos."
    )
    assert statuses(engine) == {HELENA[1]: "waiting", MARINA[1]: "offered", RAFAEL[1]: "waiting"}
    with session_scope(engine) as session:
        entry = session.get(WaitingList, marina)
        assert entry.offer_expires_at == clock() + timedelta(minutes=30)
        assert pending_reply(session, MARINA[1], clock()).kind == "waitlist_offer"
    # The same slot is never offered twice at once.
    assert waiting_list.offer_freed_slot(Slot(starts_at=FREED)) is None
    assert len(outbox(engine)) == 1


def test_sim_books_the_offered_slot(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    marina = join(waiting_list, MARINA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    clock.advance(minutes=10)

    answer = waiting_list.accept_offer(MARINA[1])

    assert (answer.status, answer.starts_at) == ("booked", FREED)
    [booked] = [a for a in fake.appointments_of(MARINA[0]) if a.active]
    assert booked.starts_at == FREED
    with session_scope(engine) as session:
        entry = session.get(WaitingList, marina)
        assert entry.status == "booked"
        appointment = session.get(Appointment, entry.booked_appointment_id)
        assert (appointment.gestaods_id, appointment.starts_at) == (booked.id, FREED)
        kinds = session.execute(
            select(Notification.kind).where(Notification.appointment_id == appointment.id)
        ).scalars()
        assert sorted(kinds) == ["reminder", "reminder"]
        assert pending_reply(session, MARINA[1], clock()) is None
    assert waiting_list.accept_offer(MARINA[1]).status == "none"


def test_a_slot_taken_meanwhile_gets_an_apology_and_the_patient_keeps_waiting(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, MARINA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    fake.book_as_other(FREED)  # the receptionist filled it by phone

    assert waiting_list.accept_offer(MARINA[1]).status == "slot_taken"
    assert statuses(engine) == {MARINA[1]: "waiting"}
    assert [a for a in fake.appointments_of(MARINA[0]) if a.active] == []


def test_nao_passes_the_slot_to_the_next_patient(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, MARINA)
    clock.advance(minutes=1)
    helena = join(waiting_list, HELENA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))

    assert waiting_list.decline_offer(MARINA[1]).status == "declined"

    assert statuses(engine) == {MARINA[1]: "waiting", HELENA[1]: "offered"}
    assert [message.phone for message in outbox(engine)] == [MARINA[1], HELENA[1]]
    assert waiting_list.accept_offer(HELENA[1]).status == "booked"
    with session_scope(engine) as session:
        assert session.get(WaitingList, helena).status == "booked"


def test_silence_passes_the_slot_on_and_nobody_gets_it_twice(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, MARINA)
    clock.advance(minutes=1)
    join(waiting_list, HELENA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))

    clock.advance(minutes=29)
    assert waiting_list.expire_offers() == 0
    clock.advance(minutes=1)
    assert waiting_list.expire_offers() == 1
    assert statuses(engine) == {MARINA[1]: "waiting", HELENA[1]: "offered"}
    assert waiting_list.accept_offer(MARINA[1]).status == "none"  # too late for Marina

    clock.advance(minutes=30)
    assert waiting_list.expire_offers() == 1  # Helena was silent too; nobody else is left
    assert statuses(engine) == {MARINA[1]: "waiting", HELENA[1]: "waiting"}
    assert len(outbox(engine)) == 2
    assert waiting_list.offer_freed_slot(Slot(starts_at=FREED)) is None


def test_leaving_with_an_offer_passes_it_on(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, MARINA)
    clock.advance(minutes=1)
    join(waiting_list, HELENA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    assert waiting_list.leave(MARINA[1]) is True
    assert statuses(engine) == {MARINA[1]: "left", HELENA[1]: "offered"}


def test_an_offer_made_at_night_goes_out_and_is_held_from_the_morning(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    dispatcher: NotificationDispatcher,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    marina = join(waiting_list, MARINA)
    clock.set(datetime(2031, 3, 11, 22, tzinfo=TZ))
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    assert outbox(engine) == []
    clock.set(datetime(2031, 3, 12, 8, tzinfo=TZ))
    assert waiting_list.expire_offers() == 0
    assert dispatcher.dispatch_due() == {"queued": 1}
    with session_scope(engine) as session:
        assert session.get(WaitingList, marina).offer_expires_at == clock() + timedelta(minutes=30)


def test_the_availability_poll_offers_free_slots_patients_want(
    engine: Engine,
    waiting_list: WaitingListService,
    fake: FakeGestaoDS,
) -> None:
    wednesday_afternoon = [
        start for start in fake.free_times(date(2031, 3, 12)) if start.hour >= 14
    ]
    join(
        waiting_list,
        MARINA,
        date_from=date(2031, 3, 12),
        date_to=date(2031, 3, 12),
        period="afternoon",
    )
    assert waiting_list.poll_availability() == 1
    with session_scope(engine) as session:
        entry = session.execute(select(WaitingList)).scalar_one()
        assert entry.offered_slot_starts_at == wednesday_afternoon[0]
    assert waiting_list.poll_availability() == 0  # she holds an offer already


def test_lists_whose_dates_have_passed_expire(
    engine: Engine, waiting_list: WaitingListService, clock: FrozenClock, fake: FakeGestaoDS
) -> None:
    join(waiting_list, MARINA, date_to=date(2031, 3, 12))
    clock.set(datetime(2031, 3, 13, 9, tzinfo=TZ))
    waiting_list.expire_offers()
    assert statuses(engine) == {MARINA[1]: "expired"}


def test_two_workers_never_offer_one_slot_to_two_patients(
    engine: Engine,
    second_engine: Engine,
    agenda: GestaoDSClient,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    workers = [
        WaitingListService(agenda=agenda, engine=db, policy=POLICY, clock=clock)
        for db in (engine, second_engine)
    ]
    for patient in (MARINA, HELENA, RAFAEL):
        join(workers[0], patient)
        clock.advance(seconds=1)
    slot = Slot(starts_at=FREED)
    free_slot(fake, FREED)
    barrier = threading.Barrier(len(workers))
    offered: list[int | None] = []

    def offer(worker: WaitingListService) -> None:
        barrier.wait()
        offered.append(worker.offer_freed_slot(slot))

    threads = [threading.Thread(target=offer, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(offered, key=str) == sorted([1, None], key=str)
    assert list(statuses(engine).values()).count("offered") == 1
    assert len(outbox(engine)) == 1


def test_sim_after_the_hold_is_too_late_and_the_slot_moves_on(
    engine: Engine,
    agenda: GestaoDSClient,
    waiting_list: WaitingListService,
    clock: FrozenClock,
    fake: FakeGestaoDS,
) -> None:
    join(waiting_list, MARINA)
    clock.advance(minutes=1)
    join(waiting_list, HELENA)
    waiting_list.offer_freed_slot(cancel_joaos_appointment(agenda))
    clock.advance(minutes=31)  # before the expiry job ran
    assert waiting_list.accept_offer(MARINA[1]).status == "expired"
    assert statuses(engine) == {MARINA[1]: "waiting", HELENA[1]: "offered"}
    assert [a for a in fake.appointments_of(MARINA[0]) if a.active] == []
