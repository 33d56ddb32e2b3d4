"""The client against the sandbox fake over real HTTP: every journey step and failure mode."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import requests

from clinicbot.gestaods import (
    AppointmentNotFound,
    BookingOutcomeUnknown,
    GestaoDSError,
    GestaoDSUnavailable,
    InvalidToken,
    SlotUnavailable,
    ValidationError,
)
from clinicbot.gestaods.models import CANCELED, CONFIRMED, SCHEDULED

from .conftest import JOAO, MARINA, TODAY, TOKEN, TZ, LiveGestaoDS

TUESDAY = TODAY + timedelta(days=1)
NEW_CPF = "12345678909"


def _active_at(live: LiveGestaoDS, start: datetime) -> list[dict]:
    return [
        item
        for item in live.state()["appointments"]
        if not item["cancelado"] and datetime.fromisoformat(item["starts_at"]) == start
    ]


def test_find_seeded_and_unknown_patients(live: LiveGestaoDS) -> None:
    client = live.client()
    marina = client.find_patient("390.533.447-05")
    assert marina is not None
    assert (marina.name, marina.email, marina.birth_date) == (
        "Marina Alves Prado",
        "marina@example.org",
        date(1991, 9, 2),
    )
    assert client.find_patient(NEW_CPF) is None


def test_register_then_find_and_register_again(live: LiveGestaoDS) -> None:
    client = live.client()
    created = client.register_patient(
        name="Ana Lima", cpf=NEW_CPF, email="ana@example.org", phone="(31) 98888-1111",
        birth_date=date(1990, 1, 2),
    )  # fmt: skip
    found = client.find_patient(NEW_CPF)
    assert found is not None and found.id == created.id and found.phone == "31988881111"
    again = client.register_patient(name="Ana Lima", cpf=NEW_CPF, email="ana@example.org")
    assert again.id == created.id
    assert sum(p["cpf"] == NEW_CPF for p in live.state()["patients"]) == 1


def test_register_with_bad_email_is_a_422(live: LiveGestaoDS) -> None:
    with pytest.raises(ValidationError) as caught:
        live.client().register_patient(name="Ana Lima", cpf=NEW_CPF, email="not-an-email")
    assert caught.value.detail[0]["loc"] == ["body", "email"]


def test_days_and_times_follow_the_seeded_agenda(live: LiveGestaoDS) -> None:
    client = live.client()
    days = client.available_days()
    assert days[0] == TODAY and all(day.weekday() < 5 for day in days)
    assert TODAY + timedelta(days=9) not in days  # Wednesday 13/03: fully booked in the seed
    assert client.available_days(TODAY + timedelta(days=7))[0] == TODAY + timedelta(days=7)
    times = client.available_times(TODAY)  # nothing pre-booked today
    assert len(times) == 16 and client.slot_minutes(TODAY) == 30
    assert times[0] == datetime(2030, 3, 4, 8, 0, tzinfo=TZ)
    assert times[-1] == datetime(2030, 3, 4, 17, 30, tzinfo=TZ)
    assert datetime(2030, 3, 4, 12, 0, tzinfo=TZ) not in times  # lunch break
    assert client.available_times(TODAY + timedelta(days=5)) == []  # Saturday


def test_book_appears_everywhere_and_leaves_the_free_times(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    appointment = client.book(cpf=MARINA, starts_at=slot, first_visit=True)
    assert appointment.starts_at == slot and appointment.status == SCHEDULED
    assert slot not in client.available_times(TUESDAY)  # cache invalidated by the booking
    [mine] = client.patient_appointments(MARINA)
    assert (mine.id, mine.starts_at, mine.procedure) == (appointment.id, slot, "Primeira consulta")
    listed = {item.id: item for item in client.list_appointments(TUESDAY, TUESDAY)}
    assert listed[appointment.id].patient_name == "Marina Alves Prado"
    state = [item for item in live.state()["appointments"] if item["cpf"] == MARINA]
    assert [item["id"] for item in state] == [appointment.id]
    assert state[0]["primeiro_atendimento"] is True


def test_slot_taken_between_choose_and_confirm(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]  # the patient chooses (and the list is cached)
    taken = live.control("book", {"starts_at": slot.strftime("%d/%m/%Y %H:%M:%S")})
    assert taken.status_code == 201
    with pytest.raises(SlotUnavailable):
        client.book(cpf=MARINA, starts_at=slot)
    assert slot not in client.available_times(TUESDAY)  # fresh options after the conflict
    assert len(_active_at(live, slot)) == 1
    assert client.patient_appointments(MARINA) == []


def test_conflict_failure_mode_takes_the_slot_for_someone_else(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    live.control("failures", {"mode": "conflict_next_booking"}).raise_for_status()
    with pytest.raises(SlotUnavailable):
        client.book(cpf=MARINA, starts_at=slot)
    [holder] = _active_at(live, slot)
    assert holder["cpf"] != MARINA
    other = client.available_times(TUESDAY)[0]
    assert client.book(cpf=MARINA, starts_at=other).starts_at == other  # rule was consumed


@pytest.mark.parametrize(
    "start",
    [
        datetime(2030, 3, 4, 8, 15, tzinfo=TZ),  # off the 30-minute grid
        datetime(2030, 3, 9, 9, 0, tzinfo=TZ),  # Saturday
        datetime(2030, 3, 1, 9, 0, tzinfo=TZ),  # in the past
    ],
)
def test_slots_outside_the_agenda_are_refused(live: LiveGestaoDS, start: datetime) -> None:
    with pytest.raises(SlotUnavailable):
        live.client().book(cpf=MARINA, starts_at=start)


def test_repeating_a_booking_returns_the_same_appointment(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    first = client.book(cpf=MARINA, starts_at=slot)
    second = client.book(cpf=MARINA, starts_at=slot)
    assert second.id == first.id
    assert len(_active_at(live, slot)) == 1


def test_booking_timeout_then_no_double_booking(live: LiveGestaoDS) -> None:
    client = live.client(timeout=0.5)
    slot = client.available_times(TUESDAY)[0]
    live.control("failures", {"mode": "slow", "delay": 1.0, "path": "agendar/"})
    appointment = client.book(cpf=MARINA, starts_at=slot)  # timed out, then found
    assert appointment.starts_at == slot
    assert [r.error for r in live.records if r.operation == "book"] == ["timeout"]
    again = client.book(cpf=MARINA, starts_at=slot)  # the action retrying the turn
    assert again.id == appointment.id
    assert [item["id"] for item in _active_at(live, slot)] == [appointment.id]


def test_error_after_commit_is_recovered(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    live.control("failures", {"mode": "error_after_commit", "path": "agendar/"})
    appointment = client.book(cpf=MARINA, starts_at=slot)
    assert [item["id"] for item in _active_at(live, slot)] == [appointment.id]


def test_5xx_before_commit_raises_and_books_nothing(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    live.control("failures", {"mode": "500", "path": "agendar/"})
    with pytest.raises(GestaoDSUnavailable):
        client.book(cpf=MARINA, starts_at=slot)
    assert _active_at(live, slot) == []


def test_a_late_commit_is_unknown_to_the_client_then_appears(live: LiveGestaoDS) -> None:
    client = live.client()
    slot = client.available_times(TUESDAY)[0]
    live.control("failures", {"mode": "late_commit", "delay": 600, "path": "agendar/"})
    with pytest.raises(BookingOutcomeUnknown):
        client.book(cpf=MARINA, starts_at=slot)
    assert _active_at(live, slot) == [] and client.held_slot(MARINA, slot) is None
    assert live.control("commit-late").json() == {"applied": 1}
    assert client.held_slot(MARINA, slot) is not None
    assert live.control("commit-late").json() == {"applied": 0}


def test_slow_read_is_retried(live: LiveGestaoDS) -> None:
    client = live.client(timeout=0.3)
    live.control("failures", {"mode": "slow", "delay": 0.6, "path": "dias-disponiveis"})
    assert client.available_days()[0] == TODAY
    attempts = [r for r in live.records if r.operation == "available_days"]
    assert [(r.attempt, r.error) for r in attempts] == [(1, "timeout"), (2, None)]


def test_reschedule_keeps_the_id_and_frees_the_old_slot(live: LiveGestaoDS) -> None:
    client = live.client()
    [joao] = client.patient_appointments(JOAO)
    new_slot = client.available_times(TUESDAY)[0]
    moved = client.reschedule(joao.id, new_slot)
    assert moved.id == joao.id
    current = client.get_appointment(joao.id)
    assert current is not None and current.starts_at == new_slot
    assert joao.starts_at in client.available_times(joao.starts_at.date())


def test_reschedule_into_a_taken_slot(live: LiveGestaoDS) -> None:
    client = live.client()
    [joao] = client.patient_appointments(JOAO)
    slot = client.available_times(TUESDAY)[0]
    live.control("book", {"starts_at": slot.isoformat()}).raise_for_status()
    with pytest.raises(SlotUnavailable):
        client.reschedule(joao.id, slot)
    assert client.get_appointment(joao.id).starts_at == joao.starts_at


def test_confirm_then_cancel(live: LiveGestaoDS) -> None:
    client = live.client()
    [joao] = client.patient_appointments(JOAO)
    client.confirm(joao.id)
    assert client.get_appointment(joao.id).status == CONFIRMED
    client.cancel(joao.id, "Paciente solicitou via WhatsApp")
    client.cancel(joao.id, "Paciente solicitou via WhatsApp")  # idempotent
    canceled = client.get_appointment(joao.id)
    assert canceled is not None and canceled.status == CANCELED
    assert joao.starts_at in client.available_times(joao.starts_at.date())
    [listed] = [
        a for a in client.list_appointments(TODAY, TODAY + timedelta(30)) if a.id == joao.id
    ]
    assert listed.status == CANCELED
    with pytest.raises(GestaoDSError):
        client.confirm(joao.id)


def test_unknown_appointment(live: LiveGestaoDS) -> None:
    client = live.client()
    assert client.get_appointment("ag_missing") is None
    with pytest.raises(AppointmentNotFound):
        client.cancel("ag_missing", "x")
    with pytest.raises(AppointmentNotFound):
        client.reschedule("ag_missing", datetime(2030, 3, 5, 8, 0, tzinfo=TZ))


def test_dev_prefix_and_clinic_data(live: LiveGestaoDS) -> None:
    client = live.client(prefix="/api/dev-")
    slot = client.available_times(TUESDAY)[0]
    appointment = client.book(cpf=MARINA, starts_at=slot)
    assert [a.id for a in client.patient_appointments(MARINA)] == [appointment.id]
    assert appointment.id in {a.id for a in client.list_appointments(TUESDAY, TUESDAY)}
    assert client.clinic_info()["medico"] == "Dra. Beatriz Nogueira"
    assert "Brasília" in client.agenda_timezone()
    assert all(
        r.path.startswith("/api/dev-") for r in live.records if r.operation != "list_appointments"
    )


def test_invalid_token(live: LiveGestaoDS) -> None:
    with pytest.raises(InvalidToken):
        live.client(token="wrong-token").find_patient(MARINA)


def test_fake_speaks_the_documented_wire_format(live: LiveGestaoDS) -> None:
    url = live.url
    short_cpf = requests.get(f"{url}/api/paciente/{TOKEN}/1234/", timeout=5)
    assert short_cpf.status_code == 422
    assert short_cpf.json()["detail"][0]["loc"] == ["path", "cpf"]
    bad_token = requests.get(f"{url}/api/paciente/nope/{MARINA}/", timeout=5)
    assert (bad_token.status_code, bad_token.json()) == (
        400,
        {"message": "Informe um token valido!", "status": 400},
    )
    assert requests.get(f"{url}/api/paciente/{TOKEN}/{MARINA}", timeout=5).status_code == 404
    assert (
        requests.get(f"{url}/api/dev-dados-agendamento/listagem/{TOKEN}", timeout=5).status_code
        == 404
    )
    iso_day = requests.get(
        f"{url}/api/agendamento/horarios-disponiveis/{TOKEN}?data=2030-03-05", timeout=5
    )
    assert iso_day.status_code == 422
    body = {
        "data_agendamento": "05/03/2030 08:00:00",
        "data_fim_agendamento": "05/03/2030 08:30:00",
        "cpf": MARINA,
        "token": TOKEN,
    }
    booked = requests.post(f"{url}/api/agendamento/agendar/", json=body, timeout=5)
    assert booked.status_code == 201 and booked.json()["data"]["agendamento"]


def test_control_endpoints(live: LiveGestaoDS) -> None:
    state = live.state()
    assert state["today"] == TODAY.isoformat()
    assert {p["cpf"] for p in state["patients"]} >= {MARINA, JOAO}
    assert live.control("failures", {"mode": "bogus"}).status_code == 400
    live.control("failures", {"mode": "500", "count": 0}).raise_for_status()
    assert requests.get(f"{live.url}/api/dados-agendamento/{TOKEN}/", timeout=5).status_code == 500
    assert requests.get(f"{live.url}/api/dados-agendamento/{TOKEN}/", timeout=5).status_code == 500
    live.control("failures", {"mode": "none"}).raise_for_status()
    assert requests.get(f"{live.url}/api/dados-agendamento/{TOKEN}/", timeout=5).status_code == 200
    live.client().book(cpf=MARINA, starts_at=datetime(2030, 3, 5, 8, 0, tzinfo=TZ))
    live.control("reset").raise_for_status()
    assert live.state()["appointments"] == state["appointments"]
