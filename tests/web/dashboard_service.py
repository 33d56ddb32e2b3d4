"""A clinic service over a database seeded with the dashboard's hand-computed days."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import read_settings
from clinicbot.web.app import create_app
from tests.support.dashboard_seed import seed
from tests.support.databases import BACKENDS, Databases
from tests.support.services import require_postgres

STAFF_TOKEN = "dashboard-test-token"
BEARER = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def seeded_database(directory: Path, url: str | None = None) -> str:
    """A migrated database (SQLite under ``directory`` unless ``url``) with the seed in it."""
    url = url or f"sqlite:///{directory / 'dashboard.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(session)
    engine.dispose()
    return url


def start_service(database_url: str, staff_token: str = STAFF_TOKEN) -> BackgroundServer:
    settings = dataclasses.replace(
        read_settings(),
        database_url=database_url,
        staff_token=staff_token,
        clinic_tz_name="America/Sao_Paulo",
        scheduler_enabled=False,
    )
    app = create_app(settings, name=f"dashboard-{uuid.uuid4().hex[:8]}", simulator=False)
    return BackgroundServer(app).start()


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The running service's base URL, on SQLite (the seed is only read: one per module)."""
    server = start_service(seeded_database(tmp_path_factory.mktemp("dashboard")))
    yield server.url
    server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def dashboard_url_on(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: Databases,
) -> Iterator[str]:
    """The same on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        require_postgres()
    url = databases.new_url(request.param)
    server = start_service(seeded_database(tmp_path_factory.mktemp("dashboard"), url))
    yield server.url
    server.stop()
