"""Staff endpoints for integrations: API keys and CRM webhook subscriptions, with the staff token.

- ``GET/POST /staff/api-keys``, ``DELETE /staff/api-keys/<id>`` (revoke): a new key is in the
  POST's answer only;
- ``GET/POST /staff/webhooks/subscriptions``, ``DELETE /staff/webhooks/subscriptions/<id>``:
  a new subscription's signing secret is in the POST's answer only;
- ``GET /staff/webhooks/deliveries`` (the delivery log) and
  ``POST /staff/webhooks/deliveries/<delivery_id>/replay``.

Each clinic's staff token manages that clinic's keys, subscriptions and deliveries only
(:mod:`clinicbot.web.staff_auth`).
``GET /staff/integrations`` is a page doing all this (no data in it: it calls the endpoints
above with the staff token it keeps in the tab's sessionStorage, ``clinicbot.staffToken``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html, json

from clinicbot.api.keys import InvalidScopes, create_key, list_keys, revoke_key
from clinicbot.api.problems import Problem
from clinicbot.api.webhooks import delivery_log
from clinicbot.db.engine import session_scope
from clinicbot.integrations import subscriptions
from clinicbot.integrations.subscriptions import InvalidSubscription
from clinicbot.integrations.webhooks import replay_delivery
from clinicbot.web.database import service_engine
from clinicbot.web.staff_auth import for_staff, staff_clinic_id

T = TypeVar("T")
PAGE = Path(__file__).parent / "static" / "integrations.html"


async def _sync(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` off the event loop, still acting for the staff's clinic."""
    return await asyncio.to_thread(function, *args)


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json
    except Exception:  # Sanic's InvalidUsage for malformed JSON
        body = None
    return body if isinstance(body, dict) else {}


def integrations_staff_blueprint() -> Blueprint:
    bp = Blueprint("staff_integrations", url_prefix="/staff")
    page = PAGE.read_text(encoding="utf-8")

    @bp.get("/integrations")
    async def integrations_page(request: Request) -> HTTPResponse:
        return html(page)

    def in_session(request: Request, work: Callable[..., T]) -> Callable[[], T]:
        def run() -> T:
            with session_scope(service_engine(request.app)) as session:
                return work(session)

        return run

    @bp.get("/api-keys")
    @for_staff
    async def keys(request: Request) -> HTTPResponse:
        clinic = staff_clinic_id()
        found = await _sync(in_session(request, lambda s: list_keys(s, clinic_id=clinic)))
        return json({"data": found})

    @bp.post("/api-keys")
    @for_staff
    async def new_key(request: Request) -> HTTPResponse:
        body, clinic = _body(request), staff_clinic_id()
        limit = body.get("rate_limit_per_minute")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            return json({"error": "rate_limit_per_minute must be a positive integer"}, status=400)
        try:
            created = await _sync(
                in_session(
                    request,
                    lambda s: create_key(
                        s,
                        name=str(body.get("name") or ""),
                        scopes=body.get("scopes"),
                        clinic_id=clinic,
                        rate_limit_per_minute=limit,
                    ),
                )
            )
        except InvalidScopes as error:
            return json({"error": str(error)}, status=400)
        return json(
            {
                "id": created.id,
                "key": created.key,
                "prefix": created.prefix,
                "scopes": list(created.scopes),
                "notice": "store this key now: it is not shown again",
            },
            status=201,
        )

    @bp.delete("/api-keys/<key_id:int>")
    @for_staff
    async def revoke(request: Request, key_id: int) -> HTTPResponse:
        clinic = staff_clinic_id()
        if not await _sync(in_session(request, lambda s: revoke_key(s, key_id, clinic_id=clinic))):
            return json({"error": "no such key"}, status=404)
        return json({"id": key_id, "revoked": True})

    @bp.get("/webhooks/subscriptions")
    @for_staff
    async def list_subscriptions(request: Request) -> HTTPResponse:
        clinic = staff_clinic_id()
        found = await _sync(
            in_session(request, lambda s: subscriptions.list_subscriptions(s, clinic_id=clinic))
        )
        return json({"data": found})

    @bp.post("/webhooks/subscriptions")
    @for_staff
    async def subscribe(request: Request) -> HTTPResponse:
        body, clinic = _body(request), staff_clinic_id()
        try:
            created = await _sync(
                in_session(
                    request,
                    lambda s: subscriptions.create_subscription(
                        s,
                        url=body.get("url"),
                        event_types=body.get("event_types"),
                        description=body.get("description"),
                        clinic_id=clinic,
                    ),
                )
            )
        except InvalidSubscription as error:
            return json({"error": str(error)}, status=400)
        return json(created, status=201)

    @bp.delete("/webhooks/subscriptions/<subscription_id:int>")
    @for_staff
    async def unsubscribe(request: Request, subscription_id: int) -> HTTPResponse:
        clinic = staff_clinic_id()
        done = await _sync(
            in_session(
                request,
                lambda s: subscriptions.deactivate_subscription(
                    s, subscription_id, clinic_id=clinic
                ),
            )
        )
        if not done:
            return json({"error": "no such subscription"}, status=404)
        return json({"id": subscription_id, "active": False})

    @bp.get("/webhooks/deliveries")
    @for_staff
    async def deliveries(request: Request) -> HTTPResponse:
        try:
            log = await _sync(
                delivery_log, service_engine(request.app), staff_clinic_id(), request.args
            )
        except Problem as problem:
            return problem.response(request)
        return json(log)

    @bp.post("/webhooks/deliveries/<delivery_id>/replay")
    @for_staff
    async def replay(request: Request, delivery_id: str) -> HTTPResponse:
        clinic = staff_clinic_id()
        replayed = await _sync(
            in_session(request, lambda s: replay_delivery(s, delivery_id, clinic_id=clinic))
        )
        if replayed is None:
            return json({"error": "no such delivery"}, status=404)
        return json({"delivery_id": replayed, "replay_of": delivery_id}, status=202)

    return bp
