"""Appointments over the public API: the bot's BookingService behind real HTTP, a real database
and the GestãoDS fake; each change emits its CRM event in the same transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from clinicbot import clock
from clinicbot.db.engine import session_scope
from clinicbot.db.models import Appointment, Notification
from clinicbot.gestaods.client import GestaoDSClient
from tests.api.conftest import MARINA_CPF, PHONE, Api, assert_problem


def _book(api: Api, headers: dict[str, str], starts_at: datetime, key: str | None = None):
    body = {"phone": PHONE, "cpf": MARINA_CPF, "starts_at": starts_at.isoformat()}
    return api.post("/api/v1/appointments", headers, {**body, "patient_name": "Marina"}, key)


def test_book_list_reschedule_cancel(
    api: Api, agenda: GestaoDSClient, free_slot: Callable[[int], datetime]
) -> None:
    write = api.key("write")
    first, new_time = free_slot(0), free_slot(1)
    booked = _book(api, write, first)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["phone"] == PHONE and appointment["status"] == "scheduled"
    assert datetime.fromisoformat(appointment["starts_at"]) == first
    assert [a.id for a in agenda.patient_appointments(MARINA_CPF) if a.is_active] == [
        appointment["id"]
    ]
    with session_scope(api.engine) as session:  # reminders, as for a WhatsApp booking
        assert session.execute(select(Notification)).scalars().all()

    listed = api.get("/api/v1/appointments", api.key("read"), phone=PHONE).json()
    assert [item["id"] for item in listed["data"]] == [appointment["id"]]
    assert listed["next_cursor"] is None

    moved = api.post(
        f"/api/v1/appointments/{appointment['id']}/reschedule",
        write,
        {"starts_at": new_time.isoformat()},
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["starts_at"]) == new_time

    canceled = api.post(
        f"/api/v1/appointments/{moved.json()['id']}/cancel", write, {"reason": "viagem"}
    )
    assert canceled.status_code == 200, canceled.text
    assert not [a for a in agenda.patient_appointments(MARINA_CPF) if a.is_active]
    with session_scope(api.engine) as session:
        [row] = session.execute(select(Appointment)).scalars().all()
        assert (row.status, row.cancel_reason) == ("canceled", "viagem")

    kinds = [event.event_type for event in api.events()]
    assert kinds == ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]
    assert {event.payload["source"] for event in api.events()} == {"api"}
    assert api.events("appointment.rescheduled")[0].payload["previous_starts_at"]


def test_a_taken_or_too_close_slot_is_a_409_and_nothing_is_booked(
    api: Api, agenda: GestaoDSClient, free_slot: Callable[[int], datetime]
) -> None:
    write = api.key("write")
    taken = free_slot(0)
    agenda.book(cpf="52998224725", starts_at=taken)  # another patient holds it
    assert_problem(_book(api, write, taken), 409)
    past = clock.now() - timedelta(hours=1)
    assert assert_problem(_book(api, write, past), 409)["type"].endswith("slot-unavailable")
    assert not api.events()


def test_bad_input_is_a_400_problem_naming_the_field(api: Api) -> None:
    write = api.key("write")
    cases = {
        "phone": {"phone": "12", "cpf": MARINA_CPF, "starts_at": "2031-03-12T10:00:00-03:00"},
        "cpf": {"phone": PHONE, "cpf": "11111111111", "starts_at": "2031-03-12T10:00:00-03:00"},
        "starts_at": {"phone": PHONE, "cpf": MARINA_CPF, "starts_at": "2031-03-12 10h"},
    }
    for field, body in cases.items():
        assert (
            assert_problem(api.post("/api/v1/appointments", write, body), 400)["invalid_field"]
            == field
        )
    not_json = api.post("/api/v1/appointments", write, ["a", "list"])
    assert_problem(not_json, 400)
    assert_problem(api.get("/api/v1/appointments", api.key("read"), limit="0"), 400)
    assert_problem(api.get("/api/v1/appointments", api.key("read"), cursor="%%%"), 400)


def test_an_unknown_appointment_is_a_404(api: Api, free_slot: Callable[[int], datetime]) -> None:
    answer = api.post(
        "/api/v1/appointments/nope/reschedule",
        api.key("write"),
        {"starts_at": free_slot(0).isoformat()},
    )
    assert_problem(answer, 404)
