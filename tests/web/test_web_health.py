"""Health and metrics endpoints of the clinic service, over real HTTP."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from clinicbot import clock
from clinicbot.db.engine import make_engine, session_scope
from clinicbot.db.models import ApiCallLog, BackupRun, Conversation, ConversationMessage
from clinicbot.sandbox.server import BackgroundServer
from clinicbot.settings import SANDBOX_STAFF_TOKEN, Settings, read_settings
from clinicbot.web.app import create_app
from tests.support.stack import free_port
from tests.web.conftest import MODEL_ID, service_settings

STAFF = {"Authorization": f"Bearer {SANDBOX_STAFF_TOKEN}"}
COMPONENTS = {"database", "redis", "rasa", "action_server", "gestaods", "zapi"}
PLAN_FIELDS = {
    "status",
    "database",
    "zapi",
    "gestaods",
    "active_conversations",
    "messages_last_hour",
    "error_rate",
}
FIELDS = PLAN_FIELDS | COMPONENTS | {"model_version", "last_backup", "checked_at", "components"}


def detailed(service: str) -> requests.Response:
    return requests.get(f"{service}/health/detailed", headers=STAFF, timeout=15)


@pytest.fixture
def run_service(
    tmp_path: Path, zapi_fake, gestaods_fake, rasa
) -> Callable[..., AbstractContextManager[tuple[str, Settings]]]:
    """``with run_service(**overrides) as (url, settings)``: a clinic service of its own."""

    @contextmanager
    def run(**overrides: Any) -> Iterator[tuple[str, Settings]]:
        settings = service_settings(tmp_path, zapi_fake[1], rasa.port, rasa.port, gestaods_fake[1])
        settings = dataclasses.replace(settings, **overrides)
        app = create_app(settings, name=f"test-health-{uuid.uuid4().hex[:8]}", simulator=False)
        with BackgroundServer(app) as server:
            yield server.url, settings

    return run


def test_health_is_public_and_the_details_are_for_staff(service: str) -> None:
    response = requests.get(f"{service}/health", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert requests.get(f"{service}/health/detailed", timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.get(f"{service}/health/detailed", headers=wrong, timeout=5).status_code == 401


def test_detailed_health_when_everything_answers(service: str) -> None:
    response = detailed(service)
    body = response.json()
    assert response.status_code == 200, body
    assert set(body) == FIELDS
    assert body["status"] == "ok"
    assert {name: body[name] for name in COMPONENTS} == {
        **{name: "ok" for name in COMPONENTS},
        "redis": "disabled",  # no REDIS_URL
    }
    for name, component in body["components"].items():
        assert component["status"] == body[name]
        if name != "redis":
            assert component["latency_ms"] >= 0
    assert body["components"]["database"]["dialect"] == "sqlite"
    assert body["components"]["zapi"]["connected"] is True
    assert body["model_version"] == MODEL_ID
    assert body["last_backup"] is None  # no backup known yet


def test_the_figures_come_from_the_database(run_service) -> None:
    with run_service() as (url, settings):
        now = clock.now()
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            live = Conversation(phone="5531900000001", started_at=now - timedelta(minutes=5))
            idle = Conversation(phone="5531900000002", started_at=now - timedelta(hours=3))
            closed = Conversation(phone="5531900000003", started_at=now, status="closed")
            session.add_all([live, idle, closed])
            session.flush()
            idle.updated_at = now - timedelta(hours=2)  # past the session timeout
            for minutes_ago, direction in ((5, "in"), (30, "in"), (30, "out"), (90, "in")):
                session.add(
                    ConversationMessage(
                        phone="5531900000001",
                        direction=direction,
                        created_at=now - timedelta(minutes=minutes_ago),
                    )
                )
            for status, minutes_ago in ((200, 1), (404, 2), (500, 3), (None, 4), (503, 120)):
                session.add(
                    ApiCallLog(
                        service="gestaods",
                        method="GET",
                        path="/api/x",
                        status=status,
                        latency_ms=10,
                        created_at=now - timedelta(minutes=minutes_ago),
                    )
                )
        engine.dispose()
        body = detailed(url).json()
    assert body["active_conversations"] == 1
    assert body["messages_last_hour"] == 2
    assert body["error_rate"] == pytest.approx(0.5)  # the 500 and the unanswered of 4


def test_gestaods_must_answer_an_authenticated_call_with_a_2xx(run_service, zapi_fake) -> None:
    # The Z-API fake answers this path with a 404: reachable is not healthy.
    with run_service(gestaods_base_url=zapi_fake[1]) as (url, _):
        response = detailed(url)
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["gestaods"] == "error"
    assert response.json()["components"]["gestaods"]["error"] == "HTTP 404"
    with run_service(gestaods_token="not-the-agenda-token") as (url, _):
        response = detailed(url)
    assert response.status_code == 503
    assert response.json()["components"]["gestaods"]["error"] == "HTTP 400"
    assert "not-the-agenda-token" not in response.text


def test_detailed_health_is_cached(run_service, zapi_fake) -> None:
    fake, zapi_url = zapi_fake
    with run_service(health_cache_seconds=60) as (url, _):
        first = detailed(url)
        requests.post(f"{zapi_url}/__sandbox/zapi/outage", json={"down": True}, timeout=5)
        try:
            second = detailed(url)
        finally:
            fake.reset()
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()  # Z-API went down meanwhile: not checked again


def test_detailed_health_is_503_while_rasa_is_not_running(service_without_rasa: str) -> None:
    response = detailed(service_without_rasa)
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["rasa"], body["action_server"]) == ("degraded", "error", "error")
    assert body["components"]["rasa"]["error"]
    assert body["model_version"] is None
    for name in ("database", "gestaods", "zapi"):
        assert body[name] == "ok", body["components"][name]


def test_detailed_health_reports_a_z_api_outage(service: str, zapi_fake) -> None:
    fake, _ = zapi_fake
    fake.reset()
    requests.post(f"{zapi_fake[1]}/__sandbox/zapi/outage", json={"down": True}, timeout=5)
    try:
        response = detailed(service)
    finally:
        fake.reset()
    assert response.status_code == 503
    assert response.json()["zapi"] == "error"
    assert response.json()["components"]["zapi"] == {
        "status": "error",
        "error": "HTTP 500",
        "latency_ms": response.json()["components"]["zapi"]["latency_ms"],
    }


def test_metrics_expose_process_http_and_health_metrics(service: str) -> None:
    requests.get(f"{service}/health", timeout=5)
    response = requests.get(f"{service}/metrics", timeout=15)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "process_cpu_seconds_total" in text
    assert 'clinicbot_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "clinicbot_http_request_duration_seconds_bucket" in text
    assert 'clinicbot_dependency_up{component="gestaods"} 1.0' in text
    assert 'clinicbot_dependency_up{component="zapi"} 1.0' in text
    assert "clinicbot_healthy 1.0" in text
    assert "clinicbot_active_conversations " in text


def test_monitoring_can_be_turned_off(run_service) -> None:
    with run_service(monitoring_enabled=False) as (url, _):
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 404
        assert requests.get(f"{url}/health", timeout=5).status_code == 200


def test_simulator_is_off_outside_the_sandbox(service: str) -> None:
    app = create_app(read_settings(), name=f"test-nosim-{uuid.uuid4().hex[:8]}", simulator=False)
    assert not any(route.path.startswith("simulator") for route in app.router.routes)


def test_an_unreachable_service_is_an_error_not_a_crash(run_service) -> None:
    with run_service(rasa_port=free_port()) as (url, _):
        response = detailed(url)
    assert response.status_code == 503
    assert response.json()["rasa"] == "error"


def test_the_last_backup_is_reported(run_service) -> None:
    """The newest backup run and the last good one, as the backups module records them."""
    with run_service() as (url, settings):
        now = clock.now()
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            for hours_ago, status in ((30, "ok"), (2, "failed")):
                finished = now - timedelta(hours=hours_ago)
                session.add(
                    BackupRun(
                        started_at=finished - timedelta(minutes=1),
                        finished_at=finished,
                        status=status,
                        backend="sqlite",
                        archive="clinicbot-x.sqlite.gz" if status == "ok" else None,
                        error=None if status == "ok" else "disk full",
                    )
                )
        backup = detailed(url).json()["last_backup"]
    assert (backup["status"], backup["error"]) == ("failed", "disk full")
    assert backup["last_success_at"] == (now - timedelta(hours=30)).isoformat()
    assert 30 * 3600 - 60 < backup["age_seconds"] < 30 * 3600 + 60
