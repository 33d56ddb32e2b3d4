"""The GestãoDS fake served over real HTTP on a free loopback port, shared by the suite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from clinicbot.gestaods import ApiCallRecord, GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer

TZ = ZoneInfo("America/Sao_Paulo")
TOKEN = "test-agenda-token-0001"
TODAY = date(2030, 3, 4)  # a Monday; the fake's clock is frozen at 07:00 of this day
MARINA = "39053344705"  # seeded, no appointments
JOAO = "52998224725"  # seeded, one appointment on Thursday 07/03/2030 10:00
BASE = "http://gestaods.test"  # host of the `responses`-mocked unit tests


class LiveGestaoDS:
    """The running fake, its state, and clients pointed at it."""

    def __init__(self, server: BackgroundServer, fake: FakeGestaoDS) -> None:
        self.server = server
        self.fake = fake
        self.records: list[ApiCallRecord] = []
        self._sessions: list[requests.Session] = []

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, **overrides: Any) -> GestaoDSClient:
        session = requests.Session()
        self._sessions.append(session)
        options: dict[str, Any] = {
            "tz": TZ,
            "timeout": 2.0,
            "retry_wait": 0.01,
            "session": session,
            "on_call": self.records.append,
        }
        options.update(overrides)
        return GestaoDSClient(self.url, options.pop("token", TOKEN), **options)

    def control(self, action: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(f"{self.url}/__sandbox/gestaods/{action}", json=body or {}, timeout=5)

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/__sandbox/gestaods/state", timeout=5).json()

    def close(self) -> None:
        for session in self._sessions:
            session.close()


@pytest.fixture(scope="session")
def gestaods_server() -> Iterator[tuple[BackgroundServer, FakeGestaoDS]]:
    fake = FakeGestaoDS(TOKEN, TZ, today=TODAY)
    with BackgroundServer(create_app(fake, name="gestaods-fake-tests")) as server:
        yield server, fake


@pytest.fixture
def live(gestaods_server: tuple[BackgroundServer, FakeGestaoDS]) -> Iterator[LiveGestaoDS]:
    """A freshly reset fake (seeded agenda, no failure modes) for one test."""
    server, fake = gestaods_server
    fake.reset()
    sandbox = LiveGestaoDS(server, fake)
    yield sandbox
    sandbox.close()


@pytest.fixture
def records() -> list[ApiCallRecord]:
    return []


@pytest.fixture
def mocked_client(records: list[ApiCallRecord]) -> GestaoDSClient:
    """A client for `responses`-mocked HTTP: fast backoff, no cache."""
    return GestaoDSClient(
        BASE, TOKEN, tz=TZ, timeout=1.0, retry_wait=0.0, cache_ttl=0, on_call=records.append
    )
