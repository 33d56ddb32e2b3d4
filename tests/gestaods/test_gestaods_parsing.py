"""Tolerant parsing of every disputed GestãoDS response shape (third_party_apis.md §1.4)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from clinicbot.gestaods import parsing
from clinicbot.gestaods.dates import format_datetime, parse_datetime
from clinicbot.gestaods.models import CANCELED, COMPLETED, CONFIRMED, NO_SHOW, SCHEDULED

from .conftest import TZ

MARINA_OBJECT = {
    "id": 7,
    "nome_completo": "Marina Alves Prado",
    "cpf": "39053344705",
    "email": "marina@example.org",
    "celular": "31988887777",
    "nascimento": "02/09/1991",
}


@pytest.mark.parametrize(
    "body",
    [
        {"data": MARINA_OBJECT, "status": 200},  # envelope + Java fixture object
        MARINA_OBJECT,  # bare object
        [MARINA_OBJECT],  # list whose first element is the patient (older Python client)
        {"data": [MARINA_OBJECT], "status": 200},
        {
            "id": 7,
            "nome": "Marina Alves Prado",
            "cpf": "390.533.447-05",
            "email": "marina@example.org",
            "celular": "31988887777",
            "nascimento": "1991-09-02",
        },  # TS type: nome, formatted CPF, ISO birth date
    ],
)
def test_patient_shapes(body: object) -> None:
    patient = parsing.parse_patient(body)
    assert patient is not None
    assert (patient.id, patient.name, patient.cpf) == ("7", "Marina Alves Prado", "39053344705")
    assert patient.birth_date == date(1991, 9, 2)
    assert patient.phone == "31988887777"


@pytest.mark.parametrize("body", [[], {"data": []}, {"data": None}, {}, "", None])
def test_empty_patient_bodies_are_no_patient(body: object) -> None:
    assert parsing.parse_patient(body) is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"detail": "Not Found"}, True),
        (200, {"message": "Paciente não encontrado", "status": 400}, True),
        (400, {"message": "Paciente nao encontrado", "status": 400}, True),
        (400, {"message": "Informe um token valido!", "status": 400}, False),
        (200, {"data": {"nome": "x"}, "status": 200}, False),
    ],
)
def test_not_found_detection(status: int, body: object, expected: bool) -> None:
    assert parsing.says_not_found(parsing.effective_status(status, body), body) is expected


def test_effective_status_reads_errors_carried_by_a_200() -> None:
    assert parsing.effective_status(200, {"message": "x", "status": 400}) == 400
    assert parsing.effective_status(200, {"data": [], "status": 200}) == 200
    assert parsing.effective_status(201, [1, 2]) == 201


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"agendamento": "ag_1"}, "status": 201},
        {"agendamento": "ag_1"},
        {"token": "ag_1"},
        {"data": {"token": "ag_1"}},
        {"id": "ag_1"},
        {"data": {"id": "ag_1"}},
        {"data": {"agendamento": {"id": "ag_1", "data_agendamento": "14/05/2026 08:30"}}},
    ],
)
def test_new_appointment_id_keys(body: object) -> None:
    assert parsing.parse_appointment_id(body) == "ag_1"


def test_numeric_ids_become_strings_and_the_agenda_token_is_never_the_id() -> None:
    assert parsing.parse_appointment_id({"data": {"id": 991}}) == "991"
    echoed = {"token": "AGENDA", "data": {"agendamento": "ag_2"}}
    assert parsing.parse_appointment_id(echoed, ignore=("AGENDA",)) == "ag_2"
    assert parsing.parse_appointment_id({"token": "AGENDA"}, ignore=("AGENDA",)) is None
    assert parsing.parse_appointment_id({"message": "ok", "status": 201}) is None


JAVA_ITEM = {
    "agendamento": "ag_9",
    "data_agendamento": "2026-09-08 14:30:00",  # ISO-like, as in the Java fixture
    "confirmado": True,
    "cancelado": False,
    "profissional_nome": "Dra. Beatriz",
    "procedimento_nome": "Consulta",
}
LISTAGEM_ITEM = {
    "token": "ag_9",
    "data_agendamento": "08/09/2026 14:30",
    "data_fim_agendamento": "08/09/2026 15:00",
    "paciente": {"nome": "Marina Alves Prado", "celular": "31988887777", "cpf": "39053344705"},
    "medico": {"nome": "Dra. Beatriz"},
    "confirmado": True,
    "cancelado": False,
    "faltou": False,
    "finalizado": False,
}


@pytest.mark.parametrize(
    "body",
    [
        [JAVA_ITEM],
        {"data": [JAVA_ITEM], "status": 200},
        {"agendamentos": [JAVA_ITEM]},
        {"data": {"agendamentos": [JAVA_ITEM]}},
        {"data": [LISTAGEM_ITEM], "status": 200},
    ],
)
def test_appointment_list_shapes(body: object) -> None:
    [appointment] = parsing.parse_appointment_list(body, TZ)
    assert appointment.id == "ag_9"
    assert appointment.starts_at == datetime(2026, 9, 8, 14, 30, tzinfo=TZ)
    assert appointment.status == CONFIRMED
    assert appointment.professional == "Dra. Beatriz"


def test_listagem_item_carries_patient_and_end() -> None:
    appointment = parsing.parse_appointment(LISTAGEM_ITEM, TZ)
    assert appointment is not None
    assert appointment.ends_at == datetime(2026, 9, 8, 15, 0, tzinfo=TZ)
    assert (appointment.patient_name, appointment.patient_cpf) == (
        "Marina Alves Prado",
        "39053344705",
    )


def test_items_without_id_or_date_are_skipped() -> None:
    body = {
        "data": [
            {"data_agendamento": "08/09/2026 14:30"},
            {"token": "x"},
            {"token": "y", "data_agendamento": "amanhã"},
            "junk",
            JAVA_ITEM,
        ]
    }
    assert [item.id for item in parsing.parse_appointment_list(body, TZ)] == ["ag_9"]


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        ({}, SCHEDULED),
        ({"confirmado": True}, CONFIRMED),
        ({"confirmado": True, "cancelado": True}, CANCELED),
        ({"faltou": True}, NO_SHOW),
        ({"finalizado": True}, COMPLETED),
        ({"status": "Cancelado"}, CANCELED),
    ],
)
def test_status_mapping(flags: dict[str, object], status: str) -> None:
    assert parsing.appointment_status(flags) == status


def test_single_appointment_uses_the_requested_id_when_the_body_has_none() -> None:
    body = {"data": {"data_agendamento": "08/09/2026 14:30:00", "cancelado": True}}
    appointment = parsing.parse_single_appointment(body, TZ, default_id="ag_5")
    assert appointment is not None
    assert (appointment.id, appointment.status) == ("ag_5", CANCELED)


@pytest.mark.parametrize(
    "body",
    [
        {"tempo_intervalo": 20, "data": ["08:00:00", "08:20:00"], "status": 200},
        {"tempo_intervalo": "20", "data": [{"hora_inicio": "08:00"}, {"hora_inicio": "08:20:00"}]},
    ],
)
def test_times_as_strings_or_objects(body: object) -> None:
    assert parsing.parse_available_times(body) == ([time(8), time(8, 20)], 20)


def test_times_without_interval() -> None:
    assert parsing.parse_available_times({"data": ["09:00:00"]}) == ([time(9)], None)


@pytest.mark.parametrize("body", ["<html>oops</html>", {"data": "n/a"}, {"data": ["25:99", None]}])
def test_junk_availability_bodies_give_nothing(body: object) -> None:
    assert parsing.parse_available_times(body)[0] == []
    assert parsing.parse_available_days(body) == []


def test_only_available_days_are_kept() -> None:
    body = {
        "data": [
            {"data": "04/03/2030", "disponivel": True},
            {"data": "05/03/2030", "disponivel": False},
            {"data": "2030-03-06", "disponivel": True},
        ],
        "status": 200,
    }
    assert parsing.parse_available_days(body) == [date(2030, 3, 4), date(2030, 3, 6)]


@pytest.mark.parametrize(
    "text",
    ["14/05/2026 08:30:00", "14/05/2026 08:30", "2026-05-14 08:30:00", "2026-05-14T08:30"],
)
def test_datetime_formats(text: str) -> None:
    assert parse_datetime(text, TZ) == datetime(2026, 5, 14, 8, 30, tzinfo=TZ)


def test_requests_carry_clinic_wall_clock_whatever_the_input_zone() -> None:
    utc = datetime.fromisoformat("2026-05-14T11:30:00+00:00")
    assert format_datetime(utc, TZ) == "14/05/2026 08:30:00"
    assert format_datetime(datetime(2026, 5, 14, 8, 30), TZ) == "14/05/2026 08:30:00"
    with pytest.raises(ValueError):
        parse_datetime("14.05.2026", TZ)


def test_conflict_and_token_messages() -> None:
    assert parsing.says_conflict(400, {"message": "Horário indisponível", "status": 400})
    assert parsing.says_conflict(409, {})
    assert not parsing.says_conflict(400, {"message": "Paciente não encontrado"})
    assert parsing.says_invalid_token(400, {"message": "Informe um token valido!"})
    assert parsing.says_invalid_token(401, {})
