"""``/api/v1/metrics``: the daily ``chatbot_metrics`` rows of a date range (at most a year)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select

from clinicbot.api import fields
from clinicbot.api.endpoint import endpoint, engine_of, run_sync
from clinicbot.api.keys import Caller
from clinicbot.api.problems import bad_request
from clinicbot.db.engine import session_scope
from clinicbot.db.models import ChatbotMetrics

MAX_DAYS = 366


def metrics_item(row: ChatbotMetrics) -> dict[str, Any]:
    return {
        "date": row.date.isoformat(),
        "total_conversations": row.total_conversations,
        "bot_resolved_conversations": row.bot_resolved_conversations,
        "successful_appointments": row.successful_appointments,
        "bot_resolution_rate": row.bot_resolution_rate,
        "responses_count": row.responses_count,
        "avg_response_time_ms": row.avg_response_time_ms,
        "satisfaction_count": row.satisfaction_count,
        "satisfaction": row.satisfaction,
    }


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
                rows = session.execute(
                    select(ChatbotMetrics)
                    .where(ChatbotMetrics.date >= first, ChatbotMetrics.date <= last)
                    .order_by(ChatbotMetrics.date)
                ).scalars()
                return [metrics_item(row) for row in rows]

        return json(
            {"from": first.isoformat(), "to": last.isoformat(), "data": await run_sync(read)}
        )

    return bp
