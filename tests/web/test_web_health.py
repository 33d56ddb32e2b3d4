"""Health and metrics endpoints of the clinic service."""

from __future__ import annotations

import uuid

import requests

from clinicbot.settings import read_settings
from clinicbot.web.app import create_app

COMPONENTS = {"database", "rasa", "action_server", "gestaods", "zapi"}


def test_health_is_ok(service: str) -> None:
    response = requests.get(f"{service}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_detailed_health_when_everything_answers(service: str) -> None:
    response = requests.get(f"{service}/health/detailed", timeout=10)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["components"]) == COMPONENTS
    for component in body["components"].values():
        assert component["status"] == "ok"
        assert component["latency_ms"] >= 0
    assert body["components"]["database"]["dialect"] == "sqlite"
    assert body["components"]["zapi"]["connected"] is True


def test_detailed_health_is_503_while_rasa_is_not_running(service_without_rasa: str) -> None:
    response = requests.get(f"{service_without_rasa}/health/detailed", timeout=10)
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["rasa"]["status"] == "error"
    assert components["action_server"]["status"] == "error"
    assert components["rasa"]["error"]
    for name in ("database", "gestaods", "zapi"):
        assert components[name]["status"] == "ok", components[name]


def test_detailed_health_reports_a_z_api_outage(service: str, zapi_fake) -> None:
    fake, _ = zapi_fake
    fake.reset()
    requests.post(f"{zapi_fake[1]}/__sandbox/zapi/outage", json={"down": True}, timeout=5)
    try:
        response = requests.get(f"{service}/health/detailed", timeout=10)
    finally:
        fake.reset()
    assert response.status_code == 503
    assert response.json()["components"]["zapi"] == {
        "status": "error",
        "error": "HTTP 500",
        "latency_ms": response.json()["components"]["zapi"]["latency_ms"],
    }


def test_metrics_expose_process_and_http_metrics(service: str) -> None:
    requests.get(f"{service}/health", timeout=5)
    response = requests.get(f"{service}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "process_cpu_seconds_total" in text
    assert 'clinicbot_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "clinicbot_http_request_duration_seconds_bucket" in text


def test_simulator_is_off_outside_the_sandbox(service: str) -> None:
    app = create_app(read_settings(), name=f"test-nosim-{uuid.uuid4().hex[:8]}", simulator=False)
    assert not any(route.path.startswith("simulator") for route in app.router.routes)
