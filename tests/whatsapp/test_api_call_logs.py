"""Every Z-API and Meta call is recorded (identifiers masked) in ``api_call_logs`` and the
Prometheus counters; old rows expire. Real HTTP to the fakes, both database backends."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import requests
from prometheus_client import REGISTRY
from sanic import Sanic
from sqlalchemy import select
from sqlalchemy.engine import Engine

from clinicbot.db.engine import session_scope
from clinicbot.db.models import ApiCallLog
from clinicbot.gestaods.models import ApiCallRecord
from clinicbot.sandbox.meta_fake import FakeMeta, create_meta_blueprint
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.sandbox.zapi_fake import FakeZapi, create_zapi_blueprint
from clinicbot.services.api_log import purge_old, record_api_call
from clinicbot.whatsapp.meta.client import MetaClient
from clinicbot.whatsapp.meta.errors import MetaError
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError

INSTANCE_ID, INSTANCE_TOKEN, CLIENT_TOKEN = "LOGINSTANCE0001", "log-instance-token", "log-client"
PHONE_NUMBER_ID, ACCESS_TOKEN = "200000000000002", "log-meta-access-token"
PHONE = "5531988887777"
SECRETS = (INSTANCE_ID, INSTANCE_TOKEN, CLIENT_TOKEN, PHONE_NUMBER_ID, ACCESS_TOKEN, PHONE)


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeZapi, FakeMeta, str]]:
    zapi = FakeZapi(INSTANCE_ID, INSTANCE_TOKEN, CLIENT_TOKEN)
    meta = FakeMeta(PHONE_NUMBER_ID, ACCESS_TOKEN)
    app = Sanic(f"test-api-logs-{uuid.uuid4().hex[:8]}")
    app.blueprint(create_zapi_blueprint(zapi))
    app.blueprint(create_meta_blueprint(meta))
    with BackgroundServer(app) as server:
        yield zapi, meta, server.url


def calls(service: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "clinicbot_api_calls_total", {"service": service, "outcome": outcome}
    )
    return value or 0.0


def test_z_api_and_meta_calls_are_recorded_masked(fakes, engine: Engine) -> None:
    zapi, meta, url = fakes
    zapi.reset()
    meta.reset()
    before = {
        (service, outcome): calls(service, outcome)
        for service in ("zapi", "meta")
        for outcome in ("ok", "server_error")
    }

    def sink(record: ApiCallRecord) -> None:
        record_api_call(record, engine)

    instance_url = f"{url}/instances/{INSTANCE_ID}/token/{INSTANCE_TOKEN}"

    async def talk() -> None:
        async with ZapiClient(instance_url, CLIENT_TOKEN, on_call=sink) as client:
            await client.send_text(PHONE, "oi")
        meta.failures_left = 1  # the Graph API fails once
        meta_client = MetaClient(url, "v21.0", PHONE_NUMBER_ID, ACCESS_TOKEN, on_call=sink)
        try:
            with pytest.raises(MetaError):
                await meta_client.send_text(PHONE, "oi")
            await meta_client.send_text(PHONE, "oi")
        finally:
            await meta_client.close()

    asyncio.run(talk())
    # Z-API down: the failed call is recorded too.
    outage = {"status": 500, "count": 1}
    requests.post(f"{url}/__sandbox/zapi/outage", json=outage, timeout=5).raise_for_status()

    async def fail() -> None:
        async with ZapiClient(instance_url, CLIENT_TOKEN, on_call=sink) as client:
            with pytest.raises(ZapiError):
                await client.send_text(PHONE, "oi")

    asyncio.run(fail())

    with session_scope(engine) as session:
        rows = session.execute(
            select(
                ApiCallLog.service, ApiCallLog.method, ApiCallLog.path, ApiCallLog.status
            ).order_by(ApiCallLog.id)
        ).all()
        errors = session.execute(select(ApiCallLog.error)).scalars().all()
    assert rows == [
        ("zapi", "POST", "/instances/***/token/***/send-text", 200),
        ("meta", "POST", "/v21.0/***/messages", 500),
        ("meta", "POST", "/v21.0/***/messages", 200),
        ("zapi", "POST", "/instances/***/token/***/send-text", 500),
    ]
    logged = " ".join(str(value) for row in rows for value in row) + " ".join(map(str, errors))
    assert not any(secret in logged for secret in SECRETS)
    assert calls("zapi", "ok") - before[("zapi", "ok")] == 1
    assert calls("zapi", "server_error") - before[("zapi", "server_error")] == 1
    assert calls("meta", "ok") - before[("meta", "ok")] == 1
    assert calls("meta", "server_error") - before[("meta", "server_error")] == 1


def test_api_call_logs_expire_after_the_retention(engine: Engine) -> None:
    now = datetime(2031, 3, 10, 12, tzinfo=timezone.utc)
    for days_ago in (31, 30, 29, 0):
        record_api_call(
            ApiCallRecord(
                operation="status",
                method="GET",
                path="/x",
                status=200,
                latency_ms=5,
                started_at=now - timedelta(days=days_ago, seconds=1),
                service="zapi",
            ),
            engine,
        )
    assert purge_old(engine, 30, now) == 2
    with session_scope(engine) as session:
        kept = session.execute(select(ApiCallLog.created_at)).scalars().all()
    assert sorted(now - moment for moment in kept) == [
        timedelta(seconds=1),
        timedelta(days=29, seconds=1),
    ]
    with pytest.raises(ValueError):
        purge_old(engine, 0, now)
