"""Two clinics on one stack (issue #16): each patient is answered from their own clinic's
number, with their clinic's FAQ and texts, books in their own clinic's agenda, gets their
reminder from their clinic; one phone writing to both has two conversations; staff of one
clinic cannot see or act on the other's patients.

The default clinic is the stack's sandbox (environment-configured, as before). The second
clinic, "Clínica Sul", is a row of ``clinics`` whose agenda (afternoons only) and Z-API
instance are a second sandbox served from this test process.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta, timezone
from typing import Any

import pytest
import requests
from sanic import Sanic
from validate_docbr import CPF

from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.models import MessageTemplate
from clinicbot.gestaods.client import GestaoDSClient
from clinicbot.sandbox.gestaods_fake import FakeGestaoDS, create_gestaods_blueprint
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint
from clinicbot.services.clinic import CLINIC_FILE
from clinicbot.services.templates import REMINDER
from clinicbot.settings import SANDBOX_STAFF_TOKEN, read_settings
from clinicbot.stack import Stack
from clinicbot.tenancy.registry import NewClinic, add_clinic, read_faq
from clinicbot.tenancy.sessions import clinic_session
from tests.support.whatsapp import Turns, WhatsAppPatient, menu_lines, option_labels

SUL_INSTANCE = "SULINSTANCE0002"
SUL_INSTANCE_TOKEN = "sul-instance-token"
SUL_CLIENT_TOKEN = "sul-client-token"
SUL_AGENDA_TOKEN = "sul-agenda-token"
SUL_HOURS = ((time(13), time(17)),)  # the default sandbox agenda: 8-12 and 14-18
SUL_REMINDER = "Clínica Sul lembra: {nome}, sua consulta é {dia}, às {hora}. Confirma? sim/não"


@dataclasses.dataclass
class SecondClinic:
    id: int
    url: str
    staff_token: str
    agenda: GestaoDSClient
    fake_agenda: FakeGestaoDS


@pytest.fixture(scope="module")
def sul(stack: Stack) -> Iterator[SecondClinic]:
    app = Sanic("clinic-sul-sandbox")
    fake_agenda = FakeGestaoDS(
        SUL_AGENDA_TOKEN,
        read_settings().clinic_tz,
        clock=stack.clock_now,
        opening_hours=SUL_HOURS,
        id_prefix="sul_",
    )
    app.blueprint(create_gestaods_blueprint(fake_agenda))
    app.blueprint(
        create_zapi_blueprint(FakeZapi(SUL_INSTANCE, SUL_INSTANCE_TOKEN, SUL_CLIENT_TOKEN))
    )
    faq = read_faq(CLINIC_FILE) | {
        "name": "Clínica Sul",
        "address": "Avenida Ipiranga, 500 - Porto Alegre - RS",
        "opening_hours": ["Segunda a sexta, das 13h às 17h"],
    }
    engine = make_engine(stack.env["DATABASE_URL"])
    with BackgroundServer(app) as server:
        with session_scope(engine) as session:
            clinic_id, staff_token = add_clinic(
                session,
                NewClinic(
                    slug="sul",
                    name="Clínica Sul",
                    gestaods_base_url=server.url,
                    gestaods_token=SUL_AGENDA_TOKEN,
                    zapi_instance_id=SUL_INSTANCE,
                    zapi_instance_token=SUL_INSTANCE_TOKEN,
                    zapi_client_token=SUL_CLIENT_TOKEN,
                    faq=faq,
                    options={"zapi_base_url": server.url},
                ),
                read_settings(),
            )
        with clinic_session(clinic_id, engine) as session:  # the clinic's own reminder text
            session.add(MessageTemplate(key=REMINDER, text=SUL_REMINDER))
        yield SecondClinic(
            id=clinic_id,
            url=server.url,
            staff_token=staff_token,
            agenda=GestaoDSClient(base_url=server.url, token=SUL_AGENDA_TOKEN, cache_ttl=0),
            fake_agenda=fake_agenda,
        )
    engine.dispose()


@pytest.fixture
def sul_patient(
    stack: Stack, sul: SecondClinic, turns: Turns, patient: WhatsAppPatient
) -> WhatsAppPatient:
    """The same phone as ``patient``, writing to the second clinic's number."""
    return WhatsAppPatient(
        phone=patient.phone,
        rasa_url=patient.rasa_url,
        sandbox_url=sul.url,
        turns=turns,
        instance_id=SUL_INSTANCE,
        instance_token=SUL_INSTANCE_TOKEN,
    )


def _register(agenda: GestaoDSClient, phone: str) -> str:
    cpf = CPF().generate()
    agenda.register_patient(
        name="Rita Teste Lopes",
        cpf=cpf,
        email="rita@example.org",
        phone=phone.removeprefix("55"),
        birth_date=datetime(1990, 5, 17).date(),
    )
    return cpf


def _book(patient: WhatsAppPatient, cpf: str) -> list[str]:
    """Asked for the CPF, book the first time of the second day offered (never today, so its
    reminders lie ahead); the times that were offered."""
    assert len(menu_lines(patient.say(cpf))) >= 2
    times = option_labels(patient.say("2"))
    assert times
    assert "sim" in patient.say("1").lower()
    assert "consulta está marcada" in patient.say("sim")
    return times


