"""The clinic service with its public API, over real HTTP, on SQLite and PostgreSQL.

GestãoDS is the sandbox fake over HTTP (reset for each test); the database is the shared,
migrated one of ``tests/support/databases.py`` (emptied after each test); the webhook worker is
off (the tests that need deliveries drive a :class:`WebhookWorker` themselves).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import requests
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.api.keys import create_key
from clinicbot.db.engine import session_scope
from clinicbot.db.models import IntegrationEvent
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import get_settings, read_settings
from clinicbot.web.app import create_app as create_service
from tests.integrations.schemas import assert_valid_event
from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    engine,
)

TOKEN = "api-tests-agenda-token"
STAFF_TOKEN = "api-tests-staff-token"
MARINA_CPF = "39053344705"  # seeded in the fake's agenda
PHONE = "5531988887777"


@pytest.fixture(scope="session")
def agenda_server() -> Iterator[tuple[FakeGestaoDS, str]]:
    fake = FakeGestaoDS(TOKEN, get_settings().clinic_tz)
    with BackgroundServer(create_app(fake, name=f"api-gestaods-{uuid.uuid4().hex[:8]}")) as srv:
        yield fake, srv.url


@pytest.fixture
def agenda(agenda_server: tuple[FakeGestaoDS, str]) -> GestaoDSClient:
    fake, url = agenda_server
    fake.reset()
    return GestaoDSClient(url, TOKEN, cache_ttl=0, retry_wait=0)


@dataclass
class Api:
    """The running service and helpers to call it."""

    url: str
    engine: Engine
    app: Sanic

    def key(self, *scopes: str, limit: int | None = None) -> dict[str, str]:
        """Headers of a new key with ``scopes``."""
        with session_scope(self.engine) as session:
            created = create_key(
                session, name="test", scopes=list(scopes), rate_limit_per_minute=limit
            )
        return {"Authorization": f"Bearer {created.key}"}

    def get(self, path: str, headers: dict[str, str], **params: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", headers=headers, params=params, timeout=15)

    def post(
        self, path: str, headers: dict[str, str], body: Any, key: str | None = None
    ) -> requests.Response:
        extra = {"Idempotency-Key": key or uuid.uuid4().hex}
        return requests.post(
            f"{self.url}{path}", headers={**headers, **extra}, json=body, timeout=15
        )

    def delete(self, path: str, headers: dict[str, str]) -> requests.Response:
        return requests.delete(f"{self.url}{path}", headers=headers, timeout=15)

    def events(self, event_type: str | None = None) -> list[IntegrationEvent]:
        with session_scope(self.engine) as session:
            query = select(IntegrationEvent).order_by(IntegrationEvent.id)
            if event_type is not None:
                query = query.where(IntegrationEvent.event_type == event_type)
            found = list(session.execute(query).scalars())
        for event in found:  # every payload the API's changes produce follows its schema
            assert_valid_event(event.event_type, event.payload)
        return found


@pytest.fixture
def api(
    engine: Engine, agenda: GestaoDSClient, agenda_server: tuple[FakeGestaoDS, str]
) -> Iterator[Api]:
    settings = dataclasses.replace(
        read_settings(),
        database_url=engine.url.render_as_string(hide_password=False),
        gestaods_base_url=agenda_server[1],
        gestaods_token=TOKEN,
        gestaods_env="prod",
        staff_token=STAFF_TOKEN,
        scheduler_enabled=False,
        webhooks_enabled=False,
        redis_url="",
    )
    app = create_service(settings, name=f"api-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app) as server:
        yield Api(server.url, engine, app)
    if getattr(app.ctx, "db_engine", None) is not None:
        app.ctx.db_engine.dispose()


@pytest.fixture
def free_slot(agenda: GestaoDSClient) -> Callable[[int], datetime]:
    """``free_slot(n)``: the n-th free start time of the third bookable day (far from now)."""

    def pick(index: int = 0) -> datetime:
        day = agenda.available_days()[2]
        return agenda.available_times(day)[index]

    return pick


def assert_problem(answer: requests.Response, status: int) -> dict[str, Any]:
    """``answer`` is an RFC 9457 problem of ``status`` in both languages."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"] and body["detail"] and body["title_pt"] and body["detail_pt"]
    return body
