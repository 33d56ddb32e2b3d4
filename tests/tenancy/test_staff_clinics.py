"""Staff tokens are scoped to one clinic: over real HTTP, on SQLite and PostgreSQL, every staff
endpoint refuses another clinic's patients, and a disabled clinic's staff are refused."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import Conversation, ConversationDashboard
from clinicbot.db.types import utcnow
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.services.handoff import RESUME_EVENTS
from clinicbot.settings import Settings
from clinicbot.tenancy.registry import NewClinic, add_clinic, set_active
from clinicbot.web.app import create_app
from tests.web.test_staff import RASA_TOKEN, RasaAPI

PHONE = "5531988887777"
DEFAULT_TOKEN = "staff-test-token"


@pytest.fixture
def rasa() -> Iterator[RasaAPI]:
    api = RasaAPI()
    with BackgroundServer(api.app) as server:
        api.port = int(server.url.rsplit(":", 1)[1])
        yield api


@pytest.fixture
def clinics(engine: Engine, settings: Settings) -> tuple[int, str]:
    """A second clinic; the same phone handed over to staff in both. Its id and staff token."""
    with session_scope(engine) as session:
        clinic_id, token = add_clinic(session, NewClinic(slug="sul", name="Sul"), settings)
    with session_scope(engine) as session:
        for clinic in (1, clinic_id):
            conversation = Conversation(clinic_id=clinic, phone=PHONE, started_at=utcnow())
            session.add(conversation)
            session.add(
                ConversationDashboard(clinic_id=clinic, phone=PHONE, status="waiting_human")
            )
    return clinic_id, token


@pytest.fixture
def service(engine: Engine, settings: Settings, rasa: RasaAPI) -> Iterator[str]:
    configured = dataclasses.replace(
        settings,
        database_url=engine.url.render_as_string(hide_password=False),
        rasa_port=rasa.port,
        rasa_api_token=RASA_TOKEN,
        staff_token=DEFAULT_TOKEN,
        scheduler_enabled=False,
    )
    app = create_app(configured, name=f"staff-clinics-{uuid.uuid4().hex[:8]}", simulator=False)
    with BackgroundServer(app) as server:
        yield f"{server.url}/staff"


def _call(method: str, url: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.request(method, url, headers=headers, timeout=10)


def _open_handoffs(engine: Engine) -> dict[int, str]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(ConversationDashboard.clinic_id, ConversationDashboard.status)
        )
        return dict(rows.all())


def test_each_clinics_staff_list_and_resume_their_own_patients(
    engine: Engine, clinics: tuple[int, str], service: str, rasa: RasaAPI
) -> None:
    clinic_id, token = clinics
    for staff in (DEFAULT_TOKEN, token):
        listed = _call("GET", f"{service}/handoffs", staff).json()["handoffs"]
        assert [handoff["phone"] for handoff in listed] == [PHONE]
    conversation = f"c{clinic_id}:{PHONE}"  # the second clinic's rasa conversation
    rasa.paused[conversation] = True
    answer = _call("POST", f"{service}/handoffs/{PHONE}/resume", token)
    assert answer.status_code == 200, answer.text
    assert rasa.posted == [(conversation, RESUME_EVENTS)]
    assert _open_handoffs(engine) == {1: "waiting_human", clinic_id: "closed"}
    # Only the second clinic's handoff was closed: the default clinic's staff still see theirs.
    assert len(_call("GET", f"{service}/handoffs", DEFAULT_TOKEN).json()["handoffs"]) == 1
    assert _call("GET", f"{service}/handoffs", token).json()["handoffs"] == []


def test_another_clinics_patient_is_not_found(
    engine: Engine, settings: Settings, service: str
) -> None:
    with session_scope(engine) as session:
        _, token = add_clinic(session, NewClinic(slug="norte", name="Norte"), settings)
        session.add(ConversationDashboard(clinic_id=1, phone=PHONE, status="waiting_human"))
    assert _call("GET", f"{service}/handoffs", token).json()["handoffs"] == []
    assert _call("POST", f"{service}/handoffs/{PHONE}/resume", token).status_code == 404
    erased = _call("DELETE", f"{service}/patients/{PHONE}", token)
    assert erased.status_code == 200 and not any(erased.json()["erased"].values())
    assert _open_handoffs(engine) == {1: "waiting_human"}


def test_erasure_erases_the_patient_in_the_staffs_clinic_only(
    engine: Engine, clinics: tuple[int, str], service: str
) -> None:
    answer = _call("DELETE", f"{service}/patients/{PHONE}", clinics[1])
    assert answer.status_code == 200, answer.text
    with session_scope(engine) as session:
        left = session.execute(select(Conversation.clinic_id)).scalars().all()
    assert left == [1]
    assert _open_handoffs(engine) == {1: "waiting_human"}


def test_a_disabled_clinics_staff_and_unknown_tokens_are_refused(
    engine: Engine, clinics: tuple[int, str], service: str
) -> None:
    assert _call("GET", f"{service}/handoffs", "no-such-token").status_code == 401
    assert requests.get(f"{service}/handoffs", timeout=10).status_code == 401
    with session_scope(engine) as session:
        set_active(session, "sul", False)
    for method, path in (
        ("GET", "/handoffs"),
        ("POST", f"/handoffs/{PHONE}/resume"),
        ("DELETE", f"/patients/{PHONE}"),
    ):
        assert _call(method, f"{service}{path}", clinics[1]).status_code == 401
