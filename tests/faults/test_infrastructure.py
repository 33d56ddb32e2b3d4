"""The database restarted, Redis killed, rasa killed, while patients are writing: every message
acknowledged by the webhook is answered exactly once (:mod:`tests.support.faults`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from clinicbot.stack import Stack
from tests.support.faults import (
    answering,
    faq_under_fault,
    kill,
    service,
    supervise_until,
)
from tests.support.servers import OwnRedis, ThrowawayPostgres
from tests.support.whatsapp import WhatsAppPatient

pytestmark = pytest.mark.integration

PATIENTS = 3
OUTAGE_SECONDS = 3.0  # how long the server stays down (the fault itself, not a wait for it)
RESTART_CEILING = 600.0  # rasa reloads its model in ~30 s on an idle machine


@pytest.fixture
def patients(patient_factory: Callable[[], WhatsAppPatient]) -> list[WhatsAppPatient]:
    return [patient_factory() for _ in range(PATIENTS)]


def test_a_postgresql_restart_mid_load_loses_and_doubles_nothing(
    stack: Stack, database: Engine, postgres: ThrowawayPostgres, patients: list[WhatsAppPatient]
) -> None:
    def restart() -> None:
        postgres.stop("fast")
        time.sleep(OUTAGE_SECONDS)
        postgres.start()

    tally = faq_under_fault(stack, database, "postgresql restart", patients, restart)
    assert tally.clean, tally


def test_redis_killed_and_restarted_mid_load_loses_and_doubles_nothing(
    stack: Stack, database: Engine, redis_server: OwnRedis, patients: list[WhatsAppPatient]
) -> None:
    def crash() -> None:
        redis_server.kill()
        time.sleep(OUTAGE_SECONDS)
        redis_server.start()

    tally = faq_under_fault(stack, database, "redis kill -9", patients, crash)
    assert tally.clean, tally


def test_rasa_killed_mid_conversation_is_restarted_and_answers_each_message_once(
    stack: Stack, database: Engine, patients: list[WhatsAppPatient]
) -> None:
    rasa = service(stack, "rasa")

    def restarted(done: Callable[[], bool]) -> None:
        supervise_until(stack, lambda: answering(rasa), deadline=RESTART_CEILING)

    tally = faq_under_fault(
        stack, database, "rasa kill -9", patients, lambda: kill(rasa), recover=restarted
    )
    assert tally.clean, tally
