"""Client behaviour over mocked HTTP (`responses`): answer variants, retries, breaker, records."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
import requests
import responses
from responses import matchers

from clinicbot.gestaods import (
    ApiCallRecord,
    BookingOutcomeUnknown,
    CircuitOpen,
    GestaoDSClient,
    GestaoDSUnavailable,
    InvalidToken,
    PatientNotFound,
    SlotUnavailable,
    ValidationError,
)

from .conftest import BASE, MARINA, TOKEN, TZ

PATIENT_URL = f"{BASE}/api/paciente/{TOKEN}/{MARINA}/"
AGENDAR_URL = f"{BASE}/api/agendamento/agendar/"
PATIENT_APPOINTMENTS_URL = f"{BASE}/api/paciente/agendamentos/"
TIMES_URL = f"{BASE}/api/agendamento/horarios-disponiveis/{TOKEN}"
DAYS_URL = f"{BASE}/api/agendamento/dias-disponiveis/{TOKEN}"
SLOT = datetime(2030, 3, 5, 8, 20, tzinfo=TZ)
TIMES_BODY = {"tempo_intervalo": 20, "data": ["08:00:00", "08:20:00"], "status": 200}


def _add_times(rsps: responses.RequestsMock) -> None:
    rsps.get(TIMES_URL, json=TIMES_BODY)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"detail": "Not Found"}),
        (200, {"message": "Paciente não encontrado", "status": 400}),
        (400, {"message": "Paciente não encontrado", "status": 400}),
        (200, {"data": [], "status": 200}),
    ],
)
@responses.activate
def test_find_patient_not_found_variants(
    mocked_client: GestaoDSClient, status: int, body: object
) -> None:
    responses.get(PATIENT_URL, json=body, status=status)
    assert mocked_client.find_patient("390.533.447-05") is None


@responses.activate
def test_find_patient_as_list_with_nome(mocked_client: GestaoDSClient) -> None:
    responses.get(PATIENT_URL, json=[{"id": 3, "nome": "Marina Alves Prado", "cpf": MARINA}])
    patient = mocked_client.find_patient(MARINA)
    assert patient is not None and patient.name == "Marina Alves Prado"


@responses.activate
def test_invalid_token_is_not_mistaken_for_not_found(mocked_client: GestaoDSClient) -> None:
    responses.get(
        PATIENT_URL, json={"message": "Informe um token valido!", "status": 400}, status=400
    )
    with pytest.raises(InvalidToken):
        mocked_client.find_patient(MARINA)


def test_malformed_cpf_is_refused_before_any_request(mocked_client: GestaoDSClient) -> None:
    with responses.RequestsMock() as rsps, pytest.raises(ValidationError):
        mocked_client.find_patient("1234")
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"agendamento": "ag_1"}, "status": 201},
        {"token": "ag_1"},
        {"data": {"id": "ag_1"}},
    ],
)
def test_book_reads_the_id_under_any_known_key(mocked_client: GestaoDSClient, body: object) -> None:
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(AGENDAR_URL, json=body, status=201)
        appointment = mocked_client.book(cpf=MARINA, starts_at=SLOT, first_visit=True)
    assert appointment.id == "ag_1"
    assert appointment.ends_at == datetime(2030, 3, 5, 8, 40, tzinfo=TZ)


def test_book_sends_the_documented_body_in_clinic_wall_clock(
    mocked_client: GestaoDSClient,
) -> None:
    utc_start = SLOT.astimezone(timezone.utc)
    expected = {
        "data_agendamento": "05/03/2030 08:20:00",
        "data_fim_agendamento": "05/03/2030 08:40:00",  # tempo_intervalo 20
        "cpf": MARINA,
        "token": TOKEN,
        "primeiro_atendimento": True,
    }
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(
            AGENDAR_URL,
            json={"data": {"agendamento": "ag_1"}},
            status=201,
            match=[matchers.json_params_matcher(expected)],
        )
        mocked_client.book(cpf=MARINA, starts_at=utc_start, first_visit=True)
        assert rsps.calls[0].request.params == {"data": "05/03/2030"}


@pytest.mark.parametrize(
    ("status", "body"),
    [(409, {"message": "Conflito"}), (400, {"message": "Horário indisponível", "status": 400})],
)
def test_taken_slot_raises_slot_unavailable(
    mocked_client: GestaoDSClient, status: int, body: object
) -> None:
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(AGENDAR_URL, json=body, status=status)
        rsps.post(PATIENT_APPOINTMENTS_URL, json={"data": []})  # not this patient's slot
        with pytest.raises(SlotUnavailable):
            mocked_client.book(cpf=MARINA, starts_at=SLOT)


def test_book_of_unknown_patient(mocked_client: GestaoDSClient) -> None:
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(
            AGENDAR_URL, json={"message": "Paciente não encontrado", "status": 400}, status=400
        )
        with pytest.raises(PatientNotFound):
            mocked_client.book(cpf=MARINA, starts_at=SLOT)


def test_422_keeps_fastapi_detail(mocked_client: GestaoDSClient) -> None:
    detail = [{"loc": ["body", "cpf"], "msg": "ensure this value has at least 11 characters",
               "type": "value_error.any_str.min_length"}]  # fmt: skip
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(AGENDAR_URL, json={"detail": detail}, status=422)
        with pytest.raises(ValidationError) as caught:
            mocked_client.book(cpf=MARINA, starts_at=SLOT)
    assert caught.value.detail == detail
    assert "body.cpf" in caught.value.message


def test_reads_are_retried_on_5xx_and_timeouts(
    mocked_client: GestaoDSClient, records: list[ApiCallRecord]
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(DAYS_URL, json={"detail": "Erro interno"}, status=500)
        rsps.get(DAYS_URL, body=requests.ReadTimeout("slow"))
        rsps.get(DAYS_URL, json={"data": [{"data": "05/03/2030", "disponivel": True}]})
        assert mocked_client.available_days() == [date(2030, 3, 5)]
        assert len(rsps.calls) == 3
    assert [(r.attempt, r.status, r.error) for r in records] == [
        (1, 500, "Erro interno"),
        (2, None, "timeout"),
        (3, 200, None),
    ]


def test_reads_give_up_after_three_attempts(mocked_client: GestaoDSClient) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(DAYS_URL, json={"detail": "Erro interno"}, status=500)
        with pytest.raises(GestaoDSUnavailable):
            mocked_client.available_days()
        assert len(rsps.calls) == 3


def test_booking_is_never_resent_after_a_5xx_and_its_outcome_is_unknown(
    mocked_client: GestaoDSClient,
) -> None:
    """A 5xx may come after the agenda committed, which it may also do later: not "nothing"."""
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        agendar = rsps.post(AGENDAR_URL, json={"detail": "Erro interno"}, status=500)
        rsps.post(PATIENT_APPOINTMENTS_URL, json=[])
        with pytest.raises(BookingOutcomeUnknown):
            mocked_client.book(cpf=MARINA, starts_at=SLOT)
        assert agendar.call_count == 1


def test_a_booking_that_never_reached_the_agenda_booked_nothing(
    mocked_client: GestaoDSClient,
) -> None:
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(AGENDAR_URL, body=requests.ConnectTimeout("no route"))
        with pytest.raises(GestaoDSUnavailable) as caught:
            mocked_client.book(cpf=MARINA, starts_at=SLOT)
        assert len(rsps.calls) == 2  # the times, then the booking: no lookup
    assert not isinstance(caught.value, BookingOutcomeUnknown)
    assert caught.value.reached_api is False


def test_booking_timeout_returns_the_appointment_found_afterwards(
    mocked_client: GestaoDSClient,
) -> None:
    held = {"agendamentos": [{"agendamento": "ag_7", "data_agendamento": "2030-03-05 08:20:00"}]}
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        agendar = rsps.post(AGENDAR_URL, body=requests.ReadTimeout("slow"))
        rsps.post(PATIENT_APPOINTMENTS_URL, json=held)
        appointment = mocked_client.book(cpf=MARINA, starts_at=SLOT)
        assert agendar.call_count == 1
    assert appointment.id == "ag_7"


def test_booking_outcome_unknown_when_the_check_fails_too(mocked_client: GestaoDSClient) -> None:
    with responses.RequestsMock() as rsps:
        _add_times(rsps)
        rsps.post(AGENDAR_URL, body=requests.ConnectionError("reset"))
        rsps.post(PATIENT_APPOINTMENTS_URL, json={"detail": "Erro interno"}, status=500)
        with pytest.raises(BookingOutcomeUnknown):
            mocked_client.book(cpf=MARINA, starts_at=SLOT)


def test_breaker_opens_and_fails_fast(records: list[ApiCallRecord]) -> None:
    client = GestaoDSClient(
        BASE, TOKEN, tz=TZ, retry_wait=0.0, cache_ttl=0, breaker_fail_max=3,
        breaker_reset_timeout=60, on_call=records.append,
    )  # fmt: skip
    with responses.RequestsMock() as rsps:
        rsps.get(DAYS_URL, json={"detail": "Erro interno"}, status=500)
        with pytest.raises(GestaoDSUnavailable) as first:
            client.available_days()  # 3 failed attempts trip the breaker
        assert not isinstance(first.value, CircuitOpen)
        assert len(rsps.calls) == 3
        with pytest.raises(CircuitOpen):
            client.available_days()
        with pytest.raises(CircuitOpen):  # a booking is not even sent while open
            client.book(cpf=MARINA, starts_at=SLOT)
        assert len(rsps.calls) == 3
    assert records[-1].error == "circuit_open"


def test_breaker_ignores_4xx_answers() -> None:
    client = GestaoDSClient(BASE, TOKEN, tz=TZ, retry_wait=0.0, breaker_fail_max=2)
    with responses.RequestsMock() as rsps:
        rsps.get(
            PATIENT_URL, json={"message": "Paciente não encontrado", "status": 400}, status=400
        )
        for _ in range(4):
            assert client.find_patient(MARINA) is None
    assert client.breaker.current_state == "closed"


def test_call_records_mask_token_and_cpf(
    mocked_client: GestaoDSClient, records: list[ApiCallRecord], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="clinicbot.gestaods")
    with responses.RequestsMock() as rsps:
        rsps.get(PATIENT_URL, json={"data": {"nome_completo": "Marina Alves Prado", "cpf": MARINA}})
        mocked_client.find_patient(MARINA)
    [record] = records
    assert record.path == "/api/paciente/***/***.***.*47-05/"
    assert (record.method, record.status, record.cpf_masked) == ("GET", 200, "***.***.*47-05")
    assert record.operation == "find_patient" and record.latency_ms >= 0
    logged = caplog.text + json.dumps(record.__dict__, default=str)
    assert TOKEN not in logged and MARINA not in logged and "Marina" not in logged


def test_a_failing_sink_does_not_break_the_call() -> None:
    def broken_sink(record: ApiCallRecord) -> None:
        raise RuntimeError("database down")

    client = GestaoDSClient(BASE, TOKEN, tz=TZ, on_call=broken_sink)
    with responses.RequestsMock() as rsps:
        rsps.get(PATIENT_URL, status=404)
        assert client.find_patient(MARINA) is None


def test_availability_is_cached_until_a_booking() -> None:
    client = GestaoDSClient(BASE, TOKEN, tz=TZ, cache_ttl=60)
    with responses.RequestsMock() as rsps:
        times = rsps.get(TIMES_URL, json=TIMES_BODY)
        assert client.available_times(SLOT.date()) == [SLOT.replace(minute=0), SLOT]
        assert client.available_times(SLOT.date()) == [SLOT.replace(minute=0), SLOT]
        assert client.slot_minutes(SLOT.date()) == 20
        assert times.call_count == 1
        rsps.post(AGENDAR_URL, json={"data": {"agendamento": "ag_1"}}, status=201)
        client.book(cpf=MARINA, starts_at=SLOT)
        client.available_times(SLOT.date())
        assert times.call_count == 2


def test_slot_length_inferred_when_tempo_intervalo_is_missing(
    mocked_client: GestaoDSClient,
) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(TIMES_URL, json={"data": [{"hora_inicio": "14:00"}, {"hora_inicio": "14:45"}]})
        assert mocked_client.slot_minutes(SLOT.date()) == 45


def test_dev_prefix_except_listagem() -> None:
    client = GestaoDSClient(BASE, TOKEN, prefix="/api/dev-", tz=TZ)
    with responses.RequestsMock() as rsps:
        rsps.get(f"{BASE}/api/dev-paciente/{TOKEN}/{MARINA}/", status=404)
        rsps.get(f"{BASE}/api/dados-agendamento/listagem/{TOKEN}", json={"data": []})
        assert client.find_patient(MARINA) is None
        assert client.list_appointments(date(2030, 3, 1), date(2030, 3, 31)) == []
        assert rsps.calls[1].request.params == {
            "data_inicial": "01/03/2030",
            "data_final": "31/03/2030",
        }


def test_patient_appointments_as_bare_array_sorted(mocked_client: GestaoDSClient) -> None:
    items = [
        {"agendamento": "b", "data_agendamento": "06/03/2030 09:00:00", "cancelado": True},
        {"agendamento": "a", "data_agendamento": "2030-03-05 08:00:00"},
    ]
    with responses.RequestsMock() as rsps:
        rsps.post(
            PATIENT_APPOINTMENTS_URL,
            json=items,
            match=[matchers.json_params_matcher({"cpf": MARINA, "token": TOKEN})],
        )
        appointments = mocked_client.patient_appointments(MARINA)
    assert [(a.id, a.is_active) for a in appointments] == [("a", True), ("b", False)]
