"""``GET /health`` (the process answers; public) and ``GET /health/detailed`` (the default
clinic's staff only: it describes the whole installation, every clinic's traffic together).

The detailed health answers with the plan's fields (``status``, ``database``, ``zapi``,
``gestaods``, ``active_conversations``, ``messages_last_hour``, ``error_rate``) plus ``redis``,
``rasa``, ``action_server``, ``model_version``, ``last_backup`` and, under ``components``, each
check's latency and error. Every component is ``ok``, ``error`` or ``disabled`` (not
configured: Redis without ``REDIS_URL``, a WhatsApp channel without credentials); one in
``error`` makes the status ``degraded`` and the answer a 503. GestãoDS is checked with an
authenticated call (the agenda's time zone): only a 2xx is healthy, so a wrong token or path
fails. Results are cached ``HEALTH_CACHE_SECONDS`` (5): monitors polling it do not hammer the
clinic's APIs. Each check also refreshes the Prometheus gauges (:mod:`clinicbot.monitoring`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import redis
import sqlalchemy
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json
from sqlalchemy.engine import Engine

from clinicbot import clock, monitoring
from clinicbot.services.backups import LastBackup, last_backup
from clinicbot.services.operations import Figures, figures
from clinicbot.settings import Settings
from clinicbot.tenancy.context import acting_for
from clinicbot.web.database import service_engine
from clinicbot.web.staff_auth import for_operator
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError

CHECK_TIMEOUT = 3.0  # seconds per component; the whole check runs them concurrently
DISABLED = {"status": "disabled"}


class CheckFailed(Exception):
    """A dependency answered, but not as a healthy one does."""


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))


async def _check_database(app: Sanic) -> dict[str, Any]:
    engine = service_engine(app)
    await asyncio.get_running_loop().run_in_executor(None, _select_one, engine)
    return {"dialect": engine.dialect.name}


async def _check_http(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """GET ``url``: only a 200 is healthy."""
    async with session.get(url) as response:
        if response.status != 200:
            raise CheckFailed(f"HTTP {response.status}")
        return {"http_status": response.status}


async def _check_rasa(session: aiohttp.ClientSession, settings: Settings) -> dict[str, Any]:
    """Rasa's ``/status`` (with its API token) answers, and names the loaded model."""
    url = f"http://127.0.0.1:{settings.rasa_port}/status"
    params = {"token": settings.rasa_api_token} if settings.rasa_api_token else None
    async with session.get(url, params=params) as response:
        if response.status != 200:
            raise CheckFailed(f"HTTP {response.status}")
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
    model = body.get("model_id") or body.get("model_file") if isinstance(body, dict) else None
    return {"model_version": str(model) if model else None}


async def _check_gestaods(session: aiohttp.ClientSession, settings: Settings) -> dict[str, Any]:
    """An authenticated, cheap read (the agenda's time zone); only a 2xx is healthy. The URL
    holds the agenda token: errors name the HTTP status only."""
    base = settings.gestaods_base_url.rstrip("/")
    url = f"{base}{settings.gestaods_prefix}agendamento/retornar-fuso-horario/"
    async with session.get(url + settings.gestaods_token) as response:
        if not 200 <= response.status < 300:
            raise CheckFailed(f"HTTP {response.status}")
        return {"http_status": response.status}


async def _check_zapi(session: aiohttp.ClientSession, settings: Settings) -> dict[str, Any]:
    """The instance ``/status`` answers with our credentials and the phone is connected."""
    client = ZapiClient(
        settings.zapi_instance_url,
        settings.zapi_client_token,
        session=session,
        timeout=CHECK_TIMEOUT,
    )
    try:
        status = await client.status()
    except ZapiError as error:  # the message is enough; the body may echo the token we sent
        raise CheckFailed(f"HTTP {error.status}" if error.status else str(error)) from error
    if not status.get("connected"):
        raise CheckFailed(f"instance not connected: {status.get('error') or 'unknown'}")
    return {"connected": True}


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


async def _check_redis(settings: Settings) -> dict[str, Any]:
    await asyncio.get_running_loop().run_in_executor(None, _ping_redis, settings.redis_url)
    return {}


