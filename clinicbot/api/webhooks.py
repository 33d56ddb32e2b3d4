"""``/api/v1/webhooks``: a clinic's CRM subscriptions and their delivery log, with replay."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from clinicbot.api.endpoint import endpoint, engine_of, json_body, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.pagination import page, page_args, paged
from clinicbot.api.problems import bad_request, not_found
from clinicbot.db.engine import session_scope
from clinicbot.db.models import WebhookDelivery
from clinicbot.integrations import subscriptions
from clinicbot.integrations.subscriptions import InvalidSubscription
from clinicbot.integrations.webhooks import replay_delivery


def _invalid(error: InvalidSubscription) -> Exception:
    return bad_request(str(error), f"Assinatura inválida: {error}")


def delivery_log(engine: Any, clinic_id: int, args: Any) -> dict[str, Any]:
    """One page of the delivery log (``status``, ``subscription_id``, ``cursor``, ``limit``)."""
    after, limit = page_args(args)
    raw_subscription = args.get("subscription_id")
    try:
        subscription_id = None if raw_subscription is None else int(raw_subscription)
        query = subscriptions.deliveries_query(
            clinic_id=clinic_id, status=args.get("status"), subscription_id=subscription_id
        )
    except ValueError as error:
        raise bad_request(f"Invalid filter: {error}", f"Filtro inválido: {error}") from None
    with session_scope(engine) as session:
        rows = session.execute(paged(query, WebhookDelivery.id, after, limit)).all()
        return page(rows, limit, lambda row: subscriptions.delivery_item(*row), lambda r: r[0].id)


def webhooks_blueprint() -> Blueprint:
    bp = Blueprint("api_webhooks", url_prefix="/api/v1/webhooks")

    @bp.get("/subscriptions")
    @endpoint("admin")
    async def list_subscriptions(request: Request, caller: Caller) -> HTTPResponse:
        def read() -> list[dict[str, Any]]:
            with session_scope(engine_of(request)) as session:
                return subscriptions.list_subscriptions(session, clinic_id=caller.clinic_id)

        return json({"data": await run_sync(read)})

    @bp.post("/subscriptions")
    @endpoint("admin")
    async def create(request: Request, caller: Caller) -> HTTPResponse:
        body = json_body(request)

        def run() -> dict[str, Any]:
            with session_scope(engine_of(request)) as session:
                return subscriptions.create_subscription(
                    session,
                    url=body.get("url"),
                    event_types=body.get("event_types"),
                    description=body.get("description"),
                    clinic_id=caller.clinic_id,
                )

        try:
            return json(await run_sync(run), status=201)
        except InvalidSubscription as error:
            raise _invalid(error) from None

    @bp.delete("/subscriptions/<subscription_id:int>")
    @endpoint("admin")
    async def deactivate(request: Request, caller: Caller, subscription_id: int) -> HTTPResponse:
        def run() -> bool:
            with session_scope(engine_of(request)) as session:
                return subscriptions.deactivate_subscription(
                    session, subscription_id, clinic_id=caller.clinic_id
                )

        if not await run_sync(run):
            raise not_found("No such subscription.", "Essa assinatura não existe.")
        return json({"id": subscription_id, "active": False})

    @bp.get("/deliveries")
    @endpoint("admin")
    async def deliveries(request: Request, caller: Caller) -> HTTPResponse:
        engine = engine_of(request)
        return json(await run_sync(delivery_log, engine, caller.clinic_id, request.args))

    @bp.post("/deliveries/<delivery_id>/replay")
    @endpoint("admin")
    async def replay(request: Request, caller: Caller, delivery_id: str) -> HTTPResponse:
        def run() -> str | None:
            with session_scope(engine_of(request)) as session:
                return replay_delivery(session, delivery_id, clinic_id=caller.clinic_id)

        replayed = await run_sync(run)
        if replayed is None:
            raise not_found("No such delivery.", "Essa entrega não existe.")
        return json({"delivery_id": replayed, "replay_of": delivery_id}, status=202)

    return bp
