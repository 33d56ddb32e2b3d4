"""One clinic's daily figures, the same as ``chatbot_metrics`` computes for the whole deployment.

``chatbot_metrics`` is kept by triggers on ``conversations`` and sums every clinic of the
deployment (its key is the date alone). A clinic's own figures come from its conversations with
the same rules: each conversation counts on its clinic-local ``started_on`` day, and the rate and
averages are ratios of the sums (None while the denominator is zero). For the default clinic of
a single-clinic deployment the two are equal (tested).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.orm import Session

from clinicbot.db.models import Conversation


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def clinic_daily_metrics(
    session: Session, clinic_id: int, first: date, last: date
) -> list[dict[str, Any]]:
    """Per day from ``first`` to ``last`` with any conversation, ``chatbot_metrics``' columns."""
    counted = (
        select(
            Conversation.started_on,
            func.count(),
            func.sum(cast(Conversation.resolved_by_bot, Integer)),
            func.sum(cast(Conversation.appointment_booked, Integer)),
            func.sum(Conversation.replies_count),
            func.sum(Conversation.response_time_ms_total),
            func.count(Conversation.satisfaction),
            func.coalesce(func.sum(Conversation.satisfaction), 0),
        )
        .where(
            Conversation.clinic_id == clinic_id,
            Conversation.started_on >= first,
            Conversation.started_on <= last,
        )
        .group_by(Conversation.started_on)
        .order_by(Conversation.started_on)
    )
    days = []
    for day, total, resolved, booked, replies, reply_ms, rated, rating_sum in session.execute(
        counted
    ):
        days.append(
            {
                "date": day.isoformat(),
                "total_conversations": int(total),
                "bot_resolved_conversations": int(resolved),
                "successful_appointments": int(booked),
                "bot_resolution_rate": _ratio(int(resolved), int(total)),
                "responses_count": int(replies),
                "avg_response_time_ms": _ratio(int(reply_ms), int(replies)),
                "satisfaction_count": int(rated),
                "satisfaction": _ratio(int(rating_sum), int(rated)),
            }
        )
    return days