def _rows(stack: Stack, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(stack.env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        return db.execute(query, args).fetchall()


def test_each_clinic_answers_from_its_number_with_its_faq_and_its_agenda(
    stack: Stack,
    sandbox_url: str,
    agenda: GestaoDSClient,
    patient: WhatsAppPatient,
    sul_patient: WhatsAppPatient,
    sul: SecondClinic,
    clock: Callable[[datetime], None],
) -> None:
    hours = sul_patient.say("qual o horário de funcionamento?")
    assert "13h às 17h" in hours and "8h às 12h" not in hours
    assert "8h às 12h" in patient.say("qual o horário de funcionamento?")
    assert "Ipiranga" in sul_patient.say("onde fica a clínica?")

    # One phone, two clinics: two conversations. Mid-booking with the default clinic, the
    # same phone greets the second clinic, which knows nothing of that booking; then the
    # booking goes on where it was.
    default_cpf = _register(agenda, patient.phone)
    assert "cpf" in patient.say("quero marcar uma consulta").lower()
    greeting = sul_patient.say("oi")
    assert "cpf" not in greeting.lower(), greeting

    # Each books in its own agenda: the second clinic offers afternoon times only.
    default_times = _book(patient, default_cpf)
    sul_cpf = _register(sul.agenda, sul_patient.phone)
    assert "cpf" in sul_patient.say("quero marcar uma consulta").lower()
    sul_times = _book(sul_patient, sul_cpf)
    assert all("13:00" <= label <= "16:30" for label in sul_times), sul_times
    assert any(label < "12:00" or label >= "17:00" for label in default_times), default_times
    sul_booked = [a for a in sul.fake_agenda.appointments.values() if a.cpf == sul_cpf]
    assert len(sul_booked) == 1 and sul_booked[0].id.startswith("sul_")
    default_state = requests.get(f"{sandbox_url}/__sandbox/gestaods/state", timeout=5).json()
    assert not [a for a in default_state["appointments"] if a["cpf"] == sul_cpf]

    # The rows are the clinics': two conversations of the phone, each message and appointment
    # with its clinic.
    conversations = _rows(
        stack, "SELECT DISTINCT clinic_id FROM conversations WHERE phone = ?", patient.phone
    )
    assert sorted(row[0] for row in conversations) == [1, sul.id]
    appointments = _rows(
        stack, "SELECT clinic_id, gestaods_id FROM appointments WHERE phone = ?", patient.phone
    )
    assert {clinic for clinic, _ in appointments} == {1, sul.id}
    assert all(gid.startswith("sul_") == (clinic == sul.id) for clinic, gid in appointments)
    # Nothing the second clinic said went out from the default clinic's number.
    default_sent = requests.get(
        f"{sandbox_url}/__sandbox/zapi/messages", params={"phone": patient.phone}, timeout=5
    ).json()["messages"]
    assert not [m for m in default_sent if "13h às 17h" in m["message"]]

    # Reminders go out per clinic, from the clinic's number, with the clinic's text.
    (sul_starts,) = _rows(
        stack,
        "SELECT starts_at FROM appointments WHERE clinic_id = ? AND phone = ?",
        sul.id,
        patient.phone,
    )[0]
    starts_at = datetime.fromisoformat(sul_starts).replace(tzinfo=timezone.utc)
    clock(starts_at - timedelta(hours=1, minutes=50))
    reminders = [m["message"] for m in sul_patient.replies(1)]
    assert any(text.startswith("Clínica Sul lembra: Rita") for text in reminders), reminders


def test_staff_of_one_clinic_see_and_act_on_their_patients_only(
    stack: Stack, sul: SecondClinic, patient: WhatsAppPatient, sul_patient: WhatsAppPatient
) -> None:
    sul_patient.say("quero falar com um atendente")
    service = f"http://127.0.0.1:{stack.ports.service}/staff"

    def call(method: str, path: str, token: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.request(method, f"{service}{path}", headers=headers, timeout=30)

    def phones(token: str) -> set[str]:
        return {h["phone"] for h in call("GET", "/handoffs", token).json()["handoffs"]}

    assert patient.phone in phones(sul.staff_token)
    assert patient.phone not in phones(SANDBOX_STAFF_TOKEN)
    # The default clinic's staff cannot resume or erase the second clinic's patient...
    assert call("POST", f"/handoffs/{patient.phone}/resume", SANDBOX_STAFF_TOKEN).status_code == 404
    call("DELETE", f"/patients/{patient.phone}", SANDBOX_STAFF_TOKEN)
    assert _rows(
        stack,
        "SELECT 1 FROM conversations WHERE clinic_id = ? AND phone = ?",
        sul.id,
        patient.phone,
    )
    # ...its own staff can.
    resumed = call("POST", f"/handoffs/{patient.phone}/resume", sul.staff_token)
    assert resumed.status_code == 200, resumed.text
    assert call("GET", "/handoffs", "not-a-token").status_code == 401
