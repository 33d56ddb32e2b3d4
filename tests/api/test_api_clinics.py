"""An API key acts for its own clinic only: it reads and changes that clinic's appointments,
waiting list and conversations, in that clinic's agenda, and never another clinic's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.api import services
from clinicbot.api.endpoint import endpoint
from clinicbot.api.keys import create_key
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, ConversationMessage, WaitingList
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_app
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import get_settings
from clinicbot.tenancy.context import acting_for
from clinicbot.tenancy.current import forget_clinics
from clinicbot.tenancy.registry import NewClinic, add_clinic, set_active
from tests.api.conftest import MARINA_CPF, PHONE, Api, assert_problem

SUL_TOKEN = "api-tests-sul-agenda-token"
ALL_SCOPES = ("read", "write", "admin")


@pytest.fixture
def sul_url() -> Iterator[str]:
    """The second clinic's own GestãoDS (its own token and appointments)."""
    fake = FakeGestaoDS(SUL_TOKEN, get_settings().clinic_tz)
    with BackgroundServer(create_app(fake, name=f"api-sul-{uuid.uuid4().hex[:8]}")) as server:
        yield server.url


@pytest.fixture
def sul_agenda(sul_url: str) -> GestaoDSClient:
    return GestaoDSClient(sul_url, SUL_TOKEN, cache_ttl=0, retry_wait=0)


@pytest.fixture
def sul(api: Api, sul_url: str) -> Iterator[int]:
    forget_clinics()
    with session_scope(api.engine) as session:
        clinic_id, _ = add_clinic(
            session,
            NewClinic(
                slug="sul",
                name="Clínica Sul",
                gestaods_base_url=sul_url,
                gestaods_token=SUL_TOKEN,
            ),
            get_settings(),
        )
    yield clinic_id
    forget_clinics()


def key_of(engine: Engine, clinic_id: int) -> dict[str, str]:
    with session_scope(engine) as session:
        created = create_key(session, name="crm", scopes=list(ALL_SCOPES), clinic_id=clinic_id)
    return {"Authorization": f"Bearer {created.key}"}


def first_free(agenda: GestaoDSClient) -> datetime:
    return agenda.available_times(agenda.available_days()[2])[0]


def test_appointments_are_the_keys_clinics(
    api: Api, agenda: GestaoDSClient, sul_agenda: GestaoDSClient, sul: int
) -> None:
    default, other = key_of(api.engine, 1), key_of(api.engine, sul)
    body = {"phone": PHONE, "cpf": MARINA_CPF}
    booked = api.post(
        "/api/v1/appointments", default, {**body, "starts_at": first_free(agenda).isoformat()}
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.json()["id"]

    assert api.get("/api/v1/appointments", other).json()["data"] == []
    later = {"starts_at": agenda.available_times(agenda.available_days()[3])[0].isoformat()}
    for action, payload in (("cancel", {"reason": "x"}), ("reschedule", later)):
        path = f"/api/v1/appointments/{appointment_id}/{action}"
        assert api.post(path, other, payload).status_code == 404
    assert [a.id for a in agenda.patient_appointments(MARINA_CPF) if a.is_active] == [
        appointment_id
    ]

    in_sul = first_free(sul_agenda)
    theirs = api.post("/api/v1/appointments", other, {**body, "starts_at": in_sul.isoformat()})
    assert theirs.status_code == 201, theirs.text
    assert [a.starts_at for a in sul_agenda.patient_appointments(MARINA_CPF)] == [in_sul]
    listed = {item["id"] for item in api.get("/api/v1/appointments", default).json()["data"]}
    assert listed == {appointment_id}
    with session_scope(api.engine) as session:
        owners = session.execute(select(Appointment.gestaods_id, Appointment.clinic_id)).all()
    assert dict(owners) == {appointment_id: 1, theirs.json()["id"]: sul}


def test_the_waiting_list_is_the_keys_clinics(api: Api, sul: int) -> None:
    default, other = key_of(api.engine, 1), key_of(api.engine, sul)
    joined = api.post("/api/v1/waiting-list", default, {"phone": PHONE, "cpf": MARINA_CPF})
    assert joined.status_code == 201, joined.text

    assert api.get("/api/v1/waiting-list", other).json()["data"] == []
    assert api.get(f"/api/v1/waiting-list/{PHONE}/position", other).status_code == 404
    assert api.delete(f"/api/v1/waiting-list/{PHONE}", other).status_code == 404
    assert api.get(f"/api/v1/waiting-list/{PHONE}/position", default).json()["position"] == 1

    again = api.post("/api/v1/waiting-list", other, {"phone": PHONE, "cpf": MARINA_CPF})
    assert again.status_code == 201 and again.json()["position"] == 1, again.text
    with session_scope(api.engine) as session:
        owners = session.execute(select(WaitingList.clinic_id, WaitingList.status)).all()
    assert sorted(owners) == [(1, "waiting"), (sul, "waiting")]


def test_conversations_are_exported_and_erased_for_the_keys_clinic(api: Api, sul: int) -> None:
    default, other = key_of(api.engine, 1), key_of(api.engine, sul)
    with acting_for(1), session_scope(api.engine) as session:
        session.add(
            ConversationMessage(
                phone=PHONE,
                direction="in",
                text="quero marcar",
                channel="zapi",
                created_at=datetime.now(timezone.utc),
            )
        )
    path = f"/api/v1/patients/{PHONE}"
    assert api.get(f"{path}/conversations", other).json()["data"] == []
    assert api.delete(path, other).status_code == 200
    exported = api.get(f"{path}/conversations", default).json()["data"]
    assert [message["text"] for message in exported] == ["quero marcar"]


def test_a_disabled_clinics_key_is_refused(
    api: Api, sul: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = key_of(api.engine, sul)
    assert api.get("/api/v1/waiting-list", other).status_code == 200
    with session_scope(api.engine) as session:
        assert set_active(session, "sul", False)
    monkeypatch.setattr(services, "CONFIG_SECONDS", 0.0)  # read the change now
    assert_problem(api.get("/api/v1/waiting-list", other), 403)
    assert api.get("/api/v1/waiting-list", key_of(api.engine, 1)).status_code == 200


def test_every_api_route_acts_for_its_keys_clinic(api: Api) -> None:
    """Each ``/api/v1`` route but the public description goes through ``endpoint``, which
    authenticates the key and runs the handler acting for the key's clinic."""
    public = {"/api/v1/openapi.json", "/api/v1/docs"}
    guarded = endpoint("read")(_noop).__code__
    routes = {
        (method, "/" + route.path): route.handler.__code__ is guarded
        for route in api.app.router.routes
        if route.path.startswith("api/v1/")
        for method in route.methods - {"HEAD", "OPTIONS"}
    }
    assert len(routes) > 10
    assert {path for (_, path), ok in routes.items() if not ok} == public


async def _noop(request: object, caller: object) -> None:
    return None
