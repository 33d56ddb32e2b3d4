"""GestãoDS misbehaving under a WhatsApp conversation: errors, refusals, timeouts, slow answers,
and two patients confirming the same slot at once. Each message is answered once; no slot is
booked twice; a booked appointment gets each of its reminders once.

The fault stack's GestãoDS client times out after 2 s (``conftest.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.stack import Stack
from tests.support.faults import double_bookings
from tests.support.servers import OwnRedis
from tests.support.stack_fixtures import (
    active_appointments,
    agenda_fault,
    ask_to_book,
    local_appointments,
    register_patient,
)
from tests.support.whatsapp import WhatsAppPatient, menu_lines

pytestmark = pytest.mark.integration

BOOKED = "consulta está marcada"
AGENDA_DOWN = "dificuldade para acessar a agenda"
SLOT_TAKEN = "acabou de ser preenchido"
SLOWER_THAN_THE_TIMEOUT = 3.0


def reminders_of(database: Engine, phone: str) -> list[tuple[str, object]]:
    """The patient's reminders: (kind, when). How many depends on how soon the slot is."""
    with database.connect() as connection:
        return [
            (row.kind, row.scheduled_for)
            for row in connection.execute(
                text("SELECT kind, scheduled_for FROM notifications WHERE phone = :phone"),
                {"phone": phone},
            )
        ]


@pytest.mark.parametrize(
    ("mode", "delay", "answer", "booked"),
    [
        pytest.param("error_after_commit", 0.0, BOOKED, 1, id="500-after-commit"),
        pytest.param("slow", SLOWER_THAN_THE_TIMEOUT, BOOKED, 1, id="timeout-after-commit"),
        pytest.param("422", 0.0, AGENDA_DOWN, 0, id="422"),
    ],
)
def test_a_faulty_booking_is_answered_once_and_never_booked_twice(
    stack: Stack,
    database: Engine,
    sandbox_url: str,
    patient: WhatsAppPatient,
    registered_cpf: str,
    mode: str,
    delay: float,
    answer: str,
    booked: int,
) -> None:
    ask_to_book(patient, registered_cpf)
    agenda_fault(sandbox_url, mode, "agendar/", delay=delay)
    assert patient.send("sim").status_code == 200
    patient.finish_turn()
    replies = [reply["message"] for reply in patient.new_messages()]
    assert len(replies) == 1 and answer in replies[0], replies
    assert len(active_appointments(sandbox_url, registered_cpf)) == booked
    assert len(local_appointments(stack, registered_cpf)) == booked
    reminders = reminders_of(database, patient.phone)
    assert len(reminders) == len(set(reminders)) <= 2 * booked, reminders  # none twice
    assert double_bookings(sandbox_url) == 0


def forget_availability(redis_server: OwnRedis) -> None:
    """Empty the stack's shared availability cache (Redis), so the next reads reach the agenda
    (between turns: no conversation lock is held)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()


def test_a_read_that_times_out_once_is_retried_and_the_patient_sees_nothing(
    sandbox_url: str, redis_server: OwnRedis, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(registered_cpf)
    forget_availability(redis_server)
    agenda_fault(sandbox_url, "slow", "horarios-disponiveis", delay=SLOWER_THAN_THE_TIMEOUT)
    times = patient.say("1")
    assert len(menu_lines(times)) >= 1 and AGENDA_DOWN not in times, times


def test_an_agenda_failing_every_retry_gets_one_apology_then_works_again(
    sandbox_url: str, redis_server: OwnRedis, patient: WhatsAppPatient, registered_cpf: str
) -> None:
    forget_availability(redis_server)
    # Three failed attempts: below the breaker's five, so the next patient is not refused.
    agenda_fault(sandbox_url, "500", "dias-disponiveis", count=3)
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(registered_cpf)
    assert answer.count(AGENDA_DOWN) == 1, answer
    answer = patient.say("quero marcar uma consulta")
    if "cpf" in answer.lower():
        answer = patient.say(registered_cpf)
    assert menu_lines(answer), answer


def test_two_patients_confirming_the_same_slot_at_once_one_gets_it(
    stack: Stack,
    sandbox_url: str,
    agenda: GestaoDSClient,
    patient_factory: Callable[[], WhatsAppPatient],
) -> None:
    patients = [patient_factory() for _ in range(2)]
    cpfs = [register_patient(agenda, each) for each in patients]
    chosen = {ask_to_book(each, cpf) for each, cpf in zip(patients, cpfs, strict=True)}
    assert len(chosen) == 1  # both look at the same free slot

    ready = threading.Barrier(len(patients))

    def confirm(each: WhatsAppPatient) -> None:
        ready.wait()
        assert each.send("sim").status_code == 200

    senders = [threading.Thread(target=confirm, args=(each,)) for each in patients]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    for each in patients:
        each.finish_turn()
    answers = ["\n".join(reply["message"] for reply in each.new_messages()) for each in patients]

    winners = [i for i, text_ in enumerate(answers) if BOOKED in text_]
    assert len(winners) == 1, answers
    [loser] = [i for i in range(len(patients)) if i not in winners]
    offered = menu_lines(answers[loser])
    assert SLOT_TAKEN in answers[loser] and offered, answers[loser]
    assert len(offered) == len(set(offered)), answers[loser]  # the other times, offered once
    assert len(active_appointments(sandbox_url, cpfs[winners[0]])) == 1
    assert active_appointments(sandbox_url, cpfs[loser]) == []
    assert local_appointments(stack, cpfs[loser]) == []
    assert double_bookings(sandbox_url) == 0
