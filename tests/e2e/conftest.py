"""The whole assistant as `make run` starts it (sandbox, action server, rasa, clinic service),
on its own ports and database, driven over real HTTP.

The fixtures are shared with ``tests/faults`` (:mod:`tests.support.stack_fixtures`); this suite's
stack runs on SQLite. Date-sensitive tests pin the stack's one clock with the ``clock`` fixture;
between tests the clock runs on from where the session started it (the real time, or
``CLOCK_START``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clinicbot.stack import Stack
from tests.support.stack_fixtures import (  # noqa: F401  (fixtures and helpers of the suite)
    BIRTH_DATE,
    AgendaPatient,
    active_appointments,
    agenda,
    clock,
    patient,
    patient_factory,
    patient_with_appointment,
    registered_cpf,
    running_stack,
    sandbox_state,
    sandbox_url,
    turns,
    waiting_list_to_itself,
)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(
        tmp_path_factory.mktemp("stack"),
        {
            "SCHEDULER_POLL_SECONDS": "1",
            # An unanswered booking is looked for every second for 30 s (test_uncertain_booking).
            "BOOKING_CHECK_INTERVAL_SECONDS": "1",
            "BOOKING_CHECK_WINDOW_SECONDS": "30",
            # The tests that free a slot expect that slot's offer, not one the availability
            # poll made meanwhile of another free time (the poll is tested in tests/services).
            "AVAILABILITY_POLL_MINUTES": "240",
        },
    )
