"""Fixtures of the notification, waiting-list and scheduler tests (issue 7).

Every database test runs on SQLite and PostgreSQL (throwaway databases, as in ``tests/db``);
GestãoDS is the sandbox fake over real HTTP; one frozen clock drives the services and the fake.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinicbot.db.engine import make_engine
from clinicbot.db.models import Base
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.notifications.composing import APPOINTMENT_MESSAGES
from clinicbot.services.notifications.dispatch import NotificationDispatcher
from clinicbot.services.notifications.replies import ReminderReplies
from clinicbot.services.waiting_list import OFFER_MESSAGES, WaitingListService
from tests.db.conftest import BACKENDS, Databases
from tests.services.notify_support import POLICY, START, TODAY, TOKEN, TZ, FrozenClock
from tests.support.services import require_postgres


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    created = Databases(tmp_path_factory.mktemp("notify-db"))
    yield created
    created.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()
    return request.param


@pytest.fixture(scope="session")
def _engines() -> dict[str, Engine]:
    return {}


@pytest.fixture
def engine(backend: str, _databases: Databases, _engines: dict[str, Engine]) -> Iterator[Engine]:
    """A migrated database shared by the session's tests, emptied after each test."""
    if backend not in _engines:
        _engines[backend] = _databases.new_engine(backend)
    shared = _engines[backend]
    yield shared
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with shared.begin() as connection:
        if backend == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def second_engine(engine: Engine) -> Iterator[Engine]:
    """Another engine (another pool, as another process would have) on the same database."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield other
    other.dispose()


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
