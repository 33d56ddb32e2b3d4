"""The Prometheus metrics every process shares, and its ``/metrics`` answer.

Each process exposes prometheus-client's default registry: the clinic service at ``/metrics``,
rasa at ``/webhooks/<channel>/metrics`` (one per mounted WhatsApp channel, same content), the
action server at ``/metrics``; all on loopback (nginx exposes none of them), and none when
``MONITORING_ENABLED`` is off. ``deploy/prometheus/alerts.yml`` alerts on these names.

Counters count what happened in the process that exports them (rasa: inbound messages, outbox
deliveries, dead letters, Z-API and Meta calls; action server and clinic service: GestãoDS
calls). The clinic service's gauges are refreshed from the detailed health on each scrape
(:mod:`clinicbot.web.health`).
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, raw

from clinicbot.gestaods.models import ApiCallRecord

API_CALLS = Counter(
    "clinicbot_api_calls_total",
    "Calls to external APIs, by service and outcome "
    "(ok, client_error, server_error, unreachable, circuit_open)",
    ["service", "outcome"],
)
API_LATENCY = Histogram(
    "clinicbot_api_call_duration_seconds", "Duration of calls to external APIs", ["service"]
)
INBOUND_MESSAGES = Counter(
    "clinicbot_inbound_messages_total",
    "Patient messages received on a WhatsApp webhook, by channel and result "
    "(stored, duplicate, throttled)",
    ["channel", "result"],
)
OUTBOX_DELIVERIES = Counter(
    "clinicbot_outbox_deliveries_total",
    "Outbox delivery attempts, by channel and result (sent, retry, dead)",
    ["channel", "result"],
)
DEPENDENCY_UP = Gauge(
    "clinicbot_dependency_up",
    "1 when the component answered the clinic service's last health check, else 0",
    ["component"],
)
HEALTHY = Gauge("clinicbot_healthy", "1 when the detailed health is ok, 0 when degraded")
ACTIVE_CONVERSATIONS = Gauge("clinicbot_active_conversations", "Conversations open now")
MESSAGES_LAST_HOUR = Gauge(
    "clinicbot_messages_last_hour", "Patient messages received in the last hour"
)
API_ERROR_RATE = Gauge(
    "clinicbot_api_error_rate",
    "Share of external API calls of the last hour that failed (5xx, no answer, circuit open)",
)
LAST_PATIENT_MESSAGE = Gauge(
    "clinicbot_last_patient_message_timestamp_seconds",
    "When the last patient message arrived (Unix time; 0: none yet)",
)
LAST_BACKUP = Gauge(
    "clinicbot_last_backup_timestamp_seconds",
    "When the last successful backup finished (Unix time; 0: none known)",
)
LAST_BACKUP_OK = Gauge(
    "clinicbot_last_backup_success", "1 when the last backup succeeded, 0 when it failed"
)


def call_outcome(record: ApiCallRecord) -> str:
    """How a call went, for the counters and the error rate."""
    if record.error == "circuit_open":
        return "circuit_open"
    if record.status is None:
        return "unreachable"
    if record.status >= 500 or record.status == 429:
        return "server_error"
    return "client_error" if record.status >= 400 else "ok"


def count_api_call(record: ApiCallRecord) -> None:
    API_CALLS.labels(record.service, call_outcome(record)).inc()
    API_LATENCY.labels(record.service).observe(record.latency_ms / 1000)


def metrics_response() -> HTTPResponse:
    return raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def add_metrics_route(target: Sanic | Blueprint, uri: str = "/metrics") -> None:
    """``GET uri`` answers the process's metrics."""

    async def metrics(request: Request) -> HTTPResponse:
        return metrics_response()

    target.add_route(metrics, uri, methods=["GET"], name="prometheus_metrics")
