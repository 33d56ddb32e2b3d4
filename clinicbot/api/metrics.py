"""``/api/v1/metrics``: the key's clinic's daily figures over a date range (at most a year),
with ``chatbot_metrics``' columns (:mod:`clinicbot.services.daily_metrics`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json

from clinicbot.api import fields
from clinicbot.api.endpoint import endpoint, engine_of, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.problems import bad_request
from clinicbot.db.engine import session_scope
from clinicbot.services.daily_metrics import clinic_daily_metrics

MAX_DAYS = 366


def metrics_blueprint() -> Blueprint:
    bp = Blueprint("api_metrics", url_prefix="/api/v1/metrics")

    @bp.get("/")
    @endpoint("read")
    async def daily(request: Request, caller: Caller) -> HTTPResponse:
        first = fields.day(request.args.get("from"), "from")
        last = fields.day(request.args.get("to"), "to")
        if last < first or last - first > timedelta(days=MAX_DAYS):
            raise bad_request(
                f"to must be on or after from, at most {MAX_DAYS} days later.",
                f"to deve ser igual ou depois de from, no máximo {MAX_DAYS} dias depois.",
                invalid_field="to",
            )

        def read() -> list[dict[str, Any]]:
            with session_scope(engine_of(request)) as session:
                return clinic_daily_metrics(session, caller.clinic_id, first, last)

        return json(
            {"from": first.isoformat(), "to": last.isoformat(), "data": await run_sync(read)}
        )

    return bp
