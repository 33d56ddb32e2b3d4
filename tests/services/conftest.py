"""Fixtures of the notification, waiting-list and scheduler tests (issue 7).

Every database test runs on SQLite and PostgreSQL (throwaway databases, as in ``tests/db``);
GestãoDS is the sandbox fake over real HTTP; one frozen clock drives the services and the fake.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.notifications.composing import APPOINTMENT_MESSAGES
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import ReminderReplies
from clinicbot.services.waiting_list import OFFER_MESSAGES, WaitingListService
from tests.services.notify_support import POLICY, START, TODAY, TOKEN, TZ, FrozenClock
from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    empty_url,
    engine,
    fresh_engine,
    second_engine,
)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[tuple[FakeGestaoDS, str, list[FrozenClock]]]:
    current: list[FrozenClock] = [FrozenClock(START)]
    fake = FakeGestaoDS(TOKEN, TZ, today=TODAY, clock=lambda: current[0]())
    with BackgroundServer(create_app(fake, name=f"notify-gestaods-{uuid.uuid4().hex[:8]}")) as srv:
        yield fake, srv.url, current


@pytest.fixture
def fake(
    _fake_server: tuple[FakeGestaoDS, str, list[FrozenClock]], clock: FrozenClock
) -> FakeGestaoDS:
    """The GestãoDS fake, reset to its seeded agenda and following this test's clock."""
    fake, _url, current = _fake_server
    current[0] = clock
    fake.reset()
    return fake


@pytest.fixture
def agenda(
    _fake_server: tuple[FakeGestaoDS, str, list[FrozenClock]], fake: FakeGestaoDS
) -> GestaoDSClient:
    return GestaoDSClient(_fake_server[1], TOKEN, tz=TZ, retry_wait=0, cache_ttl=0)


@pytest.fixture
def dispatcher(engine: Engine, clock: FrozenClock) -> NotificationDispatcher:
    """The scheduler's dispatcher: appointment messages and waiting-list offers."""
    return NotificationDispatcher(
        {**APPOINTMENT_MESSAGES, **OFFER_MESSAGES}, engine=engine, policy=POLICY, clock=clock
    )


@pytest.fixture
def reminder_replies(engine: Engine, clock: FrozenClock) -> ReminderReplies:
    return ReminderReplies(engine=engine, clock=clock)


@pytest.fixture
def waiting_list(engine: Engine, agenda: GestaoDSClient, clock: FrozenClock) -> WaitingListService:
    return WaitingListService(agenda=agenda, engine=engine, policy=POLICY, clock=clock)
