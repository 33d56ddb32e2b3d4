"""``GET /health`` (the process answers) and ``GET /health/detailed`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json
from sqlalchemy.engine import Engine

from clinicbot.settings import Settings
from clinicbot.web.database import service_engine
from clinicbot.whatsapp.zapi.client import ZapiClient
from clinicbot.whatsapp.zapi.errors import ZapiError

CHECK_TIMEOUT = 3.0  # seconds per component; the whole check runs them concurrently


class CheckFailed(Exception):
    """A dependency answered, but not as a healthy one does."""


def _select_one(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))


async def _check_database(app: Sanic) -> dict[str, Any]:
    engine = service_engine(app)
    await asyncio.get_running_loop().run_in_executor(None, _select_one, engine)
    return {"dialect": engine.dialect.name}


async def _check_http(
    session: aiohttp.ClientSession, url: str, *, accept_any_answer: bool = False
) -> dict[str, Any]:
    """GET ``url``: a 200 (or, for a bare base URL, any answer below 500) is healthy."""
    async with session.get(url) as response:
        healthy = response.status < 500 if accept_any_answer else response.status == 200
        if not healthy:
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


async def _timed(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
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
    checks: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "database": lambda: _check_database(app),
        "rasa": lambda: _check_http(session, f"http://127.0.0.1:{settings.rasa_port}/"),
        "action_server": lambda: _check_http(
            session, _action_server_health_url(settings.action_server_url)
        ),
        "gestaods": lambda: _check_http(
            session, settings.gestaods_base_url, accept_any_answer=True
        ),
        "zapi": lambda: _check_zapi(session, settings),
    }
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def health_blueprint() -> Blueprint:
    bp = Blueprint("health")

    @bp.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"})

    @bp.get("/health/detailed")
    async def health_detailed(request: Request) -> HTTPResponse:
        components = await detailed_health(request.app)
        healthy = all(c["status"] == "ok" for c in components.values())
        return json(
            {"status": "ok" if healthy else "error", "components": components},
            status=200 if healthy else 503,
        )

    return bp