async def _timed(check: Callable[[], Awaitable[dict[str, Any]]] | None) -> dict[str, Any]:
    if check is None:
        return dict(DISABLED)
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(check(), CHECK_TIMEOUT)
        result: dict[str, Any] = {"status": "ok", **details}
    except asyncio.TimeoutError:
        result = {"status": "error", "error": f"no answer within {CHECK_TIMEOUT} s"}
    except Exception as error:  # any failure of a dependency is a health result, not a crash
        result = {"status": "error", "error": str(error) or type(error).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _action_server_health_url(action_server_url: str) -> str:
    parts = urlsplit(action_server_url)
    return f"{parts.scheme}://{parts.netloc}/health"


async def detailed_health(app: Sanic) -> dict[str, dict[str, Any]]:
    """Status and latency of every dependency, checked concurrently."""
    settings: Settings = app.ctx.settings
    session: aiohttp.ClientSession = app.ctx.http
    checks: dict[str, Callable[[], Awaitable[dict[str, Any]]] | None] = {
        "database": lambda: _check_database(app),
        "redis": (lambda: _check_redis(settings)) if settings.redis_url else None,
        "rasa": lambda: _check_rasa(session, settings),
        "action_server": lambda: _check_http(
            session, _action_server_health_url(settings.action_server_url)
        ),
        "gestaods": lambda: _check_gestaods(session, settings),
        "zapi": (lambda: _check_zapi(session, settings)) if settings.zapi_enabled else None,
    }
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def _figures_now(engine: Engine) -> tuple[Figures, LastBackup | None]:
    """The installation's figures: every clinic's together."""
    with acting_for(None):
        return figures(engine, clock.now()), last_backup(engine)


async def build_report(app: Sanic) -> dict[str, Any]:
    """The whole detailed health (uncached) and the gauges it refreshes."""
    components = await detailed_health(app)
    report: dict[str, Any] = {}
    try:
        found, backup = await asyncio.get_running_loop().run_in_executor(
            None, _figures_now, service_engine(app)
        )
    except Exception as error:  # the figures live in the database: it is not healthy
        components["database"] = {**components["database"], "status": "error", "error": str(error)}
        found, backup = None, None
    healthy = all(c["status"] != "error" for c in components.values())
    report["status"] = "ok" if healthy else "degraded"
    report.update({name: component["status"] for name, component in components.items()})
    report["active_conversations"] = found.active_conversations if found else None
    report["messages_last_hour"] = found.messages_last_hour if found else None
    report["error_rate"] = found.error_rate if found else None
    report["model_version"] = components["rasa"].get("model_version")
    report["last_backup"] = _backup_json(backup)
    report["checked_at"] = clock.now().isoformat()
    report["components"] = components
    _refresh_gauges(report, found, backup)
    return report


def _backup_json(backup: LastBackup | None) -> dict[str, Any] | None:
    return None if backup is None else backup.to_json(clock.now())


def _refresh_gauges(
    report: dict[str, Any], found: Figures | None, backup: LastBackup | None
) -> None:
    for name, component in report["components"].items():
        if component["status"] != "disabled":
            monitoring.DEPENDENCY_UP.labels(name).set(1 if component["status"] == "ok" else 0)
    monitoring.HEALTHY.set(1 if report["status"] == "ok" else 0)
    if found is not None:
        monitoring.ACTIVE_CONVERSATIONS.set(found.active_conversations)
        monitoring.MESSAGES_LAST_HOUR.set(found.messages_last_hour)
        monitoring.API_ERROR_RATE.set(found.error_rate)
        if found.last_patient_message is not None:
            monitoring.LAST_PATIENT_MESSAGE.set(found.last_patient_message.timestamp())
    if backup is not None:
        monitoring.LAST_BACKUP_OK.set(1 if backup.ok else 0)
        if backup.last_success_at is not None:
            monitoring.LAST_BACKUP.set(backup.last_success_at.timestamp())


async def cached_report(app: Sanic) -> dict[str, Any]:
    """The detailed health, computed at most once per ``HEALTH_CACHE_SECONDS``."""
    settings: Settings = app.ctx.settings
    if getattr(app.ctx, "health_lock", None) is None:
        app.ctx.health_lock = asyncio.Lock()
    async with app.ctx.health_lock:  # concurrent requests share one check
        cached = getattr(app.ctx, "health_cache", None)
        if cached is not None and time.monotonic() - cached[0] < settings.health_cache_seconds:
            report: dict[str, Any] = cached[1]
            return report
        report = await build_report(app)
        app.ctx.health_cache = (time.monotonic(), report)
        return report


def health_blueprint() -> Blueprint:
    bp = Blueprint("health")

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    @bp.get("/health/detailed")
    @for_operator
    async def health_detailed(request: Request) -> HTTPResponse:
        report = await cached_report(request.app)
        return json(report, status=200 if report["status"] == "ok" else 503)

    return bp
