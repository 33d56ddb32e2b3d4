"""Each alert condition, from what the processes leave in the database (pinned clock)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import requests
from sqlalchemy.engine import Engine

from clinicbot.db import models
from clinicbot.db.engine import session_scope
from clinicbot.sandbox.zapi_fake import FakeZapi
from clinicbot.services.alerts import conditions
from clinicbot.services.alerts.business_hours import open_time_between
from clinicbot.services.backups.records import record_run
from clinicbot.settings import Settings
from tests.alerts.support import ZAPI_TOKEN, free_port

TZ = ZoneInfo("America/Sao_Paulo")
MONDAY_11 = datetime(2031, 3, 10, 11, 0, tzinfo=TZ)  # the pinned "now"


def test_open_time_counts_only_business_days_and_hours() -> None:
    friday_17 = datetime(2031, 3, 7, 17, 0, tzinfo=TZ)
    hours = {"tz": TZ, "days": (0, 1, 2, 3, 4), "opens": time(8), "closes": time(18)}
    # Friday 17-18 and Monday 8-11: the weekend and the nights do not count.
    assert open_time_between(friday_17, MONDAY_11, **hours) == timedelta(hours=4)
    assert open_time_between(MONDAY_11, friday_17, **hours) == timedelta()
    saturday = datetime(2031, 3, 8, 9, 0, tzinfo=TZ)
    assert open_time_between(saturday, saturday + timedelta(hours=5), **hours) == timedelta()


def add(engine: Engine, *rows: object) -> None:
    with session_scope(engine) as session:
        session.add_all(rows)


def api_call(at: datetime, status: int | None, error: str | None = None) -> models.ApiCallLog:
    return models.ApiCallLog(
        service="gestaods",
        method="GET",
        path="/api/agendamento/dias-disponiveis/***",
        status=status,
        latency_ms=30,
        error=error,
        created_at=at,
    )


def gestaods(engine: Engine, settings: Settings, **kwargs: bool) -> conditions.Finding | None:
    with session_scope(engine) as session:
        return conditions.check_gestaods(session, settings, MONDAY_11, **kwargs)


def test_gestaods_failing_by_error_rate_circuit_or_breaker(
    engine: Engine, settings: Settings
) -> None:
    now = MONDAY_11
    # 4 calls, 3 failed (timeout, 500, 429) and a 404 (the request's fault): too few to judge.
    add(
        engine,
        api_call(now - timedelta(minutes=1), None, "timeout"),
        api_call(now - timedelta(minutes=2), 500, "Erro interno"),
        api_call(now - timedelta(minutes=3), 429, "HTTP 429"),
        api_call(now - timedelta(minutes=4), 404, "não encontrado"),
        api_call(now - timedelta(minutes=30), 500, "old: outside the window"),
    )
    assert gestaods(engine, settings) is None
    assert gestaods(engine, settings, breaker_open=True) is not None
    add(engine, api_call(now - timedelta(minutes=5), 200))
    found = gestaods(engine, settings)
    assert found is not None and found.condition == conditions.GESTAODS_FAILING
    assert found.details["calls"] == 5 and found.details["failed"] == 3
    assert "3 de 5 chamadas falharam nos últimos 10 min" in found.summary
    # Healthy calls bring the rate under 50 %: no alert.
    add(engine, *(api_call(now - timedelta(seconds=10 + n), 200) for n in range(2)))
    assert gestaods(engine, settings) is None
    # Another process's breaker opened: its calls are recorded as circuit_open.
    add(engine, api_call(now - timedelta(seconds=5), None, "circuit_open"))
    found = gestaods(engine, settings)
    assert found is not None and "circuito aberto" in found.summary


def test_dead_letters_of_the_last_day(engine: Engine, settings: Settings) -> None:
    now = MONDAY_11

    def check() -> conditions.Finding | None:
        with session_scope(engine) as session:
            return conditions.check_dead_letters(session, settings, now)

    add(
        engine,
        models.OutboxMessage(
            channel="zapi",
            phone="5531988887777",
            text="old",
            status="dead",
            updated_at=now - timedelta(hours=30),
        ),
    )
    assert check() is None
    add(
        engine,
        models.OutboxMessage(
            channel="zapi",
            phone="5531988887777",
            text="Sua consulta está confirmada",
            status="dead",
            updated_at=now - timedelta(hours=2),
        ),
        models.ConversationMessage(
            phone="5531977776666",
            direction="in",
            text="oi",
            status="dead",
            created_at=now - timedelta(minutes=20),
        ),
    )
    found = check()
    assert found is not None
    assert found.details == {"outbox_dead": 1, "inbound_dead": 1, "hours": 24.0}
    assert "1 mensagem não foi entregue ao paciente" in found.summary
    assert "1 mensagem de paciente ficou sem resposta" in found.summary
    assert "5531" not in found.summary  # no phone in what the staff read


def test_patient_silence_in_business_hours(engine: Engine, settings: Settings) -> None:
    def check(now: datetime) -> conditions.Finding | None:
        with session_scope(engine) as session:
            return conditions.check_patient_silence(session, settings, now)

    assert check(MONDAY_11) is None  # nobody ever wrote: a new installation
    friday_17 = datetime(2031, 3, 7, 17, 0, tzinfo=TZ)
    add(
        engine,
        models.ConversationMessage(
            phone="5531988887777", direction="in", text="oi", created_at=friday_17
        ),
        # The assistant's own answers are not patients writing.
        models.ConversationMessage(
            phone="5531988887777",
            direction="out",
            text="Olá!",
            created_at=MONDAY_11 - timedelta(hours=1),
        ),
    )
    assert check(MONDAY_11 - timedelta(minutes=1)) is None  # 3 h 59 min of opening time
    found = check(MONDAY_11)
    assert found is not None and found.condition == conditions.PATIENT_SILENCE
    assert "desde 07/03 17:00 (4 h de horário de atendimento)" in found.summary
    assert check(MONDAY_11 + timedelta(days=40)) is not None  # beyond the lookback too
    off = dataclasses.replace(settings, alert_silence_business_hours=0)
    with session_scope(engine) as session:
        assert conditions.check_patient_silence(session, off, MONDAY_11) is None


def test_backup_failed_or_too_old(engine: Engine, settings: Settings) -> None:
    assert conditions.check_backup(engine, settings, MONDAY_11) is None  # none ran yet
    night = datetime(2031, 3, 10, 2, 0, tzinfo=TZ)
    record_run(
        engine,
        started_at=night,
        finished_at=night + timedelta(minutes=1),
        status="ok",
        backend="sqlite",
        archive="clinicbot-20310310T050000Z.sqlite.gz",
        size_bytes=1000,
    )
    assert conditions.check_backup(engine, settings, MONDAY_11) is None
    late = night + timedelta(hours=27)
    found = conditions.check_backup(engine, settings, late)
    assert found is not None and "o último backup do banco de dados foi há 26 h 59 min" in (
        found.summary
    )
    record_run(
        engine,
        started_at=late,
        finished_at=late,
        status="failed",
        backend="sqlite",
        error="pg_dump failed (exit 1): connection refused",
    )
    found = conditions.check_backup(engine, settings, late)
    assert found is not None and "falhou (11/03 05:00): pg_dump failed" in found.summary
    off = dataclasses.replace(settings, backup_schedule="off")
    assert conditions.check_backup(engine, off, late) is None


def test_zapi_connected_disconnected_or_unreachable(zapi: FakeZapi, settings: Settings) -> None:
    """Over HTTP against the Z-API fake; its control endpoint disconnects the instance."""
    assert conditions.check_zapi(settings) is None
    answer = requests.post(
        f"{settings.zapi_base_url}/__sandbox/zapi/connection",
        json={"connected": False, "error": "You need to restore the session."},
        timeout=5,
    )
    assert answer.json()["connected"] is False
    found = conditions.check_zapi(settings)
    assert found is not None and found.condition == conditions.ZAPI_DISCONNECTED
    assert "desconectado (You need to restore the session.)" in found.summary
    zapi.reset()
    assert conditions.check_zapi(settings) is None
    requests.post(f"{settings.zapi_base_url}/__sandbox/zapi/outage", json={"down": True}, timeout=5)
    found = conditions.check_zapi(settings)
    assert found is not None and found.details == {"reachable": False, "error": "HTTP 500"}
    # Nothing configured (Meta only): nothing to check.
    assert conditions.check_zapi(dataclasses.replace(settings, zapi_instance_id="")) is None


def test_zapi_that_cannot_be_reached(settings: Settings) -> None:
    nowhere = dataclasses.replace(settings, zapi_base_url=f"http://127.0.0.1:{free_port()}")
    found = conditions.check_zapi(nowhere, timeout=2)
    assert found is not None and found.details["reachable"] is False
    assert "unreachable" in found.summary and ZAPI_TOKEN not in found.summary
