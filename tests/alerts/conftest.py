"""Alerts run on SQLite and PostgreSQL (throwaway databases), against real servers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from clinicbot.sandbox.zapi_fake import FakeZapi
from clinicbot.settings import Settings, read_settings
from tests.alerts.support import (
    ZAPI_CLIENT_TOKEN,
    ZAPI_INSTANCE,
    ZAPI_TOKEN,
    SmtpInbox,
    WebhookReceiver,
    smtp_server,
    webhook_server,
    zapi_server,
)
from tests.support.databases import (  # noqa: F401  (fixtures)
    _shared_engines,
    backend,
    databases,
    empty_url,
    engine,
    fresh_engine,
    second_engine,
)


@pytest.fixture(scope="session")
def _zapi() -> Iterator[tuple[FakeZapi, str]]:
    with zapi_server() as served:
        yield served


@pytest.fixture
def zapi(_zapi: tuple[FakeZapi, str]) -> FakeZapi:
    _zapi[0].reset()
    return _zapi[0]


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpInbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def webhook() -> Iterator[tuple[WebhookReceiver, str]]:
    with webhook_server() as served:
        yield served


@pytest.fixture
def settings(_zapi: tuple[FakeZapi, str], zapi: FakeZapi) -> Settings:
    """Every alert setting explicit: nothing from this machine's environment, and a connected
    Z-API fake (``zapi`` resets what an earlier test, in any order, did to the shared one)."""
    return dataclasses.replace(
        read_settings(),
        clinic_tz_name="America/Sao_Paulo",
        zapi_base_url=_zapi[1],
        zapi_instance_id=ZAPI_INSTANCE,
        zapi_instance_token=ZAPI_TOKEN,
        zapi_client_token=ZAPI_CLIENT_TOKEN,
        backup_schedule="02:00",
        backup_max_age_hours=26.0,
        alert_whatsapp_phone="",
        alert_email_to=(),
        smtp_host="",
        alert_webhook_url="",
        alert_gestaods_window_minutes=10,
        alert_gestaods_error_rate=0.5,
        alert_gestaods_min_calls=5,
        alert_dead_letter_hours=24.0,
        alert_silence_business_hours=4.0,
        business_days=(0, 1, 2, 3, 4),
    )
