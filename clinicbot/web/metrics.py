"""Prometheus metrics of the clinic service, exposed at ``GET /metrics``.

Metrics live in prometheus-client's default registry (which also carries the process and GC
collectors), so any module can add its own counters and they show up here.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, raw

from clinicbot.web.health import cached_report

HTTP_REQUESTS = Counter(
    "clinicbot_http_requests_total",
    "HTTP requests answered by the clinic service",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "clinicbot_http_request_duration_seconds",
    "Time to answer an HTTP request of the clinic service",
    ["method", "route"],
)


def _route_label(request: Request) -> str:
    """The route pattern, not the raw path, so labels stay few (unknown paths share one)."""
    route = request.route
    return f"/{route.path}" if route is not None else "<unmatched>"


def install_http_metrics(app: Sanic) -> None:
    """Count and time every request of ``app``."""

    @app.middleware("request")
    async def start_timer(request: Request) -> None:
        request.ctx.started = time.perf_counter()

    @app.middleware("response")
    async def observe(request: Request, response: HTTPResponse) -> None:
        started = getattr(request.ctx, "started", None)
        route = _route_label(request)
        HTTP_REQUESTS.labels(request.method, route, str(response.status)).inc()
        if started is not None:
            HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - started)


def metrics_blueprint() -> Blueprint:
    bp = Blueprint("metrics")

    @bp.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        await cached_report(request.app)  # refreshes the gauges (health, figures, backup)
        return raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

    return bp
