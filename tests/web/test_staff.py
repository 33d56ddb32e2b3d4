"""Staff handing a conversation back, over real HTTP: the clinic service in front of a stand-in
for rasa's HTTP API that can fail, hang or be down. Rasa first, then the handoff is closed; a
failure leaves it open for a retry, a repeat after success is a 200, and no failure is a 500."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.migrate import upgrade_to_head
from clinicbot.db.models import ConversationDashboard
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.handoff import RESUME_EVENTS
from clinicbot.settings import read_settings
from clinicbot.web.app import create_app
from tests.support.stack import free_port

PHONE = "5531988887777"
STAFF = {"Authorization": "Bearer staff-test-token"}
RASA_TOKEN = "rasa-test-token"


class RasaAPI:
    """Rasa's HTTP API as the clinic service uses it: each phone's tracker (paused or not) and
    its events. ``mode``: ``ok``, ``error`` (HTTP 500) or ``slow`` (answers after 5 s)."""

    def __init__(self) -> None:
        self.paused: dict[str, bool] = {}
        self.posted: list[tuple[str, Any]] = []
        self.mode = "ok"
        self.app = Sanic(f"rasa-api-{uuid.uuid4().hex[:8]}")
        self.app.add_route(self.tracker, "/conversations/<phone>/tracker", methods=["GET"])
        self.app.add_route(self.events, "/conversations/<phone>/tracker/events", methods=["POST"])

    async def _refuse(self, request: Request) -> HTTPResponse | None:
        if request.args.get("token") != RASA_TOKEN:
            return json({"message": "unauthorized"}, status=401)
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "error":
            return json({"message": "tracker store unavailable"}, status=500)
        return None

    async def tracker(self, request: Request, phone: str) -> HTTPResponse:
        if refused := await self._refuse(request):
            return refused
        return json({"sender_id": phone, "paused": self.paused.get(phone, False)})

    async def events(self, request: Request, phone: str) -> HTTPResponse:
        if refused := await self._refuse(request):
            return refused
        self.posted.append((phone, request.json))
        self.paused[phone] = False
        return json({"sender_id": phone, "paused": False})


@pytest.fixture
def rasa() -> Iterator[RasaAPI]:
    api = RasaAPI()
    with BackgroundServer(api.app) as server:
        api.port = int(server.url.rsplit(":", 1)[1])
        yield api


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture
def service(database_url: str) -> Iterator[Callable[..., str]]:
    """``service(rasa_port=…, database_url=…)``: a running clinic service's URL."""
    servers: list[BackgroundServer] = []

    def start(rasa_port: int, url: str = database_url) -> str:
        settings = dataclasses.replace(
            read_settings(),
            database_url=url,
            rasa_port=rasa_port,
            rasa_api_token=RASA_TOKEN,
            rasa_api_timeout_seconds=0.5,
            staff_token="staff-test-token",
            scheduler_enabled=False,
        )
        app = create_app(settings, name=f"staff-{uuid.uuid4().hex[:8]}", simulator=False)
        servers.append(BackgroundServer(app).start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


def hand_over(database_url: str, phone: str = PHONE) -> None:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(ConversationDashboard(phone=phone, status="waiting_human", reason="atendente"))
    engine.dispose()


def handoffs(database_url: str) -> list[str]:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        statuses = list(session.execute(select(ConversationDashboard.status)).scalars())
    engine.dispose()
    return statuses


def resume(service_url: str, phone: str = PHONE) -> requests.Response:
    return requests.post(f"{service_url}/staff/handoffs/{phone}/resume", headers=STAFF, timeout=10)


def test_rasa_first_then_the_handoff_and_a_repeat_is_a_200(
    rasa: RasaAPI, service: Callable[..., str], database_url: str
) -> None:
    url = service(rasa.port)
    hand_over(database_url)
    rasa.paused[PHONE] = True
    assert requests.post(f"{url}/staff/handoffs/{PHONE}/resume", timeout=5).status_code == 401

    answer = resume(url, "553188887777")  # the nine-less variant of the same phone
    assert answer.status_code == 200, answer.text
    assert answer.json()["resumed"] == PHONE and answer.json()["notice"]
    assert rasa.posted == [(PHONE, RESUME_EVENTS)]
    assert handoffs(database_url) == ["closed"]

    again = resume(url)
    assert (again.status_code, again.json()) == (200, {"resumed": PHONE, "already_resumed": True})
    assert len(rasa.posted) == 1


def test_a_rasa_error_leaves_the_handoff_open_for_a_retry(
    rasa: RasaAPI, service: Callable[..., str], database_url: str
) -> None:
    url = service(rasa.port)
    hand_over(database_url)
    rasa.paused[PHONE] = True
    rasa.mode = "error"
    answer = resume(url)
    assert answer.status_code == 502
    assert answer.json()["error"].endswith("the handoff stays open; try again")
    assert handoffs(database_url) == ["waiting_human"] and rasa.paused[PHONE]

    rasa.mode = "ok"
    assert resume(url).status_code == 200
    assert handoffs(database_url) == ["closed"] and not rasa.paused[PHONE]


def test_a_slow_rasa_is_a_504_not_a_500(
    rasa: RasaAPI, service: Callable[..., str], database_url: str
) -> None:
    url = service(rasa.port)
    hand_over(database_url)
    rasa.paused[PHONE] = True
    rasa.mode = "slow"
    started = time.monotonic()
    answer = resume(url)
    assert answer.status_code == 504 and "in time" in answer.json()["error"]
    assert time.monotonic() - started < 4
    assert handoffs(database_url) == ["waiting_human"]


def test_rasa_not_running_is_a_502(service: Callable[..., str], database_url: str) -> None:
    url = service(free_port())
    hand_over(database_url)
    answer = resume(url)
    assert answer.status_code == 502 and answer.json()["error"]
    assert handoffs(database_url) == ["waiting_human"]


def test_a_resume_that_reached_rasa_before_only_closes_the_handoff(
    rasa: RasaAPI, service: Callable[..., str], database_url: str
) -> None:
    url = service(rasa.port)
    hand_over(database_url)  # rasa resumed earlier, closing the handoff did not happen then
    assert resume(url).status_code == 200
    assert rasa.posted == [] and handoffs(database_url) == ["closed"]


def test_a_phone_that_never_asked_for_a_person_is_a_404(
    rasa: RasaAPI, service: Callable[..., str]
) -> None:
    answer = resume(service(rasa.port))
    assert answer.status_code == 404 and answer.json()["error"]


def test_the_database_down_is_a_503(rasa: RasaAPI, service: Callable[..., str]) -> None:
    url = service(rasa.port, f"postgresql://postgres@127.0.0.1:{free_port()}/clinicbot")
    answer = resume(url)
    assert answer.status_code == 503 and "database" in answer.json()["error"]
